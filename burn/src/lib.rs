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

use std::sync::{Arc, Mutex, OnceLock};

use burn::backend::{DispatchDevice, TensorMetadata};
use burn::tensor::{DType, Device, Int, IntDType, Tensor};
use burn_cubecl::cubecl::wgpu::{WgpuDevice, WgpuSetup};
use burn_cubecl::fusion::{CubeFusionHandle, FusionCubeRuntime};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{Cube, CubeBackend, CubeDevice};
use burn_fusion::stream::StreamId;
use burn_fusion::{get_client, FusionTensor, NoOp};
use burn_ir::{InitOperationIr, OperationIr, OperationOutput};
use wgpu_distill::{GpuContext, InputDtype, LossSpec, Precision};

pub use wgpu_distill::{Error, Result};

mod call;
mod distributed;
mod fused;
mod temperature;

pub(crate) use call::{multiply, Call};
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

struct Registered {
    device: WgpuDevice,
    ctx: Arc<GpuContext>,
}

fn registry() -> &'static Mutex<Vec<Registered>> {
    static REGISTRY: OnceLock<Mutex<Vec<Registered>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

fn register(device: &Device, wgpu_device: &wgpu::Device, queue: &wgpu::Queue) -> Result<()> {
    let key = wgpu_device_of(device)?;
    let ctx = Arc::new(GpuContext::from_device(wgpu_device, queue)?);
    let mut registry = registry()
        .lock()
        .map_err(|_| Error::Device("the device registry was poisoned by a panic".into()))?;
    registry.retain(|r| r.device != key);
    registry.push(Registered { device: key, ctx });
    Ok(())
}

/// The cubecl wgpu device behind a burn device (through an autodiff wrapper), or why not.
fn wgpu_device_of(device: &Device) -> Result<WgpuDevice> {
    fn of(device: &DispatchDevice) -> Option<WgpuDevice> {
        #[allow(unreachable_patterns)]
        match device {
            DispatchDevice::Cube(CubeDevice::Wgpu(w)) => Some(w.clone()),
            DispatchDevice::Autodiff(inner) => of(inner),
            _ => None,
        }
    }
    of(device.as_dispatch()).ok_or_else(|| {
        Error::Device(format!(
            "{device:?} is not a burn wgpu device: wgpu-distill-burn runs on burn's wgpu backend"
        ))
    })
}

fn context_of(device: &Device) -> Result<Arc<GpuContext>> {
    context_for(&wgpu_device_of(device)?)?.ok_or_else(|| {
        Error::Device(format!(
            "{device:?} was not initialised through wgpu_distill_burn::init_device or \
             register_setup: burn keeps the wgpu device and queue of other devices private"
        ))
    })
}

/// The context registered for a cubecl wgpu device, if any.
fn context_for(key: &WgpuDevice) -> Result<Option<Arc<GpuContext>>> {
    let registry = registry()
        .lock()
        .map_err(|_| Error::Device("the device registry was poisoned by a panic".into()))?;
    Ok(registry
        .iter()
        .find(|r| r.device == *key)
        .map(|r| r.ctx.clone()))
}

/// The precision of a call from the tensors' dtypes.
fn precision_of(spec: &LossSpec, student: DType, teacher: DType) -> Result<Precision> {
    if student != teacher {
        return Err(Error::Param(format!(
            "student is {student:?} and teacher {teacher:?}: give both the same dtype"
        )));
    }
    let dtype = match student {
        DType::F32 => InputDtype::F32,
        DType::F16 => InputDtype::F16,
        DType::BF16 => InputDtype::Bf16,
        other => {
            return Err(Error::Param(format!(
                "{other:?} tensors are not supported: f32, or f16/bf16 for kl, dist and dkd"
            )))
        }
    };
    if dtype != InputDtype::F32 && !spec.takes_16_bit_inputs() {
        return Err(Error::Param(format!(
            "{} takes f32 tensors; f16/bf16 are supported by kl, dist and dkd",
            spec.name()
        )));
    }
    // The gradient goes back to burn in the student's dtype.
    Ok(Precision {
        inputs: dtype,
        grad: dtype,
    })
}

/// A non-autodiff float tensor as a contiguous cubecl tensor, its fused work resolved.
fn float_primitive<const D: usize>(tensor: Tensor<D>) -> Result<CubeTensor> {
    let fused = tensor
        .try_into_primitive::<Cube>()
        .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?;
    Ok(resolve_float(fused))
}

fn resolve_float(fused: FusionTensor<FusionCubeRuntime>) -> CubeTensor {
    let client = fused.client.clone();
    into_contiguous(client.resolve_tensor_float::<CubeBackend>(fused))
}

/// Labels as a contiguous cubecl tensor of i32 (one per row, read as u32 by the kernels).
fn int_primitive(labels: Tensor<1, Int>) -> Result<CubeTensor> {
    let mut labels = labels.without_autodiff();
    if labels.dtype() != DType::I32 {
        labels = labels.cast(IntDType::I32);
    }
    let fused = labels
        .try_into_primitive::<Cube>()
        .map_err(|e| Error::Device(format!("labels not on burn's wgpu backend: {e:?}")))?;
    let client = fused.client.clone();
    Ok(into_contiguous(
        client.resolve_tensor_int::<CubeBackend>(fused),
    ))
}

/// A cubecl tensor back as a fused one (registered as an initialised handle, as burn-fusion's
/// `float_from_data` does).
fn into_fused(tensor: CubeTensor) -> FusionTensor<FusionCubeRuntime> {
    let client = get_client::<CubeBackend>(&tensor.device);
    let (shape, dtype) = (tensor.shape(), tensor.dtype);
    let handle = CubeFusionHandle::from(tensor);
    let desc = InitOperationIr::create(shape, dtype, || client.register_tensor_handle(handle));
    client
        .register(
            StreamId::current(),
            OperationIr::Init(desc),
            NoOp::<CubeBackend>::new(),
        )
        .output()
}
