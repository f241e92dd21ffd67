//! The GPU entry points of every loss: recording into the caller's encoder
//! ([`GpuContext::record`] and its precision forms) and host slices in, loss and gradient out
//! ([`GpuContext::evaluate`] and its forms). Each checks its inputs, asks the loss for its
//! plan and hands the plan to the engine.

use crate::error::{Error, Result};
use crate::gpu::{BoundIo, GpuContext, RecordingKey};
use crate::losses::common::{check_teacher_shape, Inputs, LossBindings, LossOutput};
use crate::losses::LossSpec;
use crate::tensor::{check_binding_size, element_count, BufferRegion, InputDtype, Precision};

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
        self.record_counted(encoder, spec, (shape, shape), io, precision)
            .map(|_| ())
    }

    /// [`GpuContext::record`] with a teacher of another width (SP, PKT compare B×B
    /// similarities: `teacher_shape` has the student's batch size and any width, its trailing
    /// axes flattened). The teacher region holds `teacher_shape`'s f32 elements.
    pub fn record_with_teacher_shape(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        teacher_shape: &[usize],
        io: &LossBindings<'_>,
    ) -> Result<()> {
        self.record_counted(
            encoder,
            spec,
            (shape, teacher_shape),
            io,
            InputDtype::F32.into(),
        )
        .map(|_| ())
    }

    /// [`GpuContext::record_with`] for the student's and the teacher's shapes, returning how
    /// many dispatches it recorded (for the benchmark).
    pub(crate) fn record_counted(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        (shape, teacher_shape): (&[usize], &[usize]),
        io: &LossBindings<'_>,
        precision: Precision,
    ) -> Result<usize> {
        let dtype = precision.inputs;
        self.check_health()?;
        spec.check_params()?;
        spec.check_shape(shape)?;
        check_teacher_shape(spec.loss(), shape, teacher_shape)?;
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
        let teacher_bytes = if teacher_shape == shape {
            input_bytes
        } else {
            let teacher_elements = element_count(teacher_shape)?;
            check_binding_size(
                &self.device().limits(),
                "teacher",
                teacher_elements as u64 * 4,
            )?;
            dtype.bytes_for(teacher_elements)
        };
        let grad_bytes = if precision.grad == InputDtype::F32 {
            bytes
        } else {
            precision.grad.bytes_for(elements)
        };
        if chunked {
            // A single row wider than a binding cannot be chunked: say so before the buffers.
            self.plan_env().row_chunks(shape[0], shape[1], dtype)?;
        }
        let limits = self.device().limits();
        let labels = match (spec.needs_labels(), spec.takes_labels(), io.labels) {
            (true, _, None) => {
                return Err(Error::Shape(format!(
                    "{} needs a labels buffer",
                    spec.name()
                )))
            }
            (_, true, Some(l)) => Some(l.binding(&limits, "labels", shape[0] as u64 * 4, false)?),
            _ => None,
        };
        let bound = BoundIo {
            dtype,
            student: io
                .student
                .binding(&limits, "student", input_bytes, chunked)?,
            teacher: io
                .teacher
                .binding(&limits, "teacher", teacher_bytes, chunked)?,
            labels,
            loss: io
                .loss
                .binding(&limits, "loss", 4 * spec.loss().loss_values() as u64, false)?,
            grad: io
                .grad
                .map(|g| g.binding(&limits, "gradient", grad_bytes, chunked))
                .transpose()?,
            grad_dtype: precision.grad,
            sparse: None,
            extra: Vec::new(),
            teacher_width: (teacher_shape != shape)
                .then(|| teacher_shape[1..].iter().product::<usize>()),
        };
        // A call repeating an earlier one (a training step) replays its recording.
        let key = RecordingKey::new(
            format!("{spec:?} teacher {teacher_shape:?}"),
            shape,
            precision,
            &bound,
        );
        let env = self.plan_env();
        let layout = bound.layout();
        self.record_plan(
            encoder,
            Some(key),
            || spec.loss().plan(&env, shape, &layout),
            &bound,
            spec.name(),
        )
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
        if !spec.loss().writes_16_bit_grad() {
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
        decode_output(&bytes, grad_len, precision.grad, spec)
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
        decode_output(&bytes, grad_len, InputDtype::F32, spec)
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
            let LossSpec::Kl(params) = spec else {
                return Err(Error::Param(format!(
                    "a sparse teacher applies to kl, not {}",
                    spec.name()
                )));
            };
            return self.submit_sparse_call(params, inputs, sparse, want_grad, precision);
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
            check_binding_size(&self.device().limits(), "student", bytes)?;
        }
        let (student, teacher) = self.upload_pair_as(inputs, dtype)?;
        let mut call = self.host_call(inputs, want_grad, grad_bytes, "wgpu-distill evaluate")?;
        let recorded = self
            .record_counted(
                &mut call.encoder,
                spec,
                (inputs.shape, inputs.teacher_dims()),
                &LossBindings {
                    student: BufferRegion::new(&student),
                    teacher: BufferRegion::new(&teacher),
                    labels: call.labels.as_ref().map(BufferRegion::new),
                    loss: BufferRegion::new(&call.loss),
                    grad: call.grad.as_ref().map(BufferRegion::new),
                },
                precision,
            )
            .map(|_| ());
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
        let loss = self.output_buffer("loss", LOSS_BYTES)?;
        let grad = want_grad
            .then(|| self.output_buffer("gradient", grad_bytes))
            .transpose()?;
        let staging = self.staging(LOSS_BYTES + if want_grad { grad_bytes } else { 0 })?;
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
            encoder.copy_buffer_to_buffer(&loss, 0, &staging, 0, LOSS_BYTES);
            if let Some(g) = &grad {
                encoder.copy_buffer_to_buffer(g, 0, &staging, LOSS_BYTES, grad_bytes);
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
}

/// The loss region of a host call: the loss, then kl's ∂L/∂T when asked for.
const LOSS_BYTES: u64 = 8;

/// Splits the staging bytes (loss and ∂L/∂T, then the gradient) into floats.
fn decode_output(
    bytes: &[u8],
    grad_len: Option<usize>,
    grad: InputDtype,
    spec: &LossSpec,
) -> Result<LossOutput> {
    let start = LOSS_BYTES as usize;
    let want = start + grad_len.map_or(0, |n| grad.bytes_for(n) as usize);
    if bytes.len() < want {
        return Err(Error::Device(format!(
            "read back {} bytes, expected {want}",
            bytes.len()
        )));
    }
    let value =
        |at: usize| f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok(LossOutput {
        loss: value(0),
        grad: grad_len.map(|n| grad.decode(&bytes[start..], n)),
        grad_temperature: (spec.loss().loss_values() == 2).then(|| value(4)),
    })
}
