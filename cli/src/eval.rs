//! `wgpu-distill eval`: a loss (and its gradient) on `.npy` inputs, on a GPU or with the
//! float64 reference; a sparse top-k teacher; DIST split into shards.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use wgpu_distill::{
    reference, BackendChoice, DistParams, Error, GpuContext, InputDtype, Inputs, LossSpec,
};

use crate::loss_flags::loss_spec;
use crate::{npy, parse_backend};

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// One of: kl jsd tvd dist dkd ttm nkd fitnet at rkd ickd hcl.
    pub(crate) loss: String,
    #[arg(long)]
    pub(crate) student: PathBuf,
    /// The teacher's logits (or, for kl, --teacher-ids with --teacher-logprobs).
    #[arg(long, required_unless_present = "teacher_ids")]
    pub(crate) teacher: Option<PathBuf>,
    /// kl: a sparse top-k teacher's ids (N×K ints; with --teacher-logprobs; the student's
    /// logits f32, f16 or bf16).
    #[arg(long, requires = "teacher_logprobs", conflicts_with = "teacher")]
    pub(crate) teacher_ids: Option<PathBuf>,
    /// kl: the sparse teacher's full-vocabulary log-probabilities at T = 1 (N×K floats).
    #[arg(long, requires = "teacher_ids")]
    pub(crate) teacher_logprobs: Option<PathBuf>,
    /// kl sparse: keep the mass outside the top-k as one tail bucket (T = 1 only).
    #[arg(long, requires = "teacher_ids")]
    pub(crate) tail: Option<bool>,
    /// kl sparse: renormalise the student over the teacher's K ids too (TRL's convention),
    /// instead of over the whole vocabulary; not with --tail.
    #[arg(long, requires = "teacher_ids")]
    pub(crate) student_over_ids: bool,
    /// Labels (N ints): DKD's targets; dist's hard-term targets; kl/jsd/tvd's masking and
    /// hard-term targets.
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// kl/jsd/tvd: rows whose label equals this are ignored (default -100).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) ignore_index: Option<i64>,
    /// kl/jsd/tvd: divide the summed row losses by this instead of the valid-row count.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) normalizer: Option<f64>,
    /// kl/jsd/tvd/dist/dkd: weight of the hard-label cross-entropy (needs --labels; default 0).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) hard_weight: Option<f64>,
    /// kl/jsd/tvd/dist/dkd: weight of the soft (distillation) term (default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) soft_weight: Option<f64>,
    #[arg(long)]
    pub(crate) temperature: Option<f64>,
    #[arg(long)]
    pub(crate) beta: Option<f64>,
    #[arg(long)]
    pub(crate) gamma: Option<f64>,
    #[arg(long)]
    pub(crate) alpha: Option<f64>,
    #[arg(long)]
    pub(crate) p: Option<f64>,
    #[arg(long)]
    pub(crate) distance_weight: Option<f64>,
    #[arg(long)]
    pub(crate) angle_weight: Option<f64>,
    #[arg(long)]
    pub(crate) denominator: Option<String>,
    /// TTM's teacher power γ.
    #[arg(long)]
    pub(crate) power: Option<f64>,
    /// TTM: weigh each row by Σ p_t^γ (WTTM).
    #[arg(long)]
    pub(crate) weighted: Option<bool>,
    /// LS: z-score each row of both logits before the loss (kl, dkd, ttm, mlkd).
    #[arg(long)]
    pub(crate) standardize: bool,
    /// MLKD's temperatures, separated by commas (default 2,3,4,5,6).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) temperatures: Option<String>,
    /// MLKD's instance (KL) weight.
    #[arg(long)]
    pub(crate) kd_weight: Option<f64>,
    /// MLKD's class correlation weight.
    #[arg(long)]
    pub(crate) cc_weight: Option<f64>,
    /// MLKD's batch correlation weight.
    #[arg(long)]
    pub(crate) bc_weight: Option<f64>,
    /// skl / srkl: the skew α in [0, 1) (default 0.1).
    #[arg(long)]
    pub(crate) skew: Option<f64>,
    /// kl, jsd, tvd, skl, srkl: soft-cap both inputs' logits, z <- c tanh(z / c).
    #[arg(long)]
    pub(crate) softcap: Option<f64>,
    /// CTKD (kl): also compute ∂L/∂T, printed as `grad_temperature` (in --json too).
    #[arg(long)]
    pub(crate) temperature_grad: bool,
    /// Write ∂L/∂student here (.npy, the student's shape; float32 unless --grad-dtype f16).
    #[arg(long)]
    pub(crate) grad_out: Option<PathBuf>,
    /// The gradient's dtype on the GPU: f32 (default), f16 (written as a `<f2` .npy) or bf16
    /// (written as the `<f4` values of the bf16 gradient: .npy has no bfloat16). kl, dist and dkd
    /// with C a multiple of 4, on a GPU backend, without --shards.
    #[arg(long)]
    pub(crate) grad_dtype: Option<String>,
    #[arg(long, default_value = "auto")]
    pub(crate) backend: String,
    /// How the inputs are stored on the GPU: f32, f16 or bf16 (converted from the file's
    /// values, rounding to nearest even). Default: f16 for `<f2` files, else f32.
    #[arg(long)]
    pub(crate) dtype: Option<String>,
    /// DIST only: split the rows into N shards, compute each shard's statistics, merge them,
    /// and finish every shard (what a multi-device run does); prints the whole-batch loss.
    #[arg(long)]
    pub(crate) shards: Option<usize>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn eval(args: &EvalArgs) -> Result<(), Error> {
    let choice = parse_backend(&args.backend)?;
    let spec = loss_spec(args)?;
    let Some(teacher_path) = &args.teacher else {
        return eval_sparse(args, &spec, choice);
    };
    let (shape, student, file_dtype) = npy::read_floats_typed(&args.student)?;
    let (teacher_shape, teacher, teacher_dtype) = npy::read_floats_typed(teacher_path)?;
    let dtype = match &args.dtype {
        Some(name) => name.parse::<InputDtype>()?,
        None if file_dtype == teacher_dtype => file_dtype,
        None => InputDtype::F32,
    };
    // The values the kernels see (the reference sees the same).
    let (student, teacher) = (dtype.round_trip(&student), dtype.round_trip(&teacher));
    let other_width = spec.takes_other_teacher_width();
    if shape != teacher_shape && !other_width {
        return Err(Error::Shape(format!(
            "student {} has shape {shape:?} but teacher {} has shape {teacher_shape:?}",
            args.student.display(),
            teacher_path.display()
        )));
    }
    if other_width && shape.first() != teacher_shape.first() {
        return Err(Error::Shape(format!(
            "{} needs student and teacher of the same batch size: student {} has shape {shape:?}, teacher {} has shape {teacher_shape:?}",
            spec.name(),
            args.student.display(),
            teacher_path.display()
        )));
    }
    let labels = read_labels(args, &spec)?;
    let mut inputs = Inputs::new(&student, &teacher, &shape).with_teacher_shape(&teacher_shape);
    if let Some(labels) = &labels {
        inputs = inputs.with_labels(labels);
    }
    let want_grad = args.grad_out.is_some();
    let grad_dtype = match &args.grad_dtype {
        None => InputDtype::F32,
        Some(d) => d.parse::<InputDtype>()?,
    };
    if grad_dtype != InputDtype::F32 && (choice == BackendChoice::Cpu || args.shards.is_some()) {
        return Err(Error::Param(format!(
            "--grad-dtype {} needs a GPU backend and no --shards",
            grad_dtype.name()
        )));
    }
    let start = Instant::now();
    let precision = wgpu_distill::Precision {
        inputs: dtype,
        grad: grad_dtype,
    };
    let result = if let Some(shards) = args.shards {
        let LossSpec::Dist(params) = spec else {
            return Err(Error::Param(format!(
                "--shards applies to dist only, not {}",
                spec.name()
            )));
        };
        if choice == BackendChoice::Cpu {
            return Err(Error::Param(
                "--shards needs a GPU backend (the cpu reference is whole-batch)".into(),
            ));
        }
        let ctx = GpuContext::new(choice)?;
        let (loss, grad) = sharded_dist(&ctx, &params, &inputs, shards, want_grad)?;
        Evaluated {
            loss,
            grad,
            grad_temperature: None,
            backend: ctx.backend_name().to_string(),
            adapter: ctx.adapter_summary().name,
        }
    } else {
        evaluate_on(choice, &spec, &inputs, want_grad, precision)?
    };
    report(args, &spec, &shape, precision, &result, start, None)
}

