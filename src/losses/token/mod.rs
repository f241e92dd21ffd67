//! Token losses of language-model distillation on the GPU: `kl` with labels, normaliser or the
//! hard-label term, `jsd` and `tvd` (SPEC "Token losses, masking and the hard-label term").
//!
//! Shaders, all in this folder: one row skeleton, `token_rows.wgsl` (three sweeps: softmax
//! statistics, terms and ⟨g, q⟩, projected gradient; declarations in `token_common.wgsl`),
//! read by `token.wgsl` (any C) or `token_quads.wgsl` (C a multiple of 4); each loss supplies
//! only its per-class term (`token_term_{kl,jsd,tvd}.wgsl`). `token_count.wgsl` counts the
//! valid rows on the device when the caller gives no normaliser; the sparse teacher is
//! `token_sparse*.wgsl`. Table entries: `kernels.rs`; the float64 twin: `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{
    check_finite, check_temperature, require_rank, BoundIo, Inputs, KlParams, Loss, LossSpec,
    SparseTeacher,
};
use crate::record::{
    finish_dispatch, replay, resolve_dispatches, row_chunks, whole, Dispatch, FinishUniform,
    Recording,
};
use crate::shaders::Kernel;
use crate::tensor::{
    check_binding_size, element_count, BufferRegion, InputDtype, LogitShape, Precision,
};
use kernels::{
    TOKEN_COUNT, TOKEN_JSD_ROWS, TOKEN_JSD_ROWS_QUADS, TOKEN_KL_ROWS, TOKEN_KL_ROWS_QUADS,
    TOKEN_SPARSE_BITS, TOKEN_SPARSE_ROWS, TOKEN_SPARSE_ROWS_QUADS, TOKEN_TVD_ROWS,
    TOKEN_TVD_ROWS_QUADS,
};

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

/// Mirrors `TokenParams` in `token_common.wgsl`.
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
    k: u32,
    tail: u32,
    words: u32,
    _pad: u32,
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
struct TokenPlan {
    base: TokenUniform,
    count_on_device: bool,
}

impl TokenPlan {
    fn new(
        term: TokenTerm,
        temperature: f64,
        beta: f64,
        options: &TokenOptions,
        shape: &LogitShape,
        io: &BoundIo<'_>,
    ) -> Result<Self> {
        options.check()?;
        let has_labels = io.labels.is_some();
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
                write_grad: io.grad.is_some() as u32,
                inv_t: (1.0 / temperature) as f32,
                beta: beta as f32,
                row_offset: 0,
                has_labels: has_labels as u32,
                ignore_index: options.ignore_index as i32 as u32,
                count_on_device: count_on_device as u32,
                hard: options.wants_hard_term() as u32,
                hard_at_t: (temperature == 1.0) as u32,
                inv_n: (1.0 / n) as f32,
                soft_scale: (w_soft * soft_factor) as f32,
                soft_grad_scale: (w_soft * grad_factor) as f32,
                hard_weight: options.hard_weight as f32,
                k: 0,
                tail: 0,
                words: 0,
                _pad: 0,
            },
        })
    }

    /// The uniform block of the chunk of `rows` rows from `start`.
    fn chunk(&self, start: usize, rows: usize, groups_x: u32) -> TokenUniform {
        TokenUniform {
            rows: rows as u32,
            groups_x,
            row_offset: start as u32,
            ..self.base
        }
    }

    /// The labels binding, or a placeholder the kernels never read.
    fn labels<'a>(
        &self,
        io: &BoundIo<'a>,
        placeholder: &'a wgpu::Buffer,
    ) -> wgpu::BindingResource<'a> {
        match &io.labels {
            Some(l) => wgpu::BindingResource::Buffer(l.clone()),
            None => whole(placeholder),
        }
    }

    /// The valid-row count, when the kernels read it from the device.
    fn count_dispatch<'a>(
        &self,
        ctx: &GpuContext,
        rows: usize,
        io: &BoundIo<'a>,
        params: &'a mut Option<wgpu::Buffer>,
        placeholder: &'a wgpu::Buffer,
        normaliser: &'a wgpu::Buffer,
    ) -> Result<Option<Dispatch<'a>>> {
        if !self.count_on_device {
            return Ok(None);
        }
        let uniform = params.insert(ctx.params_buffer(bytemuck::bytes_of(&CountUniform {
            rows: rows as u32,
            ignore_index: self.base.ignore_index,
            _pad: [0; 2],
        }))?);
        Ok(Some(Dispatch {
            kernel: TOKEN_COUNT,
            threads_per_row: crate::shaders::WORKGROUP_SIZE,
            resources: vec![
                whole(uniform),
                self.labels(io, placeholder),
                whole(normaliser),
            ],
            groups: [1, 1, 1],
        }))
    }
}

