//! ICKD (inter-channel correlation): row-normalised channel Gram matrices per sample, compared
//! by squared error.
//!
//! Shaders (this folder): `ickd.wgsl` (Gram), `ickd_rows.wgsl` (normalisation, loss terms,
//! dL/dG), `ickd_grad.wgsl` (dL/dF), then `shaders/finish.wgsl`; table entries in `kernels.rs`;
//! the float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::checks::require_rank;
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{
    check_binding, finish_dispatch, flat_grid, row_grid, FinishUniform, Io, IoLayout, Plan,
    PlanEnv, PlannedDispatch, Slot,
};
use kernels::{ICKD_GRAD, ICKD_GRAM, ICKD_ROWS};

/// The denominator of ICKD's sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IckdDenominator {
    /// `C·B` (the default).
    #[default]
    Cb,
    /// `C·B²`.
    Cb2,
}

impl std::str::FromStr for IckdDenominator {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cb" => Ok(Self::Cb),
            "cb2" => Ok(Self::Cb2),
            other => Err(Error::Param(format!(
                "unknown ICKD denominator '{other}' (expected cb or cb2)"
            ))),
        }
    }
}

/// Parameters of ICKD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IckdParams {
    pub denominator: IckdDenominator,
}

setters!(IckdParams {
    with_denominator(denominator: IckdDenominator),
});

/// ICKD's name, parameter and kernels.
pub const REGISTRATION: Entry<IckdParams> = Entry {
    name: "ickd",
    params: &["denominator"],
    kernels: kernels::KERNELS,
    build: |v| {
        Ok(IckdParams {
            denominator: match v.text("denominator") {
                Some(text) => text.parse()?,
                None => IckdParams::default().denominator,
            },
        })
    },
};

impl IckdParams {
    pub fn new(denominator: IckdDenominator) -> Self {
        Self { denominator }
    }
}

impl IckdParams {
    /// D for a batch of `b` samples of `c` channels.
    pub fn divisor(&self, b: usize, c: usize) -> f64 {
        match self.denominator {
            IckdDenominator::Cb => (c * b) as f64,
            IckdDenominator::Cb2 => (c * b * b) as f64,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct IckdUniform {
    samples: u32,
    channels: u32,
    hw: u32,
    groups_x: u32,
    grad_scale: f32,
    _pad: [f32; 3],
}

pub(crate) fn recording(
    env: &PlanEnv,
    params: &IckdParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let mut plan = Plan::empty();
    let [b, c, h, w] = [dims[0], dims[1], dims[2], dims[3]];
    let hw = h * w;
    let divisor = params.divisor(b, c);
    let gram_bytes = (b * c * c) as u64 * 4;
    check_binding(env, "ICKD Gram matrices", gram_bytes)?;
    let gram_s = plan.scratch("ickd.gram_s", gram_bytes);
    let gram_t = plan.scratch("ickd.gram_t", gram_bytes);
    let partials = plan.scratch("ickd.partials", (b * c) as u64 * 4);
    let uniform_for = |groups_x: u32| IckdUniform {
        samples: b as u32,
        channels: c as u32,
        hw: hw as u32,
        groups_x,
        grad_scale: (2.0 / divisor) as f32,
        _pad: [0.0; 3],
    };
    let gram_groups = flat_grid(b * c * c, "ickd gram")?;
    let threads_per_row = env.threads_per_row(c);
    let row_groups = row_grid(b * c, threads_per_row)?;
    let grad_groups = flat_grid(b * c * hw, "ickd gradient")?;
    let gram_params = plan.params(&uniform_for(gram_groups[0]));
    let row_params = plan.params(&uniform_for(row_groups[0]));
    let grad_params = plan.params(&uniform_for(grad_groups[0]));
    let finish = plan.params(&FinishUniform::single(b * c, 1.0 / divisor));
    let mut dispatches = vec![
        PlannedDispatch {
            kernel: ICKD_GRAM,
            threads_per_row: WORKGROUP_SIZE,
            bindings: vec![
                gram_params,
                Slot::io(Io::Student),
                Slot::io(Io::Teacher),
                gram_s,
                gram_t,
            ],
            groups: gram_groups,
        },
        PlannedDispatch {
            kernel: ICKD_ROWS,
            threads_per_row,
            bindings: vec![row_params, gram_s, gram_t, partials],
            groups: row_groups,
        },
    ];
    if io.has_grad() {
        dispatches.push(PlannedDispatch {
            kernel: ICKD_GRAD,
            threads_per_row: WORKGROUP_SIZE,
            bindings: vec![
                grad_params,
                Slot::io(Io::Student),
                gram_t,
                Slot::io(Io::Grad),
            ],
            groups: grad_groups,
        });
    }
    dispatches.push(finish_dispatch(finish, partials));
    Ok(plan.with("ickd", io.dtype.into(), dispatches))
}

impl Loss for IckdParams {
    fn name(&self) -> &'static str {
        "ickd"
    }

    fn batch_coupling(&self) -> BatchCoupling {
        let rows_power = match self.denominator {
            IckdDenominator::Cb => 1,
            IckdDenominator::Cb2 => 2,
        };
        BatchCoupling::RowMean { rows_power }
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 4, "B×C×H×W")
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
        let d = inputs.shape;
        let divisor = self.divisor(d[0], d[1]);
        Ok(reference::ickd(
            student,
            teacher,
            [d[0], d[1], d[2], d[3]],
            divisor,
        ))
    }
}
