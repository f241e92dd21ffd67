//! FitNet hint loss: mean squared error between (regressed) student and teacher features.
//!
//! This folder: `fitnet.wgsl` (then `shaders/finish.wgsl`), its table entry in `kernels.rs`, the
//! float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{grid_2d, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot};
use crate::tensor::element_count;
use kernels::FITNET_BLOCKS;

/// FitNet's name, no parameters, its kernels.
pub const REGISTRATION: Entry<Fitnet> = Entry {
    name: "fitnet",
    params: &[],
    kernels: kernels::KERNELS,
    build: |_| Ok(Fitnet),
};

/// Elements per workgroup (`BLOCK` in `fitnet.wgsl`).
const BLOCK: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FitnetUniform {
    elements: u32,
    groups_x: u32,
    write_grad: u32,
    _pad0: u32,
    grad_scale: f32,
    _pad: [f32; 3],
}

/// One block-sum pass, then the finish.
pub(crate) fn plan(dims: &[usize], io: &IoLayout) -> Result<Plan> {
    let n = element_count(dims)?;
    let blocks = n.div_ceil(BLOCK);
    let groups = grid_2d(blocks, "fitnet")?;
    let mut plan = Plan::new("fitnet", io.dtype.into());
    let partials = plan.scratch("fitnet.partials", blocks as u64 * 4);
    let placeholder = plan.scratch("unused gradient", 16);
    let uniform = plan.params(&FitnetUniform {
        elements: n as u32,
        groups_x: groups[0],
        write_grad: io.has_grad() as u32,
        _pad0: 0,
        grad_scale: (2.0 / n as f64) as f32,
        _pad: [0.0; 3],
    });
    plan.dispatch(
        FITNET_BLOCKS,
        WORKGROUP_SIZE,
        vec![
            uniform,
            Slot::io(Io::Student),
            Slot::io(Io::Teacher),
            partials,
            io.grad_or(placeholder),
        ],
        groups,
    );
    plan.finish(FinishUniform::single(blocks, 1.0 / n as f64), partials);
    Ok(plan)
}

/// FitNet has no parameters: the loss behind `LossSpec::Fitnet`.
pub struct Fitnet;

impl Loss for Fitnet {
    fn name(&self) -> &'static str {
        "fitnet"
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        if dims.is_empty() {
            return Err(Error::Shape("fitnet needs rank >= 1".into()));
        }
        Ok(())
    }

    fn plan(&self, _env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        plan(shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        _inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        Ok(reference::fitnet(student, teacher))
    }
}
