//! The losses: their parameters, the checks shared by every loss, and the two GPU entry points
//! (host slices in, loss and gradient out; or recording into the caller's encoder).
//!
//! Each loss is one folder, `src/losses/<loss>/`: its host code and parameters (`mod.rs`, with
//! its `Loss` implementation), its WGSL kernels and their table entries (`*.wgsl`,
//! `kernels.rs`) and its float64 twin (`reference.rs`). The folders: `kl`, `dist`, `dkd`,
//! `fitnet`, `at`, `rkd`, `ickd`, `hcl`, and `token` for the language-model token losses (`kl`
//! with options, `jsd`, `tvd`, sparse teachers; one row skeleton, a term per loss). WGSL shared
//! by every loss (reductions, input loads, the finish kernel) stays under `shaders/`.

pub mod at;
pub mod dist;
pub mod dkd;
pub mod fitnet;
pub mod hcl;
pub mod ickd;
pub mod kl;
pub mod rkd;
pub mod token;

pub use at::AtParams;
pub use dist::{ColumnMoments, DistParams, DistShardStats};
pub use dkd::DkdParams;
pub use ickd::{IckdDenominator, IckdParams};
pub use kl::KlParams;
pub use rkd::RkdParams;
pub use token::{JsdParams, SparseBindings, TokenOptions, TvdParams, DEFAULT_IGNORE_INDEX};

use std::sync::Arc;

use crate::context::{GpuContext, RecordingKey};
use crate::error::{Error, Result};
use crate::record::{replay, Recording};
use crate::tensor::{check_len, element_count, BufferRegion, InputDtype, Precision};

/// Which loss, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossSpec {
    /// Hinton KD: KL(softmax(zt/T) ‖ softmax(zs/T)), batchmean, times T²; with token options
    /// (masking, normaliser, hard term) for language-model distillation.
    Kl(KlParams),
    /// Generalized Jensen–Shannon divergence (TRL's GKD), with token options.
    Jsd(JsdParams),
    /// Total variation distance, with token options.
    Tvd(TvdParams),
    /// DIST: Pearson inter-class and intra-class relations of the softmax outputs.
    Dist(DistParams),
    /// Decoupled KD: target-class and non-target-class KL, with labels.
    Dkd(DkdParams),
    /// FitNet hint: mean squared error of features.
    Fitnet,
    /// Attention transfer on B×C×H×W features.
    At(AtParams),
    /// Relational KD (distance and angle) on B×D embeddings.
    Rkd(RkdParams),
    /// Inter-channel correlation on B×C×H×W features.
    Ickd(IckdParams),
    /// ReviewKD's hierarchical context loss on one N×C×H×W level.
    Hcl,
}

/// Names of the losses the command line accepts.
pub const LOSS_NAMES: &[&str] = &[
    "kl", "jsd", "tvd", "dist", "dkd", "fitnet", "at", "rkd", "ickd", "hcl",
];

impl LossSpec {
    /// The loss behind the variant: the one place a loss is looked up by its variant. Every
    /// question below is answered by the loss's own folder (`src/losses/<loss>/mod.rs`).
    pub(crate) fn loss(&self) -> &dyn Loss {
        match self {
            Self::Kl(p) => p,
            Self::Jsd(p) => p,
            Self::Tvd(p) => p,
            Self::Dist(p) => p,
            Self::Dkd(p) => p,
            Self::Fitnet => &fitnet::Fitnet,
            Self::At(p) => p,
            Self::Rkd(p) => p,
            Self::Ickd(p) => p,
            Self::Hcl => &hcl::Hcl,
        }
    }

