//! HCL (ReviewKD's hierarchical context loss) on one N×C×H×W level: MSE plus weighted MSEs of
//! adaptive 4×4, 2×2 and 1×1 average poolings (overlapping windows when H is not a multiple).
//!
//! This folder: `hcl.wgsl` (then `shaders/finish.wgsl`), its table entry in `kernels.rs`, the
//! float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::Result;
use crate::losses::checks::require_rank;
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{
    finish_dispatch, row_grid, FinishUniform, Io, IoLayout, Plan, PlanEnv, PlannedDispatch, Slot,
};
use kernels::HCL_PLANES;

/// HCL's name, no parameters, its kernels.
pub const REGISTRATION: Entry<Hcl> = Entry {
    name: "hcl",
    params: &[],
    kernels: kernels::KERNELS,
    build: |_| Ok(Hcl),
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct HclUniform {
    planes: u32,
    h: u32,
    w: u32,
    groups_x: u32,
    mse_scale: f32,
    inv_total: f32,
    write_grad: u32,
    _pad0: u32,
    level_scale: [f32; 4],
}

/// Level weights as ReviewKD computes them: `w = 1; tot = 1; for l in [4, 2, 1]: if l >= H:
/// skip; w /= 2; tot += w`. Returns the weight of each level (0 when skipped) and the total.
pub fn level_weights(h: usize) -> ([f64; 3], f64) {
    let (mut weights, mut w, mut total) = ([0.0; 3], 1.0, 1.0);
    for (i, l) in [4usize, 2, 1].into_iter().enumerate() {
        if l >= h {
            continue;
        }
        w /= 2.0;
        total += w;
        weights[i] = w;
    }
    (weights, total)
}

pub(crate) fn recording(env: &PlanEnv, dims: &[usize], io: &IoLayout) -> Result<Plan> {
    let mut plan = Plan::empty();
    let [n, c, h, w] = [dims[0], dims[1], dims[2], dims[3]];
    let planes = n * c;
    // At least 8 lanes per plane: the shader's cell-mean table holds WG / 8 planes.
    let threads_per_row = env.threads_per_row(h * w).max(8);
    let groups = row_grid(planes, threads_per_row)?;
    let (weights, total) = level_weights(h);
    let mut level_scale = [0.0f32; 4];
    for (i, l) in [4usize, 2, 1].into_iter().enumerate() {
        level_scale[i] = (weights[i] / (planes * l * l) as f64) as f32;
    }
    let partials = plan.scratch("hcl.partials", planes as u64 * 4);
    let placeholder = plan.scratch("unused gradient", 16);
    let uniform = plan.params(&HclUniform {
        planes: planes as u32,
        h: h as u32,
        w: w as u32,
        groups_x: groups[0],
        mse_scale: (1.0 / (planes * h * w) as f64) as f32,
        inv_total: (1.0 / total) as f32,
        write_grad: io.has_grad() as u32,
        _pad0: 0,
        level_scale,
    });
    let finish = plan.params(&FinishUniform::single(planes, 1.0 / total));
    let dispatches = vec![
        PlannedDispatch {
            kernel: HCL_PLANES,
            threads_per_row,
            bindings: vec![
                uniform,
                Slot::io(Io::Student),
                Slot::io(Io::Teacher),
                partials,
                io.grad_or(placeholder),
            ],
            groups,
        },
        finish_dispatch(finish, partials),
    ];
    Ok(plan.with("hcl", io.dtype.into(), dispatches))
}

/// HCL has no parameters: the loss behind `LossSpec::Hcl`.
pub struct Hcl;

impl Loss for Hcl {
    fn name(&self) -> &'static str {
        "hcl"
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 4, "B×C×H×W")
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        recording(env, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let d = inputs.shape;
        Ok(reference::hcl(student, teacher, [d[0], d[1], d[2], d[3]]))
    }
}
