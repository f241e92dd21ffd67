//! One loss call on burn's device: the resolved inputs ([`Call`]), the recording of the
//! library's kernels on burn's queue and buffers, and the autodiff node whose backward scales
//! the gradient computed with the loss.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor, TensorMetadata};
use burn::tensor::{DType, Device, GradientCheckpointingStrategy, Int, Shape, Tensor};
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::cubecl::wgpu::{AutoCompiler, WgpuServer};
use burn_cubecl::fusion::FusionCubeRuntime;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{Cube, CubeDevice};
use burn_fusion::FusionTensor;
use wgpu_distill::{
    BufferRegion, GpuContext, InputDtype, LossBindings, LossSpec, Precision, SparseBindings,
};

use crate::device::{
    context_for, context_of, float_primitive, int_primitive, into_fused, precision_of,
    resolve_float,
};
use wgpu_distill::{Error, Result};

/// A call's teacher: dense (its shape: SP and PKT take another width), or a sparse top-k
/// teacher of `kl` (ids as i32, log-probs f32, K per row, with or without the tail bucket).
// One per call: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TeacherInput {
    Dense {
        logits: CubeTensor,
        dims: Vec<usize>,
    },
    Sparse {
        ids: CubeTensor,
        logprobs: CubeTensor,
        k: usize,
        tail: bool,
    },
}

/// One call's resolved inputs.
pub(crate) struct Call {
    ctx: Arc<GpuContext>,
    spec: LossSpec,
    dims: Vec<usize>,
    precision: Precision,
    teacher: TeacherInput,
    labels: Option<CubeTensor>,
}

impl Call {
    /// Checks the call (device, shapes, parameters, dtypes, labels) and resolves the teacher
    /// and the labels.
    pub(crate) fn new<const D: usize>(
        spec: LossSpec,
        student: &Tensor<D>,
        teacher: Tensor<D>,
        labels: Option<Tensor<1, Int>>,
    ) -> Result<Self> {
        let ctx = context_of(&student.device())?;
        same_device(&student.device(), &teacher.device(), "teacher")?;
        let dims = student.shape().dims::<D>().to_vec();
        let teacher_dims = teacher.shape().dims::<D>().to_vec();
        spec.check_params()?;
        spec.check_shape(&dims)?;
        spec.check_teacher_shape(&dims, &teacher_dims)?;
        let precision = precision_of(&spec, student.dtype(), teacher.dtype())?;
        let labels = resolve_labels(&spec, dims[0], labels)?;
        let teacher = TeacherInput::Dense {
            logits: float_primitive(teacher.without_autodiff())?,
            dims: teacher_dims,
        };
        Ok(Self {
            ctx,
            spec,
            dims,
            precision,
            teacher,
            labels,
        })
    }

    /// A call of `kl` against a sparse top-k teacher: `ids` N×K (distinct in a row, in
    /// [0, V)) and `logprobs` N×K f32, both read back and checked on the host first (SPEC's
    /// errors: an id out of range is a clear `Err` before anything is written). The gradient
    /// is f32 whatever the student's dtype.
    pub(crate) fn sparse(
        spec: LossSpec,
        student: &Tensor<2>,
        ids: Tensor<2, Int>,
        logprobs: Tensor<2>,
        tail: bool,
        labels: Option<Tensor<1, Int>>,
    ) -> Result<Self> {
        let [n, v] = student.dims();
        check_sparse_host(&spec, &student.device(), &ids, &logprobs, (n, v), tail)?;
        Self::sparse_checked(spec, student, ids, logprobs, tail, labels)
    }

    /// [`Call::sparse`] for ids and log-probs already checked by [`check_sparse_host`].
    pub(crate) fn sparse_checked(
        spec: LossSpec,
        student: &Tensor<2>,
        ids: Tensor<2, Int>,
        logprobs: Tensor<2>,
        tail: bool,
        labels: Option<Tensor<1, Int>>,
    ) -> Result<Self> {
        let ctx = context_of(&student.device())?;
        let dims = student.dims().to_vec();
        spec.check_params()?;
        spec.check_shape(&dims)?;
        let k = ids.dims()[1];
        let mut precision = precision_of(&spec, student.dtype(), student.dtype())?;
        precision.grad = InputDtype::F32;
        let labels = resolve_labels(&spec, dims[0], labels)?;
        let teacher = TeacherInput::Sparse {
            ids: int_primitive_2d(ids)?,
            logprobs: float_primitive(logprobs.without_autodiff())?,
            k,
            tail,
        };
        Ok(Self {
            ctx,
            spec,
            dims,
            precision,
            teacher,
            labels,
        })
    }

