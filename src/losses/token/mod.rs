//! Token losses of language-model distillation on the GPU: `kl` with labels, normaliser or the
//! hard-label term, `jsd`, `tvd`, and the skew KLs `skl` and `srkl` (`skew.rs`), each with
//! soft-capping (SPEC "Token losses, masking and the hard-label term", "Skew KL", "Logit
//! soft-capping").
//!
//! Shaders, all in this folder: one row skeleton, `token_rows.wgsl` (three sweeps: softmax
//! statistics, terms and ⟨g, q⟩, projected gradient; declarations in `token_common.wgsl`),
//! read by `token.wgsl` (any C) or `token_quads.wgsl` (C a multiple of 4); each loss supplies
//! only its per-class term (`token_term_{kl,jsd,tvd,skl,srkl}.wgsl`; the mixtures' logs in
//! `token_mix.wgsl`); soft-capping is applied as the slots are loaded (`token_slots.wgsl`). `token_count.wgsl` counts the
//! valid rows on the device when the caller gives no normaliser; the sparse teacher is
//! `token_sparse*.wgsl`. Table entries: `kernels.rs`; the float64 twin: `reference.rs`.

pub(crate) mod kernels;
pub mod reference;
mod skew;
mod sparse;

pub use crate::losses::options::{TokenOptions, DEFAULT_IGNORE_INDEX};
pub use skew::{SklParams, SrklParams, DEFAULT_SKEW, SKL_REGISTRATION, SRKL_REGISTRATION};
pub(crate) use sparse::sparse_plan;

use crate::error::{Error, Result};
use crate::kernel::{Kernel, CACHE_PER_LANE, WORKGROUP_SIZE};
use crate::losses::checks::{check_temperature, require_rank};
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::{Entry, ParamValues};
use crate::plan::{FinishUniform, IoLayout, Plan, PlanEnv, Slot};
use crate::tensor::LogitShape;
use kernels::{
    LsKernels, TOKEN_COUNT, TOKEN_JSD_ROWS, TOKEN_JSD_ROWS_QUADS, TOKEN_KL_ROWS,
    TOKEN_KL_ROWS_QUADS, TOKEN_SKL_ROWS, TOKEN_SKL_ROWS_QUADS, TOKEN_SRKL_ROWS,
    TOKEN_SRKL_ROWS_QUADS, TOKEN_TVD_ROWS, TOKEN_TVD_ROWS_QUADS,
};

/// The token options' names, after a loss's own parameters.
pub(crate) const TOKEN_PARAMS: [&str; 5] = [
    "ignore-index",
    "normalizer",
    "hard-weight",
    "soft-weight",
    "softcap",
];

/// JSD's name, parameters and kernels (the token skeleton's).
pub const JSD_REGISTRATION: Entry<JsdParams> = Entry {
    name: "jsd",
    params: &[
        "temperature",
        "beta",
        TOKEN_PARAMS[0],
        TOKEN_PARAMS[1],
        TOKEN_PARAMS[2],
        TOKEN_PARAMS[3],
        TOKEN_PARAMS[4],
    ],
    kernels: kernels::KERNELS,
    build: |v: &ParamValues| {
        let d = JsdParams::default();
        Ok(JsdParams {
            temperature: v.number_or("temperature", d.temperature)?,
            beta: v.number_or("beta", d.beta)?,
            options: TokenOptions::from_values(v)?,
        })
    },
};

/// TVD's name, parameters and kernels (the token skeleton's).
pub const TVD_REGISTRATION: Entry<TvdParams> = Entry {
    name: "tvd",
    params: &[
        "temperature",
        TOKEN_PARAMS[0],
        TOKEN_PARAMS[1],
        TOKEN_PARAMS[2],
        TOKEN_PARAMS[3],
        TOKEN_PARAMS[4],
    ],
    kernels: kernels::KERNELS,
    build: |v: &ParamValues| {
        Ok(TvdParams {
            temperature: v.number_or("temperature", TvdParams::default().temperature)?,
            options: TokenOptions::from_values(v)?,
        })
    },
};

