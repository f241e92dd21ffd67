//! One training step (forward + backward + wait) of a language-model head with a KL loss
//! (T = 1): unfused (burn's `hidden.matmul(weight.transpose())`, then `distill_loss` on the
//! N×V logits, against dense teacher logits), and `fused_linear_loss` with a dense teacher head
//! and with a sparse top-k teacher (K = 32); peak memory and median step time, in one run on
//! one adapter.
//!
//! Peak memory: each configuration runs in its own process (this binary re-started with
//! `--one`); on lavapipe, device memory is process memory, so the figure is the process's peak
//! resident set during the steps less its resident set just before the first step (the peak is
//! reset there through `/proc/self/clear_refs`). The inputs (hidden states, weights, the
//! teacher) are allocated, and the kernels compiled by a step on 8 rows, before that point, so
//! the figure is what a step adds. Beside it, burn's memory pool (cubecl's): the bytes it
//! reserves after the steps less the bytes in use before them (the inputs). A pool keeps its
//! pages, so this bounds the steps' high-water mark in device memory from above (pool slack
//! included), on any adapter, without the code, compiler and driver memory that the resident
//! set also counts.
//!
//! ```sh
//! cargo bench -p wgpu-distill-burn --bench fused_head [-- --shapes 1024x64x32000 --iters 3 --budget-mib 64]
//! ```

use std::process::Command;
use std::time::Instant;

use burn::backend::DispatchDevice;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_cubecl::cubecl::wgpu::{AutoCompiler, WgpuRuntime};
use burn_cubecl::cubecl::MemoryScope;
use burn_cubecl::CubeDevice;
use cubecl_runtime::runtime::Runtime;
use wgpu_distill::{KlParams, LossSpec};
use wgpu_distill_burn::{
    distill_loss, fused_linear_loss_with, FusedOptions, LinearHead, Teacher, DEFAULT_MEMORY_BUDGET,
};

const CONFIGS: [&str; 3] = ["unfused", "fused-head", "fused-sparse"];
const K: usize = 32;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Burn's memory pool on `device`'s wgpu device (every stream): bytes in use, bytes reserved.
fn pool_usage(device: &Device) -> (u64, u64) {
    fn wgpu_of(device: &DispatchDevice) -> Option<burn_cubecl::cubecl::wgpu::WgpuDevice> {
        #[allow(unreachable_patterns)]
        match device {
            DispatchDevice::Cube(CubeDevice::Wgpu(w)) => Some(w.clone()),
            DispatchDevice::Autodiff(inner) => wgpu_of(inner),
            _ => None,
        }
    }
    wgpu_of(device.as_dispatch()).map_or((0, 0), |w| {
        let usage = WgpuRuntime::<AutoCompiler>::client(&w)
            .memory_report(MemoryScope::Device)
            .usage();
        (usage.bytes_in_use, usage.bytes_reserved)
    })
}

