//! Token losses of language-model distillation on the GPU: `kl` with labels, normaliser or the
//! hard-label term, `jsd` and `tvd` (SPEC "Token losses, masking and the hard-label term").
//!
//! Shaders: one row skeleton, `shaders/lib/token_common.wgsl` (three sweeps: softmax
//! statistics, terms and ⟨g, q⟩, projected gradient), read by `shaders/token.wgsl` (any C) or
//! `shaders/token_quads.wgsl` (C a multiple of 4); each loss supplies only its per-class term
//! (`shaders/lib/token_term_{kl,jsd,tvd}.wgsl`). `shaders/token_count.wgsl` counts the valid
//! rows on the device when the caller gives no normaliser. Reference: `src/reference/token.rs`.

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{check_finite, check_temperature, BoundIo};
use crate::record::{
    finish_dispatch, resolve_dispatches, row_chunks, whole, Dispatch, FinishUniform, Recording,
};
use crate::shaders::{
    Kernel, TOKEN_COUNT, TOKEN_JSD_ROWS, TOKEN_JSD_ROWS_QUADS, TOKEN_KL_ROWS, TOKEN_KL_ROWS_QUADS,
    TOKEN_TVD_ROWS, TOKEN_TVD_ROWS_QUADS,
};
use crate::tensor::LogitShape;

/// TRL's and PyTorch's default `ignore_index`.
pub const DEFAULT_IGNORE_INDEX: i64 = -100;

/// Masking, normalisation and the hard-label term of the token losses (`kl`, `jsd`, `tvd`).
/// The default changes nothing: no row is ignored unless labels are given, the normaliser is
/// the count of valid rows, and `L = 1·soft + 0·CE`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenOptions {
    /// Rows whose label equals this are left out (loss 0, gradient 0). Must fit in an i32:
    /// the GPU holds labels as 32-bit words.
    pub ignore_index: i64,
    /// Divides the summed row losses instead of the count of valid rows (e.g. the token count
    /// of a whole gradient-accumulation step, TRL's `num_items_in_batch`). Finite and > 0.
    pub normalizer: Option<f64>,
    /// Weight of the hard-label cross-entropy on the raw student logits (needs labels).
    pub hard_weight: f64,
    /// Weight of the soft (distillation) term.
    pub soft_weight: f64,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            ignore_index: DEFAULT_IGNORE_INDEX,
            normalizer: None,
            hard_weight: 0.0,
            soft_weight: 1.0,
        }
    }
}

impl TokenOptions {
    /// Checks the domains: `ignore_index` fits in an i32, the normaliser is finite and > 0,
    /// the weights are finite.
    pub fn check(&self) -> Result<()> {
        if i32::try_from(self.ignore_index).is_err() {
            return Err(Error::Param(format!(
                "ignore_index {} does not fit in 32 bits",
                self.ignore_index
            )));
        }
        crate::reference::token::check_normalizer(self.normalizer)?;
        check_finite("soft weight", self.soft_weight)?;
        check_finite("hard weight", self.hard_weight)
    }

    /// Whether the hard-label term is asked for (it needs labels).
    pub fn wants_hard_term(&self) -> bool {
        self.hard_weight != 0.0
    }
}

/// Parameters of the generalized Jensen–Shannon divergence (TRL's `generalized_jsd_loss`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JsdParams {
    /// Softmax temperature T (> 0). No T² factor.
    pub temperature: f64,
    /// Interpolation β ∈ [0, 1]: M = β·p + (1−β)·q; 0 is forward KL(p‖q), 1 reverse KL(q‖p).
    pub beta: f64,
    pub options: TokenOptions,
}

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
    crate::reference::token::check_beta(p.beta)?;
    p.options.check()
}

/// Which per-class term the skeleton runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenTerm {
    Kl,
    Jsd,
    Tvd,
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
        }
    }

    /// (loss factor, gradient factor) of the soft term: KL carries T² (so T on ∂/∂zs), the
    /// others none (so 1/T).
    fn factors(self, t: f64) -> (f64, f64) {
        match self {
            Self::Kl => (t * t, t),
            Self::Jsd | Self::Tvd => (1.0, 1.0 / t),
        }
    }
}