    /// The loss of this call on `student`: a node of burn's autodiff graph on an autodiff
    /// device, a plain tensor elsewhere.
    pub(crate) fn evaluate<const D: usize>(&self, student: Tensor<D>) -> Result<Tensor<1>> {
        match student.device().gradient_checkpointing_strategy() {
            None => {
                let (loss, _) = self.run(float_primitive(student)?, false)?;
                Ok(Tensor::from_primitive::<Cube>(loss))
            }
            Some(GradientCheckpointingStrategy::Balanced) => {
                self.differentiable::<BalancedCheckpointing, D>(student)
            }
            Some(_) => self.differentiable::<NoCheckpointing, D>(student),
        }
    }

    /// The same call writing an f32 gradient whatever the inputs' dtype (the fused head
    /// accumulates its matmuls in f32).
    pub(crate) fn with_f32_grad(mut self) -> Self {
        self.precision.grad = InputDtype::F32;
        self
    }

    /// Runs the kernels on burn's queue: the loss `[1]` (`[2]`, the loss then ∂L/∂T, with
    /// kl's `temperature_grad`) and, when asked, ∂L/∂student.
    pub(crate) fn run(
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
                dtype_of(self.precision.grad),
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
            // Dense: the logits; sparse: the ids, then the log-probs.
            let teacher_res = match &self.teacher {
                TeacherInput::Dense { logits, .. } => vec![resource(&logits.handle)?],
                TeacherInput::Sparse { ids, logprobs, .. } => {
                    vec![resource(&ids.handle)?, resource(&logprobs.handle)?]
                }
            };
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
            let inputs: Vec<wgpu::Buffer> = std::iter::once(&student_res)
                .chain(&teacher_res)
                .chain(labels_res.as_ref())
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

            // A pinned resource of burn's pool as a region of its wgpu buffer.
            macro_rules! at {
                ($r:expr) => {
                    BufferRegion::at(&$r.resource().buffer, $r.resource().offset)
                };
            }
            let loss_region = match &loss_stage {
                Some(own) => BufferRegion::new(own),
                None => BufferRegion::at(&loss_buf, loss_off),
            };
            let labels_region = labels_res.as_ref().map(|l| at!(l));
            let grad_out = match (&grad_stage, &grad_region) {
                (Some(own), _) => Some(BufferRegion::new(own)),
                (None, Some((buffer, offset))) => Some(BufferRegion::at(buffer, *offset)),
                (None, None) => None,
            };
            match &self.teacher {
                TeacherInput::Dense { dims, .. } => {
                    let bindings =
                        LossBindings::new(at!(&student_res), at!(&teacher_res[0]), loss_region)
                            .with_labels(labels_region)
                            .with_grad(grad_out);
                    if *dims == self.dims {
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
                            dims,
                            &bindings,
                        )?;
                    }
                }
                TeacherInput::Sparse { k, tail, .. } => {
                    let LossSpec::Kl(params) = &self.spec else {
                        return Err(Error::Param("a sparse teacher applies to kl".into()));
                    };
                    let bindings = SparseBindings::new(
                        at!(&student_res),
                        at!(&teacher_res[0]),
                        at!(&teacher_res[1]),
                        *k,
                        loss_region,
                    )
                    .with_tail(*tail)
                    .with_labels(labels_region)
                    .with_grad(grad_out);
                    self.ctx.record_sparse_as(
                        &mut encoder,
                        params,
                        &self.dims,
                        &bindings,
                        self.precision.inputs,
                    )?;
                }
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
    pub(crate) fn differentiable<C: CheckpointStrategy, const D: usize>(
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

/// A loss whose value and ∂L/∂student were computed elsewhere (on the host, across members
/// of a group) as a node of burn's autodiff graph on `student`; `loss` itself off autodiff.
pub(crate) fn precomputed<const D: usize>(
    student: Tensor<D>,
    loss: Tensor<1>,
    grad: Tensor<D>,
) -> Result<Tensor<1>> {
    match student.device().gradient_checkpointing_strategy() {
        None => Ok(loss),
        Some(GradientCheckpointingStrategy::Balanced) => {
            precomputed_with::<BalancedCheckpointing, D>(student, loss, grad)
        }
        Some(_) => precomputed_with::<NoCheckpointing, D>(student, loss, grad),
    }
}

fn precomputed_with<C: CheckpointStrategy, const D: usize>(
    student: Tensor<D>,
    loss: Tensor<1>,
    grad: Tensor<D>,
) -> Result<Tensor<1>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Cube, C>>,
{
    let to_cube = |t: Tensor<1>| {
        t.without_autodiff()
            .try_into_primitive::<Cube>()
            .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))
    };
    let loss = to_cube(loss)?;
    let grad = grad
        .without_autodiff()
        .try_into_primitive::<Cube>()
        .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?;
    let tracked = student
        .try_into_primitive::<Autodiff<Cube, C>>()
        .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?;
    let (_, node) = tracked.into_parts();
    let out = match DistillBackward
        .prepare::<C>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(grad, loss),
        OpsKind::UnTracked(prep) => prep.finish(loss),
    };
    Ok(Tensor::from_primitive::<Autodiff<Cube, C>>(out))
}

