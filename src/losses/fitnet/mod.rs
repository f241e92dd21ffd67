//! FitNet hint loss: mean squared error between (regressed) student and teacher features.
//!
//! This folder: `fitnet.wgsl` (then `shaders/finish.wgsl`), its table entry in `kernels.rs`, the
//! float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{BoundIo, Inputs, Loss};
use crate::record::{
    finish_dispatch, grid_2d, resolve_dispatches, whole, Dispatch, FinishUniform, Recording,
};
use crate::shaders::WORKGROUP_SIZE;
use crate::tensor::element_count;
use kernels::FITNET_BLOCKS;

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

pub(crate) fn recording(ctx: &GpuContext, dims: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
    let n = element_count(dims)?;
    let blocks = n.div_ceil(BLOCK);
    let groups = grid_2d(blocks, "fitnet")?;
    let partials = ctx.scratch("fitnet.partials", blocks as u64 * 4);
    let placeholder = ctx.scratch("unused gradient", 16);
    let uniform = ctx.params_buffer(bytemuck::bytes_of(&FitnetUniform {
        elements: n as u32,
        groups_x: groups[0],
        write_grad: io.grad.is_some() as u32,
        _pad0: 0,
        grad_scale: (2.0 / n as f64) as f32,
        _pad: [0.0; 3],
    }))?;
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::single(
        blocks,
        1.0 / n as f64,
    )))?;
    let dispatches = vec![
        Dispatch {
            kernel: FITNET_BLOCKS,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&uniform),
                io.student(),
                io.teacher(),
                whole(&partials),
                io.grad_or(&placeholder),
            ],
            groups,
        },
        finish_dispatch(&finish, &partials, io.loss()),
    ];
    resolve_dispatches(ctx, "fitnet", dispatches, io.dtype.into())
}

/// FitNet has no parameters: the loss behind `LossSpec::Fitnet`.
pub(crate) struct Fitnet;

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

    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
        recording(ctx, shape, io)
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
