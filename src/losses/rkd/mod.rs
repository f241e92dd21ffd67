//! RKD (relational KD): distance-wise and angle-wise relations between the embeddings of a
//! batch, compared with smooth L1.
//!
//! Shaders, in order: `rkd_gram.wgsl`, `rkd_distance.wgsl`, `rkd_angle.wgsl`, then for the
//! gradient `rkd_coefficients.wgsl` and `rkd_grad.wgsl`, and `finish.wgsl`; shared helpers in
//! `rkd_common.wgsl`, all in this folder (table entries in `kernels.rs`). Everything is rebuilt
//! from B×B Gram matrices: the angle term does O(B³) work in O(B²) memory. The float64 twin:
//! `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{check_finite, BoundIo, Inputs, Loss};
use crate::record::{
    finish_dispatch, flat_grid, resolve_dispatches, whole, Dispatch, FinishUniform, Recording,
};
use crate::shaders::WORKGROUP_SIZE;
use kernels::{RKD_ANGLE, RKD_COEFFICIENTS, RKD_DISTANCE, RKD_GRAD, RKD_GRAM};

/// Parameters of RKD: `L = distance_weight·L_d + angle_weight·L_a`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RkdParams {
    pub distance_weight: f64,
    pub angle_weight: f64,
}

impl Default for RkdParams {
    fn default() -> Self {
        Self {
            distance_weight: 25.0,
            angle_weight: 50.0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RkdUniform {
    batch: u32,
    dim: u32,
    groups_x: u32,
    _pad0: u32,
    distance_scale: f32,
    angle_scale: f32,
    inv_b2: f32,
    inv_b3: f32,
}

pub(crate) fn recording(
    ctx: &GpuContext,
    params: &RkdParams,
    dims: &[usize],
    io: &BoundIo<'_>,
) -> Result<Recording> {
    let b = dims[0];
    let d = dims[1..].iter().product::<usize>();
    let pairs = b * b;
    let (b2, b3) = (pairs as f64, (pairs * b) as f64);
    let pair_bytes = pairs as u64 * 4;
    crate::tensor::check_binding_size(ctx, "RKD pair matrices", pair_bytes)?;
    let gram_s = ctx.scratch("rkd.gram_s", pair_bytes);
    let gram_t = ctx.scratch("rkd.gram_t", pair_bytes);
    let pair_sum = ctx.scratch("rkd.pair_sum", pair_bytes);
    let pair_gamma = ctx.scratch("rkd.pair_gamma", pair_bytes);
    let coefficients = ctx.scratch("rkd.coefficients", pair_bytes);
    let scalars = ctx.scratch("rkd.scalars", 16);
    let partials = ctx.scratch("rkd.partials", (1 + pairs) as u64 * 4);
    let uniform_for = |groups_x: u32| {
        ctx.params_buffer(bytemuck::bytes_of(&RkdUniform {
            batch: b as u32,
            dim: d as u32,
            groups_x,
            _pad0: 0,
            distance_scale: (params.distance_weight / b2) as f32,
            angle_scale: (2.0 * params.angle_weight / b3) as f32,
            inv_b2: (1.0 / b2) as f32,
            inv_b3: (1.0 / b3) as f32,
        }))
    };
    let pair_groups = flat_grid(pairs, "rkd pairs")?;
    let grad_groups = flat_grid(b * d, "rkd gradient")?;
    let pair_params = uniform_for(pair_groups[0])?;
    let grad_params = uniform_for(grad_groups[0])?;
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::pair(
        1,
        params.distance_weight,
        pairs,
        params.angle_weight,
    )))?;
    let mut dispatches = vec![
        Dispatch {
            kernel: RKD_GRAM,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&pair_params),
                io.student(),
                io.teacher(),
                whole(&gram_s),
                whole(&gram_t),
            ],
            groups: pair_groups,
        },
        Dispatch {
            kernel: RKD_DISTANCE,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&pair_params),
                whole(&gram_s),
                whole(&gram_t),
                whole(&scalars),
                whole(&partials),
            ],
            groups: [1, 1, 1],
        },
        Dispatch {
            kernel: RKD_ANGLE,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&pair_params),
                whole(&gram_s),
                whole(&gram_t),
                whole(&pair_sum),
                whole(&pair_gamma),
                whole(&partials),
            ],
            groups: pair_groups,
        },
    ];
    if let Some(grad) = &io.grad {
        dispatches.push(Dispatch {
            kernel: RKD_COEFFICIENTS,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&pair_params),
                whole(&gram_s),
                whole(&gram_t),
                whole(&pair_sum),
                whole(&pair_gamma),
                whole(&scalars),
                whole(&coefficients),
            ],
            groups: pair_groups,
        });
        dispatches.push(Dispatch {
            kernel: RKD_GRAD,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&grad_params),
                io.student(),
                whole(&coefficients),
                wgpu::BindingResource::Buffer(grad.clone()),
            ],
            groups: grad_groups,
        });
    }
    dispatches.push(finish_dispatch(&finish, &partials, io.loss()));
    resolve_dispatches(ctx, "rkd", dispatches, io.dtype.into())
}

impl Loss for RkdParams {
    fn name(&self) -> &'static str {
        "rkd"
    }

    fn check_params(&self) -> Result<()> {
        check_finite("distance weight", self.distance_weight)?;
        check_finite("angle weight", self.angle_weight)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        if dims.len() < 2 || dims[0] < 2 {
            return Err(Error::Shape(format!(
                "rkd needs B×D embeddings with B >= 2 (trailing axes are flattened), got {dims:?}"
            )));
        }
        Ok(())
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
        let dims = inputs.shape;
        Ok(reference::rkd(
            student,
            teacher,
            dims[0],
            dims[1..].iter().product(),
            self.distance_weight,
            self.angle_weight,
        ))
    }
}