    /// The loss's command-line name.
    pub fn name(&self) -> &'static str {
        self.loss().name()
    }

    /// Whether the loss's kernels read f16 and bf16 inputs (the logit losses).
    pub fn takes_16_bit_inputs(&self) -> bool {
        self.loss().takes_16_bit_inputs()
    }

    /// The token options of `kl`, `jsd` and `tvd` (masking, normaliser, hard term).
    pub fn token_options(&self) -> Option<&TokenOptions> {
        self.loss().token_options()
    }

    /// Whether the loss needs integer labels (one per row): DKD, and DIST and the token losses
    /// with a hard-label term.
    pub fn needs_labels(&self) -> bool {
        self.loss().needs_labels()
    }

    /// Whether the loss accepts labels: DKD and DIST (the hard term's targets), and the token
    /// losses (to mask rows).
    pub fn takes_labels(&self) -> bool {
        self.loss().takes_labels()
    }

    /// Checks the parameters' domains.
    pub fn check_params(&self) -> Result<()> {
        self.loss().check_params()
    }

    /// Checks a shape for this loss.
    pub fn check_shape(&self, dims: &[usize]) -> Result<()> {
        if dims.contains(&0) {
            return Err(Error::Shape(format!(
                "empty input {dims:?}: every axis must be >= 1"
            )));
        }
        self.loss().check_shape(dims)
    }
}

/// What each loss supplies to the shared entry points (validation, recording, the float64
/// reference). Each loss implements it in its own folder, beside its shaders and its float64
/// twin; adding a loss is that folder, a [`LossSpec`] variant and its line in
/// [`LossSpec::loss`].
pub(crate) trait Loss {
    /// The command-line name.
    fn name(&self) -> &'static str;

    /// Whether the kernels read f16 and bf16 inputs (and bind rows in chunks beyond one
    /// binding): the logit losses.
    fn takes_16_bit_inputs(&self) -> bool {
        false
    }

    /// The token options (`kl`, `jsd`, `tvd`).
    fn token_options(&self) -> Option<&TokenOptions> {
        None
    }

    /// Whether labels are required: by default, where the token options ask for a hard term.
    fn needs_labels(&self) -> bool {
        self.token_options().is_some_and(|o| o.wants_hard_term())
    }

    /// Whether labels are accepted: by default, by the token losses (to mask rows).
    fn takes_labels(&self) -> bool {
        self.token_options().is_some()
    }

    /// Checks the parameters' domains.
    fn check_params(&self) -> Result<()> {
        Ok(())
    }

    /// Checks the rank and sizes (no axis is empty: checked before).
    fn check_shape(&self, dims: &[usize]) -> Result<()>;

    /// The passes of one call, on checked parameters, shape and buffers.
    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording>;

    /// Loss and gradient in float64 (`crate::reference::evaluate`, on checked inputs).
    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)>;
}

