//! `wgpu-distill bench`: each loss timed against the adapter's memory roofline, measured in the
//! same run.

use clap::Args;
use wgpu_distill::{
    BackendChoice, Error, GpuContext, InputDtype, KlParams, LossSpec, ParamValues, TokenOptions,
};

use crate::parse_backend;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Comma list of losses: kl (T = 4), kl+soft (T = 1, 0.5·KL through the token skeleton,
    /// with labels), kl+hard (the same plus 0.5·CE), kl+sparse (T = 1, a top-k teacher of
    /// --sparse-k ids), kl+sparse+over-ids (the same, the student renormalised over the ids), jsd (β = 0.5), jsd+hard, tvd (with labels, nothing masked), dist,
    /// dist+hard (CE + 2·DIST), dkd, ttm (WTTM, γ = 0.1), nkd (T = 1, γ = 1.5, with labels),
    /// kl+ls (T = 4, LS), kl+ls+ctkd (T = 4, LS and ∂L/∂T), kl+ctkd (T = 4, ∂L/∂T); sp and
    /// pkt (B×D features, the teacher as wide as the student).
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
    /// Reads of each row by DIST's streaming row pass: 1 (online moments, the default) or 2.
    #[arg(long)]
    dist_row_reads: Option<u32>,
    /// Rows per tile of DIST's column statistics (default: chosen from the shape and adapter).
    #[arg(long)]
    tile_rows: Option<u32>,
    /// One JSON object per result line.
    #[arg(long)]
    json: bool,
    /// Also write a chart of each result's fraction of the roofline (an SVG file).
    #[arg(long)]
    plot: Option<String>,
    /// Also time each dispatch alone (needs timestamps), printed under its result.
    #[arg(long)]
    per_dispatch: bool,
    /// Run the loss alone, without the roofline kernel (its figures print as NaN, null in
    /// JSON): for instruction counting (scripts/lavapipe-instructions.sh).
    #[arg(long)]
    no_roofline: bool,
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

/// A benchmark loss by name: a registered loss (`wgpu_distill::losses::REGISTRY`) with the
/// benchmark's parameters (`kl+sparse` is handled by the caller: it changes the inputs).
fn bench_spec(name: &str) -> Result<LossSpec, Error> {
    // Liger-Kernel's default blend, `0.5·CE + 0.5·soft`, for the `+hard` losses.
    let liger = ParamValues::new()
        .with("hard-weight", 0.5)
        .with("soft-weight", 0.5);
    let (loss, values) = match name {
        "kl" => ("kl", ParamValues::new().with("temperature", 4.0)),
        "kl+hard" => ("kl", liger),
        "kl+soft" => ("kl", ParamValues::new().with("soft-weight", 0.5)),
        "jsd+hard" => ("jsd", liger),
        // DIST's official recipe, CE + 2·DIST.
        "dist+hard" => (
            "dist",
            ParamValues::new()
                .with("hard-weight", 1.0)
                .with("soft-weight", 2.0),
        ),
        // WTTM at the paper's ImageNet power.
        "ttm" => (
            "ttm",
            ParamValues::new()
                .with("power", 0.1)
                .with("weighted", true),
        ),
        // Gemma 2's final-logit cap.
        "kl+softcap" => (
            "kl",
            ParamValues::new()
                .with("temperature", 4.0)
                .with("softcap", 30.0),
        ),
        "kl+ls" => ("kl", ParamValues::new().with("temperature", 4.0).with("standardize", true)),
        "kl+ctkd" => (
            "kl",
            ParamValues::new()
                .with("temperature", 4.0)
                .with("temperature-grad", true),
        ),
        "kl+ls+ctkd" => (
            "kl",
            ParamValues::new()
                .with("temperature", 4.0)
                .with("standardize", true)
                .with("temperature-grad", true),
        ),
        "ttm+ls" => (
            "ttm",
            ParamValues::new()
                .with("power", 0.1)
                .with("weighted", true)
                .with("standardize", true),
        ),
        "dkd+ls" => ("dkd", ParamValues::new().with("standardize", true)),
        // MLKD at the paper's five temperatures, with LS.
        "mlkd+ls" => ("mlkd", ParamValues::new().with("standardize", true)),
        // MLKD's instance term alone (the correlations at weight 0 are skipped): its five
        // temperatures from one read, against one kl call.
        "mlkd+kd-only" => (
            "mlkd",
            ParamValues::new()
                .with("cc-weight", 0.0)
                .with("bc-weight", 0.0),
        ),
        "jsd" | "tvd" | "skl" | "srkl" | "dist" | "dkd" | "nkd" | "mlkd" | "sp" | "pkt" => {
            (name, ParamValues::new())
        }
        other => {
            return Err(Error::Param(format!(
                "bench: unknown loss '{other}' (the benchmark takes B×C losses: kl, kl+soft, kl+hard, kl+sparse, kl+sparse+over-ids, kl+softcap, kl+ls, kl+ctkd, kl+ls+ctkd, jsd, jsd+hard, tvd, skl, srkl, dist, dist+hard, dkd, dkd+ls, ttm, ttm+ls, nkd, mlkd (C ≤ 4096), mlkd+ls, mlkd+kd-only; sp and pkt on B×D features)"
            )))
        }
    };
    wgpu_distill::losses::build(loss, &values)
}

pub(crate) fn bench(args: &BenchArgs) -> Result<(), Error> {
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
            "kl+sparse+over-ids" => {
                let options = TokenOptions::default().with_student_over_ids(true);
                Ok((LossSpec::Kl(KlParams::new(1.0).with_options(options)), true))
            }
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
    // One call may take minutes on a CPU adapter (MLKD's Grams at 4096×1000 on lavapipe: over
    // the library's default two-minute wait); the benchmark waits an hour.
    ctx.set_timeout(std::time::Duration::from_secs(3600));
    ctx.set_strategy(
        wgpu_distill::Strategy::default()
            .with_threads_per_row(args.threads_per_row)
            .with_cached_rows(args.cached_rows)
            .with_quads(args.quads)
            .with_subgroups(args.subgroups)
            .with_dist_grad_rows(args.dist_grad_rows)
            .with_dist_row_reads(args.dist_row_reads)
            .with_tile_rows(args.tile_rows),
    )?;
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
    let mut bars = vec![];
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
                        if *is_sparse && spec.token_options().is_some_and(|o| o.student_over_ids) {
                            "kl sparse over ids"
                        } else if *is_sparse {
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
                    if result.roofline_fraction.is_finite() {
                        let pass = if passes.len() > 1 {
                            format!(" {}", pass.name())
                        } else {
                            String::new()
                        };
                        let dtype = if dtypes.len() > 1 {
                            format!(" {}", result.dtype)
                        } else {
                            String::new()
                        };
                        bars.push(crate::plot::Bar {
                            loss: format!("{}{dtype}{pass}", result.loss),
                            shape: format!("{b}x{c}"),
                            fraction: result.roofline_fraction,
                        });
                    }
                    if args.json {
                        println!("{}", crate::json::bench_result(&result, &adapter, backend));
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
    if let Some(path) = &args.plot {
        crate::plot::write(path, &bars, &format!("{adapter} ({backend})"))?;
        eprintln!("chart written to {path}");
    }
    Ok(())
}
