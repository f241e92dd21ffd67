//! The language-model head fused with a token loss (SPEC "Fused linear + loss"): the student's
//! logits `hidden·weightᵀ (+ bias)` are never held for all N rows at once. Per chunk of rows,
//! burn's own matmul gives the chunk's logits (and the teacher's, for a teacher head), the
//! library's token kernels give the chunk's loss and ∂L/∂logits in one pass, and the chunk's
//! ∂L/∂hidden, and its share of ∂L/∂weight and ∂L/∂bias, are taken at once in float32; the
//! chunk's logits are then dropped (burn's pool reuses their memory for the next chunk).
//!
//! The token losses divide by one normaliser for the whole batch, so it is fixed on the host
//! before the chunks run: the caller's, else the count of rows whose label is not
//! `ignore_index` (labels are read back once, also to skip the ignored rows' matmuls), else N.
//! The result is the unfused loss of the materialised logits within float32's tolerances; the
//! gradients are computed with the loss, so `backward()` only scales them by the upstream
//! gradient (as [`crate::distill_loss`] does).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
use burn::tensor::{
    DType, FloatDType, GradientCheckpointingStrategy, IndexingUpdateOp, Int, Tensor, TensorData,
};
use burn_cubecl::fusion::FusionCubeRuntime;
use burn_cubecl::Cube;
use burn_fusion::FusionTensor;
use wgpu_distill::{LossSpec, TokenOptions};

use crate::call::{check_sparse_host, multiply, read_ints, same_device, Call};
use crate::device::{context_of, float_primitive};
use wgpu_distill::{Error, Result};

/// The default memory for one chunk's logit-sized tensors (the student's and the teacher's
/// logits and ∂L/∂logits): 64 MiB (170 rows of a 32 000-word vocabulary in f32, 42 of
/// 128 256). Larger chunks save launches, not memory traffic: the logits are written and read
/// the same number of times whatever the chunk.
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 << 20;

/// A linear language-model head's input: `hidden` (N×H) and the head's `weight` (V×H, as
/// torch's `Linear` stores it) and optional `bias` (V). The logits are `hidden·weightᵀ + bias`.
#[derive(Clone, Debug)]
pub struct LinearHead {
    pub hidden: Tensor<2>,
    pub weight: Tensor<2>,
    pub bias: Option<Tensor<1>>,
}

impl LinearHead {
    /// A head without bias.
    pub fn new(hidden: Tensor<2>, weight: Tensor<2>) -> Self {
        Self {
            hidden,
            weight,
            bias: None,
        }
    }

    /// The same head with a bias (V).
    #[must_use]
    pub fn with_bias(mut self, bias: Tensor<1>) -> Self {
        self.bias = Some(bias);
        self
    }
}

/// The teacher of [`fused_linear_loss`]; a constant (no gradient flows to it).
// Passed once per call by value: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Teacher {
    /// A teacher head: its logits are recomputed chunk by chunk (its own H; N and V the
    /// student's).
    Head(LinearHead),
    /// Dense teacher logits, N×V.
    Logits(Tensor<2>),
    /// A sparse top-k teacher of `kl`: ids (N×K) and their log-probabilities at T = 1 (N×K
    /// f32), renormalised over the K (SPEC "Sparse top-k teacher", no tail).
    Sparse {
        ids: Tensor<2, Int>,
        logprobs: Tensor<2>,
    },
    /// The same with the mass outside the ids kept as one tail bucket (T = 1 only).
    SparseWithTail {
        ids: Tensor<2, Int>,
        logprobs: Tensor<2>,
    },
}

/// How [`fused_linear_loss_with`] splits the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FusedOptions {
    /// Rows per chunk; `None`: the most that keep a chunk's logit-sized tensors within
    /// `memory_budget` and each within the device's largest storage binding.
    pub chunk_rows: Option<usize>,
    /// Bytes for one chunk's student logits, teacher logits and ∂L/∂logits together.
    pub memory_budget: u64,
}