/// What one evaluation gave, and where it ran.
struct Evaluated {
    loss: f64,
    grad: Option<Vec<f32>>,
    /// kl's ∂L/∂T (`--temperature-grad`).
    grad_temperature: Option<f64>,
    backend: String,
    adapter: String,
}

/// `spec` on `inputs` with the float64 reference (`--backend cpu`) or on a GPU.
fn evaluate_on(
    choice: BackendChoice,
    spec: &LossSpec,
    inputs: &Inputs<'_>,
    want_grad: bool,
    precision: wgpu_distill::Precision,
) -> Result<Evaluated, Error> {
    if choice == BackendChoice::Cpu {
        let out = reference::evaluate(spec, inputs)?;
        return Ok(Evaluated {
            loss: out.loss,
            grad: Some(out.grad.iter().map(|&g| g as f32).collect()),
            grad_temperature: out.grad_temperature,
            backend: "cpu".to_string(),
            adapter: "float64 reference".to_string(),
        });
    }
    let ctx = GpuContext::new(choice)?;
    let out = ctx.evaluate_with(spec, inputs, want_grad, precision)?;
    Ok(Evaluated {
        loss: f64::from(out.loss),
        grad: out.grad,
        grad_temperature: out.grad_temperature.map(f64::from),
        backend: ctx.backend_name().to_string(),
        adapter: ctx.adapter_summary().name,
    })
}

