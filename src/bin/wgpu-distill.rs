//! The `wgpu-distill` command line: `info`, `eval`, and, with no arguments, a self-check that
//! evaluates every loss on the GPU and with the float64 reference.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use wgpu_distill::losses::LOSS_NAMES;
use wgpu_distill::{
    npy, reference, synthetic, BackendChoice, DistParams, Error, GpuContext, InputDtype, Inputs,
    JsdParams, KlParams, LossSpec, TokenOptions, TvdParams,
};

#[derive(Parser)]
#[command(
    name = "wgpu-distill",
    version,
    about = "Knowledge-distillation losses and their gradients on the GPU (wgpu)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List adapters, the chosen backend, its features and limits.
    Info {
        #[arg(long, default_value = "auto")]
        backend: String,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a loss (and its gradient) on .npy inputs.
    Eval(Box<EvalArgs>),
    /// Time each loss against the adapter's memory roofline, measured in the same run.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Comma list of losses: kl (T = 4), kl+soft (T = 1, 0.5·KL through the token skeleton,
    /// with labels), kl+hard (the same plus 0.5·CE), kl+sparse (T = 1, a top-k teacher of
    /// --sparse-k ids), jsd (β = 0.5), jsd+hard, tvd (with labels, nothing masked), dist,
    /// dist+hard (CE + 2·DIST), dkd.
    #[arg(long, default_value = "kl,dist")]
    loss: String,
    /// Ids per row of the kl+sparse teacher.
    #[arg(long, default_value_t = 64)]
    sparse_k: usize,
    /// Comma list of BxC shapes.
    #[arg(
        long,
        default_value = "128x100,256x1000,4096x1000,512x32000,8192x32000"
    )]
    shape: String,
    /// Comma list of input dtypes (f32 today).
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Comma list of passes: forward, forward+grad.
    #[arg(long, default_value = "forward,forward+grad")]
    pass: String,
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Timed runs per measurement (median reported), after 3 warm-up runs.
    #[arg(long, default_value_t = 15)]
    iters: usize,
    /// Force lanes per row (a power of two, 1..=256) instead of the automatic choice.
    #[arg(long)]
    threads_per_row: Option<u32>,
    /// Force rows held in registers (true) or the streaming kernels (false).
    #[arg(long)]
    cached_rows: Option<bool>,
    /// Allow (true) or forbid (false) four classes per load where C is a multiple of 4.
    #[arg(long)]
    quads: Option<bool>,
    /// Allow (true) or forbid (false) subgroup-shuffle reductions where the device has them.
    #[arg(long)]
    subgroups: Option<bool>,
    /// Rows per segment of DIST's quad gradient pass: 1, 4 or 8 (default: 8 on CPU adapters).
    #[arg(long)]
    dist_grad_rows: Option<u32>,
    /// Reads of each row by DIST's streaming row pass: 1 (online moments) or 2 (default: 1 on
    /// CPU adapters, 2 elsewhere).
    #[arg(long)]
    dist_row_reads: Option<u32>,
    /// One JSON object per result line.
    #[arg(long)]
    json: bool,
    /// Also time each dispatch alone (needs timestamps), printed under its result.
    #[arg(long)]
    per_dispatch: bool,
    /// Run the loss alone, without the roofline kernel (its figures print as NaN, null in
    /// JSON): for instruction counting (scripts/lavapipe-instructions.sh).
    #[arg(long)]
    no_roofline: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// One of: kl jsd tvd dist dkd fitnet at rkd ickd hcl.
    loss: String,
    #[arg(long)]
    student: PathBuf,
    /// The teacher's logits (or, for kl, --teacher-ids with --teacher-logprobs).
    #[arg(long, required_unless_present = "teacher_ids")]
    teacher: Option<PathBuf>,
    /// kl: a sparse top-k teacher's ids (N×K ints; with --teacher-logprobs; the student's
    /// logits f32, f16 or bf16).
    #[arg(long, requires = "teacher_logprobs", conflicts_with = "teacher")]
    teacher_ids: Option<PathBuf>,
    /// kl: the sparse teacher's full-vocabulary log-probabilities at T = 1 (N×K floats).
    #[arg(long, requires = "teacher_ids")]
    teacher_logprobs: Option<PathBuf>,
    /// kl sparse: keep the mass outside the top-k as one tail bucket (T = 1 only).
    #[arg(long, requires = "teacher_ids")]
    tail: Option<bool>,
    /// Labels (N ints): DKD's targets; dist's hard-term targets; kl/jsd/tvd's masking and
    /// hard-term targets.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// kl/jsd/tvd: rows whose label equals this are ignored (default -100).
    #[arg(long, allow_hyphen_values = true)]
    ignore_index: Option<i64>,
    /// kl/jsd/tvd: divide the summed row losses by this instead of the valid-row count.
    #[arg(long, allow_hyphen_values = true)]
    normalizer: Option<f64>,
    /// kl/jsd/tvd/dist/dkd: weight of the hard-label cross-entropy (needs --labels; default 0).
    #[arg(long, allow_hyphen_values = true)]
    hard_weight: Option<f64>,
    /// kl/jsd/tvd/dist/dkd: weight of the soft (distillation) term (default 1).
    #[arg(long, allow_hyphen_values = true)]
    soft_weight: Option<f64>,
    #[arg(long)]
    temperature: Option<f64>,
    #[arg(long)]
    beta: Option<f64>,
    #[arg(long)]
    gamma: Option<f64>,
    #[arg(long)]
    alpha: Option<f64>,
    #[arg(long)]
    p: Option<f64>,
    #[arg(long)]
    distance_weight: Option<f64>,
    #[arg(long)]
    angle_weight: Option<f64>,
    #[arg(long)]
    denominator: Option<String>,
    /// Write ∂L/∂student here (.npy, the student's shape; float32 unless --grad-dtype f16).
    #[arg(long)]
    grad_out: Option<PathBuf>,
    /// The gradient's dtype on the GPU: f32 (default), f16 (written as a `<f2` .npy) or bf16
    /// (written as the `<f4` values of the bf16 gradient: .npy has no bfloat16). kl, dist and dkd
    /// with C a multiple of 4, on a GPU backend, without --shards.
    #[arg(long)]
    grad_dtype: Option<String>,
    #[arg(long, default_value = "auto")]
    backend: String,
    /// How the inputs are stored on the GPU: f32, f16 or bf16 (converted from the file's
    /// values, rounding to nearest even). Default: f16 for `<f2` files, else f32.
    #[arg(long)]
    dtype: Option<String>,
    /// DIST only: split the rows into N shards, compute each shard's statistics, merge them,
    /// and finish every shard (what a multi-device run does); prints the whole-batch loss.
    #[arg(long)]
    shards: Option<usize>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // Never a backtrace: whatever escapes is reported as one line.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!(
            "wgpu-distill: internal error: {}",
            msg.lines().next().unwrap_or("")
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(e.kind(), DisplayHelp | DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            // clap's message spans lines (then usage): keep the message, on one line.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "wgpu-distill: {}",
                message.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => self_check(),
        Some(Command::Info { backend, json }) => info(&backend, json),
        Some(Command::Eval(args)) => eval(&args),
        Some(Command::Bench(args)) => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "wgpu-distill: {}",
                e.to_string().lines().next().unwrap_or("")
            );
            ExitCode::FAILURE
        }
    }
}