/// The shape error of a loss that needs rank `want` (`layout` names the axes).
pub(crate) fn require_rank(name: &str, dims: &[usize], want: usize, layout: &str) -> Result<()> {
    if dims.len() != want {
        return Err(Error::Shape(format!(
            "{name} needs rank {want} ({layout}), got rank {} {dims:?}",
            dims.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_temperature(t: f64) -> Result<()> {
    if !t.is_finite() || t <= 0.0 {
        return Err(Error::Param(format!(
            "temperature must be finite and > 0, got {t}"
        )));
    }
    Ok(())
}

pub(crate) fn check_finite(name: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        return Err(Error::Param(format!("{name} must be finite, got {v}")));
    }
    Ok(())
}

/// A sparse top-k teacher (`kl` only): for each of the N rows, K distinct class ids and the
/// teacher's full-vocabulary log-probabilities at T = 1 there, as an inference server returns
/// them (row-major N×K).
#[derive(Clone, Copy, Debug)]
pub struct SparseTeacher<'a> {
    pub ids: &'a [i64],
    pub logprobs: &'a [f32],
    pub k: usize,
    /// Keep the mass outside the top-k as one tail bucket (T = 1 only); else the K log-probs
    /// are re-tempered and renormalised over the K.
    pub tail: bool,
}

/// Host inputs of one evaluation: row-major float32 tensors of `shape`, labels (DKD's
/// targets, the token losses' masking), or a sparse teacher in place of `teacher`.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub student: &'a [f32],
    /// The teacher's logits, in the student's shape (empty with a sparse teacher).
    pub teacher: &'a [f32],
    /// A sparse top-k teacher instead of `teacher` (`kl`).
    pub sparse: Option<SparseTeacher<'a>>,
    pub shape: &'a [usize],
    /// Target class of each row: DKD's targets; for `kl`, `jsd`, `tvd` the token labels
    /// (rows equal to `ignore_index` are masked; the hard term's targets).
    pub labels: Option<&'a [i64]>,
}

impl<'a> Inputs<'a> {
    pub fn new(student: &'a [f32], teacher: &'a [f32], shape: &'a [usize]) -> Self {
        Self {
            student,
            teacher,
            sparse: None,
            shape,
            labels: None,
        }
    }

    /// The student against a sparse top-k teacher (`kl`).
    pub fn with_sparse_teacher(
        student: &'a [f32],
        teacher: SparseTeacher<'a>,
        shape: &'a [usize],
    ) -> Self {
        Self {
            student,
            teacher: &[],
            sparse: Some(teacher),
            shape,
            labels: None,
        }
    }

    /// The same inputs with labels (DKD).
    pub fn with_labels(mut self, labels: &'a [i64]) -> Self {
        self.labels = Some(labels);
        self
    }

    /// Checks the parameters, the shape, the slice lengths and the labels.
    pub fn check(&self, spec: &LossSpec) -> Result<()> {
        spec.check_params()?;
        spec.check_shape(self.shape)?;
        check_len("student", self.student.len(), self.shape)?;
        match (self.sparse, spec) {
            (None, _) => check_len("teacher", self.teacher.len(), self.shape)?,
            (Some(sparse), LossSpec::Kl(p)) => {
                if !self.teacher.is_empty() {
                    return Err(Error::Shape(
                        "give either dense teacher logits or a sparse teacher, not both".into(),
                    ));
                }
                let logprobs: Vec<f64> = sparse.logprobs.iter().map(|&x| f64::from(x)).collect();
                crate::reference::token::check_sparse(
                    self.shape[0],
                    self.shape[1],
                    sparse.ids,
                    &logprobs,
                    sparse.k,
                    p.temperature,
                    sparse.tail,
                )?;
            }
            (Some(_), other) => {
                return Err(Error::Param(format!(
                    "a sparse teacher applies to kl, not {}",
                    other.name()
                )))
            }
        }
        match (spec.needs_labels(), spec.takes_labels(), self.labels) {
            (true, _, None) => Err(Error::Shape(format!(
                "{} needs labels (one per row){}",
                spec.name(),
                if !matches!(spec, LossSpec::Dkd(_)) {
                    " for its hard-label term"
                } else {
                    ""
                }
            ))),
            (_, false, Some(_)) => Err(Error::Param(format!("{} takes no labels", spec.name()))),
            (_, _, None) => Ok(()),
            (_, true, Some(labels)) => match spec.token_options() {
                Some(o) => crate::reference::token::check_masked_labels(
                    labels,
                    self.shape[0],
                    self.shape[1],
                    o.ignore_index,
                ),
                None => check_labels(labels, self.shape[0], self.shape[1]),
            },
        }
    }

    /// Labels as the GPU reads them (u32), after `check`.
    pub(crate) fn labels_u32(&self) -> Option<Vec<u32>> {
        self.labels.map(|l| l.iter().map(|&x| x as u32).collect())
    }
}

/// Labels: B of them, each in `[0, C)`.
pub fn check_labels(labels: &[i64], rows: usize, cols: usize) -> Result<()> {
    if labels.len() != rows {
        return Err(Error::Shape(format!(
            "{} labels for B = {rows} rows",
            labels.len()
        )));
    }
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l < 0 || l >= cols as i64)
    {
        return Err(Error::Param(format!(
            "label {bad} at row {i} is outside [0, {cols})"
        )));
    }
    Ok(())
}

/// The result of a GPU evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct LossOutput {
    pub loss: f32,
    /// ∂L/∂student, in the student's shape, when it was asked for.
    pub grad: Option<Vec<f32>>,
}

