//! CTKD (Li et al., AAAI 2023): kl with a temperature the student learns. The temperature is a
//! one-element burn tensor (a parameter of the caller's module); `loss.backward()` fills its
//! gradient ∂L/∂T, computed by the kernels in the same pass as the loss and ∂L/∂student
//! (kl's `temperature_grad`). CTKD's gradient reversal, and keeping T in range, are the
//! caller's (a negated learning rate or `-1 ×` on the tensor, a clamp), as in the authors' code.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor, Slice};
use burn::tensor::{DType, GradientCheckpointingStrategy, Int, Tensor};
use burn_cubecl::fusion::FusionCubeRuntime;
use burn_cubecl::Cube;
use burn_fusion::FusionTensor;
use wgpu_distill::LossSpec;

use crate::call::{multiply, Call};
use crate::device::float_primitive;
use wgpu_distill::{Error, Result};

/// kl between `student` and `teacher` at the temperature held by `temperature` (shape `[1]`,
/// f32, > 0), differentiable with respect to the student and to the temperature. `spec` is a
/// `LossSpec::Kl` (its own temperature is replaced; LS, masking and the hard term apply as set).
///
/// The temperature's value is read back to the host once per call (it sets the kernels'
/// parameters): one 4-byte read, which waits for the work that produced it.
pub fn distill_loss_with_temperature<const D: usize>(
    spec: &LossSpec,
    student: Tensor<D>,
    teacher: Tensor<D>,
    temperature: Tensor<1>,
    labels: Option<Tensor<1, Int>>,
) -> Result<Tensor<1>> {
    let LossSpec::Kl(params) = spec else {
        return Err(Error::Param(format!(
            "a learned temperature (CTKD) applies to kl, not {}",
            spec.name()
        )));
    };
    if temperature.dims() != [1] || temperature.dtype() != DType::F32 {
        return Err(Error::Shape(format!(
            "the temperature must be one f32 value (shape [1]), got {:?} {:?}",
            temperature.dims(),
            temperature.dtype()
        )));
    }
    let t: f32 = temperature
        .clone()
        .try_into_scalar()
        .map_err(|e| Error::Device(format!("reading the temperature: {e:?}")))?;
    let spec = LossSpec::Kl(
        params
            .with_temperature(f64::from(t))
            .with_temperature_grad(true),
    );
    let call = Call::new(spec, &student, teacher, labels)?;
    match student.device().gradient_checkpointing_strategy() {
        None => {
            let (values, _) = call.run(float_primitive(student)?, false)?;
            Ok(Tensor::from_primitive::<Cube>(element(values, 0)))
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            call.with_temperature::<BalancedCheckpointing, D>(student, temperature)
        }
        Some(_) => call.with_temperature::<NoCheckpointing, D>(student, temperature),
    }
}

/// Element `i` of a `[2]` result, as a `[1]` tensor.
fn element(values: FusionTensor<FusionCubeRuntime>, i: isize) -> FusionTensor<FusionCubeRuntime> {
    Cube::float_slice(values, &[Slice::new(i, Some(i + 1), 1)])
}

impl Call {
    /// The loss as a node with two parents, the student and the temperature.
    fn with_temperature<C: CheckpointStrategy, const D: usize>(
        &self,
        student: Tensor<D>,
        temperature: Tensor<1>,
    ) -> Result<Tensor<1>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<Cube, C>>,
    {
        let not_burn = |e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}"));
        let (fused, student_node) = student
            .try_into_primitive::<Autodiff<Cube, C>>()
            .map_err(not_burn)?
            .into_parts();
        let (_, temperature_node) = temperature
            .try_into_primitive::<Autodiff<Cube, C>>()
            .map_err(not_burn)?
            .into_parts();
        let student = crate::device::resolve_float(fused);
        let out = match TemperatureBackward
            .prepare::<C>([student_node, temperature_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (values, grad) = self.run(student, true)?;
                let grad = grad.ok_or_else(|| Error::Device("no gradient was written".into()))?;
                let dt = element(values.clone(), 1);
                prep.finish((grad, dt), element(values, 0))
            }
            OpsKind::UnTracked(prep) => {
                let (values, _) = self.run(student, false)?;
                prep.finish(element(values, 0))
            }
        };
        Ok(Tensor::from_primitive::<Autodiff<Cube, C>>(out))
    }
}

/// The backward step of kl with a learned temperature: ∂L/∂student and ∂L/∂T, both computed
/// with the loss, times the upstream gradient.
#[derive(Debug)]
struct TemperatureBackward;

impl Backward<Cube, 2> for TemperatureBackward {
    type State = (
        FusionTensor<FusionCubeRuntime>,
        FusionTensor<FusionCubeRuntime>,
    );

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [student, temperature] = ops.parents;
        let upstream = grads.consume::<Cube>(&ops.node);
        let (grad, dt) = ops.state;
        if let Some(node) = temperature {
            grads.register::<Cube>(node.id, Cube::float_mul(dt, upstream.clone()));
        }
        if let Some(node) = student {
            grads.register::<Cube>(node.id, multiply(grad, upstream));
        }
    }
}