impl Default for FusedOptions {
    fn default() -> Self {
        Self {
            chunk_rows: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }
}

impl FusedOptions {
    /// The same options with `rows` rows per chunk (`None`: from the budget).
    #[must_use]
    pub fn with_chunk_rows(mut self, rows: Option<usize>) -> Self {
        self.chunk_rows = rows;
        self
    }

    /// The same options with a memory budget of `bytes` per chunk.
    #[must_use]
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }
}

/// The token loss `spec` (`kl`, `jsd`, `tvd`, `skl`, `srkl`, with their token options) of
/// the student head's logits against `teacher`, without an N×V tensor: see the module's
/// documentation. A shape `[1]` tensor; on an autodiff device `backward()` fills the gradients
/// of the student's `hidden`, `weight` and `bias`, whichever are tracked. `labels` (N) mask
/// rows (`ignore_index`: their matmuls are skipped) and feed the hard-label term.
///
/// f32 or f16 heads (hidden, weight and bias of one dtype; burn's WGSL backend has no bf16
/// type); the chunk's logits are in that dtype, a teacher's are cast to it, and ∂L/∂hidden,
/// ∂L/∂weight, ∂L/∂bias are computed and accumulated in f32 (then cast to the parameter's
/// dtype). Mismatched N, H or V, ids out of range or labels
/// outside [0, V) are an `Err` before anything runs.
pub fn fused_linear_loss(
    spec: &LossSpec,
    student: LinearHead,
    teacher: Teacher,
    labels: Option<Tensor<1, Int>>,
) -> Result<Tensor<1>> {
    fused_linear_loss_with(spec, student, teacher, labels, &FusedOptions::default())
}

/// [`fused_linear_loss`] with the chunking set by `options`.
pub fn fused_linear_loss_with(
    spec: &LossSpec,
    student: LinearHead,
    teacher: Teacher,
    labels: Option<Tensor<1, Int>>,
    options: &FusedOptions,
) -> Result<Tensor<1>> {
    let fused = Fused::new(spec, &student, &teacher, labels, options)?;
    let teacher = fused.plain_teacher(teacher);
    match student.hidden.device().gradient_checkpointing_strategy() {
        None => {
            let plain = plain_head(&student);
            let (loss, _) = fused.forward(&plain, &teacher, false)?;
            Ok(loss)
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            fused.differentiable::<BalancedCheckpointing>(student, &teacher)
        }
        Some(_) => fused.differentiable::<NoCheckpointing>(student, &teacher),
    }
}

/// The head's tensors off the autodiff graph.
fn plain_head(head: &LinearHead) -> LinearHead {
    LinearHead {
        hidden: head.hidden.clone().without_autodiff(),
        weight: head.weight.clone().without_autodiff(),
        bias: head.bias.clone().map(|b| b.without_autodiff()),
    }
}

/// One chunk of rows: a range of the batch, or (with ignored rows) the indices of valid rows.
struct Chunk {
    start: usize,
    len: usize,
    rows: Option<Tensor<1, Int>>,
}

impl Chunk {
    /// The chunk's rows of `t`.
    fn of<const D: usize, K>(&self, t: &Tensor<D, K>) -> Tensor<D, K>
    where
        K: burn::tensor::kind::Basic,
    {
        match &self.rows {
            Some(rows) => t.clone().select(0, rows.clone()),
            None => t.clone().narrow(0, self.start, self.len),
        }
    }
}

/// A checked call of the fused head: the loss with its batch normaliser, the chunks.
struct Fused {
    spec: LossSpec,
    rows: usize,
    vocab: usize,
    hidden_width: usize,
    dtype: DType,
    labels: Option<Tensor<1, Int>>,
    /// The valid rows when some label is `ignore_index` (else every row, in ranges).
    valid: Option<Vec<i64>>,
    chunk_rows: usize,
}