/// The caller's buffers for [`GpuContext::record`]. Student and teacher are float32 tensors in
/// the shape given to `record`; `labels` (DKD, and the token losses' masking and hard term)
/// holds one 32-bit label per row (`ignore_index` as its i32 bit pattern); `loss` receives one f32;
/// `grad`, when present, receives ∂L/∂student in the student's shape. Every buffer needs
/// STORAGE usage and offsets that are multiples of `min_storage_buffer_offset_alignment`.
#[derive(Clone, Copy, Debug)]
pub struct LossBindings<'a> {
    pub student: BufferRegion<'a>,
    pub teacher: BufferRegion<'a>,
    pub labels: Option<BufferRegion<'a>>,
    pub loss: BufferRegion<'a>,
    pub grad: Option<BufferRegion<'a>>,
}

/// The caller's regions, checked and ready to bind.
pub(crate) struct BoundIo<'a> {
    /// How student and teacher are stored.
    pub dtype: InputDtype,
    /// How the gradient is stored (f32 unless a quad kernel writes f16/bf16).
    pub grad_dtype: InputDtype,
    pub student: wgpu::BufferBinding<'a>,
    pub teacher: wgpu::BufferBinding<'a>,
    pub labels: Option<wgpu::BufferBinding<'a>>,
    pub loss: wgpu::BufferBinding<'a>,
    pub grad: Option<wgpu::BufferBinding<'a>>,
}

impl<'a> BoundIo<'a> {
    /// The library's own buffers, bound whole (no checks needed).
    pub(crate) fn whole(
        student: &'a wgpu::Buffer,
        teacher: &'a wgpu::Buffer,
        loss: &'a wgpu::Buffer,
        grad: Option<&'a wgpu::Buffer>,
    ) -> Self {
        let bind = |b: &'a wgpu::Buffer| wgpu::BufferBinding {
            buffer: b,
            offset: 0,
            size: None,
        };
        Self {
            dtype: InputDtype::F32,
            grad_dtype: InputDtype::F32,
            student: bind(student),
            teacher: bind(teacher),
            labels: None,
            loss: bind(loss),
            grad: grad.map(bind),
        }
    }
}

impl<'a> BoundIo<'a> {
    /// The same bindings, read as `dtype` inputs.
    pub(crate) fn with_dtype(mut self, dtype: InputDtype) -> Self {
        self.dtype = dtype;
        self
    }

    /// The input and gradient dtypes, for choosing pipelines.
    pub(crate) fn precision(&self) -> Precision {
        Precision {
            inputs: self.dtype,
            grad: self.grad_dtype,
        }
    }

    /// Whether the quad kernels can read these bindings: rows of a multiple of 4 elements
    /// (so every row and every chunk starts on a quad) and inputs and gradient at offsets
    /// that are multiples of a quad's size.
    pub(crate) fn quads_allowed(&self, cols: usize) -> bool {
        let quad = self.dtype.bytes_for(4);
        let grad_quad = self.grad_dtype.bytes_for(4);
        cols.is_multiple_of(4)
            && self.student.offset.is_multiple_of(quad)
            && self.teacher.offset.is_multiple_of(quad)
            && self
                .grad
                .as_ref()
                .is_none_or(|g| g.offset.is_multiple_of(grad_quad))
    }

