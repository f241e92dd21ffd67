//! KL divergence with temperature (Hinton KD).
//!
//! This folder: `kl.wgsl` (per-row terms and gradient; `kl_quads.wgsl` four classes per load;
//! `kl_common.wgsl` their declarations) then `shaders/finish.wgsl`; the table entries in
//! `kernels.rs`; the float64 twin in `reference.rs`. With labels, a normaliser or the hard
//! term, KL runs on the token skeleton (`../token/`).

pub mod ctkd;
pub(crate) mod kernels;
pub mod reference;
mod sparse;

pub use sparse::SparseBindings;

use crate::error::Result;
use crate::kernel::CACHE_PER_LANE;
use crate::losses::checks::{check_temperature, require_rank};
use crate::losses::common::{Inputs, Loss};
use crate::losses::options::TokenOptions;
use crate::losses::registry::Entry;
use crate::losses::token::{self, TokenTerm};
use crate::plan::{FinishUniform, IoLayout, Plan, PlanEnv};
use crate::tensor::LogitShape;
use kernels::{KL_ROWS, KL_ROWS_CACHED, KL_ROWS_QUADS};

/// KL's name, parameters and kernels.
pub const REGISTRATION: Entry<KlParams> = Entry {
    name: "kl",
    params: &[
        "temperature",
        "ignore-index",
        "normalizer",
        "hard-weight",
        "soft-weight",
        "softcap",
        "student-over-ids",
        "standardize",
        "temperature-grad",
    ],
    kernels: kernels::KERNELS,
    build: |v| {
        Ok(KlParams {
            temperature: v.number_or("temperature", KlParams::default().temperature)?,
            options: TokenOptions::from_values(v)?,
        })
    },
};

/// Parameters of the KL loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KlParams {
    /// Softmax temperature T (> 0). ImageNet recipes use 1, CIFAR recipes 4.
    pub temperature: f64,
    /// Masking, normaliser and hard-label term (token distillation). The default is the plain
    /// batchmean KL of Hinton KD.
    pub options: TokenOptions,
}

impl KlParams {
    /// Plain Hinton KD at temperature `t` (default options).
    pub fn new(temperature: f64) -> Self {
        Self {
            temperature,
            options: TokenOptions::default(),
        }
    }

    /// Whether the call runs the token skeleton: labels given, or any option away from its
    /// default. Otherwise the KL kernels below run, bit for bit as before the options existed.
    pub(crate) fn uses_token_path(&self, labels: bool) -> bool {
        labels || self.options != TokenOptions::default()
    }
}

setters!(KlParams {
    /// The same parameters at temperature `temperature`.
    with_temperature(temperature: f64),
    /// The same parameters with token options `options`.
    with_options(options: TokenOptions),
});

impl KlParams {
    /// LS: z-score both inputs' rows before the loss (`options.standardize`).
    pub fn with_standardize(self, standardize: bool) -> Self {
        self.with_options(self.options.with_standardize(standardize))
    }

    /// CTKD: also compute ∂L/∂T (`options.temperature_grad`).
    pub fn with_temperature_grad(self, temperature_grad: bool) -> Self {
        self.with_options(self.options.with_temperature_grad(temperature_grad))
    }
}

impl Default for KlParams {
    fn default() -> Self {
        Self::new(1.0)
    }
}

/// Mirrors `KlParams` in `kl.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct KlUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    grad_scale: f32,
    row_offset: u32,
    _pad: f32,
}

pub(crate) fn recording(
    env: &PlanEnv,
    params: &KlParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    params.options.check_dense_teacher()?;
    let t = params.temperature;
    if params.uses_token_path(io.labels) {
        return token::plan(env, TokenTerm::Kl, t, 0.0, &params.options, dims, io);
    }
    let shape = LogitShape::from_dims(dims)?;
    let b = shape.rows as f64;
    let threads_per_row = env.threads_per_row(shape.cols);
    let kernel = if env.holds_rows(shape.cols, threads_per_row, CACHE_PER_LANE) {
        KL_ROWS_CACHED
    } else if env.quads(shape.cols, io) {
        KL_ROWS_QUADS
    } else {
        KL_ROWS
    };
    let mut plan = Plan::new("kl", io.precision());
    let row_loss = plan.scratch("kl.row_loss", shape.rows as u64 * 4);
    plan.logit_rows(
        env,
        io,
        kernel,
        (shape.rows, shape.cols),
        false,
        row_loss,
        |start, rows, groups_x| KlUniform {
            rows: rows as u32,
            cols: shape.cols as u32,
            groups_x,
            write_grad: io.has_grad() as u32,
            inv_t: (1.0 / t) as f32,
            grad_scale: (t / b) as f32,
            row_offset: start as u32,
            _pad: 0.0,
        },
    )?;
    plan.finish(FinishUniform::single(shape.rows, t * t / b), row_loss);
    Ok(plan)
}

impl Loss for KlParams {
    fn name(&self) -> &'static str {
        "kl"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn token_options(&self) -> Option<&TokenOptions> {
        Some(&self.options)
    }

    fn check_params(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        self.options.check()
    }

    fn sparse_temperature(&self) -> Option<f64> {
        Some(self.temperature)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")?;
        if self.options.standardize {
            crate::losses::standardize::check_classes(dims[1])?;
        }
        Ok(())
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        recording(env, self, shape, io)
    }

    fn reference_grad_temperature(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<Option<f64>> {
        if !self.options.temperature_grad {
            return Ok(None);
        }
        let (t, o) = (self.temperature, &self.options);
        ctkd::grad_temperature(student, teacher, inputs.shape, t, o, inputs.labels).map(Some)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let (t, dims) = (self.temperature, inputs.shape);
        if inputs.sparse.is_some() {
            return token::reference::evaluate_sparse(student, inputs, t, &self.options);
        }
        if self.uses_token_path(inputs.labels.is_some()) {
            let soft = token::reference::Soft::Kl;
            return token::reference::evaluate(
                soft,
                student,
                teacher,
                dims,
                t,
                &self.options,
                inputs.labels,
            );
        }
        Ok(reference::kl(student, teacher, dims[0], dims[1], t))
    }
}