/// Writes `--grad-out` (f16 `.npy` for an f16 gradient, else f32) and prints the result: one
/// line, or with `--json` one JSON object; `sparse_k` for a sparse teacher.
fn report(
    args: &EvalArgs,
    spec: &LossSpec,
    shape: &[usize],
    precision: wgpu_distill::Precision,
    result: &Evaluated,
    start: Instant,
    sparse_k: Option<usize>,
) -> Result<(), Error> {
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    if let (Some(path), Some(grad)) = (&args.grad_out, &result.grad) {
        if precision.grad == InputDtype::F16 {
            npy::write_f16(path, shape, grad)?;
        } else {
            npy::write_f32(path, shape, grad)?;
        }
    }
    let Evaluated {
        loss,
        backend,
        adapter,
        ..
    } = result;
    if args.json {
        let mut json = serde_json::json!({
            "loss": loss,
            "name": spec.name(),
            "shape": shape,
            "backend": backend,
            "adapter": adapter,
            "dtype": precision.inputs.name(),
            "grad_dtype": precision.grad.name(),
            "grad_out": args.grad_out.as_ref().map(|p| p.display().to_string()),
            "wall_ms": elapsed_ms,
        });
        if let Some(k) = sparse_k {
            json["teacher"] = "sparse".into();
            json["k"] = k.into();
        }
        if let Some(dt) = result.grad_temperature {
            json["grad_temperature"] = dt.into();
        }
        println!("{json}");
    } else {
        let teacher = sparse_k.map_or(String::new(), |k| format!("sparse teacher K = {k}, "));
        let dt = result
            .grad_temperature
            .map_or(String::new(), |dt| format!(", dL/dT = {dt:.9}"));
        println!(
            "{} loss = {loss:.9}{dt} ({backend}: {adapter}, {teacher}{elapsed_ms:.1} ms)",
            spec.name()
        );
    }
    Ok(())
}

/// `--labels`: one-dimensional, read as int64 (int32 files widened); required where the loss
/// needs them.
fn read_labels(args: &EvalArgs, spec: &LossSpec) -> Result<Option<Vec<i64>>, Error> {
    match &args.labels {
        Some(path) => {
            let (label_shape, labels) = npy::read_labels(path)?;
            if label_shape.len() != 1 {
                return Err(Error::Shape(format!(
                    "labels {} must be one-dimensional (B,), got shape {label_shape:?}",
                    path.display()
                )));
            }
            Ok(Some(labels))
        }
        None if spec.needs_labels() => Err(Error::Param(format!(
            "{} needs --labels{}",
            spec.name(),
            if !spec.labels_are_targets() {
                " for its hard-label term (--hard-weight)"
            } else {
                ""
            }
        ))),
        None => Ok(None),
    }
}

