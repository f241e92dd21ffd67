//! `kl` against a sparse top-k teacher (ids and log-probs, as an inference server returns
//! them): its caller-buffer entry points ([`GpuContext::record_sparse`] and its dtype form) and
//! the host path of `evaluate`. The plan rides on the token skeleton
//! (`src/losses/token/sparse.rs`).

use super::KlParams;
use crate::error::{Error, Result};
use crate::gpu::{BoundIo, GpuContext};
use crate::losses::common::{check_shape_of, Inputs, Loss, SparseTeacher};
use crate::losses::token::sparse_plan;
use crate::tensor::{
    check_binding_size, element_count, BufferRegion, InputDtype, LogitShape, Precision,
};

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

impl<'a> SparseBindings<'a> {
    /// The student, K ids and log-probs per row, and the loss; no tail, labels or gradient.
    pub fn new(
        student: BufferRegion<'a>,
        ids: BufferRegion<'a>,
        logprobs: BufferRegion<'a>,
        k: usize,
        loss: BufferRegion<'a>,
    ) -> Self {
        Self {
            student,
            ids,
            logprobs,
            k,
            tail: false,
            labels: None,
            loss,
            grad: None,
        }
    }

    /// The same bindings keeping the mass outside the ids as a tail bucket (T = 1 only).
    #[must_use]
    pub fn with_tail(mut self, tail: bool) -> Self {
        self.tail = tail;
        self
    }

    /// The same bindings with labels (a region, or an `Option` of one).
    #[must_use]
    pub fn with_labels(mut self, labels: impl Into<Option<BufferRegion<'a>>>) -> Self {
        self.labels = labels.into();
        self
    }

    /// The same bindings writing ∂L/∂student into `grad` (a region, or an `Option` of one).
    #[must_use]
    pub fn with_grad(mut self, grad: impl Into<Option<BufferRegion<'a>>>) -> Self {
        self.grad = grad.into();
        self
    }
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
        params.check_params()?;
        check_shape_of(params, shape)?;
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
        self.plan_env().row_chunks(rows, cols, dtype)?;
        let words = cols.div_ceil(32);
        let limits = self.device().limits();
        let student = io
            .student
            .binding(&limits, "student", dtype.bytes_for(elements), true)?;
        let bound = BoundIo {
            dtype,
            grad_dtype: InputDtype::F32,
            teacher: student.clone(),
            student,
            labels: io
                .labels
                .map(|l| l.binding(&limits, "labels", per_row(1), false))
                .transpose()?,
            loss: io.loss.binding(&limits, "loss", 4, false)?,
            grad: io
                .grad
                .map(|g| g.binding(&limits, "gradient", bytes, true))
                .transpose()?,
            sparse: None,
            extra: Vec::new(),
            teacher_width: None,
        };
        let ids = io.ids.binding(&limits, "teacher ids", per_row(k), false)?;
        let logprobs = io
            .logprobs
            .binding(&limits, "teacher log-probs", per_row(k), false)?;
        check_binding_size(&limits, "the id bitmap", per_row(words))?;
        let bound = BoundIo {
            sparse: Some([ids, logprobs]),
            ..bound
        };
        let shape = LogitShape::from_dims(shape)?;
        let env = self.plan_env();
        let layout = bound.layout();
        self.record_plan(
            encoder,
            None,
            || {
                sparse_plan(
                    &env,
                    params.temperature,
                    &params.options,
                    &shape,
                    k,
                    io.tail,
                    &layout,
                )
            },
            &bound,
            "kl sparse",
        )
    }

    /// `evaluate` with a sparse teacher: uploads, records, submits.
    pub(crate) fn submit_sparse_call(
        &self,
        params: &KlParams,
        inputs: &Inputs<'_>,
        sparse: SparseTeacher<'_>,
        want_grad: bool,
        precision: Precision,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex, Option<usize>)> {
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