impl Fused {
    fn new(
        spec: &LossSpec,
        student: &LinearHead,
        teacher: &Teacher,
        labels: Option<Tensor<1, Int>>,
        options: &FusedOptions,
    ) -> Result<Self> {
        let options_of = spec
            .token_options()
            .copied()
            .ok_or_else(|| not_token(spec))?;
        if !matches!(
            spec,
            LossSpec::Kl(_)
                | LossSpec::Jsd(_)
                | LossSpec::Tvd(_)
                | LossSpec::Skl(_)
                | LossSpec::Srkl(_)
        ) {
            return Err(not_token(spec));
        }
        if options_of.temperature_grad {
            return Err(Error::Param(
                "fused_linear_loss does not return ∂L/∂T (temperature_grad): use \
                 distill_loss_with_temperature on the logits"
                    .into(),
            ));
        }
        spec.check_params()?;
        let device = student.hidden.device();
        let ctx = context_of(&device)?;
        let [n, h] = student.hidden.dims();
        let [v, hw] = student.weight.dims();
        if hw != h {
            return Err(Error::Shape(format!(
                "student head: hidden is N×H = {n}×{h} but weight is V×H = {v}×{hw}"
            )));
        }
        if n == 0 || v == 0 || h == 0 {
            return Err(Error::Shape(format!(
                "student head: N = {n}, H = {h}, V = {v}: none may be 0"
            )));
        }
        same_device(&device, &student.weight.device(), "student weight")?;
        let dtype = student.hidden.dtype();
        check_float("student hidden", dtype)?;
        if student.weight.dtype() != dtype {
            return Err(Error::Param(format!(
                "student head: hidden is {dtype:?} and weight {:?}: give both the same dtype",
                student.weight.dtype()
            )));
        }
        check_bias("student", student.bias.as_ref(), v, dtype)?;
        check_teacher(spec, teacher, n, v, &device)?;
        let (labels, valid, count) = match labels {
            None => (None, None, n),
            Some(labels) => {
                if labels.dims() != [n] {
                    return Err(Error::Shape(format!(
                        "labels {:?}: expected one per row of hidden, [{n}]",
                        labels.dims()
                    )));
                }
                let host = read_ints(labels.clone())?;
                wgpu_distill::reference::token::check_masked_labels(
                    &host,
                    n,
                    v,
                    options_of.ignore_index,
                )?;
                let valid: Vec<i64> = (0..n as i64)
                    .filter(|&r| host[r as usize] != options_of.ignore_index)
                    .collect();
                let count = valid.len();
                let valid = (count < n).then_some(valid);
                (Some(labels.without_autodiff()), valid, count)
            }
        };
        let normaliser = options_of.normalizer.unwrap_or(count.max(1) as f64);
        let spec = with_token_options(spec, options_of.with_normalizer(Some(normaliser)))?;
        // A chunk's logit-sized tensors: the student's logits, the teacher's (dense), the f32
        // gradient; each within the device's largest storage binding.
        let in_bytes = dtype.size() as u64;
        let teacher_bytes = match teacher {
            Teacher::Head(_) | Teacher::Logits(_) => in_bytes,
            Teacher::Sparse { .. } | Teacher::SparseWithTail { .. } => 0,
        };
        let per_row = v as u64 * (in_bytes + teacher_bytes + 4);
        let binding = ctx.device().limits().max_storage_buffer_binding_size;
        // A chunk's f32 logits (and gradient) are one binding each.
        let max_rows = binding / (v as u64 * 4);
        if max_rows == 0 {
            return Err(Error::Limit(format!(
                "one row of V = {v} f32 logits needs {} bytes, beyond this device's {binding}-byte storage binding",
                v as u64 * 4
            )));
        }
        let fit = (options.memory_budget / per_row).min(max_rows);
        let chunk_rows = match options.chunk_rows {
            Some(0) => {
                return Err(Error::Param("chunk_rows must be at least 1".into()));
            }
            Some(rows) if rows as u64 > max_rows => {
                return Err(Error::Limit(format!(
                    "chunk_rows = {rows} rows of V = {v} f32 logits exceed this device's \
                     {binding}-byte storage binding: at most {max_rows} rows per chunk"
                )));
            }
            Some(rows) => rows,
            None => fit.max(1) as usize,
        };
        Ok(Self {
            spec,
            rows: n,
            vocab: v,
            hidden_width: h,
            dtype,
            labels,
            valid,
            chunk_rows,
        })
    }