/// Mirrors `TokenParams` in `shaders/lib/token_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TokenUniform {
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
}

/// Mirrors `CountParams` in `shaders/token_count.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CountUniform {
    rows: u32,
    ignore_index: u32,
    _pad: [u32; 2],
}

/// The recording of one token loss: the valid-row count (labels without a normaliser), the
/// row skeleton per block of rows, then `finish.wgsl` summing the already normalised rows.
pub(crate) fn recording(
    ctx: &GpuContext,
    term: TokenTerm,
    temperature: f64,
    beta: f64,
    options: &TokenOptions,
    dims: &[usize],
    io: &BoundIo<'_>,
) -> Result<Recording> {
    let shape = LogitShape::from_dims(dims)?;
    options.check()?;
    let labels = io.labels.clone();
    if options.wants_hard_term() && labels.is_none() {
        return Err(Error::Shape(
            "the hard-label term (hard weight != 0) needs labels".into(),
        ));
    }
    let ignore_index = options.ignore_index as i32 as u32;
    let count_on_device = labels.is_some() && options.normalizer.is_none();
    let n = options.normalizer.unwrap_or(shape.rows as f64);
    let (soft_factor, grad_factor) = term.factors(temperature);
    let w_soft = options.soft_weight;
    let threads_per_row = ctx.threads_per_row(shape.cols);
    let kernel = term.kernel(ctx.quads(shape.cols, io));
    let row_loss = ctx.scratch("token.row_loss", shape.rows as u64 * 4);
    let normaliser = ctx.scratch("token.normaliser", 16);
    let placeholder = ctx.scratch("unused gradient", 16);
    let no_labels = ctx.scratch("unused labels", 16);
    let label_binding = || match &labels {
        Some(l) => wgpu::BindingResource::Buffer(l.clone()),
        None => whole(&no_labels),
    };
    let chunks = row_chunks(
        ctx,
        io,
        shape.rows,
        shape.cols,
        threads_per_row,
        |start, rows, groups_x| TokenUniform {
            rows: rows as u32,
            cols: shape.cols as u32,
            groups_x,
            write_grad: io.grad.is_some() as u32,
            inv_t: (1.0 / temperature) as f32,
            beta: beta as f32,
            row_offset: start as u32,
            has_labels: labels.is_some() as u32,
            ignore_index,
            count_on_device: count_on_device as u32,
            hard: options.wants_hard_term() as u32,
            hard_at_t: (temperature == 1.0) as u32,
            inv_n: (1.0 / n) as f32,
            soft_scale: (w_soft * soft_factor) as f32,
            soft_grad_scale: (w_soft * grad_factor) as f32,
            hard_weight: options.hard_weight as f32,
        },
    )?;
    let mut dispatches: Vec<Dispatch<'_>> = Vec::with_capacity(chunks.len() + 2);
    let count_params;
    if count_on_device {
        count_params = ctx.params_buffer(bytemuck::bytes_of(&CountUniform {
            rows: shape.rows as u32,
            ignore_index,
            _pad: [0; 2],
        }))?;
        dispatches.push(Dispatch {
            kernel: TOKEN_COUNT,
            threads_per_row: crate::shaders::WORKGROUP_SIZE,
            resources: vec![whole(&count_params), label_binding(), whole(&normaliser)],
            groups: [1, 1, 1],
        });
    }
    dispatches.extend(chunks.iter().map(|chunk| Dispatch {
        kernel,
        threads_per_row,
        resources: vec![
            whole(&chunk.uniform),
            chunk.io.student(),
            chunk.io.teacher(),
            label_binding(),
            whole(&normaliser),
            whole(&row_loss),
            chunk.io.grad_or(&placeholder),
        ],
        groups: chunk.groups,
    }));
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::single(shape.rows, 1.0)))?;
    dispatches.push(finish_dispatch(&finish, &row_loss, io.loss()));
    resolve_dispatches(ctx, "token", dispatches, io.precision())
}
