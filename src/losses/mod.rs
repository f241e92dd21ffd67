//! The losses: their parameters, the checks shared by every loss, and the two GPU entry points
//! (host slices in, loss and gradient out; or recording into the caller's encoder).
//!
//! Each loss lives in its own module (`kl.rs`, `dist.rs`) with its shader(s) under `shaders/`
//! and its float64 twin under `src/reference/`.

pub mod dist;
pub mod kl;

pub use dist::DistParams;
pub use kl::KlParams;

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::tensor::{check_len, BufferRegion, LogitShape};

/// Which loss, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossSpec {
    /// Hinton KD: KL(softmax(zt/T) ‖ softmax(zs/T)), batchmean, times T².
    Kl(KlParams),
    /// DIST: Pearson inter-class and intra-class relations of the softmax outputs.
    Dist(DistParams),
}

/// Names of the losses the command line accepts today.
pub const LOSS_NAMES: &[&str] = &["kl", "dist"];

impl LossSpec {
    /// The loss's command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Kl(_) => "kl",
            Self::Dist(_) => "dist",
        }
    }

    /// Dispatches one recorded call issues (the benchmark reports it).
    pub fn dispatches(&self, want_grad: bool) -> usize {
        match self {
            Self::Kl(_) => 2,
            Self::Dist(_) => 4 + usize::from(want_grad),
        }
    }

    /// Checks the parameters' domains.
    pub fn check_params(&self) -> Result<()> {
        match self {
            Self::Kl(p) => check_temperature(p.temperature),
            Self::Dist(p) => {
                check_temperature(p.temperature)?;
                check_finite("beta", p.beta)?;
                check_finite("gamma", p.gamma)
            }
        }
    }

    /// Checks a shape for this loss (all current losses take B×C logits).
    pub fn check_shape(&self, dims: &[usize]) -> Result<LogitShape> {
        LogitShape::from_dims(dims)
    }
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

/// Host inputs of one evaluation: row-major float32 tensors of `shape`.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub student: &'a [f32],
    pub teacher: &'a [f32],
    pub shape: &'a [usize],
}

impl<'a> Inputs<'a> {
    pub fn new(student: &'a [f32], teacher: &'a [f32], shape: &'a [usize]) -> Self {
        Self {
            student,
            teacher,
            shape,
        }
    }

    /// Checks the parameters, the shape and the slice lengths; returns the checked shape.
    pub fn check(&self, spec: &LossSpec) -> Result<LogitShape> {
        spec.check_params()?;
        let shape = spec.check_shape(self.shape)?;
        check_len("student", self.student.len(), self.shape)?;
        check_len("teacher", self.teacher.len(), self.shape)?;
        Ok(shape)
    }
}

/// The result of a GPU evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct LossOutput {
    pub loss: f32,
    /// ∂L/∂student, in the student's shape, when it was asked for.
    pub grad: Option<Vec<f32>>,
}

/// The caller's buffers for [`GpuContext::record`]. Student and teacher are float32 tensors in
/// the shape given to `record`; `loss` receives one f32; `grad`, when present, receives
/// ∂L/∂student in the student's shape. Every buffer needs STORAGE usage and offsets that are
/// multiples of `min_storage_buffer_offset_alignment`.
#[derive(Clone, Copy, Debug)]
pub struct LossBindings<'a> {
    pub student: BufferRegion<'a>,
    pub teacher: BufferRegion<'a>,
    pub loss: BufferRegion<'a>,
    pub grad: Option<BufferRegion<'a>>,
}

/// The caller's regions, checked and ready to bind.
pub(crate) struct BoundIo<'a> {
    pub student: wgpu::BufferBinding<'a>,
    pub teacher: wgpu::BufferBinding<'a>,
    pub loss: wgpu::BufferBinding<'a>,
    pub grad: Option<wgpu::BufferBinding<'a>>,
}