/// The recording of one dense token loss: the valid-row count (labels without a normaliser),
/// the row skeleton per block of rows, then `finish.wgsl` summing the already normalised rows.
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
    let plan = TokenPlan::new(term, temperature, beta, options, &shape, io)?;
    let threads_per_row = ctx.threads_per_row(shape.cols);
    let kernel = term.kernel(ctx.quads(shape.cols, io));
    let scratch = Scratch::new(ctx, shape.rows);
    let chunks = row_chunks(
        ctx,
        io,
        shape.rows,
        shape.cols,
        threads_per_row,
        |s, r, g| plan.chunk(s, r, g),
    )?;
    let mut count_params = None;
    let mut dispatches: Vec<Dispatch<'_>> = Vec::with_capacity(chunks.len() + 2);
    dispatches.extend(plan.count_dispatch(
        ctx,
        shape.rows,
        io,
        &mut count_params,
        &scratch.no_labels,
        &scratch.normaliser,
    )?);
    dispatches.extend(chunks.iter().map(|chunk| Dispatch {
        kernel,
        threads_per_row,
        resources: vec![
            whole(&chunk.uniform),
            chunk.io.student(),
            chunk.io.teacher(),
            plan.labels(io, &scratch.no_labels),
            whole(&scratch.normaliser),
            whole(&scratch.row_loss),
            chunk.io.grad_or(&scratch.no_grad),
        ],
        groups: chunk.groups,
    }));
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::single(shape.rows, 1.0)))?;
    dispatches.push(finish_dispatch(&finish, &scratch.row_loss, io.loss()));
    resolve_dispatches(ctx, "token", dispatches, io.precision())
}

/// The scratch buffers of a token-loss call.
struct Scratch {
    row_loss: wgpu::Buffer,
    normaliser: wgpu::Buffer,
    no_grad: wgpu::Buffer,
    no_labels: wgpu::Buffer,
}

impl Scratch {
    fn new(ctx: &GpuContext, rows: usize) -> Self {
        Self {
            row_loss: ctx.scratch("token.row_loss", rows as u64 * 4),
            normaliser: ctx.scratch("token.normaliser", 16),
            no_grad: ctx.scratch("unused gradient", 16),
            no_labels: ctx.scratch("unused labels", 16),
        }
    }
}