    /// Rows `[start, start + rows)` of a B×`cols` call: student, teacher and gradient narrowed
    /// to those rows (offsets stay aligned: see `GpuContext::row_chunks`); labels and loss
    /// stay whole (the kernels index them by batch row).
    pub(crate) fn chunk(&self, start: usize, rows: usize, cols: usize) -> BoundIo<'a> {
        let narrow = |b: &wgpu::BufferBinding<'a>, offset: u64, size: u64| wgpu::BufferBinding {
            buffer: b.buffer,
            offset: b.offset + offset,
            size: std::num::NonZeroU64::new(size),
        };
        let (first, count) = (start * cols, rows * cols);
        let input = |b: &wgpu::BufferBinding<'a>| {
            narrow(b, self.dtype.bytes_for(first), self.dtype.bytes_for(count))
        };
        let grad_bytes = |n: usize| self.grad_dtype.bytes_for(n);
        BoundIo {
            dtype: self.dtype,
            grad_dtype: self.grad_dtype,
            student: input(&self.student),
            teacher: input(&self.teacher),
            labels: self.labels.clone(),
            loss: self.loss.clone(),
            grad: self
                .grad
                .as_ref()
                .map(|g| narrow(g, grad_bytes(first), grad_bytes(count))),
        }
    }
}

impl BoundIo<'_> {
    pub(crate) fn student(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(self.student.clone())
    }
    pub(crate) fn teacher(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(self.teacher.clone())
    }
    pub(crate) fn loss(&self) -> wgpu::BufferBinding<'_> {
        self.loss.clone()
    }
    /// The gradient binding, or a placeholder when no gradient is written (the kernels never
    /// touch it then).
    pub(crate) fn grad_or<'b>(
        &'b self,
        placeholder: &'b wgpu::Buffer,
    ) -> wgpu::BindingResource<'b> {
        match &self.grad {
            Some(g) => wgpu::BindingResource::Buffer(g.clone()),
            None => placeholder.as_entire_binding(),
        }
    }
}

