//! DKD (decoupled KD): target-class KD (TCKD) and non-target-class KD (NCKD) with labels.
//!
//! This folder: `dkd.wgsl` (per-row terms and gradient; `dkd_quads.wgsl` four classes per
//! load; `dkd_common.wgsl` their declarations; `dkd_ls.wgsl` with LS, `standardize`) then
//! `shaders/finish.wgsl`; table entries in `kernels.rs`; the float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::losses::checks::{check_finite, check_temperature, require_rank};
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{FinishUniform, IoLayout, Plan, PlanEnv};
use crate::tensor::LogitShape;
use kernels::row_kernel;

/// Parameters of DKD: `L = alpha·TCKD + beta·NCKD`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DkdParams {
    /// Softmax temperature T (> 0).
    pub temperature: f64,
    /// TCKD weight.
    pub alpha: f64,
    /// NCKD weight.
    pub beta: f64,
    /// Weight of the hard-label cross-entropy on the raw student logits, over the same labels
    /// (`L = soft_weight·DKD + hard_weight·CE`; mdistiller's DKD recipe uses 1).
    pub hard_weight: f64,
    /// Weight of the DKD term.
    pub soft_weight: f64,
    /// LS (SPEC "LS"): z-score both rows before DKD (the hard term keeps the raw student).
    pub standardize: bool,
}

/// DKD's name, parameters and kernels.
pub const REGISTRATION: Entry<DkdParams> = Entry {
    name: "dkd",
    params: &[
        "temperature",
        "alpha",
        "beta",
        "hard-weight",
        "soft-weight",
        "standardize",
    ],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = DkdParams::default();
        Ok(DkdParams {
            temperature: v.number_or("temperature", d.temperature)?,
            alpha: v.number_or("alpha", d.alpha)?,
            beta: v.number_or("beta", d.beta)?,
            hard_weight: v.number_or("hard-weight", d.hard_weight)?,
            soft_weight: v.number_or("soft-weight", d.soft_weight)?,
            standardize: v.flag("standardize")?.unwrap_or(d.standardize),
        })
    },
};

impl DkdParams {
    /// DKD at temperature `temperature` with weights `alpha` (target) and `beta` (non-target),
    /// no hard term.
    pub fn new(temperature: f64, alpha: f64, beta: f64) -> Self {
        Self {
            temperature,
            alpha,
            beta,
            ..Self::default()
        }
    }
}

setters!(DkdParams {
    with_temperature(temperature: f64),
    with_alpha(alpha: f64),
    with_beta(beta: f64),
    /// The weight of the hard-label cross-entropy (needs labels).
    with_hard_weight(hard_weight: f64),
    with_soft_weight(soft_weight: f64),
    /// LS: z-score both inputs' rows before DKD.
    with_standardize(standardize: bool),
});

impl Default for DkdParams {
    fn default() -> Self {
        Self {
            temperature: 4.0,
            alpha: 1.0,
            beta: 8.0,
            hard_weight: 0.0,
            soft_weight: 1.0,
            standardize: false,
        }
    }
}

/// Mirrors `DkdParams` in `dkd.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DkdUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    grad_scale: f32,
    alpha: f32,
    beta: f32,
    row_offset: u32,
    hard: u32,
    hard_scale: f32,
    batch_rows: u32,
}

pub(crate) fn recording(
    env: &PlanEnv,
    params: &DkdParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let shape = LogitShape::from_dims(dims)?;
    if !io.labels {
        return Err(Error::Shape("dkd needs labels".into()));
    }
    let t = params.temperature;
    let b = shape.rows as f64;
    // Each row's DKD term, then (with the hard term) each row's CE.
    let hard = params.hard_weight != 0.0;
    let kernel = row_kernel(params.standardize, env.quads(shape.cols, io), hard);
    let partials = shape.rows * if hard { 2 } else { 1 };
    let mut plan = Plan::new("dkd", io.precision());
    let row_loss = plan.scratch("dkd.row_loss", partials as u64 * 4);
    plan.logit_rows(
        env,
        io,
        kernel,
        (shape.rows, shape.cols),
        true,
        row_loss,
        |start, rows, groups_x| DkdUniform {
            rows: rows as u32,
            cols: shape.cols as u32,
            groups_x,
            write_grad: io.has_grad() as u32,
            inv_t: (1.0 / t) as f32,
            grad_scale: (t / b) as f32,
            alpha: (params.soft_weight * params.alpha) as f32,
            beta: (params.soft_weight * params.beta) as f32,
            row_offset: start as u32,
            hard: hard as u32,
            hard_scale: (params.hard_weight / b) as f32,
            batch_rows: shape.rows as u32,
        },
    )?;
    let finish = FinishUniform::pair(
        shape.rows,
        t * t / b,
        if hard { shape.rows } else { 0 },
        params.hard_weight / b,
    );
    plan.finish(finish, row_loss);
    Ok(plan)
}

impl Loss for DkdParams {
    fn name(&self) -> &'static str {
        "dkd"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn needs_labels(&self) -> bool {
        true
    }

    fn takes_labels(&self) -> bool {
        true
    }

    fn check_params(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        check_finite("alpha", self.alpha)?;
        check_finite("beta", self.beta)?;
        check_finite("soft weight", self.soft_weight)?;
        check_finite("hard weight", self.hard_weight)
    }

    fn labels_are_targets(&self) -> bool {
        true
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")?;
        if dims[1] < 2 {
            return Err(Error::Shape(format!(
                "dkd needs C >= 2 classes, got {dims:?}"
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
        let labels: Vec<usize> = inputs
            .labels
            .unwrap_or(&[])
            .iter()
            .map(|&l| l as usize)
            .collect();
        let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
        let (t, weights) = (self.temperature, (self.alpha, self.beta));
        let soft = if self.standardize {
            reference::dkd_standardized(student, teacher, &labels, (rows, cols), t, weights)?
        } else {
            reference::dkd(
                student, teacher, &labels, rows, cols, t, weights.0, weights.1,
            )
        };
        let (w_soft, w_hard) = (self.soft_weight, self.hard_weight);
        crate::losses::token::reference::with_hard_term(soft, student, inputs, w_soft, w_hard)
    }
}
