//! wgpu-distill's knowledge-distillation losses as differentiable ops on **burn**'s wgpu
//! backend: the library's fused kernels run on burn's own wgpu device and queue, on the
//! tensors' own buffers (no readback, no host copy, no second device), and on an autodiff device
//! `loss.backward()` hands the student the gradient the kernels computed in the same pass as the
//! loss, scaled by the upstream gradient. The teacher is a constant.
//!
//! burn keeps its wgpu device and queue private once a device is initialised, so the device
//! is initialised through this crate ([`init_device`], or [`register_setup`] for a
//! [`WgpuSetup`] of your own), which keeps its handles:
//!
//! ```no_run
//! use burn::tensor::{Device, Distribution, Tensor};
//! use wgpu_distill::{KlParams, LossSpec};
//!
//! let device = wgpu_distill_burn::init_device(Device::wgpu_options())?.autodiff();
//! let student = Tensor::<2>::random([64, 100], Distribution::Default, &device).require_grad();
//! let teacher = Tensor::<2>::random([64, 100], Distribution::Default, &device);
//! let spec = LossSpec::Kl(KlParams::new(4.0));
//! let loss = wgpu_distill_burn::distill_loss(&spec, student.clone(), teacher, None)?;
//! let grads = loss.backward();
//! let grad = student.grad(&grads).expect("the student's gradient");
//! # Ok::<(), wgpu_distill::Error>(())
//! ```
//!
//! How a call runs (the route, and why it is this one: README, "burn"):
//! 1. the inputs' pending fused work is resolved into concrete cubecl tensors (made contiguous
//!    where they are views), the outputs are allocated from burn's memory pool;
//! 2. their `wgpu::Buffer`s, offsets and sizes are taken from cubecl (which submits the work
//!    that produces them), and the library records its passes on burn's device into an encoder
//!    of its own, submitted on burn's queue, inside error scopes (cubecl's device has a
//!    panicking handler for anything uncaptured);
//! 3. the loss and gradient buffers go back to burn as new tensors; wgpu runs submissions in
//!    order, so burn's later work sees them.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor};
use burn_cubecl::cubecl::wgpu::WgpuSetup;
use wgpu_distill::{GpuContext, LossSpec};

pub use wgpu_distill::{Error, Result};

mod call;
mod device;
mod distributed;
mod fused;
mod temperature;

use call::Call;
use device::{context_of, register};
pub use distributed::distill_loss_distributed;
pub use fused::{
    fused_linear_loss, fused_linear_loss_with, FusedOptions, LinearHead, Teacher,
    DEFAULT_MEMORY_BUDGET,
};
pub use temperature::distill_loss_with_temperature;

/// The loss of `spec` between `student` and `teacher` (same shape; the layout each loss expects:
/// B×C logits, B×C×H×W features, B×D embeddings; SP and PKT take a teacher of the same rank
/// and batch size and another width), as a tensor of shape `[1]` on their device.
/// `labels` (B integers) for DKD. On an autodiff device the loss is differentiable with respect
/// to the student; the teacher is treated as a constant.
///
/// Inputs: float32 tensors, or float16 / bfloat16 for KL, DIST and DKD (C a multiple of 4: the
/// gradient is then written in the student's dtype). Lazy results of burn's fusion, strided or
/// broadcast views and tensors at any offset of burn's memory pool are accepted (views are made
/// contiguous first). A device that is not a burn wgpu device initialised through this crate, an
/// unsupported dtype or a wrong shape is an `Err`, never a panic.
pub fn distill_loss<const D: usize>(
    spec: &LossSpec,
    student: Tensor<D>,
    teacher: Tensor<D>,
    labels: Option<Tensor<1, Int>>,
) -> Result<Tensor<1>> {
    Call::new(*spec, &student, teacher, labels)?.evaluate(student)
}

/// `kl` between the student's logits (N×V) and a sparse top-k teacher: `ids` (N×K, distinct
/// within a row, in [0, V)) and `logprobs` (N×K f32: the teacher's log-probabilities at T = 1 of
/// those ids, as an inference server returns them), renormalised over the K (SPEC "Sparse top-k
/// teacher", no tail; [`distill_loss_sparse_with_tail`] keeps the tail bucket). `labels` mask
/// rows and feed the hard term as for the dense teacher. A shape `[1]` tensor, differentiable
/// with respect to the student on an autodiff device (the ids and log-probs are constants).
///
/// The ids and log-probs are read back and checked on the host before anything runs (a
/// duplicate or out-of-range id, a positive log-prob, a mass above 1 are an `Err`): N×K values,
/// one wait. The gradient is f32 (an f16 student's too).
pub fn distill_loss_sparse(
    spec: &LossSpec,
    student: Tensor<2>,
    ids: Tensor<2, Int>,
    logprobs: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
) -> Result<Tensor<1>> {
    let call = Call::sparse(*spec, &student, ids, logprobs, false, labels)?;
    call.evaluate(student)
}

/// [`distill_loss_sparse`] keeping the teacher's mass outside the top-k as one tail bucket
/// (T = 1 only; SPEC "Sparse top-k teacher", `tail = true`).
pub fn distill_loss_sparse_with_tail(
    spec: &LossSpec,
    student: Tensor<2>,
    ids: Tensor<2, Int>,
    logprobs: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
) -> Result<Tensor<1>> {
    let call = Call::sparse(*spec, &student, ids, logprobs, true, labels)?;
    call.evaluate(student)
}

/// Initialises burn's wgpu runtime with `options` (e.g. `Device::wgpu_options()`, or with a
/// device kind or graphics API chosen) and keeps its device and queue for [`distill_loss`].
/// Like burn's own `init`, it fails if that runtime was already initialised (by a tensor
/// operation, say): call it first.
pub fn init_device(options: burn::tensor::wgpu::WgpuOptions) -> Result<Device> {
    let (device, setup) = options
        .init_with_setup()
        .map_err(|e| Error::Device(format!("burn's wgpu runtime: {e}")))?;
    register(&device, &setup.device, &setup.queue)?;
    Ok(device)
}

/// Registers an application's own wgpu setup with burn (as burn's
/// `Device::wgpu_options().setup(..).init()` does) and keeps its handles for [`distill_loss`].
pub fn register_setup(setup: WgpuSetup) -> Result<Device> {
    let (wgpu_device, queue) = (setup.device.clone(), setup.queue.clone());
    let device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| Error::Device(format!("burn's wgpu runtime: {e}")))?;
    register(&device, &wgpu_device, &queue)?;
    Ok(device)
}

/// The library context on burn `device`'s wgpu device and queue (registered devices only).
pub fn context(device: &Device) -> Result<Arc<GpuContext>> {
    context_of(device)
}