impl GpuContext {
    /// Records the loss (and the gradient, when `io.grad` is given) into the caller's
    /// `encoder`. Never submits, polls or reads back; pipelines are created on first use and
    /// cached. Several calls may be recorded into one encoder: each has its own parameters.
    /// Labels given on the GPU are not range-checked here: a label outside `[0, C)` gives a NaN
    /// loss (the host path checks them and returns an error).
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
    ) -> Result<()> {
        self.record_with(encoder, spec, shape, io, InputDtype::F32.into())
    }

    /// [`GpuContext::record`] for student and teacher buffers holding `dtype` values (f16 and
    /// bf16: two per 32-bit word, little-endian; KL, DIST and DKD). The gradient is f32.
    pub fn record_as(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
        dtype: InputDtype,
    ) -> Result<()> {
        self.record_with(encoder, spec, shape, io, dtype.into())
    }

    /// [`GpuContext::record_as`] with the gradient stored as `precision.grad`: f32, or f16 /
    /// bf16 (two per 32-bit word, little-endian, rounded to nearest even from f32) for KL,
    /// DIST and DKD when C is a multiple of 4 and the gradient region is 8-byte aligned (their quad
    /// kernels write it; other cases are an `Error::Param` saying which).
    pub fn record_with(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
        precision: Precision,
    ) -> Result<()> {
        self.record_counted(encoder, spec, shape, io, precision)
            .map(|_| ())
    }

    /// [`GpuContext::record_with`], returning how many dispatches it recorded (for the
    /// benchmark).
    pub(crate) fn record_counted(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
        precision: Precision,
    ) -> Result<usize> {
        let dtype = precision.inputs;
        self.check_health()?;
        spec.check_params()?;
        spec.check_shape(shape)?;
        if precision.grad != InputDtype::F32 && io.grad.is_some() {
            self.check_narrow_gradient(spec, shape, io, precision.grad)?;
        }
        if dtype != InputDtype::F32 && !spec.takes_16_bit_inputs() {
            return Err(Error::Param(format!(
                "{} inputs are supported by kl, dist and dkd, not {}",
                dtype.name(),
                spec.name()
            )));
        }
        let elements = element_count(shape)?;
        // The logit losses bind rows in chunks when a batch exceeds one binding.
        let chunked = spec.takes_16_bit_inputs();
        let bytes = (elements as u64)
            .checked_mul(4)
            .filter(|b| chunked || *b <= u64::from(u32::MAX))
            .ok_or_else(|| {
                Error::Limit(format!(
                    "{shape:?} has {elements} elements, beyond the 2^30 a kernel can index"
                ))
            })?;
        let input_bytes = dtype.bytes_for(elements);
        let grad_bytes = if precision.grad == InputDtype::F32 {
            bytes
        } else {
            precision.grad.bytes_for(elements)
        };
        if chunked {
            // A single row wider than a binding cannot be chunked: say so before the buffers.
            self.row_chunks(shape[0], shape[1], dtype)?;
        }
        let labels = match (spec.needs_labels(), spec.takes_labels(), io.labels) {
            (true, _, None) => {
                return Err(Error::Shape(format!(
                    "{} needs a labels buffer",
                    spec.name()
                )))
            }
            (_, true, Some(l)) => Some(l.binding(self, "labels", shape[0] as u64 * 4, false)?),
            _ => None,
        };
        let bound = BoundIo {
            dtype,
            student: io.student.binding(self, "student", input_bytes, chunked)?,
            teacher: io.teacher.binding(self, "teacher", input_bytes, chunked)?,
            labels,
            loss: io.loss.binding(self, "loss", 4, false)?,
            grad: io
                .grad
                .map(|g| g.binding(self, "gradient", grad_bytes, chunked))
                .transpose()?,
            grad_dtype: precision.grad,
        };
        // A call repeating an earlier one (a training step) replays its recording.
        let key = RecordingKey::new(spec, shape, precision, &bound);
        if let Some(recording) = self.cached_recording(&key) {
            return self.scoped(spec.name(), || Ok(replay(self, encoder, &recording)));
        }
        // One error scope over the whole recording: parameter blocks and scratch buffers
        // created on the caller's device never reach its (possibly panicking) error handler.
        let recorded = self.scoped(spec.name(), || {
            let recording = spec.loss().recording(self, shape, &bound)?;
            let dispatches = replay(self, encoder, &recording);
            Ok((recording, dispatches))
        });
        match recorded {
            Ok((recording, dispatches)) => {
                self.remember_recording(key, Arc::new(recording));
                Ok(dispatches)
            }
            Err(e) => {
                // A bind group made in a failed scope may be invalid: keep none of them.
                self.release_cached_bind_groups();
                Err(e)
            }
        }
    }

    /// Where a 16-bit gradient can be written: by the quad kernels of KL, DIST and DKD, so C a
    /// multiple of 4, the gradient region aligned to four 16-bit values, and neither quads nor
    /// streaming forced off.
    fn check_narrow_gradient(
        &self,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
        grad: InputDtype,
    ) -> Result<()> {
        let name = grad.name();
        if !spec.takes_16_bit_inputs() {
            return Err(Error::Param(format!(
                "a {name} gradient is written by kl, dist and dkd, not {} (use an f32 gradient)",
                spec.name()
            )));
        }
        let cols = shape.get(1).copied().unwrap_or(0);
        if !cols.is_multiple_of(4) {
            return Err(Error::Param(format!(
                "a {name} gradient needs C to be a multiple of 4 (four classes per store), got C = {cols}"
            )));
        }
        if io.grad.is_some_and(|g| !g.offset.is_multiple_of(8)) {
            return Err(Error::Param(format!(
                "a {name} gradient region must start at a multiple of 8 bytes"
            )));
        }
        let strategy = self.strategy();
        if strategy.quads == Some(false) || strategy.cached_rows == Some(true) {
            return Err(Error::Param(format!(
                "a {name} gradient is written by the quad kernels, which this context's strategy turns off"
            )));
        }
        Ok(())
    }

    /// Host slices in, loss (and the gradient when `want_grad`) out. Blocks until the GPU is
    /// done, at most the context's timeout.
    pub fn evaluate(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
    ) -> Result<LossOutput> {
        self.evaluate_as(spec, inputs, want_grad, InputDtype::F32)
    }

    /// [`GpuContext::evaluate`] with the inputs stored on the GPU as `dtype` (rounded to
    /// nearest even from the f32 slices): what a model that keeps f16 or bf16 logits feeds.
    pub fn evaluate_as(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
        dtype: InputDtype,
    ) -> Result<LossOutput> {
        self.evaluate_with(spec, inputs, want_grad, dtype.into())
    }

    /// [`GpuContext::evaluate_as`] with the gradient computed into `precision.grad` on the GPU
    /// (see [`GpuContext::record_with`]) and returned as the f32 values of that dtype.
    pub fn evaluate_with(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
        precision: Precision,
    ) -> Result<LossOutput> {
        let (staging, index, grad_len) =
            self.submit_host_call(spec, inputs, want_grad, precision)?;
        let bytes = self.read_back(&staging, index)?;
        decode_output(&bytes, grad_len, precision.grad)
    }

    /// Async form of [`GpuContext::evaluate`]: polls the device without blocking and yields
    /// to the executor while the GPU works.
    pub async fn evaluate_async(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
    ) -> Result<LossOutput> {
        let (staging, _index, grad_len) =
            self.submit_host_call(spec, inputs, want_grad, InputDtype::F32.into())?;
        let bytes = self.read_back_async(&staging).await?;
        decode_output(&bytes, grad_len, InputDtype::F32)
    }

    /// Uploads, records, copies the results into one staging buffer and submits.
    fn submit_host_call(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
        precision: Precision,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex, Option<usize>)> {
        let dtype = precision.inputs;
        self.check_health()?;
        inputs.check(spec)?;
        if let Some(sparse) = inputs.sparse {
            return self.submit_sparse_call(spec, inputs, sparse, want_grad, precision);
        }
        let elements = inputs.student.len();
        let bytes = elements as u64 * 4;
        let grad_bytes = precision.grad.bytes_for(elements);
        let max_buffer = self.device().limits().max_buffer_size;
        if bytes > max_buffer {
            return Err(Error::Limit(format!(
                "the {elements}-element gradient needs {bytes} bytes, beyond this device's max_buffer_size {max_buffer}"
            )));
        }
        if !spec.takes_16_bit_inputs() {
            crate::tensor::check_binding_size(self, "student", bytes)?;
        }
        let (student, teacher) = self.upload_pair_as(inputs, dtype)?;
        let mut call = self.host_call(inputs, want_grad, grad_bytes, "wgpu-distill evaluate")?;
        let recorded = self.record_with(
            &mut call.encoder,
            spec,
            inputs.shape,
            &LossBindings {
                student: BufferRegion::new(&student),
                teacher: BufferRegion::new(&teacher),
                labels: call.labels.as_ref().map(BufferRegion::new),
                loss: BufferRegion::new(&call.loss),
                grad: call.grad.as_ref().map(BufferRegion::new),
            },
            precision,
        );
        self.submit_host_call_outputs(call, recorded, &[&student, &teacher], elements)
    }

    /// The output side of a host call: the labels uploaded, loss and gradient buffers, the
    /// readback buffer and an encoder to record into.
    pub(crate) fn host_call(
        &self,
        inputs: &Inputs<'_>,
        want_grad: bool,
        grad_bytes: u64,
        label: &str,
    ) -> Result<HostCall> {
        let labels = self.upload_labels(inputs)?;
        let loss = self.output_buffer("loss", 4)?;
        let grad = want_grad
            .then(|| self.output_buffer("gradient", grad_bytes))
            .transpose()?;
        let staging = self.staging(4 + if want_grad { grad_bytes } else { 0 })?;
        let encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        Ok(HostCall {
            labels,
            loss,
            grad,
            grad_bytes,
            staging,
            encoder,
        })
    }

    /// Forgets the call's transient buffers in the bind-group cache, then (when `recorded`
    /// succeeded) copies loss and gradient to the readback buffer and submits.
    pub(crate) fn submit_host_call_outputs(
        &self,
        call: HostCall,
        recorded: Result<()>,
        inputs: &[&wgpu::Buffer],
        elements: usize,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex, Option<usize>)> {
        let HostCall {
            labels,
            loss,
            grad,
            grad_bytes,
            staging,
            mut encoder,
        } = call;
        // These buffers live for this call only: the bind-group cache must not keep them.
        let transient: Vec<&wgpu::Buffer> = inputs
            .iter()
            .copied()
            .chain(
                [Some(&loss), labels.as_ref(), grad.as_ref()]
                    .into_iter()
                    .flatten(),
            )
            .collect();
        self.forget_bind_groups_of(&transient);
        recorded?;
        let index = self.scoped("submitting", || {
            encoder.copy_buffer_to_buffer(&loss, 0, &staging, 0, 4);
            if let Some(g) = &grad {
                encoder.copy_buffer_to_buffer(g, 0, &staging, 4, grad_bytes);
            }
            Ok(self.queue().submit([encoder.finish()]))
        })?;
        let want_grad = grad.is_some();
        Ok((staging, index, want_grad.then_some(elements)))
    }
}