/// Parameters of the generalized Jensen–Shannon divergence (TRL's `generalized_jsd_loss`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JsdParams {
    /// Softmax temperature T (> 0). No T² factor.
    pub temperature: f64,
    /// Interpolation β ∈ [0, 1]: M = β·p + (1−β)·q; 0 is forward KL(p‖q), 1 reverse KL(q‖p).
    pub beta: f64,
    pub options: TokenOptions,
}

impl JsdParams {
    /// JSD at temperature `temperature` with interpolation `beta`, default options.
    pub fn new(temperature: f64, beta: f64) -> Self {
        Self {
            temperature,
            beta,
            options: TokenOptions::default(),
        }
    }
}

setters!(JsdParams {
    with_temperature(temperature: f64),
    with_beta(beta: f64),
    with_options(options: TokenOptions),
});

impl Default for JsdParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            beta: 0.5,
            options: TokenOptions::default(),
        }
    }
}

/// Parameters of the total variation distance `½·Σ|p − q|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TvdParams {
    /// Softmax temperature T (> 0). No T² factor.
    pub temperature: f64,
    pub options: TokenOptions,
}

impl TvdParams {
    /// TVD at temperature `temperature`, default options.
    pub fn new(temperature: f64) -> Self {
        Self {
            temperature,
            options: TokenOptions::default(),
        }
    }
}

setters!(TvdParams {
    with_temperature(temperature: f64),
    with_options(options: TokenOptions),
});

impl Default for TvdParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            options: TokenOptions::default(),
        }
    }
}

/// JSD's parameter domains.
pub(crate) fn check_jsd(p: &JsdParams) -> Result<()> {
    check_temperature(p.temperature)?;
    crate::losses::checks::check_beta(p.beta)?;
    p.options.check()?;
    p.options.check_kl_only("jsd")
}

/// Which per-class term the skeleton runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenTerm {
    Kl,
    Jsd,
    Tvd,
    /// Skew KL and skew reverse KL (the skew in `beta`).
    Skl,
    Srkl,
}

impl TokenTerm {
    fn kernel(self, quads: bool) -> Kernel {
        match (self, quads) {
            (Self::Kl, false) => TOKEN_KL_ROWS,
            (Self::Kl, true) => TOKEN_KL_ROWS_QUADS,
            (Self::Jsd, false) => TOKEN_JSD_ROWS,
            (Self::Jsd, true) => TOKEN_JSD_ROWS_QUADS,
            (Self::Tvd, false) => TOKEN_TVD_ROWS,
            (Self::Tvd, true) => TOKEN_TVD_ROWS_QUADS,
            (Self::Skl, false) => TOKEN_SKL_ROWS,
            (Self::Skl, true) => TOKEN_SKL_ROWS_QUADS,
            (Self::Srkl, false) => TOKEN_SRKL_ROWS,
            (Self::Srkl, true) => TOKEN_SRKL_ROWS_QUADS,
        }
    }

    /// (loss factor, gradient factor) of the soft term: KL carries T² (so T on ∂/∂zs), the
    /// others none (so 1/T).
    fn factors(self, t: f64) -> (f64, f64) {
        match self {
            Self::Kl => (t * t, t),
            Self::Jsd | Self::Tvd | Self::Skl | Self::Srkl => (1.0, 1.0 / t),
        }
    }
}

/// Mirrors `TokenParams` in `token_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct TokenUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    beta: f32,
    row_offset: u32,
    has_labels: u32,
    ignore_index: u32,
    count_on_device: u32,
    hard: u32,
    hard_at_t: u32,
    inv_n: f32,
    soft_scale: f32,
    soft_grad_scale: f32,
    hard_weight: f32,
    pub(crate) k: u32,
    pub(crate) tail: u32,
    pub(crate) words: u32,
    standardize: u32,
    temperature_grad: u32,
    batch_rows: u32,
    temperature: f32,
    soft_weight: f32,
    pub(crate) teacher_power: f32,
    pub(crate) weighted: u32,
    softcap: f32,
}