/// Submits on burn's queue inside error scopes: cubecl's device panics on uncaptured errors.
pub(crate) fn submit_scoped(
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
pub(crate) fn multiply(
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

/// The burn dtype of a library dtype.
pub(crate) fn dtype_of(dtype: InputDtype) -> DType {
    match dtype {
        InputDtype::F32 => DType::F32,
        InputDtype::F16 => DType::F16,
        InputDtype::Bf16 => DType::BF16,
    }
}

/// Refuses a tensor on another device than the student's.
pub(crate) fn same_device(student: &Device, other: &Device, what: &str) -> Result<()> {
    if other.as_dispatch() != student.as_dispatch()
        && other.clone().without_autodiff().as_dispatch()
            != student.clone().without_autodiff().as_dispatch()
    {
        return Err(Error::Param(format!(
            "student and {what} are on different devices"
        )));
    }
    Ok(())
}

/// The labels of a call (one per row), resolved; required where the loss needs them.
fn resolve_labels(
    spec: &LossSpec,
    rows: usize,
    labels: Option<Tensor<1, Int>>,
) -> Result<Option<CubeTensor>> {
    match (spec.needs_labels(), labels) {
        (true, None) => Err(Error::Param(format!("{} needs labels", spec.name()))),
        (_, Some(labels)) => {
            if labels.dims() != [rows] {
                return Err(Error::Shape(format!(
                    "labels {:?}: expected one per row, [{rows}]",
                    labels.dims()
                )));
            }
            Ok(Some(int_primitive(labels)?))
        }
        (false, None) => Ok(None),
    }
}

/// An int tensor's values on the host (one read that waits for the work producing them).
pub(crate) fn read_ints<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>> {
    t.without_autodiff()
        .try_to_vec_as::<i64>()
        .map_err(|e| Error::Device(format!("reading an int tensor back: {e:?}")))
}

/// A float tensor's values on the host, as f64.
pub(crate) fn read_floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>> {
    t.without_autodiff()
        .try_to_vec_as::<f64>()
        .map_err(|e| Error::Device(format!("reading a float tensor back: {e:?}")))
}

/// An N×K int tensor as a contiguous cubecl tensor of i32.
fn int_primitive_2d(ids: Tensor<2, Int>) -> Result<CubeTensor> {
    let n = ids.dims().iter().product::<usize>();
    let flat: Tensor<1, Int> = ids.reshape([n]);
    int_primitive(flat)
}

/// A sparse top-k teacher of `kl` for N×V student logits on `device`: `ids` and `logprobs`
/// both N×K, the log-probs f32; their values read back and checked on the host (SPEC's errors: duplicate or
/// out-of-range ids, a positive log-prob, a mass above 1, the tail at T != 1).
pub(crate) fn check_sparse_host(
    spec: &LossSpec,
    device: &Device,
    ids: &Tensor<2, Int>,
    logprobs: &Tensor<2>,
    (n, v): (usize, usize),
    tail: bool,
) -> Result<()> {
    let LossSpec::Kl(params) = spec else {
        return Err(Error::Param(format!(
            "a sparse teacher applies to kl, not {}",
            spec.name()
        )));
    };
    same_device(device, &ids.device(), "teacher ids")?;
    same_device(device, &logprobs.device(), "teacher log-probs")?;
    let [rows, k] = ids.dims();
    if rows != n || logprobs.dims() != ids.dims() {
        return Err(Error::Shape(format!(
            "sparse teacher: ids {:?} and log-probs {:?} must both be N×K with N = {n} (the \
             student's rows)",
            ids.dims(),
            logprobs.dims()
        )));
    }
    if logprobs.dtype() != DType::F32 {
        return Err(Error::Param(format!(
            "the sparse teacher's log-probs must be f32, got {:?}",
            logprobs.dtype()
        )));
    }
    let host_ids = read_ints(ids.clone())?;
    let host_logprobs = read_floats(logprobs.clone())?;
    wgpu_distill::reference::token::check_sparse(
        n,
        v,
        &host_ids,
        &host_logprobs,
        k,
        params.temperature,
        tail,
    )
}