/// The buffers and encoder of one host call (`GpuContext::host_call`).
pub(crate) struct HostCall {
    pub labels: Option<wgpu::Buffer>,
    pub loss: wgpu::Buffer,
    pub grad: Option<wgpu::Buffer>,
    pub grad_bytes: u64,
    pub staging: wgpu::Buffer,
    pub encoder: wgpu::CommandEncoder,
}

impl GpuContext {
    /// A STORAGE buffer holding `data`.
    pub(crate) fn upload(&self, name: &str, data: &[u8]) -> Result<wgpu::Buffer> {
        self.buffer_with_data(name, wgpu::BufferUsages::STORAGE, data)
    }

    /// Student and teacher of `inputs` on the device, as f32.
    pub(crate) fn upload_pair(&self, inputs: &Inputs<'_>) -> Result<(wgpu::Buffer, wgpu::Buffer)> {
        self.upload_pair_as(inputs, InputDtype::F32)
    }

    /// The labels of `inputs` on the device (u32, as the kernels read them), if any.
    pub(crate) fn upload_labels(&self, inputs: &Inputs<'_>) -> Result<Option<wgpu::Buffer>> {
        inputs
            .labels_u32()
            .map(|l| self.upload("labels", bytemuck::cast_slice(&l)))
            .transpose()
    }

