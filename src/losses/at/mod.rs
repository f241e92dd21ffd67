//! AT (attention transfer): L2-normalised spatial attention maps `mean_c f^p`, compared by MSE.
//!
//! This folder: `at.wgsl` (then `shaders/finish.wgsl`), its table entry in `kernels.rs`, the
//! float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::checks::require_rank;
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{check_binding, grid_2d, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot};
use kernels::AT_SAMPLES;

/// AT's name, parameter and kernels.
pub const REGISTRATION: Entry<AtParams> = Entry {
    name: "at",
    params: &["p"],
    kernels: kernels::KERNELS,
    build: |v| {
        Ok(AtParams {
            p: v.number_or("p", AtParams::default().p)?,
        })
    },
};

/// Parameters of AT.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtParams {
    /// Exponent of the attention map (> 0; 2 by default).
    pub p: f64,
}

impl AtParams {
    /// AT with exponent `p`.
    pub fn new(p: f64) -> Self {
        Self { p }
    }
}

setters!(AtParams {
    with_p(p: f64),
});

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

/// One pass per sample (maps, terms, gradient), then the finish.
pub(crate) fn plan(
    env: &PlanEnv,
    params: &AtParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let [b, c, h, w] = [dims[0], dims[1], dims[2], dims[3]];
    let hw = h * w;
    let groups = grid_2d(b, "at samples")?;
    let maps_bytes = 2 * (b * hw) as u64 * 4;
    check_binding(env, "AT attention maps", maps_bytes)?;
    let mut plan = Plan::new("at", io.dtype.into());
    let maps = plan.scratch("at.maps", maps_bytes);
    let partials = plan.scratch("at.partials", b as u64 * 4);
    let placeholder = plan.scratch("unused gradient", 16);
    let uniform = plan.params(&AtUniform {
        samples: b as u32,
        channels: c as u32,
        hw: hw as u32,
        groups_x: groups[0],
        p: params.p as f32,
        inv_c: (1.0 / c as f64) as f32,
        scale: (1.0 / (b * hw) as f64) as f32,
        write_grad: io.has_grad() as u32,
    });
    plan.dispatch(
        AT_SAMPLES,
        WORKGROUP_SIZE,
        vec![
            uniform,
            Slot::io(Io::Student),
            Slot::io(Io::Teacher),
            maps,
            partials,
            io.grad_or(placeholder),
        ],
        groups,
    );
    plan.finish(FinishUniform::single(b, 1.0 / (b * hw) as f64), partials);
    Ok(plan)
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

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        plan(env, self, shape, io)
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