impl GpuContext {
    /// Records the loss (and the gradient, when `io.grad` is given) into the caller's
    /// `encoder`. Never submits, polls or reads back; pipelines are created on first use and
    /// cached. Several calls may be recorded into one encoder: each has its own parameters.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &LossSpec,
        shape: &[usize],
        io: &LossBindings<'_>,
    ) -> Result<()> {
        self.check_health()?;
        spec.check_params()?;
        let shape = spec.check_shape(shape)?;
        let bytes = (shape.elements() as u64)
            .checked_mul(4)
            .filter(|b| *b <= u64::from(u32::MAX))
            .ok_or_else(|| {
                Error::Limit(format!(
                    "{}×{} elements exceed the 2^30 a kernel can index",
                    shape.rows, shape.cols
                ))
            })?;
        let bound = BoundIo {
            student: io.student.binding(self, "student", bytes)?,
            teacher: io.teacher.binding(self, "teacher", bytes)?,
            loss: io.loss.binding(self, "loss", 4)?,
            grad: io
                .grad
                .map(|g| g.binding(self, "gradient", bytes))
                .transpose()?,
        };
        match spec {
            LossSpec::Kl(p) => kl::record(self, encoder, p, shape, &bound),
            LossSpec::Dist(p) => dist::record(self, encoder, p, shape, &bound),
        }
    }

    /// Host slices in, loss (and the gradient when `want_grad`) out. Blocks until the GPU is
    /// done, at most the context's timeout.
    pub fn evaluate(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
    ) -> Result<LossOutput> {
        let (staging, index, grad_len) = self.submit_host_call(spec, inputs, want_grad)?;
        let bytes = self.read_back(&staging, index)?;
        decode_output(&bytes, grad_len)
    }

    /// Async form of [`GpuContext::evaluate`]: polls the device without blocking and yields
    /// to the executor while the GPU works.
    pub async fn evaluate_async(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
    ) -> Result<LossOutput> {
        let (staging, _index, grad_len) = self.submit_host_call(spec, inputs, want_grad)?;
        let bytes = self.read_back_async(&staging).await?;
        decode_output(&bytes, grad_len)
    }

    /// Uploads, records, copies the results into one staging buffer and submits.
    fn submit_host_call(
        &self,
        spec: &LossSpec,
        inputs: &Inputs<'_>,
        want_grad: bool,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex, Option<usize>)> {
        self.check_health()?;
        let shape = inputs.check(spec)?;
        let bytes = shape.elements() as u64 * 4;
        crate::tensor::check_binding_size(self, "student", bytes)?;
        let (student, teacher, loss, grad, staging) = self.scoped("allocating buffers", || {
            use wgpu::util::DeviceExt;
            let upload = |name: &str, data: &[f32]| {
                self.device()
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(name),
                        contents: bytemuck::cast_slice(data),
                        usage: wgpu::BufferUsages::STORAGE,
                    })
            };
            let output = |name: &str, size: u64| {
                self.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some(name),
                    size,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                })
            };
            let staging_size = 4 + if want_grad { bytes } else { 0 };
            Ok((
                upload("student", inputs.student),
                upload("teacher", inputs.teacher),
                output("loss", 4),
                want_grad.then(|| output("gradient", bytes)),
                self.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size: staging_size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
            ))
        })?;
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu-distill evaluate"),
            });
        self.record(
            &mut encoder,
            spec,
            inputs.shape,
            &LossBindings {
                student: BufferRegion::new(&student),
                teacher: BufferRegion::new(&teacher),
                loss: BufferRegion::new(&loss),
                grad: grad.as_ref().map(BufferRegion::new),
            },
        )?;
        let index = self.scoped("submitting", || {
            encoder.copy_buffer_to_buffer(&loss, 0, &staging, 0, 4);
            if let Some(g) = &grad {
                encoder.copy_buffer_to_buffer(g, 0, &staging, 4, bytes);
            }
            Ok(self.queue().submit([encoder.finish()]))
        })?;
        Ok((staging, index, want_grad.then_some(shape.elements())))
    }
}

/// Splits the staging bytes (loss, then the gradient) into floats.
fn decode_output(bytes: &[u8], grad_len: Option<usize>) -> Result<LossOutput> {
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let want = 1 + grad_len.unwrap_or(0);
    if floats.len() < want {
        return Err(Error::Device(format!(
            "read back {} floats, expected {want}",
            floats.len()
        )));
    }
    Ok(LossOutput {
        loss: floats[0],
        grad: grad_len.map(|n| floats[1..1 + n].to_vec()),
    })
}