    /// The teacher's tensors off the autodiff graph (a constant).
    fn plain_teacher(&self, teacher: Teacher) -> Teacher {
        match teacher {
            Teacher::Head(head) => Teacher::Head(plain_head(&head)),
            Teacher::Logits(z) => Teacher::Logits(z.without_autodiff()),
            Teacher::Sparse { ids, logprobs } => Teacher::Sparse {
                ids: ids.without_autodiff(),
                logprobs: logprobs.without_autodiff(),
            },
            Teacher::SparseWithTail { ids, logprobs } => Teacher::SparseWithTail {
                ids: ids.without_autodiff(),
                logprobs: logprobs.without_autodiff(),
            },
        }
    }

    /// The chunks of rows, in batch order.
    fn chunks(&self, device: &burn::tensor::Device) -> Vec<Chunk> {
        match &self.valid {
            None => (0..self.rows)
                .step_by(self.chunk_rows)
                .map(|start| Chunk {
                    start,
                    len: self.chunk_rows.min(self.rows - start),
                    rows: None,
                })
                .collect(),
            Some(valid) => valid
                .chunks(self.chunk_rows)
                .map(|rows| Chunk {
                    start: 0,
                    len: rows.len(),
                    rows: Some(Tensor::from_data(
                        TensorData::new(rows.to_vec(), [rows.len()]),
                        device,
                    )),
                })
                .collect(),
        }
    }

    /// The loss and, when asked, the gradients of hidden, weight and bias (in their dtypes),
    /// on plain (non-autodiff) tensors.
    fn forward(
        &self,
        student: &LinearHead,
        teacher: &Teacher,
        want_grads: bool,
    ) -> Result<(Tensor<1>, Option<Vec<Tensor<2>>>)> {
        let device = student.hidden.device();
        let (n, v, h) = (self.rows, self.vocab, self.hidden_width);
        let weight_t = student.weight.clone().transpose();
        let weight_f32 = want_grads.then(|| student.weight.clone().cast(FloatDType::F32));
        let mut loss = Tensor::<1>::zeros([1], &device);
        let mut grad_hidden = vec![];
        let mut grad_weight = Tensor::<2>::zeros([v, h], &device);
        // Only with a bias: its sum over rows is one more read of each chunk's gradient.
        let mut grad_bias = student
            .bias
            .as_ref()
            .map(|_| Tensor::<1>::zeros([v], &device));
        let chunks = self.chunks(&device);
        for chunk in &chunks {
            let hidden = chunk.of(&student.hidden);
            let mut logits = hidden.clone().matmul(weight_t.clone());
            if let Some(bias) = &student.bias {
                logits = logits + bias.clone().unsqueeze_dim(0);
            }
            let labels = self.labels.as_ref().map(|l| chunk.of(l));
            let call = match teacher {
                Teacher::Head(head) => {
                    let mut zt = chunk
                        .of(&head.hidden)
                        .matmul(head.weight.clone().transpose());
                    if let Some(bias) = &head.bias {
                        zt = zt + bias.clone().unsqueeze_dim(0);
                    }
                    Call::new(self.spec, &logits, self.cast(zt), labels)?
                }
                Teacher::Logits(zt) => {
                    Call::new(self.spec, &logits, self.cast(chunk.of(zt)), labels)?
                }
                Teacher::Sparse { ids, logprobs } => Call::sparse_checked(
                    self.spec,
                    &logits,
                    chunk.of(ids),
                    chunk.of(logprobs),
                    false,
                    labels,
                )?,
                Teacher::SparseWithTail { ids, logprobs } => Call::sparse_checked(
                    self.spec,
                    &logits,
                    chunk.of(ids),
                    chunk.of(logprobs),
                    true,
                    labels,
                )?,
            };
            let (chunk_loss, grad) = call
                .with_f32_grad()
                .run(float_primitive(logits)?, want_grads)?;
            loss = loss + Tensor::<1>::from_primitive::<Cube>(chunk_loss);
            if let (Some(grad), Some(weight)) = (grad, &weight_f32) {
                let grad = Tensor::<2>::from_primitive::<Cube>(grad);
                let hidden = hidden.cast(FloatDType::F32);
                grad_hidden.push(grad.clone().matmul(weight.clone()));
                grad_weight = grad_weight + grad.clone().transpose().matmul(hidden);
                grad_bias = grad_bias.map(|b| b + grad.sum_dim(0).reshape([v]));
            }
        }
        if !want_grads {
            return Ok((loss, None));
        }
        let grad_hidden = match (&self.valid, grad_hidden.is_empty()) {
            (None, false) => Tensor::cat(grad_hidden, 0),
            (None, true) | (Some(_), true) => Tensor::zeros([n, h], &device),
            (Some(valid), false) => {
                let rows = Tensor::<1, Int>::from_data(
                    TensorData::new(valid.clone(), [valid.len()]),
                    &device,
                );
                Tensor::<2>::zeros([n, h], &device).select_assign(
                    0,
                    rows,
                    Tensor::cat(grad_hidden, 0),
                    IndexingUpdateOp::Add,
                )
            }
        };
        let dtype = FloatDType::from(self.dtype);
        let mut grads = vec![grad_hidden.cast(dtype), grad_weight.cast(dtype)];
        grads.extend(grad_bias.map(|b| b.cast(dtype).reshape([1, v])));
        Ok((loss, Some(grads)))
    }