/// Mirrors `CountParams` in `token_count.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CountUniform {
    rows: u32,
    ignore_index: u32,
    _pad: [u32; 2],
}

/// What every row kernel of one token-loss call shares: the uniform block except the chunk's
/// own rows, and whether the valid rows are counted on the device.
pub(crate) struct TokenRows {
    pub(crate) base: TokenUniform,
    count_on_device: bool,
}

impl TokenRows {
    pub(crate) fn new(
        term: TokenTerm,
        temperature: f64,
        beta: f64,
        options: &TokenOptions,
        shape: &LogitShape,
        io: &IoLayout,
    ) -> Result<Self> {
        options.check()?;
        let has_labels = io.labels;
        if options.wants_hard_term() && !has_labels {
            return Err(Error::Shape(
                "the hard-label term (hard weight != 0) needs labels".into(),
            ));
        }
        let count_on_device = has_labels && options.normalizer.is_none();
        let n = options.normalizer.unwrap_or(shape.rows as f64);
        let (soft_factor, grad_factor) = term.factors(temperature);
        let w_soft = options.soft_weight;
        Ok(Self {
            count_on_device,
            base: TokenUniform {
                rows: 0,
                cols: shape.cols as u32,
                groups_x: 0,
                write_grad: io.has_grad() as u32,
                inv_t: (1.0 / temperature) as f32,
                beta: beta as f32,
                row_offset: 0,
                has_labels: has_labels as u32,
                ignore_index: options.ignore_index as i32 as u32,
                count_on_device: count_on_device as u32,
                hard: options.wants_hard_term() as u32,
                // With LS the soft term's q is of the z-scored row, not of the raw one.
                hard_at_t: (temperature == 1.0 && !options.standardize) as u32,
                inv_n: (1.0 / n) as f32,
                soft_scale: (w_soft * soft_factor) as f32,
                soft_grad_scale: (w_soft * grad_factor) as f32,
                hard_weight: options.hard_weight as f32,
                k: 0,
                tail: 0,
                words: 0,
                standardize: options.standardize as u32,
                temperature_grad: options.temperature_grad as u32,
                batch_rows: shape.rows as u32,
                temperature: temperature as f32,
                soft_weight: w_soft as f32,
                teacher_power: 1.0,
                weighted: 0,
                softcap: options.softcap.unwrap_or(0.0) as f32,
            },
        })
    }

    /// The uniform block of the chunk of `rows` rows from `start`.
    pub(crate) fn chunk(&self, start: usize, rows: usize, groups_x: u32) -> TokenUniform {
        TokenUniform {
            rows: rows as u32,
            groups_x,
            row_offset: start as u32,
            ..self.base
        }
    }

    /// The valid-row count, when the kernels read it from the device.
    pub(crate) fn count_dispatch(
        &self,
        plan: &mut Plan,
        rows: usize,
        io: &IoLayout,
        scratch: &Scratch,
    ) {
        if !self.count_on_device {
            return;
        }
        let uniform = plan.params(&CountUniform {
            rows: rows as u32,
            ignore_index: self.base.ignore_index,
            _pad: [0; 2],
        });
        plan.dispatch(
            TOKEN_COUNT,
            WORKGROUP_SIZE,
            vec![uniform, io.labels_or(scratch.no_labels), scratch.normaliser],
            [1, 1, 1],
        );
    }
}

/// The plan of one dense token loss: the valid-row count (labels without a normaliser), the
/// row skeleton per block of rows, then `finish.wgsl` summing the already normalised rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    env: &PlanEnv,
    term: TokenTerm,
    temperature: f64,
    beta: f64,
    options: &TokenOptions,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    options.check_dense_teacher()?;
    let shape = LogitShape::from_dims(dims)?;
    let rows = TokenRows::new(term, temperature, beta, options, &shape, io)?;
    plan_rows(env, term, options, rows, &shape, io)
}