/// The recording of `kl` against a sparse teacher: the id bitmap (tail), the valid-row count,
/// `token_sparse.wgsl` per block of rows (ids, log-probs, labels and bitmap indexed by batch
/// row, bound whole), the final sum.
#[allow(clippy::too_many_arguments)]
fn sparse_recording(
    ctx: &GpuContext,
    params: &KlParams,
    shape: &LogitShape,
    k: usize,
    tail: bool,
    io: &BoundIo<'_>,
    ids: wgpu::BufferBinding<'_>,
    logprobs: wgpu::BufferBinding<'_>,
) -> Result<Recording> {
    let words = shape.cols.div_ceil(32);
    let mut plan = TokenPlan::new(
        TokenTerm::Kl,
        params.temperature,
        0.0,
        &params.options,
        shape,
        io,
    )?;
    plan.base.k = k as u32;
    plan.base.tail = tail as u32;
    plan.base.words = words as u32;
    let threads_per_row = ctx.threads_per_row(shape.cols);
    let scratch = Scratch::new(ctx, shape.rows);
    let bits = ctx.scratch("token.id_bits", (shape.rows * words) as u64 * 4);
    let chunks = row_chunks(
        ctx,
        io,
        shape.rows,
        shape.cols,
        threads_per_row,
        |s, r, g| plan.chunk(s, r, g),
    )?;
    let mut dispatches: Vec<Dispatch<'_>> = Vec::with_capacity(chunks.len() + 3);
    let bits_params;
    if tail {
        let groups = crate::record::grid_2d(shape.rows, "the id bitmap")?;
        bits_params = ctx.params_buffer(bytemuck::bytes_of(&BitsUniform {
            rows: shape.rows as u32,
            k: k as u32,
            words: words as u32,
            groups_x: groups[0],
        }))?;
        dispatches.push(Dispatch {
            kernel: TOKEN_SPARSE_BITS,
            threads_per_row: crate::shaders::WORKGROUP_SIZE,
            resources: vec![
                whole(&bits_params),
                wgpu::BindingResource::Buffer(ids.clone()),
                whole(&bits),
            ],
            groups,
        });
    }
    let mut count_params = None;
    dispatches.extend(plan.count_dispatch(
        ctx,
        shape.rows,
        io,
        &mut count_params,
        &scratch.no_labels,
        &scratch.normaliser,
    )?);
    // The quad form where the rows and bindings allow it (f32, f16 or bf16 student logits);
    // the any-C form reads f32 only.
    let kernel = if ctx.quads(shape.cols, io) {
        TOKEN_SPARSE_ROWS_QUADS
    } else if io.dtype == InputDtype::F32 {
        TOKEN_SPARSE_ROWS
    } else {
        return Err(Error::Shape(format!(
            "a sparse teacher with {} student logits needs rows of a multiple of 4 classes \
             (V = {}), bound at offsets of whole quads, and quads allowed by the strategy",
            io.dtype.name(),
            shape.cols
        )));
    };
    dispatches.extend(chunks.iter().map(|chunk| Dispatch {
        kernel,
        threads_per_row,
        resources: vec![
            whole(&chunk.uniform),
            chunk.io.student(),
            wgpu::BindingResource::Buffer(logprobs.clone()),
            plan.labels(io, &scratch.no_labels),
            whole(&scratch.normaliser),
            whole(&scratch.row_loss),
            chunk.io.grad_or(&scratch.no_grad),
            wgpu::BindingResource::Buffer(ids.clone()),
            whole(&bits),
        ],
        groups: chunk.groups,
    }));
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::single(shape.rows, 1.0)))?;
    dispatches.push(finish_dispatch(&finish, &scratch.row_loss, io.loss()));
    resolve_dispatches(ctx, "kl sparse", dispatches, io.precision())
}

/// The caller's buffers for [`GpuContext::record_sparse`]: `student` N×V f32, `ids` N×K u32
/// (distinct within a row, in `[0, V)`), `logprobs` N×K f32 (the teacher's log-probabilities
/// at T = 1 there), optional `labels` (one 32-bit label per row: masking and the hard term),
/// `loss` one f32, `grad` N×V f32. The ids and log-probs are not checked on the GPU: the host
/// path (`evaluate` with [`crate::losses::Inputs::with_sparse_teacher`]) checks them.
#[derive(Clone, Copy, Debug)]
pub struct SparseBindings<'a> {
    pub student: BufferRegion<'a>,
    pub ids: BufferRegion<'a>,
    pub logprobs: BufferRegion<'a>,
    /// Ids per row.
    pub k: usize,
    /// Keep the mass outside the ids as one tail bucket (T = 1 only).
    pub tail: bool,
    pub labels: Option<BufferRegion<'a>>,
    pub loss: BufferRegion<'a>,
    pub grad: Option<BufferRegion<'a>>,
}

/// Mirrors `BitsParams` in `token_sparse_bits.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BitsUniform {
    rows: u32,
    k: u32,
    words: u32,
    groups_x: u32,
}

impl GpuContext {
    /// Records `kl` against a sparse top-k teacher (with `params`' token options) into the
    /// caller's `encoder`: the id bitmap (with the tail), the valid-row count (labels without
    /// a normaliser), the rows, the final sum. Never submits or reads back.
    pub fn record_sparse(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &KlParams,
        shape: &[usize],
        io: &SparseBindings<'_>,
    ) -> Result<()> {
        self.record_sparse_as(encoder, params, shape, io, InputDtype::F32)
    }

    /// [`GpuContext::record_sparse`] with the student's logits stored as `dtype` (f16 or bf16:
    /// two per 32-bit word; rows of a multiple of 4 classes). The log-probs stay f32, the
    /// gradient is f32.
    pub fn record_sparse_as(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &KlParams,
        shape: &[usize],
        io: &SparseBindings<'_>,
        dtype: InputDtype,
    ) -> Result<()> {
        self.record_sparse_counted(encoder, params, shape, io, dtype)
            .map(|_| ())
    }

