//! [`distill_loss_distributed`]: the whole batch's loss across the members of a group (threads,
//! MPI ranks), each holding its own rows as burn tensors.

use burn::tensor::{Int, Tensor, TensorData};
use wgpu_distill::distributed::Collective;
use wgpu_distill::{Inputs, LossSpec};

use crate::call::{precomputed, read_floats, read_ints, same_device};
use crate::device::context_of;
use wgpu_distill::{Error, Result};

/// [`crate::distill_loss`] for a batch whose rows are spread over the members of `group`
/// (`wgpu_distill::GpuContext::evaluate_distributed`): the loss of the WHOLE batch, the same on
/// every member, differentiable on an autodiff device with respect to this member's
/// `student` rows (∂ of the whole batch's loss; a trainer that sums its members' parameter
/// gradients gets the whole batch's). DIST, the token losses (the global count of valid
/// rows), DKD, TTM, NKD, FitNet, AT, ICKD and HCL; the pairwise losses (RKD, SP, PKT, MLKD)
/// are an `Err`. Every member must call it, with the same spec and row width; members that
/// disagree all get an `Err`.
///
/// The collectives run on the host, so the local rows are read back (student, teacher and
/// labels: one wait) and evaluated through the library's host path on burn's device, and the
/// gradient is uploaded for the backward pass. f32, f16 and bf16 students (read as f32; the
/// gradient comes back in the student's dtype). A member may hold no rows (its gradient is
/// empty; note that burn 0.22.1's matmul backward over an empty axis does not give zeros, so
/// such a member's parameter gradients from `x·W` are best taken as zero).
pub fn distill_loss_distributed<const D: usize>(
    spec: &LossSpec,
    student: Tensor<D>,
    teacher: Tensor<D>,
    labels: Option<Tensor<1, Int>>,
    group: &dyn Collective,
) -> Result<Tensor<1>> {
    let device = student.device();
    let ctx = context_of(&device)?;
    same_device(&device, &teacher.device(), "teacher")?;
    let dims = student.shape().dims::<D>().to_vec();
    let teacher_dims = teacher.shape().dims::<D>().to_vec();
    if teacher_dims != dims {
        return Err(Error::Shape(format!(
            "teacher {teacher_dims:?} and student {dims:?} differ: a distributed loss takes both in one shape"
        )));
    }
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let host_student = to_f32(read_floats(student.clone())?);
    let host_teacher = to_f32(read_floats(teacher)?);
    let host_labels = labels.map(read_ints).transpose()?;
    let mut inputs = Inputs::new(&host_student, &host_teacher, &dims);
    if let Some(l) = &host_labels {
        inputs = inputs.with_labels(l);
    }
    let tracked = device.gradient_checkpointing_strategy().is_some();
    let out = ctx.evaluate_distributed(spec, &inputs, group, tracked)?;
    let loss = Tensor::<1>::from_data(TensorData::new(vec![out.loss], [1]), &device);
    let Some(grad) = out.grad else {
        return Ok(loss);
    };
    let grad =
        Tensor::<D>::from_data(TensorData::new(grad, dims.clone()), &device).cast(student.dtype());
    precomputed(student, loss, grad)
}