    /// Student and teacher of `inputs` on the device, stored as `dtype`.
    pub(crate) fn upload_pair_as(
        &self,
        inputs: &Inputs<'_>,
        dtype: InputDtype,
    ) -> Result<(wgpu::Buffer, wgpu::Buffer)> {
        Ok((
            self.upload("student", &dtype.encode(inputs.student))?,
            self.upload("teacher", &dtype.encode(inputs.teacher))?,
        ))
    }

    /// A STORAGE buffer the kernels write and the host copies out.
    pub(crate) fn output_buffer(&self, name: &str, size: u64) -> Result<wgpu::Buffer> {
        self.scoped(&format!("allocating {name}"), || {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(name),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }))
        })
    }

    /// A buffer to map for reading.
    pub(crate) fn staging(&self, size: u64) -> Result<wgpu::Buffer> {
        self.scoped("allocating the readback buffer", || {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })
    }
}

/// Splits the staging bytes (loss, then the gradient) into floats.
fn decode_output(bytes: &[u8], grad_len: Option<usize>, grad: InputDtype) -> Result<LossOutput> {
    let want = 4 + grad_len.map_or(0, |n| grad.bytes_for(n) as usize);
    if bytes.len() < want {
        return Err(Error::Device(format!(
            "read back {} bytes, expected {want}",
            bytes.len()
        )));
    }
    Ok(LossOutput {
        loss: f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        grad: grad_len.map(|n| grad.decode(&bytes[4..], n)),
    })
}