    /// A teacher's chunk of logits in the student's dtype.
    fn cast(&self, logits: Tensor<2>) -> Tensor<2> {
        if logits.dtype() == self.dtype {
            logits
        } else {
            logits.cast(FloatDType::from(self.dtype))
        }
    }

    /// The loss as a node of burn's autodiff graph whose parents are hidden, weight and
    /// (when given) bias; its backward scales their precomputed gradients.
    fn differentiable<C: CheckpointStrategy>(
        &self,
        student: LinearHead,
        teacher: &Teacher,
    ) -> Result<Tensor<1>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<Cube, C>>,
    {
        let plain = plain_head(&student);
        let node = |t: Tensor<2>| -> Result<NodeGuard> {
            let (_, node) = t
                .try_into_primitive::<Autodiff<Cube, C>>()
                .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))?
                .into_parts();
            Ok(node)
        };
        let hidden = node(student.hidden)?;
        let weight = node(student.weight)?;
        match student.bias {
            Some(bias) => {
                let bias = node(bias.unsqueeze_dim(0))?;
                self.track::<C, 3>([hidden, weight, bias], &plain, teacher)
            }
            None => self.track::<C, 2>([hidden, weight], &plain, teacher),
        }
    }

    fn track<C: CheckpointStrategy, const P: usize>(
        &self,
        nodes: [NodeGuard; P],
        plain: &LinearHead,
        teacher: &Teacher,
    ) -> Result<Tensor<1>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<Cube, C>>,
    {
        let primitive = |t: Tensor<1>| -> Result<FusionTensor<FusionCubeRuntime>> {
            t.try_into_primitive::<Cube>()
                .map_err(|e| Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}")))
        };
        let out = match HeadBackward::<P>
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (loss, grads) = self.forward(plain, teacher, true)?;
                let grads =
                    grads.ok_or_else(|| Error::Device("no gradients were computed".into()))?;
                let state = grads
                    .into_iter()
                    .take(P)
                    .map(|g| {
                        g.try_into_primitive::<Cube>().map_err(|e| {
                            Error::Device(format!("not a tensor of burn's wgpu backend: {e:?}"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                prep.finish(state, primitive(loss)?)
            }
            OpsKind::UnTracked(prep) => {
                let (loss, _) = self.forward(plain, teacher, false)?;
                prep.finish(primitive(loss)?)
            }
        };
        Ok(Tensor::from_primitive::<Autodiff<Cube, C>>(out))
    }
}

/// The backward step of the fused head: each parent's gradient, computed with the loss, times
/// the upstream gradient (the bias's was taken as a 1×V tensor).
#[derive(Debug)]
struct HeadBackward<const P: usize>;

impl<const P: usize> Backward<Cube, P> for HeadBackward<P> {
    type State = Vec<FusionTensor<FusionCubeRuntime>>;

    fn backward(self, ops: Ops<Self::State, P>, grads: &mut Gradients, _: &mut Checkpointer) {
        let upstream = grads.consume::<Cube>(&ops.node);
        for (parent, grad) in ops.parents.into_iter().zip(ops.state) {
            if let Some(node) = parent {
                grads.register::<Cube>(node.id, multiply(grad, upstream.clone()));
            }
        }
    }
}

/// `spec` with its token options replaced (a token loss only).
fn with_token_options(spec: &LossSpec, options: TokenOptions) -> Result<LossSpec> {
    if spec.token_options().is_none() {
        return Err(not_token(spec));
    }
    spec.with_token_options(options)
}

fn not_token(spec: &LossSpec) -> Error {
    Error::Param(format!(
        "fused_linear_loss takes the row-wise token losses (kl, jsd, tvd, skl, srkl), not {}",
        spec.name()
    ))
}

fn check_float(what: &str, dtype: DType) -> Result<()> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => Ok(()),
        other => Err(Error::Param(format!(
            "{what} is {other:?}: f32, f16 or bf16 are supported"
        ))),
    }
}

fn check_bias(whose: &str, bias: Option<&Tensor<1>>, v: usize, dtype: DType) -> Result<()> {
    let Some(bias) = bias else { return Ok(()) };
    if bias.dims() != [v] {
        return Err(Error::Shape(format!(
            "{whose} head: bias {:?} must have V = {v} values (the weight's rows)",
            bias.dims()
        )));
    }
    if bias.dtype() != dtype {
        return Err(Error::Param(format!(
            "{whose} head: bias is {:?}, the head {dtype:?}: give one dtype",
            bias.dtype()
        )));
    }
    Ok(())
}

/// The teacher's shapes against the student's N and V (a sparse teacher's ids are checked
/// on the host: in range, distinct, log-probs of a distribution).
fn check_teacher(
    spec: &LossSpec,
    teacher: &Teacher,
    n: usize,
    v: usize,
    device: &burn::tensor::Device,
) -> Result<()> {
    match teacher {
        Teacher::Head(head) => {
            let [tn, th] = head.hidden.dims();
            let [tv, tw] = head.weight.dims();
            if tn != n || tv != v || tw != th {
                return Err(Error::Shape(format!(
                    "teacher head: hidden {tn}×{th} and weight {tv}×{tw}; expected N = {n} rows \
                     of hidden, V = {v} rows of weight and one H"
                )));
            }
            same_device(device, &head.hidden.device(), "teacher hidden")?;
            check_float("teacher hidden", head.hidden.dtype())?;
            if head.weight.dtype() != head.hidden.dtype() {
                return Err(Error::Param(
                    "teacher head: hidden and weight differ in dtype".into(),
                ));
            }
            check_bias("teacher", head.bias.as_ref(), v, head.hidden.dtype())
        }
        Teacher::Logits(z) => {
            if z.dims() != [n, v] {
                return Err(Error::Shape(format!(
                    "teacher logits {:?}: expected N×V = [{n}, {v}]",
                    z.dims()
                )));
            }
            same_device(device, &z.device(), "teacher logits")?;
            check_float("teacher logits", z.dtype())
        }
        Teacher::Sparse { ids, logprobs } | Teacher::SparseWithTail { ids, logprobs } => {
            let tail = matches!(teacher, Teacher::SparseWithTail { .. });
            check_sparse_host(spec, device, ids, logprobs, (n, v), tail)
        }
    }
}
