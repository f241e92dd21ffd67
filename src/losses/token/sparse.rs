//! The plan of `kl` against a sparse top-k teacher on the token skeleton: the id bitmap (with
//! the tail), the valid-row count, `token_sparse.wgsl` per block of rows, the final sum. Its
//! entry points are `kl`'s (`src/losses/kl/sparse.rs`).

use super::kernels::{TOKEN_SPARSE_BITS, TOKEN_SPARSE_ROWS, TOKEN_SPARSE_ROWS_QUADS};
use super::{Scratch, TokenRows, TokenTerm};
use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::options::TokenOptions;
use crate::plan::{grid_2d, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot};
use crate::tensor::{InputDtype, LogitShape};

/// The plan of `kl` against a sparse teacher (ids, log-probs, labels and bitmap indexed by
/// batch row, bound whole).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sparse_plan(
    env: &PlanEnv,
    temperature: f64,
    options: &TokenOptions,
    shape: &LogitShape,
    k: usize,
    tail: bool,
    io: &IoLayout,
) -> Result<Plan> {
    options.check_sparse_teacher()?;
    let words = shape.cols.div_ceil(32);
    let mut rows = TokenRows::new(TokenTerm::Kl, temperature, 0.0, options, shape, io)?;
    rows.base.k = k as u32;
    rows.base.tail = options.sparse_mode(tail)?;
    rows.base.words = words as u32;
    let threads_per_row = env.threads_per_row(shape.cols);
    let mut plan = Plan::new("kl sparse", io.precision());
    let scratch = Scratch::new(&mut plan, shape.rows);
    let bits = plan.scratch("token.id_bits", (shape.rows * words) as u64 * 4);
    let chunks = env.row_blocks(
        &mut plan,
        io,
        shape.rows,
        shape.cols,
        threads_per_row,
        |s, r, g| rows.chunk(s, r, g),
    )?;
    if tail {
        let groups = grid_2d(shape.rows, "the id bitmap")?;
        let bits_params = plan.params(&BitsUniform {
            rows: shape.rows as u32,
            k: k as u32,
            words: words as u32,
            groups_x: groups[0],
        });
        plan.dispatch(
            TOKEN_SPARSE_BITS,
            WORKGROUP_SIZE,
            vec![bits_params, Slot::io(Io::Ids), bits],
            groups,
        );
    }
    rows.count_dispatch(&mut plan, shape.rows, io, &scratch);
    // The quad form where the rows and bindings allow it (f32, f16 or bf16 student logits);
    // the any-C form reads f32 only.
    let kernel = if env.quads(shape.cols, io) {
        TOKEN_SPARSE_ROWS_QUADS
    } else if io.dtype == InputDtype::F32 {
        TOKEN_SPARSE_ROWS
    } else {
        return Err(Error::Shape(format!(
            "a sparse teacher with {} student logits needs rows of a multiple of 4 classes \
             (V = {}), bound at offsets of whole quads, and quads allowed by the strategy",
            io.dtype.name(),
            shape.cols
        )));
    };
    for chunk in &chunks {
        plan.dispatch(
            kernel,
            threads_per_row,
            vec![
                chunk.uniform,
                chunk.io.student(),
                Slot::io(Io::Logprobs),
                io.labels_or(scratch.no_labels),
                scratch.normaliser,
                scratch.row_loss,
                chunk.io.grad_or(scratch.no_grad),
                Slot::io(Io::Ids),
                bits,
            ],
            chunk.groups,
        );
    }
    plan.finish(FinishUniform::single(shape.rows, 1.0), scratch.row_loss);
    Ok(plan)
}

/// Mirrors `BitsParams` in `token_sparse_bits.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BitsUniform {
    rows: u32,
    k: u32,
    words: u32,
    groups_x: u32,
}