/// Runs one configuration in this process: prints `config n h v peak_mib median_ms pool_mib`.
fn one(
    config: &str,
    (n, h, v): (usize, usize, usize),
    iters: usize,
    budget: u64,
) -> Result<(), String> {
    let options = FusedOptions::default().with_memory_budget(budget);
    let device = wgpu_distill_burn::init_device(Device::wgpu_options())
        .map_err(|e| e.to_string())?
        .autodiff();
    device.seed(3);
    let normal =
        |dims: [usize; 2], s: f64| Tensor::<2>::random(dims, Distribution::Normal(0.0, s), &device);
    let hidden = normal([n, h], 1.0).require_grad();
    let weight = normal([v, h], 0.1).require_grad();
    let teacher_hidden = normal([n, h], 1.0);
    let teacher_weight = normal([v, h], 0.1);
    let spec = LossSpec::Kl(KlParams::new(1.0));
    // The unfused path's teacher is its logits (what it must hold); a sparse teacher's K ids
    // per row spread over V with log-probs of a distribution.
    let teacher_logits = (config == "unfused").then(|| {
        teacher_hidden
            .clone()
            .matmul(teacher_weight.clone().transpose())
            .detach()
    });
    let ids: Vec<i64> = (0..n * K)
        .map(|i| ((i % K) * (v / K) + (i / K) % (v / K)) as i64)
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, K]), &device);
    let logprobs = Tensor::<2>::from_data(
        TensorData::new(vec![-(K as f32).ln() - 0.1; n * K], [n, K]),
        &device,
    );
    // A step on the first `rows` rows (the warm-up compiles the kernels on a small batch).
    let step_on = |rows: usize| -> Result<(), String> {
        let rows_of = |t: &Tensor<2>| t.clone().narrow(0, 0, rows);
        let hidden = rows_of(&hidden);
        let student = LinearHead::new(hidden.clone(), weight.clone());
        let loss = match config {
            "unfused" => {
                let logits = hidden.clone().matmul(weight.clone().transpose());
                let teacher = teacher_logits.as_ref().ok_or("no teacher logits")?;
                distill_loss(&spec, logits, rows_of(teacher), None)
            }
            "fused-head" => fused_linear_loss_with(
                &spec,
                student,
                Teacher::Head(LinearHead::new(
                    rows_of(&teacher_hidden),
                    teacher_weight.clone(),
                )),
                None,
                &options,
            ),
            _ => fused_linear_loss_with(
                &spec,
                student,
                Teacher::Sparse {
                    ids: ids.clone().narrow(0, 0, rows),
                    logprobs: rows_of(&logprobs),
                },
                None,
                &options,
            ),
        }
        .map_err(|e| e.to_string())?;
        let grads = loss.backward();
        let gw = weight.grad(&grads).ok_or("no weight gradient")?;
        // Wait for the step: read one value of the gradient.
        let _ = gw.slice([0..1, 0..1]).into_scalar::<f32>();
        Ok(())
    };
    // Compile the kernels on 8 rows; then the inputs exist: reset the peak, take the baseline.
    step_on(n.min(8))?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let (in_use_before, _) = pool_usage(&device);
    let mut times = vec![];
    for _ in 0..iters + 1 {
        let start = Instant::now();
        step_on(n)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let peak = status_kib("VmHWM:");
    let pool = pool_usage(&device).1.saturating_sub(in_use_before);
    // The first full step may still tune burn's matmul for its shape: the median of the others.
    let mut timed = times[1..].to_vec();
    timed.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = timed[timed.len() / 2];
    println!(
        "{config} {n} {h} {v} {:.1} {median:.1} {:.1}",
        peak.saturating_sub(before) as f64 / 1024.0,
        pool as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iters: usize = arg(&args, "--iters")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let budget = arg(&args, "--budget-mib")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_MEMORY_BUDGET, |mib| mib << 20);
    let parse = |s: &str| -> (usize, usize, usize) {
        let p: Vec<usize> = s.split('x').map(|x| x.parse().expect("NxHxV")).collect();
        (p[0], p[1], p[2])
    };
    if let Some(config) = arg(&args, "--one") {
        let shape = parse(&arg(&args, "--shape").expect("--shape NxHxV"));
        if let Err(e) = one(&config, shape, iters, budget) {
            println!("{config} {} {} {} failed: {e}", shape.0, shape.1, shape.2);
        }
        return;
    }
    let shapes = arg(&args, "--shapes")
        .unwrap_or_else(|| "1024x64x32000,256x64x128256,4096x64x32000".into());
    let exe = std::env::current_exe().expect("this benchmark's path");
    println!(
        "config N H V peak_MiB median_step_ms pool_MiB (kl, T = 1; sparse K = {K}; fused budget {} MiB; one process per row)",
        budget >> 20
    );
    for shape in shapes.split(',') {
        for config in CONFIGS {
            let out = Command::new(&exe)
                .args([
                    "--one",
                    config,
                    "--shape",
                    shape,
                    "--iters",
                    &iters.to_string(),
                    "--budget-mib",
                    &(budget >> 20).to_string(),
                ])
                .output()
                .expect("re-running this benchmark");
            let text = String::from_utf8_lossy(&out.stdout);
            let last_err = String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .find(|l| l.contains("panicked") || l.contains("rror"))
                .unwrap_or("")
                .to_string();
            match text.lines().last() {
                Some(line) if out.status.success() => println!("{line}"),
                _ => println!("{config} {shape}: exited {} ({last_err})", out.status),
            }
        }
    }
}