fn parse_backend(name: &str) -> Result<BackendChoice, Error> {
    name.parse()
}

fn info(backend: &str, json: bool) -> Result<(), Error> {
    let choice = parse_backend(backend)?;
    let adapters = wgpu_distill::list_adapters(if choice == BackendChoice::Cpu {
        BackendChoice::Auto
    } else {
        choice
    });
    if !json {
        println!("adapters:");
        for a in &adapters {
            println!(
                "  {} ({}, {}, {})",
                a.name, a.backend, a.device_type, a.driver
            );
        }
        if adapters.is_empty() {
            println!("  none: {}", wgpu_distill::NO_ADAPTER_HELP);
        }
    }
    if choice == BackendChoice::Cpu {
        if json {
            println!(
                "{}",
                serde_json::json!({"backend": "cpu", "adapter": "float64 reference"})
            );
        } else {
            println!("chosen: cpu (float64 reference)");
        }
        return Ok(());
    }
    let ctx = GpuContext::new(choice)?;
    let features = ctx.device().features();
    let limits = ctx.device().limits();
    let summary = ctx.adapter_summary();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "backend": ctx.backend_name(),
                "adapter": summary.name,
                "device_type": summary.device_type,
                "driver": summary.driver,
                "features": format!("{features:?}"),
                "max_storage_buffer_binding_size": limits.max_storage_buffer_binding_size,
                "max_buffer_size": limits.max_buffer_size,
                "min_storage_buffer_offset_alignment": limits.min_storage_buffer_offset_alignment,
                "max_compute_workgroups_per_dimension": limits.max_compute_workgroups_per_dimension,
                "max_compute_invocations_per_workgroup": limits.max_compute_invocations_per_workgroup,
                "max_storage_buffers_per_shader_stage": limits.max_storage_buffers_per_shader_stage,
                "subgroup_reduction_lanes": ctx.subgroup_layout(),
            })
        );
    } else {
        println!(
            "chosen: {} ({}, {})",
            summary.name,
            ctx.backend_name(),
            summary.device_type
        );
        println!("features: {features:?}");
        match ctx.subgroup_layout() {
            Some(lanes) => println!(
                "subgroup reductions: shuffles over {lanes} lanes (wider rows fold to {lanes} first)"
            ),
            None => println!("subgroup reductions: none (workgroup barriers)"),
        }
        println!(
            "limits: max_storage_buffer_binding_size {} B, max_buffer_size {} B, \
             min_storage_buffer_offset_alignment {}, max workgroups/dim {}, \
             invocations/workgroup {}, storage buffers/stage {}",
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size,
            limits.min_storage_buffer_offset_alignment,
            limits.max_compute_workgroups_per_dimension,
            limits.max_compute_invocations_per_workgroup,
            limits.max_storage_buffers_per_shader_stage,
        );
    }
    Ok(())
}

