//! What every loss shares: the `Loss` trait each folder implements, the host inputs
//! ([`Inputs`], [`SparseTeacher`]), the caller's buffers ([`LossBindings`]) and the result
//! ([`LossOutput`]).

use crate::error::{Error, Result};
use crate::losses::checks::{check_labels, check_masked_labels, check_sparse};
use crate::losses::options::TokenOptions;
use crate::plan::{IoLayout, Plan, PlanEnv};
use crate::tensor::{check_len, BufferRegion};

/// What each loss supplies to the shared entry points (validation, its plan, the float64
/// reference). Each loss implements it in its own folder, beside its shaders and its float64
/// twin; adding a loss is that folder and its line in `register_losses!`
/// (`src/losses/mod.rs`).
pub(crate) trait Loss {
    /// The command-line name.
    fn name(&self) -> &'static str;

    /// Whether the kernels read f16 and bf16 inputs (and bind rows in chunks beyond one
    /// binding): the logit losses.
    fn takes_16_bit_inputs(&self) -> bool {
        false
    }

    /// The token options (`kl`, `jsd`, `tvd`).
    fn token_options(&self) -> Option<&TokenOptions> {
        None
    }

    /// Whether the kernels also write a 16-bit gradient (their quad kernels do): by default,
    /// the losses that read 16-bit inputs.
    fn writes_16_bit_grad(&self) -> bool {
        self.takes_16_bit_inputs()
    }

    /// Whether labels are required: by default, where the token options ask for a hard term.
    fn needs_labels(&self) -> bool {
        self.token_options().is_some_and(|o| o.wants_hard_term())
    }

    /// Whether labels are accepted: by default, by the token losses (to mask rows).
    fn takes_labels(&self) -> bool {
        self.token_options().is_some()
    }

    /// Checks the parameters' domains.
    fn check_params(&self) -> Result<()> {
        Ok(())
    }

    /// Checks the rank and sizes (no axis is empty: checked before).
    fn check_shape(&self, dims: &[usize]) -> Result<()>;

    /// Whether the teacher may have another trailing width than the student (SP, PKT: both
    /// compare B×B similarities, so only the batch size must match).
    fn takes_other_teacher_width(&self) -> bool {
        false
    }

    /// Whether labels are class targets of every row (DKD), not token labels with masking.
    fn labels_are_targets(&self) -> bool {
        false
    }

    /// The temperature a sparse top-k teacher is re-tempered with, for the losses that take
    /// one (`kl`).
    fn sparse_temperature(&self) -> Option<f64> {
        None
    }

    /// How many f32 the loss region receives: the loss, and ∂L/∂T where kl's
    /// `temperature_grad` asks for it.
    fn loss_values(&self) -> usize {
        if self.token_options().is_some_and(|o| o.temperature_grad) {
            2
        } else {
            1
        }
    }

    /// ∂L/∂T in float64, for the losses that return it (`kl` with `temperature_grad`).
    fn reference_grad_temperature(
        &self,
        _student: &[f64],
        _teacher: &[f64],
        _inputs: &Inputs<'_>,
    ) -> Result<Option<f64>> {
        Ok(None)
    }

    /// How the loss couples the rows of a batch (for `evaluate_distributed`): by default the
    /// token losses divide by their normaliser and the others take a mean over the B rows.
    fn batch_coupling(&self) -> BatchCoupling {
        if self.token_options().is_some() {
            BatchCoupling::Normalizer
        } else {
            BatchCoupling::RowMean { rows_power: 1 }
        }
    }

    /// The dispatches of one call, on checked parameters and shape: device-free.
    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan>;

    /// Loss and gradient in float64 (`crate::reference::evaluate`, on checked inputs).
    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)>;
}

/// How a loss's value depends on the batch beyond its own rows: what members that each hold
/// some rows of one batch must share to compute the whole batch's loss
/// (`crate::distributed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchCoupling {
    /// Summed row terms over the token options' normaliser (the count of valid rows unless the
    /// caller fixes it): members share the count.
    Normalizer,
    /// Summed per-row terms over `B^rows_power` times a constant (1/B: batchmean, element
    /// means; ICKD's `C·B²`: 2).
    RowMean { rows_power: i32 },
    /// Column statistics over the batch (DIST's intra-class Pearson), merged exactly.
    ColumnMoments,
    /// Terms over pairs of rows (B×B relations): not split across members.
    Pairwise,
}

