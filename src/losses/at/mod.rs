//! AT (attention transfer): L2-normalised spatial attention maps `mean_c f^p`, compared by MSE.
//!
//! This folder: `at.wgsl` (then `shaders/finish.wgsl`), its table entry in `kernels.rs`, the
//! float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{require_rank, BoundIo, Inputs, Loss};
use crate::record::{
    finish_dispatch, grid_2d, resolve_dispatches, whole, Dispatch, FinishUniform, Recording,
};
use crate::shaders::WORKGROUP_SIZE;
use kernels::AT_SAMPLES;

/// Parameters of AT.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtParams {
    /// Exponent of the attention map (> 0; 2 by default).
    pub p: f64,
}

impl Default for AtParams {
    fn default() -> Self {
        Self { p: 2.0 }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AtUniform {
    samples: u32,
    channels: u32,
    hw: u32,
    groups_x: u32,
    p: f32,
    inv_c: f32,
    scale: f32,
    write_grad: u32,
}

pub(crate) fn recording(
    ctx: &GpuContext,
    params: &AtParams,
    dims: &[usize],
    io: &BoundIo<'_>,
) -> Result<Recording> {
    let [b, c, h, w] = [dims[0], dims[1], dims[2], dims[3]];
    let hw = h * w;
    let groups = grid_2d(b, "at samples")?;
    let maps_bytes = 2 * (b * hw) as u64 * 4;
    crate::tensor::check_binding_size(ctx, "AT attention maps", maps_bytes)?;
    let maps = ctx.scratch("at.maps", maps_bytes);
    let partials = ctx.scratch("at.partials", b as u64 * 4);
    let placeholder = ctx.scratch("unused gradient", 16);
    let uniform = ctx.params_buffer(bytemuck::bytes_of(&AtUniform {
        samples: b as u32,
        channels: c as u32,
        hw: hw as u32,
        groups_x: groups[0],
        p: params.p as f32,
        inv_c: (1.0 / c as f64) as f32,
        scale: (1.0 / (b * hw) as f64) as f32,
        write_grad: io.grad.is_some() as u32,
    }))?;
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::single(
        b,
        1.0 / (b * hw) as f64,
    )))?;
    let dispatches = vec![
        Dispatch {
            kernel: AT_SAMPLES,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&uniform),
                io.student(),
                io.teacher(),
                whole(&maps),
                whole(&partials),
                io.grad_or(&placeholder),
            ],
            groups,
        },
        finish_dispatch(&finish, &partials, io.loss()),
    ];
    resolve_dispatches(ctx, "at", dispatches, io.dtype.into())
}

impl Loss for AtParams {
    fn name(&self) -> &'static str {
        "at"
    }

    fn check_params(&self) -> Result<()> {
        if !self.p.is_finite() || self.p <= 0.0 {
            return Err(Error::Param(format!(
                "AT exponent p must be finite and > 0, got {}",
                self.p
            )));
        }
        Ok(())
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 4, "B×C×H×W")
    }

    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
        recording(ctx, self, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let d = inputs.shape;
        Ok(reference::at(
            student,
            teacher,
            [d[0], d[1], d[2], d[3]],
            self.p,
        ))
    }
}