/// Builds the loss from its name and the flags; flags that do not apply are refused.
fn loss_spec(args: &EvalArgs) -> Result<LossSpec, Error> {
    use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
    let given: [(&str, bool); 15] = [
        ("labels", args.labels.is_some()),
        ("ignore-index", args.ignore_index.is_some()),
        ("normalizer", args.normalizer.is_some()),
        ("hard-weight", args.hard_weight.is_some()),
        ("soft-weight", args.soft_weight.is_some()),
        ("teacher-ids", args.teacher_ids.is_some()),
        ("tail", args.tail.is_some()),
        ("temperature", args.temperature.is_some()),
        ("beta", args.beta.is_some()),
        ("gamma", args.gamma.is_some()),
        ("alpha", args.alpha.is_some()),
        ("p", args.p.is_some()),
        ("distance-weight", args.distance_weight.is_some()),
        ("angle-weight", args.angle_weight.is_some()),
        ("denominator", args.denominator.is_some()),
    ];
    const TOKEN: [&str; 6] = [
        "labels",
        "ignore-index",
        "normalizer",
        "hard-weight",
        "soft-weight",
        "temperature",
    ];
    let allowed: &[&str] = match args.loss.as_str() {
        "kl" => &[
            "labels",
            "ignore-index",
            "normalizer",
            "hard-weight",
            "soft-weight",
            "temperature",
            "teacher-ids",
            "tail",
        ],
        "jsd" => &[
            "labels",
            "ignore-index",
            "normalizer",
            "hard-weight",
            "soft-weight",
            "temperature",
            "beta",
        ],
        "tvd" => &TOKEN,
        "dist" => &[
            "labels",
            "temperature",
            "beta",
            "gamma",
            "hard-weight",
            "soft-weight",
        ],
        "dkd" => &[
            "labels",
            "temperature",
            "alpha",
            "beta",
            "hard-weight",
            "soft-weight",
        ],
        "at" => &["p"],
        "rkd" => &["distance-weight", "angle-weight"],
        "ickd" => &["denominator"],
        "fitnet" | "hcl" => &[],
        other => {
            return Err(Error::Param(format!(
                "unknown loss '{other}' (available: {})",
                LOSS_NAMES.join(", ")
            )))
        }
    };
    if let Some((flag, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
        return Err(Error::Param(format!(
            "--{flag} does not apply to loss {}",
            args.loss
        )));
    }
    let d = TokenOptions::default();
    let options = TokenOptions {
        ignore_index: args.ignore_index.unwrap_or(d.ignore_index),
        normalizer: args.normalizer,
        hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
        soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
    };
    Ok(match args.loss.as_str() {
        "kl" => LossSpec::Kl(KlParams {
            temperature: args.temperature.unwrap_or(KlParams::default().temperature),
            options,
        }),
        "jsd" => {
            let d = JsdParams::default();
            LossSpec::Jsd(JsdParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                beta: args.beta.unwrap_or(d.beta),
                options,
            })
        }
        "tvd" => LossSpec::Tvd(TvdParams {
            temperature: args.temperature.unwrap_or(TvdParams::default().temperature),
            options,
        }),
        "dist" => {
            let d = DistParams::default();
            LossSpec::Dist(DistParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                beta: args.beta.unwrap_or(d.beta),
                gamma: args.gamma.unwrap_or(d.gamma),
                hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
                soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
            })
        }
        "dkd" => {
            let d = DkdParams::default();
            LossSpec::Dkd(DkdParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                alpha: args.alpha.unwrap_or(d.alpha),
                beta: args.beta.unwrap_or(d.beta),
                hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
                soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
            })
        }
        "at" => LossSpec::At(AtParams {
            p: args.p.unwrap_or(AtParams::default().p),
        }),
        "rkd" => {
            let d = RkdParams::default();
            LossSpec::Rkd(RkdParams {
                distance_weight: args.distance_weight.unwrap_or(d.distance_weight),
                angle_weight: args.angle_weight.unwrap_or(d.angle_weight),
            })
        }
        "ickd" => LossSpec::Ickd(IckdParams {
            denominator: args.denominator.as_deref().unwrap_or("cb").parse()?,
        }),
        "hcl" => LossSpec::Hcl,
        _ => LossSpec::Fitnet,
    })
}