/// A sparse top-k teacher (`kl` only): for each of the N rows, K distinct class ids and the
/// teacher's full-vocabulary log-probabilities at T = 1 there, as an inference server returns
/// them (row-major N×K).
#[derive(Clone, Copy, Debug)]
pub struct SparseTeacher<'a> {
    pub ids: &'a [i64],
    pub logprobs: &'a [f32],
    pub k: usize,
    /// Keep the mass outside the top-k as one tail bucket (T = 1 only); else the K log-probs
    /// are re-tempered and renormalised over the K.
    pub tail: bool,
}

impl<'a> SparseTeacher<'a> {
    /// K ids and log-probs per row, re-tempered and renormalised over the K (no tail).
    pub fn new(ids: &'a [i64], logprobs: &'a [f32], k: usize) -> Self {
        Self {
            ids,
            logprobs,
            k,
            tail: false,
        }
    }

    /// The same teacher with the mass outside the top-k kept as one tail bucket (`true`, T = 1
    /// only) or not.
    pub fn with_tail(mut self, tail: bool) -> Self {
        self.tail = tail;
        self
    }
}

/// Host inputs of one evaluation: row-major float32 tensors of `shape`, labels (DKD's
/// targets, the token losses' masking), or a sparse teacher in place of `teacher`.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Inputs<'a> {
    pub student: &'a [f32],
    /// The teacher's logits, in the student's shape (empty with a sparse teacher).
    pub teacher: &'a [f32],
    /// A sparse top-k teacher instead of `teacher` (`kl`).
    pub sparse: Option<SparseTeacher<'a>>,
    pub shape: &'a [usize],
    /// The teacher's shape where it differs from the student's (SP, PKT: same batch size,
    /// another width); `None` means `shape`.
    pub teacher_shape: Option<&'a [usize]>,
    /// Target class of each row: DKD's targets; for `kl`, `jsd`, `tvd` the token labels
    /// (rows equal to `ignore_index` are masked; the hard term's targets).
    pub labels: Option<&'a [i64]>,
}

impl<'a> Inputs<'a> {
    pub fn new(student: &'a [f32], teacher: &'a [f32], shape: &'a [usize]) -> Self {
        Self {
            student,
            teacher,
            sparse: None,
            shape,
            teacher_shape: None,
            labels: None,
        }
    }

    /// The student against a sparse top-k teacher (`kl`).
    pub fn with_sparse_teacher(
        student: &'a [f32],
        teacher: SparseTeacher<'a>,
        shape: &'a [usize],
    ) -> Self {
        Self {
            student,
            teacher: &[],
            sparse: Some(teacher),
            shape,
            teacher_shape: None,
            labels: None,
        }
    }

    /// The same inputs with labels (DKD).
    pub fn with_labels(mut self, labels: &'a [i64]) -> Self {
        self.labels = Some(labels);
        self
    }

    /// The same inputs with a teacher of shape `teacher_shape` (SP, PKT: the student's batch
    /// size, any width; trailing axes are flattened).
    pub fn with_teacher_shape(mut self, teacher_shape: &'a [usize]) -> Self {
        self.teacher_shape = Some(teacher_shape);
        self
    }

    /// The teacher's shape: `teacher_shape`, or the student's.
    pub fn teacher_dims(&self) -> &'a [usize] {
        self.teacher_shape.unwrap_or(self.shape)
    }

    /// Checks the parameters, the shape, the slice lengths and the labels for `loss`.
    pub(crate) fn check_for(&self, loss: &dyn Loss) -> Result<()> {
        loss.check_params()?;
        check_shape_of(loss, self.shape)?;
        check_teacher_shape(loss, self.shape, self.teacher_dims())?;
        check_len("student", self.student.len(), self.shape)?;
        match (self.sparse, loss.sparse_temperature()) {
            (None, _) => check_len("teacher", self.teacher.len(), self.teacher_dims())?,
            (Some(sparse), Some(t)) => {
                if !self.teacher.is_empty() {
                    return Err(Error::Shape(
                        "give either dense teacher logits or a sparse teacher, not both".into(),
                    ));
                }
                if let Some(options) = loss.token_options() {
                    options.check_sparse_teacher()?;
                }
                let logprobs: Vec<f64> = sparse.logprobs.iter().map(|&x| f64::from(x)).collect();
                check_sparse(
                    self.shape[0],
                    self.shape[1],
                    sparse.ids,
                    &logprobs,
                    sparse.k,
                    t,
                    sparse.tail,
                )?;
            }
            (Some(_), None) => {
                return Err(Error::Param(format!(
                    "a sparse teacher applies to kl, not {}",
                    loss.name()
                )))
            }
        }
        self.check_labels_for(loss)
    }

    /// The labels against what `loss` needs and accepts.
    fn check_labels_for(&self, loss: &dyn Loss) -> Result<()> {
        match (loss.needs_labels(), loss.takes_labels(), self.labels) {
            (true, _, None) => Err(Error::Shape(format!(
                "{} needs labels (one per row){}",
                loss.name(),
                if loss.labels_are_targets() {
                    ""
                } else {
                    " for its hard-label term"
                }
            ))),
            (_, false, Some(_)) => Err(Error::Param(format!("{} takes no labels", loss.name()))),
            (_, _, None) => Ok(()),
            (_, true, Some(labels)) => match loss.token_options() {
                Some(o) => {
                    check_masked_labels(labels, self.shape[0], self.shape[1], o.ignore_index)
                }
                None => check_labels(labels, self.shape[0], self.shape[1]),
            },
        }
    }

    /// Labels as the GPU reads them (u32), after `check`.
    pub(crate) fn labels_u32(&self) -> Option<Vec<u32>> {
        self.labels.map(|l| l.iter().map(|&x| x as u32).collect())
    }
}