    /// [`GpuContext::record_sparse_as`], returning how many dispatches it recorded (the
    /// bench).
    pub(crate) fn record_sparse_counted(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &KlParams,
        shape: &[usize],
        io: &SparseBindings<'_>,
        dtype: InputDtype,
    ) -> Result<usize> {
        self.check_health()?;
        let spec = LossSpec::Kl(*params);
        spec.check_params()?;
        spec.check_shape(shape)?;
        let (rows, cols, k) = (shape[0], shape[1], io.k);
        if k == 0 || k > cols {
            return Err(Error::Shape(format!(
                "sparse teacher: K = {k} ids per row, expected 1 <= K <= V = {cols}"
            )));
        }
        if io.tail && params.temperature != 1.0 {
            return Err(Error::Param(format!(
                "the sparse teacher's tail needs temperature 1, got {}",
                params.temperature
            )));
        }
        if params.options.wants_hard_term() && io.labels.is_none() {
            return Err(Error::Shape(
                "the hard-label term (hard weight != 0) needs labels".into(),
            ));
        }
        let elements = element_count(shape)?;
        let bytes = elements as u64 * 4;
        let per_row = |n: usize| (rows as u64).saturating_mul(n as u64).saturating_mul(4);
        self.row_chunks(rows, cols, dtype)?;
        let words = cols.div_ceil(32);
        let student = io
            .student
            .binding(self, "student", dtype.bytes_for(elements), true)?;
        let bound = BoundIo {
            dtype,
            grad_dtype: InputDtype::F32,
            teacher: student.clone(),
            student,
            labels: io
                .labels
                .map(|l| l.binding(self, "labels", per_row(1), false))
                .transpose()?,
            loss: io.loss.binding(self, "loss", 4, false)?,
            grad: io
                .grad
                .map(|g| g.binding(self, "gradient", bytes, true))
                .transpose()?,
        };
        let ids = io.ids.binding(self, "teacher ids", per_row(k), false)?;
        let logprobs = io
            .logprobs
            .binding(self, "teacher log-probs", per_row(k), false)?;
        check_binding_size(self, "the id bitmap", per_row(words))?;
        let shape = LogitShape::from_dims(shape)?;
        let recorded = self.scoped("kl sparse", || {
            let recording =
                sparse_recording(self, params, &shape, k, io.tail, &bound, ids, logprobs)?;
            Ok(replay(self, encoder, &recording))
        });
        if recorded.is_err() {
            // A bind group made in a failed scope may be invalid: keep none of them.
            self.release_cached_bind_groups();
        }
        recorded
    }

    /// `evaluate` with a sparse teacher: uploads, records, submits.
    pub(crate) fn submit_sparse_call(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        sparse: SparseTeacher<'_>,
        want_grad: bool,
        precision: Precision,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex, Option<usize>)> {
        let LossSpec::Kl(params) = spec else {
            return Err(Error::Param(format!(
                "a sparse teacher applies to kl, not {}",
                spec.name()
            )));
        };
        if precision.grad != InputDtype::F32 {
            return Err(Error::Param(
                "a sparse teacher writes an f32 gradient".into(),
            ));
        }
        let elements = inputs.student.len();
        let bytes = elements as u64 * 4;
        let student = self.upload("student", &precision.inputs.encode(inputs.student))?;
        let ids: Vec<u32> = sparse.ids.iter().map(|&i| i as u32).collect();
        let ids = self.upload("teacher ids", bytemuck::cast_slice(&ids))?;
        let logprobs = self.upload("teacher log-probs", bytemuck::cast_slice(sparse.logprobs))?;
        let mut call = self.host_call(
            inputs,
            want_grad,
            bytes,
            "wgpu-distill evaluate (sparse teacher)",
        )?;
        let recorded = self.record_sparse_as(
            &mut call.encoder,
            params,
            inputs.shape,
            &SparseBindings {
                student: BufferRegion::new(&student),
                ids: BufferRegion::new(&ids),
                logprobs: BufferRegion::new(&logprobs),
                k: sparse.k,
                tail: sparse.tail,
                labels: call.labels.as_ref().map(BufferRegion::new),
                loss: BufferRegion::new(&call.loss),
                grad: call.grad.as_ref().map(BufferRegion::new),
            },
            precision.inputs,
        );
        self.submit_host_call_outputs(call, recorded, &[&student, &ids, &logprobs], elements)
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

    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
        let (t, beta) = (self.temperature, self.beta);
        recording(ctx, TokenTerm::Jsd, t, beta, &self.options, shape, io)
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
        self.options.check()
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
    }

    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
        let t = self.temperature;
        recording(ctx, TokenTerm::Tvd, t, 0.0, &self.options, shape, io)
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