/// `kl` against a sparse top-k teacher (`--teacher-ids`, `--teacher-logprobs`, `--tail`): on
/// the GPU (f32, f16 or bf16 student logits; V a multiple of 4 for 16-bit) or with the float64
/// reference.
fn eval_sparse(args: &EvalArgs, spec: &LossSpec, choice: BackendChoice) -> Result<(), Error> {
    if !matches!(spec, LossSpec::Kl(_)) {
        return Err(Error::Param(format!(
            "{} needs --teacher (a sparse teacher applies to kl only)",
            spec.name()
        )));
    }
    let (Some(ids_path), Some(logprobs_path)) = (&args.teacher_ids, &args.teacher_logprobs) else {
        return Err(Error::Param(
            "a sparse teacher needs both --teacher-ids and --teacher-logprobs".into(),
        ));
    };
    if args.grad_dtype.is_some() {
        return Err(Error::Param(
            "a sparse teacher writes an f32 gradient (no --grad-dtype)".into(),
        ));
    }
    let (shape, student, file_dtype) = npy::read_floats_typed(&args.student)?;
    // The student's logits as the kernels store them (f16 from a `<f2` file unless --dtype
    // says otherwise); the reference sees the same values.
    let dtype = match &args.dtype {
        Some(name) => name.parse::<InputDtype>()?,
        None => file_dtype,
    };
    let student = dtype.round_trip(&student);
    let (ids_shape, ids) = npy::read_labels(ids_path)?;
    let (lp_shape, logprobs) = npy::read_f64(logprobs_path)?;
    if shape.len() != 2 {
        return Err(Error::Shape(format!(
            "student {} must be N×V, got shape {shape:?}",
            args.student.display()
        )));
    }
    for (path, got) in [(ids_path, &ids_shape), (logprobs_path, &lp_shape)] {
        if got.len() != 2 || got[0] != shape[0] {
            return Err(Error::Shape(format!(
                "{} must be N×K with N = {} rows, got shape {got:?}",
                path.display(),
                shape[0]
            )));
        }
    }
    if ids_shape != lp_shape {
        return Err(Error::Shape(format!(
            "teacher ids {} have shape {ids_shape:?} but log-probs {} have shape {lp_shape:?}",
            ids_path.display(),
            logprobs_path.display()
        )));
    }
    let logprobs: Vec<f32> = logprobs.iter().map(|&x| x as f32).collect();
    let labels = read_labels(args, spec)?;
    let teacher = wgpu_distill::SparseTeacher::new(&ids, &logprobs, ids_shape[1])
        .with_tail(args.tail.unwrap_or(false));
    let mut inputs = Inputs::with_sparse_teacher(&student, teacher, &shape);
    if let Some(labels) = &labels {
        inputs = inputs.with_labels(labels);
    }
    // The sparse teacher's errors name both files.
    let name_files = |e: Error| {
        let files = format!(
            "sparse teacher {} / {}",
            ids_path.display(),
            logprobs_path.display()
        );
        match e {
            Error::Shape(m) => Error::Shape(format!("{files}: {m}")),
            Error::Param(m) => Error::Param(format!("{files}: {m}")),
            other => other,
        }
    };
    inputs.check(spec).map_err(name_files)?;
    let start = Instant::now();
    let precision = wgpu_distill::Precision::from(dtype);
    let result = evaluate_on(choice, spec, &inputs, args.grad_out.is_some(), precision)?;
    report(
        args,
        spec,
        &shape,
        precision,
        &result,
        start,
        Some(ids_shape[1]),
    )
}

/// DIST over `shards` contiguous row blocks: statistics per shard, merged in order, then each
/// shard finished with the merged statistics (its gradient rows concatenated).
fn sharded_dist(
    ctx: &GpuContext,
    params: &DistParams,
    inputs: &Inputs<'_>,
    shards: usize,
    want_grad: bool,
) -> Result<(f64, Option<Vec<f32>>), Error> {
    inputs.check(&LossSpec::Dist(*params))?;
    let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
    if shards == 0 || shards > rows {
        return Err(Error::Param(format!(
            "--shards must be between 1 and B = {rows}, got {shards}"
        )));
    }
    let bounds: Vec<(usize, usize)> = (0..shards)
        .map(|k| (k * rows / shards, (k + 1) * rows / shards))
        .collect();
    let shapes: Vec<[usize; 2]> = bounds.iter().map(|&(a, b)| [b - a, cols]).collect();
    // Shard k's rows, with their labels (the hard term's) when there are any.
    let view = |k: usize| {
        let (a, b) = bounds[k];
        let shard = Inputs::new(
            &inputs.student[a * cols..b * cols],
            &inputs.teacher[a * cols..b * cols],
            &shapes[k],
        );
        match inputs.labels {
            Some(labels) => shard.with_labels(&labels[a..b]),
            None => shard,
        }
    };
    let mut merged: Option<wgpu_distill::DistShardStats> = None;
    for k in 0..shards {
        let stats = ctx.dist_shard_stats(params, &view(k))?;
        merged = Some(match merged {
            None => stats,
            Some(m) => m.merge(&stats)?,
        });
    }
    let merged = merged.ok_or_else(|| Error::Param("--shards needs at least one shard".into()))?;
    let mut grad = want_grad.then(Vec::new);
    for k in 0..shards {
        let out = ctx.dist_shard_finish(params, &view(k), &merged, want_grad)?;
        if let (Some(all), Some(part)) = (grad.as_mut(), out.grad) {
            all.extend(part);
        }
    }
    Ok((merged.loss(params), grad))
}