fn eval(args: &EvalArgs) -> Result<(), Error> {
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
    if shape != teacher_shape {
        return Err(Error::Shape(format!(
            "student {} has shape {shape:?} but teacher {} has shape {teacher_shape:?}",
            args.student.display(),
            teacher_path.display()
        )));
    }
    let labels = read_labels(args, &spec)?;
    let mut inputs = Inputs::new(&student, &teacher, &shape);
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
            backend: "cpu".to_string(),
            adapter: "float64 reference".to_string(),
        });
    }
    let ctx = GpuContext::new(choice)?;
    let out = ctx.evaluate_with(spec, inputs, want_grad, precision)?;
    Ok(Evaluated {
        loss: f64::from(out.loss),
        grad: out.grad,
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
        println!("{json}");
    } else {
        let teacher = sparse_k.map_or(String::new(), |k| format!("sparse teacher K = {k}, "));
        println!(
            "{} loss = {loss:.9} ({backend}: {adapter}, {teacher}{elapsed_ms:.1} ms)",
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
            if !matches!(spec, LossSpec::Dkd(_)) {
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
    let teacher = wgpu_distill::SparseTeacher {
        ids: &ids,
        logprobs: &logprobs,
        k: ids_shape[1],
        tail: args.tail.unwrap_or(false),
    };
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

fn parse_shape(text: &str) -> Result<(usize, usize), Error> {
    let bad = || Error::Param(format!("shape '{text}' is not BxC (for example 256x1000)"));
    let (b, c) = text.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let b: usize = b.parse().map_err(|_| bad())?;
    let c: usize = c.parse().map_err(|_| bad())?;
    if b == 0 || c == 0 {
        return Err(bad());
    }
    Ok((b, c))
}

/// Liger-Kernel's default blend, `0.5·CE + 0.5·soft`, for the benchmark's `+hard` losses.
const LIGER_WEIGHTS: TokenOptions = TokenOptions {
    ignore_index: wgpu_distill::losses::DEFAULT_IGNORE_INDEX,
    normalizer: None,
    hard_weight: 0.5,
    soft_weight: 0.5,
};

/// A benchmark loss by name (`kl+sparse` is handled by the caller: it changes the inputs).
fn bench_spec(name: &str) -> Result<LossSpec, Error> {
    match name {
        "kl" => Ok(LossSpec::Kl(KlParams::new(4.0))),
        "kl+hard" => Ok(LossSpec::Kl(KlParams {
            temperature: 1.0,
            options: LIGER_WEIGHTS,
        })),
        "kl+soft" => Ok(LossSpec::Kl(KlParams {
            temperature: 1.0,
            options: TokenOptions {
                hard_weight: 0.0,
                ..LIGER_WEIGHTS
            },
        })),
        "jsd" => Ok(LossSpec::Jsd(JsdParams::default())),
        "jsd+hard" => Ok(LossSpec::Jsd(JsdParams {
            options: LIGER_WEIGHTS,
            ..JsdParams::default()
        })),
        "tvd" => Ok(LossSpec::Tvd(TvdParams::default())),
        "dist" => Ok(LossSpec::Dist(DistParams::default())),
        // DIST's official recipe, CE + 2·DIST.
        "dist+hard" => Ok(LossSpec::Dist(DistParams {
            hard_weight: 1.0,
            soft_weight: 2.0,
            ..DistParams::default()
        })),
        "dkd" => Ok(LossSpec::Dkd(wgpu_distill::losses::DkdParams::default())),
        other => Err(Error::Param(format!(
            "bench: unknown loss '{other}' (the benchmark takes B×C losses: kl, kl+soft, kl+hard, kl+sparse, jsd, jsd+hard, tvd, dist, dist+hard, dkd)"
        ))),
    }
}

fn bench(args: &BenchArgs) -> Result<(), Error> {
    use wgpu_distill::bench::{run_one, BenchOptions, Pass};
    let choice = parse_backend(&args.backend)?;
    if choice == BackendChoice::Cpu {
        return Err(Error::Param("bench needs a GPU backend, not cpu".into()));
    }
    let specs = args
        .loss
        .split(',')
        .map(|name| match name.trim() {
            "kl+sparse" => Ok((LossSpec::Kl(KlParams::new(1.0)), true)),
            other => bench_spec(other).map(|spec| (spec, false)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let shapes = args
        .shape
        .split(',')
        .map(parse_shape)
        .collect::<Result<Vec<_>, _>>()?;
    let dtypes = args
        .dtype
        .split(',')
        .map(|d| d.trim().parse::<InputDtype>())
        .collect::<Result<Vec<_>, _>>()?;
    let passes = args
        .pass
        .split(',')
        .map(|p| Pass::parse(p.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ctx = GpuContext::new(choice)?;
    ctx.set_strategy(wgpu_distill::Strategy {
        threads_per_row: args.threads_per_row,
        cached_rows: args.cached_rows,
        quads: args.quads,
        subgroups: args.subgroups,
        dist_grad_rows: args.dist_grad_rows,
        dist_row_reads: args.dist_row_reads,
        ..Default::default()
    })?;
    let adapter = ctx.adapter_summary().name;
    let backend = ctx.backend_name();
    if !args.json {
        println!("adapter: {adapter} ({backend})");
        println!(
            "{:<8} {:>11} {:>5} {:>13} {:>10} {:>10} {:>10} {:>9} {:>8} {:>9} {:>9} {:>4} {:>5}",
            "loss",
            "shape",
            "dtype",
            "pass",
            "gpu ms",
            "roof ms",
            "wall ms",
            "enc us",
            "warm us",
            "GB/s",
            "roof frac",
            "disp",
            "reads"
        );
    }
    let options = BenchOptions {
        warmup: 3,
        iters: args.iters,
        per_dispatch: args.per_dispatch,
        roofline: !args.no_roofline,
    };
    let total = specs.len() * shapes.len() * passes.len() * dtypes.len();
    let mut done = 0;
    for &(b, c) in &shapes {
        let dense = wgpu_distill::bench::BenchInputs::synthetic(b, c);
        // The same logits with the teacher's top k, for kl+sparse.
        let sparse = specs
            .iter()
            .any(|(_, s)| *s)
            .then(|| dense.sparse_copy(args.sparse_k));
        for (spec, is_sparse) in &specs {
            let data = match (&sparse, is_sparse) {
                (Some(s), true) => s,
                _ => &dense,
            };
            for &dtype in &dtypes {
                for &pass in &passes {
                    done += 1;
                    eprintln!(
                        "[{done}/{total}] {} {b}x{c} {} {}",
                        if *is_sparse {
                            "kl sparse"
                        } else {
                            wgpu_distill::bench::bench_name(spec)
                        },
                        dtype.name(),
                        pass.name()
                    );
                    let result = match run_one(&ctx, spec, data, dtype, pass, &options) {
                        Ok(r) => r,
                        Err(Error::Limit(why)) => {
                            eprintln!("  skipped: {why}");
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if args.json {
                        println!("{}", result.to_json(&adapter, backend));
                    } else {
                        println!(
                        "{:<8} {:>11} {:>5} {:>13} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>8.1} {:>9.1} {:>9.3} {:>4} {:>5}",
                        result.loss,
                        format!("{b}x{c}"),
                        result.dtype,
                        pass.name(),
                        result.gpu_ms,
                        result.roofline_ms,
                        result.wall_ms,
                        result.encode_us,
                        result.encode_warm_us,
                        result.gbps,
                        result.roofline_fraction,
                        result.dispatches,
                        result.input_reads.map_or("-".to_string(), |r| r.to_string())
                    );
                        for (kernel, ms) in &result.dispatch_ms {
                            println!("      {kernel:<28} {ms:>10.3} ms");
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The loss's relative error and the gradient's largest error over its largest magnitude.
fn relative_errors(gpu: &wgpu_distill::LossOutput, cpu: &reference::ReferenceOutput) -> (f64, f64) {
    let rel = (f64::from(gpu.loss) - cpu.loss).abs() / cpu.loss.abs().max(1e-30);
    let max_ref = cpu.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let max_err = gpu
        .grad
        .iter()
        .flatten()
        .zip(&cpu.grad)
        .fold(0.0f64, |m, (g, r)| m.max((f64::from(*g) - r).abs()));
    (rel, max_err / max_ref.max(1e-30))
}

/// The main job: every loss, a few realistic shapes, GPU against the float64 reference.
fn self_check() -> Result<(), Error> {
    let ctx = GpuContext::new(BackendChoice::Auto)?;
    let summary = ctx.adapter_summary();
    println!(
        "wgpu-distill self-check on {} ({}, {})",
        summary.name,
        ctx.backend_name(),
        summary.device_type
    );
    println!(
        "{:<8} {:>15} {:>15} {:>15} {:>10} {:>14} {:>10}",
        "loss", "shape", "gpu", "reference", "rel err", "grad err/max", "gpu ms"
    );
    use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
    let logits = [vec![64usize, 100], vec![256, 1000], vec![32, 32000]];
    let mut cases: Vec<(LossSpec, Vec<usize>)> = vec![];
    for spec in [
        LossSpec::Kl(KlParams::new(4.0)),
        LossSpec::Dist(DistParams::default()),
        LossSpec::Dkd(DkdParams::default()),
    ] {
        cases.extend(logits.iter().map(|d| (spec, d.clone())));
    }
    // The token losses, with labels (every fifth row ignored) and a hard term.
    let token = TokenOptions {
        hard_weight: 0.5,
        soft_weight: 0.5,
        ..TokenOptions::default()
    };
    for spec in [
        LossSpec::Kl(KlParams {
            temperature: 2.0,
            options: token,
        }),
        LossSpec::Jsd(JsdParams {
            options: token,
            ..JsdParams::default()
        }),
        LossSpec::Tvd(TvdParams::default()),
    ] {
        cases.extend(logits[1..].iter().map(|d| (spec, d.clone())));
    }
    cases.extend([
        (LossSpec::Fitnet, vec![64, 128, 8, 8]),
        (LossSpec::At(AtParams::default()), vec![64, 128, 8, 8]),
        (LossSpec::Ickd(IckdParams::default()), vec![32, 64, 8, 8]),
        (LossSpec::Hcl, vec![16, 64, 7, 7]),
        (LossSpec::Rkd(RkdParams::default()), vec![64, 128]),
    ]);
    let mut worst: f64 = 0.0;
    for (i, (spec, dims)) in cases.iter().enumerate() {
        let n: usize = dims.iter().product();
        let (student, teacher) = synthetic::logit_pair(
            42 + i as u64,
            n / dims[dims.len() - 1],
            dims[dims.len() - 1],
            3.0,
        );
        let token = spec.token_options().is_some();
        let labels: Vec<i64> = (0..dims[0])
            .map(|r| match r % 5 {
                4 if token => wgpu_distill::losses::DEFAULT_IGNORE_INDEX,
                _ => ((r * 7) % dims[1]) as i64,
            })
            .collect();
        let mut inputs = Inputs::new(&student, &teacher, dims);
        if spec.needs_labels() || token {
            inputs = inputs.with_labels(&labels);
        }
        ctx.evaluate(spec, &inputs, true)?; // warm-up: pipelines, allocation
        let start = Instant::now();
        let gpu = ctx.evaluate(spec, &inputs, true)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let cpu = reference::evaluate(spec, &inputs)?;
        let (rel, grad_rel) = relative_errors(&gpu, &cpu);
        worst = worst.max(rel).max(grad_rel);
        let shape = dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        println!(
            "{:<8} {:>15} {:>15.8} {:>15.8} {:>10.2e} {:>14.2e} {:>10.2}",
            wgpu_distill::bench::bench_name(spec),
            shape,
            gpu.loss,
            cpu.loss,
            rel,
            grad_rel,
            ms
        );
    }
    // KL against the teacher's top 64 (a sparse teacher), with and without the tail.
    let data = wgpu_distill::bench::BenchInputs::synthetic(32, 32000).with_sparse_teacher(64);
    if let Some(sparse) = &data.sparse {
        for tail in [false, true] {
            let teacher = wgpu_distill::SparseTeacher {
                ids: &sparse.ids,
                logprobs: &sparse.logprobs,
                k: sparse.k,
                tail,
            };
            let dims = [data.rows, data.cols];
            let inputs = Inputs::with_sparse_teacher(&data.student, teacher, &dims);
            let spec = LossSpec::Kl(KlParams::new(1.0));
            ctx.evaluate(&spec, &inputs, true)?;
            let start = Instant::now();
            let gpu = ctx.evaluate(&spec, &inputs, true)?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let cpu = reference::evaluate(&spec, &inputs)?;
            let (rel, grad_rel) = relative_errors(&gpu, &cpu);
            worst = worst.max(rel).max(grad_rel);
            println!(
                "{:<8} {:>15} {:>15.8} {:>15.8} {:>10.2e} {:>14.2e} {:>10.2}",
                if tail { "kl k64+t" } else { "kl k64" },
                format!("{}x{}", dims[0], dims[1]),
                gpu.loss,
                cpu.loss,
                rel,
                grad_rel,
                ms
            );
        }
    }
    if worst > 1e-3 {
        return Err(Error::Device(format!(
            "self-check failed: worst relative error {worst:.2e} exceeds 1e-3"
        )));
    }
    println!("all within tolerance (worst relative error {worst:.2e}); 'gpu ms' is wall time per host call");
    Ok(())
}