/// The result of a GPU evaluation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LossOutput {
    pub loss: f32,
    /// ∂L/∂student, in the student's shape, when it was asked for.
    pub grad: Option<Vec<f32>>,
    /// ∂L/∂T, when kl's `temperature_grad` (CTKD) asked for it.
    pub grad_temperature: Option<f32>,
}

/// The caller's buffers for [`crate::GpuContext::record`]. Student and teacher are float32 tensors in
/// the shape given to `record`; `labels` (DKD, and the token losses' masking and hard term)
/// holds one 32-bit label per row (`ignore_index` as its i32 bit pattern); `loss` receives one f32;
/// `grad`, when present, receives ∂L/∂student in the student's shape. Every buffer needs
/// STORAGE usage and offsets that are multiples of `min_storage_buffer_offset_alignment`.
#[derive(Clone, Copy, Debug)]
pub struct LossBindings<'a> {
    pub student: BufferRegion<'a>,
    pub teacher: BufferRegion<'a>,
    pub labels: Option<BufferRegion<'a>>,
    pub loss: BufferRegion<'a>,
    pub grad: Option<BufferRegion<'a>>,
}

impl LossOutput {
    pub(crate) fn new(loss: f32, grad: Option<Vec<f32>>) -> Self {
        Self {
            loss,
            grad,
            grad_temperature: None,
        }
    }
}

impl<'a> LossBindings<'a> {
    /// Student, teacher and loss; no labels, no gradient.
    pub fn new(
        student: BufferRegion<'a>,
        teacher: BufferRegion<'a>,
        loss: BufferRegion<'a>,
    ) -> Self {
        Self {
            student,
            teacher,
            labels: None,
            loss,
            grad: None,
        }
    }

    /// The same bindings, writing ∂L/∂student into `grad` (a region, or an `Option` of one).
    #[must_use]
    pub fn with_grad(mut self, grad: impl Into<Option<BufferRegion<'a>>>) -> Self {
        self.grad = grad.into();
        self
    }

    /// The same bindings with labels, one 32-bit label per row (a region, or an `Option`).
    #[must_use]
    pub fn with_labels(mut self, labels: impl Into<Option<BufferRegion<'a>>>) -> Self {
        self.labels = labels.into();
        self
    }
}

/// Checks the teacher's shape against the student's: equal, or (SP, PKT) the same batch size
/// with any non-empty width.
pub(crate) fn check_teacher_shape(
    loss: &dyn Loss,
    student: &[usize],
    teacher: &[usize],
) -> Result<()> {
    if teacher == student {
        return Ok(());
    }
    let name = loss.name();
    if !loss.takes_other_teacher_width() {
        return Err(Error::Shape(format!(
            "{name} needs the teacher in the student's shape {student:?}, got {teacher:?}"
        )));
    }
    if teacher.len() < 2 || teacher.contains(&0) {
        return Err(Error::Shape(format!(
            "{name} needs a B×D teacher with no empty axis (trailing axes are flattened), got {teacher:?}"
        )));
    }
    if teacher[0] != student[0] {
        return Err(Error::Shape(format!(
            "{name} needs student and teacher of the same batch size: the student has {} rows, the teacher {}",
            student[0], teacher[0]
        )));
    }
    Ok(())
}

/// Checks a shape for `loss`: no empty axis, then the loss's own rank and sizes.
pub(crate) fn check_shape_of(loss: &dyn Loss, dims: &[usize]) -> Result<()> {
    if dims.contains(&0) {
        return Err(Error::Shape(format!(
            "empty input {dims:?}: every axis must be >= 1"
        )));
    }
    loss.check_shape(dims)
}
