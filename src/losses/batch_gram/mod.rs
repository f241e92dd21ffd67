//! What the B×B similarity losses share (`sp`, `pkt`): the Gram matrices G = F·Fᵀ of student
//! and teacher, each of its own width (`batch_gram.wgsl`, in chunks of 16384 features folded
//! by `batch_gram_sum.wgsl`), and the gradient C·Fs from a B×B
//! coefficient matrix (`batch_gram_grad.wgsl`). A loss supplies two kernels on
//! `batch_gram_common.wgsl`'s parameters: its rows (one invocation per row i: the row's loss
//! and ∂L/∂G_s[i, ·]) and its coefficients (one invocation per pair: C from ∂L/∂G_s).
//! Memory is O(B²), never B²·D.

pub(crate) mod kernels;

use crate::error::{Error, Result};
use crate::kernel::{Kernel, WORKGROUP_SIZE};
use crate::plan::{check_binding, flat_grid, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot};
use kernels::{BATCH_GRAM, BATCH_GRAM_GRAD, BATCH_GRAM_SUM};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GramUniform {
    batch: u32,
    student_dim: u32,
    teacher_dim: u32,
    groups_x: u32,
    inv_b2: f32,
    write_grad: u32,
    chunk_len: u32,
    chunks: u32,
}

/// Features per chunk of the Gram kernel: an invocation's loops (student and teacher) stay
/// under the 65535 iterations Mesa's llvmpipe and lavapipe allow an invocation.
const CHUNK_LEN: usize = 16384;

/// Checks a B×D shape (trailing axes flattened) for a similarity loss.
pub(crate) fn check_embeddings(name: &str, dims: &[usize]) -> Result<()> {
    if dims.len() < 2 {
        return Err(Error::Shape(format!(
            "{name} needs B×D features (trailing axes are flattened), got {dims:?}"
        )));
    }
    Ok(())
}

/// Batch size and the student's and teacher's widths of a B×D… shape.
pub(crate) fn widths(dims: &[usize], teacher_width: Option<usize>) -> (usize, usize, usize) {
    let student = dims[1..].iter().product::<usize>();
    (dims[0], student, teacher_width.unwrap_or(student))
}

/// The plan of a similarity loss: Grams, `rows` (bound as parameters, G_s, G_t, row losses,
/// ∂L/∂G_s), and with a gradient `coefficients` (parameters, G_s when it has four bindings,
/// ∂L/∂G_s, C) then C·Fs; the loss is the row losses' sum over B².
pub(crate) fn plan(
    label: &'static str,
    rows: Kernel,
    coefficients: Kernel,
    env: &PlanEnv,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let (b, ds, dt) = widths(dims, io.teacher_width);
    let pairs = b * b;
    let pair_bytes = pairs as u64 * 4;
    // Features wider than a chunk: partial Grams per chunk, then folded in chunk order.
    let chunks = ds.max(dt).div_ceil(CHUNK_LEN).max(1);
    check_binding(
        env,
        "the B×B similarity matrices (one per chunk of 16384 features)",
        pair_bytes * chunks as u64,
    )?;
    let mut plan = Plan::new(label, io.precision());
    let gram_s = plan.scratch("gram.student", pair_bytes * chunks as u64);
    let gram_t = plan.scratch("gram.teacher", pair_bytes * chunks as u64);
    let slopes = plan.scratch("gram.slopes", pair_bytes);
    let row_loss = plan.scratch("gram.row_loss", b as u64 * 4);
    let uniform = |groups_x: u32| GramUniform {
        batch: b as u32,
        student_dim: ds as u32,
        teacher_dim: dt as u32,
        groups_x,
        inv_b2: (1.0 / pairs as f64) as f32,
        write_grad: io.has_grad() as u32,
        chunk_len: CHUNK_LEN as u32,
        chunks: chunks as u32,
    };
    let pair_groups = flat_grid(pairs, "similarity pairs")?;
    let chunk_groups = flat_grid(pairs * chunks, "similarity pairs per chunk")?;
    let row_groups = flat_grid(b, "similarity rows")?;
    let pair_params = plan.params(&uniform(pair_groups[0]));
    let row_params = plan.params(&uniform(row_groups[0]));
    let chunk_params = plan.params(&uniform(chunk_groups[0]));
    plan.dispatch(
        BATCH_GRAM,
        WORKGROUP_SIZE,
        vec![
            chunk_params,
            Slot::io(Io::Student),
            Slot::io(Io::Teacher),
            gram_s,
            gram_t,
        ],
        chunk_groups,
    );
    if chunks > 1 {
        plan.dispatch(
            BATCH_GRAM_SUM,
            WORKGROUP_SIZE,
            vec![pair_params, gram_s, gram_t],
            pair_groups,
        );
    }
    plan.dispatch(
        rows,
        WORKGROUP_SIZE,
        vec![row_params, gram_s, gram_t, row_loss, slopes],
        row_groups,
    );
    if io.has_grad() {
        let c = plan.scratch("gram.coefficients", pair_bytes);
        let mut bindings = vec![pair_params];
        if coefficients.bindings.len() == 4 {
            bindings.push(gram_s);
        }
        bindings.extend([slopes, c]);
        plan.dispatch(coefficients, WORKGROUP_SIZE, bindings, pair_groups);
        gradient(&mut plan, b, ds, c)?;
    }
    plan.finish(FinishUniform::single(b, 1.0 / pairs as f64), row_loss);
    Ok(plan)
}

/// Appends ∂L/∂F = C·F for B rows of width `d` (the student) from the B×B `coefficients`,
/// written to the caller's gradient: the last step of sp, pkt and rkd.
pub(crate) fn gradient(plan: &mut Plan, b: usize, d: usize, coefficients: Slot) -> Result<()> {
    let groups = flat_grid(b * d, "the B×B gradient")?;
    let params = plan.params(&GramUniform {
        batch: b as u32,
        student_dim: d as u32,
        teacher_dim: 0,
        groups_x: groups[0],
        inv_b2: 0.0,
        write_grad: 1,
        chunk_len: 0,
        chunks: 0,
    });
    plan.dispatch(
        BATCH_GRAM_GRAD,
        WORKGROUP_SIZE,
        vec![
            params,
            Slot::io(Io::Student),
            coefficients,
            Slot::io(Io::Grad),
        ],
        groups,
    );
    Ok(())
}

/// G = F·Fᵀ in float64 (row-major B×B) of B rows of width `d`.
pub fn gram(f: &[f64], b: usize, d: usize) -> Vec<f64> {
    let mut g = vec![0.0; b * b];
    for i in 0..b {
        for j in i..b {
            let dot: f64 = (0..d).map(|x| f[i * d + x] * f[j * d + x]).sum();
            g[i * b + j] = dot;
            g[j * b + i] = dot;
        }
    }
    g
}

/// C·F in float64: the gradient from B×B coefficients.
pub fn apply_coefficients(c: &[f64], f: &[f64], b: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; b * d];
    for a in 0..b {
        for k in 0..b {
            let w = c[a * b + k];
            for x in 0..d {
                out[a * d + x] += w * f[k * d + x];
            }
        }
    }
    out
}
