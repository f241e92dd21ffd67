//! The registered devices (burn keeps its wgpu handles private, so the crate keeps them) and the
//! conversions between burn's tensors and the cubecl tensors whose buffers the kernels bind.

use std::sync::{Arc, Mutex, OnceLock};

use burn::backend::{DispatchDevice, TensorMetadata};
use burn::tensor::{DType, Device, Int, IntDType, Tensor};
use burn_cubecl::cubecl::wgpu::WgpuDevice;
use burn_cubecl::fusion::{CubeFusionHandle, FusionCubeRuntime};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{Cube, CubeBackend, CubeDevice};
use burn_fusion::stream::StreamId;
use burn_fusion::{get_client, FusionTensor, NoOp};
use burn_ir::{InitOperationIr, OperationIr, OperationOutput};
use wgpu_distill::{Error, GpuContext, InputDtype, LossSpec, Precision, Result};

struct Registered {
    device: WgpuDevice,
    ctx: Arc<GpuContext>,
}

fn registry() -> &'static Mutex<Vec<Registered>> {
    static REGISTRY: OnceLock<Mutex<Vec<Registered>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

pub(crate) fn register(
    device: &Device,
    wgpu_device: &wgpu::Device,
    queue: &wgpu::Queue,
) -> Result<()> {
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
pub(crate) fn wgpu_device_of(device: &Device) -> Result<WgpuDevice> {
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

pub(crate) fn context_of(device: &Device) -> Result<Arc<GpuContext>> {
    context_for(&wgpu_device_of(device)?)?.ok_or_else(|| {
        Error::Device(format!(
            "{device:?} was not initialised through wgpu_distill_burn::init_device or \
             register_setup: burn keeps the wgpu device and queue of other devices private"
        ))
    })
}

/// The context registered for a cubecl wgpu device, if any.
pub(crate) fn context_for(key: &WgpuDevice) -> Result<Option<Arc<GpuContext>>> {
    let registry = registry()
        .lock()
        .map_err(|_| Error::Device("the device registry was poisoned by a panic".into()))?;
    Ok(registry
        .iter()
        .find(|r| r.device == *key)
        .map(|r| r.ctx.clone()))
}

/// The precision of a call from the tensors' dtypes.
pub(crate) fn precision_of(spec: &LossSpec, student: DType, teacher: DType) -> Result<Precision> {
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
pub(crate) fn float_primitive<const D: usize>(tensor: Tensor<D>) -> Result<CubeTensor> {
    let fused = tensor
        .try_into_primitive::<Cube>()
        .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?;
    Ok(resolve_float(fused))
}

pub(crate) fn resolve_float(fused: FusionTensor<FusionCubeRuntime>) -> CubeTensor {
    let client = fused.client.clone();
    into_contiguous(client.resolve_tensor_float::<CubeBackend>(fused))
}

/// Labels as a contiguous cubecl tensor of i32 (one per row, read as u32 by the kernels).
pub(crate) fn int_primitive(labels: Tensor<1, Int>) -> Result<CubeTensor> {
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
pub(crate) fn into_fused(tensor: CubeTensor) -> FusionTensor<FusionCubeRuntime> {
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
