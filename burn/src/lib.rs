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

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{
    Autodiff, DispatchDevice, DispatchKindConversion, DispatchTensor, TensorMetadata,
};
use burn::tensor::{DType, Device, GradientCheckpointingStrategy, Int, IntDType, Shape, Tensor};
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::cubecl::wgpu::{AutoCompiler, WgpuDevice, WgpuServer, WgpuSetup};
use burn_cubecl::fusion::{CubeFusionHandle, FusionCubeRuntime};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{Cube, CubeBackend, CubeDevice};
use burn_fusion::stream::StreamId;
use burn_fusion::{get_client, FusionTensor, NoOp};
use burn_ir::{InitOperationIr, OperationIr, OperationOutput};
use wgpu_distill::{BufferRegion, GpuContext, InputDtype, LossBindings, LossSpec, Precision};

pub use wgpu_distill::{Error, Result};

mod temperature;

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
    let call = Call::new(*spec, &student, teacher, labels)?;
    match student.device().gradient_checkpointing_strategy() {
        None => {
            let student = float_primitive(student)?;
            let (loss, _) = call.run(student, false)?;
            Ok(Tensor::from_primitive::<Cube>(loss))
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            call.differentiable::<BalancedCheckpointing, D>(student)
        }
        Some(_) => call.differentiable::<NoCheckpointing, D>(student),
    }
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

/// One call's resolved inputs.
struct Call {
    ctx: Arc<GpuContext>,
    spec: LossSpec,
    dims: Vec<usize>,
    /// The teacher's shape (SP and PKT take another width).
    teacher_dims: Vec<usize>,
    precision: Precision,
    teacher: CubeTensor,
    labels: Option<CubeTensor>,
}

impl Call {
    /// Checks the call (device, shapes, parameters, dtypes, labels) and resolves the teacher
    /// and the labels.
    fn new<const D: usize>(
        spec: LossSpec,
        student: &Tensor<D>,
        teacher: Tensor<D>,
        labels: Option<Tensor<1, Int>>,
    ) -> Result<Self> {
        let ctx = context_of(&student.device())?;
        if teacher.device().as_dispatch() != student.device().as_dispatch()
            && teacher.device().without_autodiff().as_dispatch()
                != student.device().without_autodiff().as_dispatch()
        {
            return Err(Error::Param(
                "student and teacher are on different devices".into(),
            ));
        }
        let dims = student.shape().dims::<D>().to_vec();
        let teacher_dims = teacher.shape().dims::<D>().to_vec();
        spec.check_params()?;
        spec.check_shape(&dims)?;
        spec.check_teacher_shape(&dims, &teacher_dims)?;
        let precision = precision_of(&spec, student.dtype(), teacher.dtype())?;
        let labels = match (spec.needs_labels(), labels) {
            (true, None) => {
                return Err(Error::Param(format!("{} needs labels", spec.name())));
            }
            (_, Some(labels)) => {
                if labels.dims() != [dims[0]] {
                    return Err(Error::Shape(format!(
                        "labels {:?}: expected one per row, [{}]",
                        labels.dims(),
                        dims[0]
                    )));
                }
                Some(int_primitive(labels)?)
            }
            (false, None) => None,
        };
        let teacher = float_primitive(teacher.without_autodiff())?;
        Ok(Self {
            ctx,
            spec,
            dims,
            teacher_dims,
            precision,
            teacher,
            labels,
        })
    }