/// The plan of the dense token rows for `rows` (a uniform block the caller may have adjusted:
/// ttm with LS sets the teacher's power and the WTTM weight on kl's LS row function).
pub(crate) fn plan_rows(
    env: &PlanEnv,
    term: TokenTerm,
    options: &TokenOptions,
    rows: TokenRows,
    shape: &LogitShape,
    io: &IoLayout,
) -> Result<Plan> {
    let threads_per_row = env.threads_per_row(shape.cols);
    let quads = env.quads(shape.cols, io);
    // kl with LS or CTKD has its own row function (the options are refused for jsd and tvd
    // by their parameter checks, before any plan).
    let dt = options.temperature_grad;
    let kernel = match term {
        // The variant without the hard term or WTTM's weight where they are off; rows held
        // where each lane has one slot, unless the strategy turns held rows off.
        TokenTerm::Kl if options.standardize || dt => LsKernels {
            standardize: options.standardize,
            full: rows.base.hard != 0 || rows.base.weighted != 0,
            held: env.may_hold_rows(shape.cols, threads_per_row, CACHE_PER_LANE),
            quads,
        }
        .kernel(),
        _ => term.kernel(quads),
    };
    let mut plan = Plan::new("token", io.precision());
    // With CTKD, each row's ∂/∂T follows the row losses.
    let scratch = Scratch::new(&mut plan, shape.rows * if dt { 2 } else { 1 });
    let chunks = env.row_blocks(
        &mut plan,
        io,
        shape.rows,
        shape.cols,
        threads_per_row,
        |s, r, g| rows.chunk(s, r, g),
    )?;
    rows.count_dispatch(&mut plan, shape.rows, io, &scratch);
    for chunk in &chunks {
        plan.dispatch(
            kernel,
            threads_per_row,
            vec![
                chunk.uniform,
                chunk.io.student(),
                chunk.io.teacher(),
                io.labels_or(scratch.no_labels),
                scratch.normaliser,
                scratch.row_loss,
                chunk.io.grad_or(scratch.no_grad),
            ],
            chunk.groups,
        );
    }
    let finish = if dt {
        FinishUniform::with_second(shape.rows, 1.0, shape.rows, 1.0)
    } else {
        FinishUniform::single(shape.rows, 1.0)
    };
    plan.finish(finish, scratch.row_loss);
    Ok(plan)
}

/// The scratch buffers of a token-loss call.
pub(crate) struct Scratch {
    pub(crate) row_loss: Slot,
    pub(crate) normaliser: Slot,
    pub(crate) no_grad: Slot,
    pub(crate) no_labels: Slot,
}

impl Scratch {
    pub(crate) fn new(plan: &mut Plan, rows: usize) -> Self {
        Self {
            row_loss: plan.scratch("token.row_loss", rows as u64 * 4),
            normaliser: plan.scratch("token.normaliser", 16),
            no_grad: plan.scratch("unused gradient", 16),
            no_labels: plan.scratch("unused labels", 16),
        }
    }
}

impl Loss for JsdParams {
    fn name(&self) -> &'static str {
        "jsd"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn token_options(&self) -> Option<&TokenOptions> {
        Some(&self.options)
    }

    fn check_params(&self) -> Result<()> {
        check_jsd(self)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        let (t, beta) = (self.temperature, self.beta);
        plan(env, TokenTerm::Jsd, t, beta, &self.options, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let soft = reference::Soft::Jsd(self.beta);
        let (t, labels) = (self.temperature, inputs.labels);
        reference::evaluate(
            soft,
            student,
            teacher,
            inputs.shape,
            t,
            &self.options,
            labels,
        )
    }
}

impl Loss for TvdParams {
    fn name(&self) -> &'static str {
        "tvd"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn token_options(&self) -> Option<&TokenOptions> {
        Some(&self.options)
    }

    fn check_params(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        self.options.check()?;
        self.options.check_kl_only("tvd")
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        let t = self.temperature;
        plan(env, TokenTerm::Tvd, t, 0.0, &self.options, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let soft = reference::Soft::Tvd;
        let (t, labels) = (self.temperature, inputs.labels);
        reference::evaluate(
            soft,
            student,
            teacher,
            inputs.shape,
            t,
            &self.options,
            labels,
        )
    }
}
