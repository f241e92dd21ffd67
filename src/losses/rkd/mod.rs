//! RKD (relational KD): distance-wise and angle-wise relations between the embeddings of a
//! batch, compared with smooth L1.
//!
//! Shaders, in order: `rkd_gram.wgsl`, `rkd_distance.wgsl`, `rkd_angle.wgsl`, then for the
//! gradient `rkd_coefficients.wgsl` and the shared C·E of `../batch_gram/`, and `finish.wgsl`; shared helpers in
//! `rkd_common.wgsl`, all in this folder (table entries in `kernels.rs`). Everything is rebuilt
//! from B×B Gram matrices: the angle term does O(B³) work in O(B²) memory. The float64 twin:
//! `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::batch_gram;
use crate::losses::checks::check_finite;
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{check_binding, flat_grid, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot};
use kernels::{RKD_ANGLE, RKD_COEFFICIENTS, RKD_DISTANCE, RKD_GRAM};

/// Parameters of RKD: `L = distance_weight·L_d + angle_weight·L_a`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RkdParams {
    pub distance_weight: f64,
    pub angle_weight: f64,
}

/// RKD's name, parameters and kernels.
pub const REGISTRATION: Entry<RkdParams> = Entry {
    name: "rkd",
    params: &["distance-weight", "angle-weight"],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = RkdParams::default();
        Ok(RkdParams {
            distance_weight: v.number_or("distance-weight", d.distance_weight)?,
            angle_weight: v.number_or("angle-weight", d.angle_weight)?,
        })
    },
};

impl RkdParams {
    pub fn new(distance_weight: f64, angle_weight: f64) -> Self {
        Self {
            distance_weight,
            angle_weight,
        }
    }
}

setters!(RkdParams {
    with_distance_weight(distance_weight: f64),
    with_angle_weight(angle_weight: f64),
});

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
    env: &PlanEnv,
    params: &RkdParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let mut plan = Plan::new("rkd", io.dtype.into());
    let b = dims[0];
    let d = dims[1..].iter().product::<usize>();
    let pairs = b * b;
    let (b2, b3) = (pairs as f64, (pairs * b) as f64);
    let pair_bytes = pairs as u64 * 4;
    check_binding(env, "RKD pair matrices", pair_bytes)?;
    let gram_s = plan.scratch("rkd.gram_s", pair_bytes);
    let gram_t = plan.scratch("rkd.gram_t", pair_bytes);
    let pair_sum = plan.scratch("rkd.pair_sum", pair_bytes);
    let pair_gamma = plan.scratch("rkd.pair_gamma", pair_bytes);
    let scalars = plan.scratch("rkd.scalars", 16);
    let partials = plan.scratch("rkd.partials", (1 + pairs) as u64 * 4);
    let pair_groups = flat_grid(pairs, "rkd pairs")?;
    let pair_params = plan.params(&RkdUniform {
        batch: b as u32,
        dim: d as u32,
        groups_x: pair_groups[0],
        _pad0: 0,
        distance_scale: (params.distance_weight / b2) as f32,
        angle_scale: (2.0 * params.angle_weight / b3) as f32,
        inv_b2: (1.0 / b2) as f32,
        inv_b3: (1.0 / b3) as f32,
    });
    let student = Slot::io(Io::Student);
    let teacher = Slot::io(Io::Teacher);
    plan.dispatch(
        RKD_GRAM,
        WORKGROUP_SIZE,
        vec![pair_params, student, teacher, gram_s, gram_t],
        pair_groups,
    );
    plan.dispatch(
        RKD_DISTANCE,
        WORKGROUP_SIZE,
        vec![pair_params, gram_s, gram_t, scalars, partials],
        [1, 1, 1],
    );
    plan.dispatch(
        RKD_ANGLE,
        WORKGROUP_SIZE,
        vec![pair_params, gram_s, gram_t, pair_sum, pair_gamma, partials],
        pair_groups,
    );
    if io.has_grad() {
        let coefficients = plan.scratch("rkd.coefficients", pair_bytes);
        plan.dispatch(
            RKD_COEFFICIENTS,
            WORKGROUP_SIZE,
            vec![
                pair_params,
                gram_s,
                gram_t,
                pair_sum,
                pair_gamma,
                scalars,
                coefficients,
            ],
            pair_groups,
        );
        // dL/dE = M·E: the similarity losses' product.
        batch_gram::gradient(&mut plan, b, d, coefficients)?;
    }
    plan.finish(
        FinishUniform::pair(1, params.distance_weight, pairs, params.angle_weight),
        partials,
    );
    Ok(plan)
}

impl Loss for RkdParams {
    fn name(&self) -> &'static str {
        "rkd"
    }

    /// Its B×B terms relate every pair of rows.
    fn batch_coupling(&self) -> BatchCoupling {
        BatchCoupling::Pairwise
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

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        recording(env, self, shape, io)
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