    /// Runs the kernels on burn's queue: the loss `[1]` (`[2]`, the loss then ∂L/∂T, with
    /// kl's `temperature_grad`) and, when asked, ∂L/∂student.
    fn run(
        &self,
        student: CubeTensor,
        want_grad: bool,
    ) -> Result<(
        FusionTensor<FusionCubeRuntime>,
        Option<FusionTensor<FusionCubeRuntime>>,
    )> {
        let client = student.client.clone();
        let values = self.spec.loss_values();
        let loss_bytes = 4 * values as u64;
        let loss = CubeTensor::new_contiguous(
            client.clone(),
            student.device.clone(),
            Shape::new([values]),
            client.empty(loss_bytes as usize),
            DType::F32,
        );
        let grad = want_grad.then(|| {
            let bytes = self
                .precision
                .grad
                .bytes_for(student.shape().num_elements()) as usize;
            CubeTensor::new_contiguous(
                client.clone(),
                student.device.clone(),
                student.shape(),
                client.empty(bytes),
                student.dtype,
            )
        });

        {
            // Each resource pins its allocation until dropped (after our submit); taking them
            // submits the work that writes the inputs.
            let resource = |handle: &Handle| {
                client
                    .get_resource::<WgpuServer<AutoCompiler>>(handle.clone())
                    .map_err(|e| Error::Device(format!("a tensor's wgpu buffer: {e:?}")))
            };
            let student_res = resource(&student.handle)?;
            let teacher_res = resource(&self.teacher.handle)?;
            let labels_res = self
                .labels
                .as_ref()
                .map(|l| resource(&l.handle))
                .transpose()?;
            let loss_res = resource(&loss.handle)?;
            let grad_res = grad.as_ref().map(|g| resource(&g.handle)).transpose()?;
            client
                .flush()
                .map_err(|e| Error::Device(format!("submitting burn's pending work: {e:?}")))?;

            let region = |r: &burn_cubecl::cubecl::wgpu::WgpuResource| (r.buffer.clone(), r.offset);
            let inputs: Vec<wgpu::Buffer> = [Some(&student_res), Some(&teacher_res)]
                .into_iter()
                .chain(std::iter::once(labels_res.as_ref()))
                .flatten()
                .map(|r| r.resource().buffer.clone())
                .collect();
            let (loss_buf, loss_off) = region(loss_res.resource());
            let grad_region = grad_res.as_ref().map(|g| region(g.resource()));
            let device = self.ctx.device();
            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu-distill-burn"),
            });
            // An output in a pooled buffer that also holds an input would be bound read-only
            // and read-write in one dispatch (a validation error): such outputs are written to
            // buffers of our own, then copied into burn's.
            let staged = |buffer: &wgpu::Buffer, bytes: u64| {
                inputs.contains(buffer).then(|| {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("wgpu-distill-burn output"),
                        size: bytes.max(4),
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    })
                })
            };
            let loss_stage = staged(&loss_buf, loss_bytes);
            let grad_bytes = grad_res.as_ref().map_or(0, |g| g.resource().size);
            let grad_stage = grad_region
                .as_ref()
                .and_then(|(buffer, _)| staged(buffer, grad_bytes));

            let bindings = LossBindings::new(
                BufferRegion::at(
                    &student_res.resource().buffer,
                    student_res.resource().offset,
                ),
                BufferRegion::at(
                    &teacher_res.resource().buffer,
                    teacher_res.resource().offset,
                ),
                match &loss_stage {
                    Some(own) => BufferRegion::new(own),
                    None => BufferRegion::at(&loss_buf, loss_off),
                },
            )
            .with_labels(
                labels_res
                    .as_ref()
                    .map(|l| BufferRegion::at(&l.resource().buffer, l.resource().offset)),
            )
            .with_grad(match (&grad_stage, &grad_region) {
                (Some(own), _) => Some(BufferRegion::new(own)),
                (None, Some((buffer, offset))) => Some(BufferRegion::at(buffer, *offset)),
                (None, None) => None,
            });
            if self.teacher_dims == self.dims {
                self.ctx.record_with(
                    &mut encoder,
                    &self.spec,
                    &self.dims,
                    &bindings,
                    self.precision,
                )?;
            } else {
                self.ctx.record_with_teacher_shape(
                    &mut encoder,
                    &self.spec,
                    &self.dims,
                    &self.teacher_dims,
                    &bindings,
                )?;
            }
            if let Some(own) = &loss_stage {
                encoder.copy_buffer_to_buffer(own, 0, &loss_buf, loss_off, loss_bytes);
            }
            if let (Some(own), Some((buffer, offset))) = (&grad_stage, &grad_region) {
                encoder.copy_buffer_to_buffer(own, 0, buffer, *offset, grad_bytes);
            }
            submit_scoped(device, self.ctx.queue(), encoder)?;
        }
        Ok((into_fused(loss), grad.map(into_fused)))
    }

    /// The loss as a node of burn's autodiff graph whose backward scales the precomputed
    /// gradient by the upstream one.
    fn differentiable<C: CheckpointStrategy, const D: usize>(
        &self,
        student: Tensor<D>,
    ) -> Result<Tensor<1>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<Cube, C>>,
    {
        let tracked = student
            .try_into_primitive::<Autodiff<Cube, C>>()
            .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?;
        let (fused, node) = tracked.into_parts();
        let student = resolve_float(fused);
        let out = match DistillBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (loss, grad) = self.run(student, true)?;
                let grad = grad.ok_or_else(|| Error::Device("no gradient was written".into()))?;
                prep.finish(grad, loss)
            }
            OpsKind::UnTracked(prep) => {
                let (loss, _) = self.run(student, false)?;
                prep.finish(loss)
            }
        };
        Ok(Tensor::from_primitive::<Autodiff<Cube, C>>(out))
    }
}

/// Submits on burn's queue inside error scopes: cubecl's device panics on uncaptured errors.
fn submit_scoped(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    encoder: wgpu::CommandEncoder,
) -> Result<()> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    queue.submit([encoder.finish()]);
    let validation_error = pollster::block_on(validation.pop());
    let oom_error = pollster::block_on(oom.pop());
    match (validation_error, oom_error) {
        (Some(e), _) => Err(Error::Validation(e.to_string())),
        (None, Some(e)) => Err(Error::Device(format!("out of memory: {e}"))),
        (None, None) => Ok(()),
    }
}

/// The backward step: ∂L/∂student = upstream · (the kernels' gradient). Its state is that
/// gradient, computed with the loss. The product is taken in place on the device by
/// `GpuContext::record_scale`, which reads the upstream gradient there and does nothing when it
/// is exactly 1 (`loss.backward()` on this loss itself): no second pass over the gradient in
/// the common case, and no host wait in any. A gradient it cannot scale (f16/bf16, or an
/// error) takes burn's own multiply.
#[derive(Debug)]
struct DistillBackward;

impl Backward<Cube, 1> for DistillBackward {
    type State = FusionTensor<FusionCubeRuntime>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let upstream = grads.consume::<Cube>(&ops.node);
        if let Some(node) = parent {
            let grad = ops.state;
            let scaled = if grad.dtype == DType::F32 && upstream.dtype == DType::F32 {
                let grad = resolve_float(grad);
                match scale_on_device(&grad, upstream.clone()) {
                    Ok(()) => into_fused(grad),
                    Err(_) => multiply(into_fused(grad), upstream),
                }
            } else {
                multiply(grad, upstream)
            };
            grads.register::<Cube>(node.id, scaled);
        }
    }
}

/// `grad · upstream` as burn's own tensor op (upstream has one element).
fn multiply(
    grad: FusionTensor<FusionCubeRuntime>,
    upstream: FusionTensor<FusionCubeRuntime>,
) -> FusionTensor<FusionCubeRuntime> {
    let rank = grad.shape().num_dims();
    let mut upstream = Cube::float_reshape(upstream, Shape::from(vec![1; rank]));
    if upstream.dtype() != grad.dtype() {
        upstream = Cube::float_cast(upstream, grad.dtype().into());
    }
    Cube::float_mul(grad, upstream)
}

/// Multiplies the f32 `grad` in place by the one-element f32 `upstream`, on burn's queue.
fn scale_on_device(grad: &CubeTensor, upstream: FusionTensor<FusionCubeRuntime>) -> Result<()> {
    let upstream = resolve_float(upstream);
    if upstream.shape().num_elements() != 1 {
        return Err(Error::Shape(
            "the upstream gradient of a loss has one element".into(),
        ));
    }
    let key = match &grad.device {
        CubeDevice::Wgpu(w) => w.clone(),
        #[allow(unreachable_patterns)]
        _ => return Err(Error::Device("not a wgpu tensor".into())),
    };
    let ctx = context_for(&key)?
        .ok_or_else(|| Error::Device("no wgpu-distill context for this device".into()))?;
    let client = grad.client.clone();
    let resource = |handle: &Handle| {
        client
            .get_resource::<WgpuServer<AutoCompiler>>(handle.clone())
            .map_err(|e| Error::Device(format!("a tensor's wgpu buffer: {e:?}")))
    };
    let values = resource(&grad.handle)?;
    let factor = resource(&upstream.handle)?;
    client
        .flush()
        .map_err(|e| Error::Device(format!("submitting burn's pending work: {e:?}")))?;
    let device = ctx.device();
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("wgpu-distill-burn backward"),
    });
    ctx.record_scale(
        &mut encoder,
        BufferRegion::at(&values.resource().buffer, values.resource().offset),
        grad.shape().num_elements(),
        BufferRegion::at(&factor.resource().buffer, factor.resource().offset),
    )?;
    submit_scoped(device, ctx.queue(), encoder)
}
