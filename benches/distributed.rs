//! What `evaluate_distributed` costs over `evaluate` on the same local rows: the header, the
//! statistics' readback and all-gathers (feature `mpi`).
//!
//! `cargo bench --features mpi --bench distributed -- [--ranks 2] [--iters 20] [--backend vulkan]`
//!
//! Started by cargo, the binary runs itself under `mpirun -np <ranks>` on this machine; every
//! rank holds `rows × 1000` logits of its own, and every timed call starts after a barrier, so
//! `evaluate` is measured under the same sharing of the machine as `evaluate_distributed`.
//! Rank 0 prints the medians.

use std::process::{Command, Stdio};
use std::time::Instant;

use mpi::traits::*;
use wgpu_distill::distributed::{Collective, MpiCollective};
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, DkdParams, GpuContext, Inputs, KlParams, LossSpec,
    TokenOptions,
};

const CLASSES: usize = 1000;

fn value(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() || std::env::var_os("PMI_SIZE").is_some()
    {
        rank_main();
        return;
    }
    let ranks = value("--ranks").unwrap_or_else(|| "2".into());
    let me = std::env::current_exe().expect("the bench binary's path");
    let passed: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let status = Command::new("mpirun")
        .args(["--oversubscribe", "--mca", "btl", "self,vader"])
        .args(["--mca", "oob_tcp_if_include", "lo", "-np", &ranks])
        .arg(me)
        .args(passed)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .stdin(Stdio::null())
        .status()
        .expect("mpirun (install openmpi-bin: see the README)");
    std::process::exit(status.code().unwrap_or(1));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rank_main() {
    let world = MpiCollective::world().expect("MPI");
    let (rank, size) = (world.rank(), world.size());
    let iters: usize = value("--iters").and_then(|v| v.parse().ok()).unwrap_or(20);
    let backend: BackendChoice = value("--backend")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let ctx = GpuContext::new(backend).expect("an adapter");
    if rank == 0 {
        println!(
            "evaluate_distributed vs evaluate on each rank's own rows: {size} rank(s) on one machine, {}, {iters} calls (median), loss and gradient",
            {
                let a = ctx.adapter_summary();
                format!("{} ({}, {})", a.name, a.backend, a.driver)
            }
        );
        println!(
            "{:<12} {:>12} {:>14} {:>18} {:>8} {:>12}",
            "loss", "rows/rank", "evaluate ms", "distributed ms", "ratio", "extra ms"
        );
    }
    let hard = TokenOptions::default()
        .with_hard_weight(0.5)
        .with_soft_weight(0.5);
    let specs = [
        ("kl", LossSpec::Kl(KlParams::new(4.0))),
        (
            "kl+masked",
            LossSpec::Kl(KlParams::new(1.0).with_options(hard)),
        ),
        ("dist", LossSpec::Dist(DistParams::default())),
        ("dkd", LossSpec::Dkd(DkdParams::default())),
    ];
    for rows in [256, 4096] {
        let (student, teacher) = synthetic::logit_pair(rank as u64, rows, CLASSES, 3.0);
        let labels: Vec<i64> = (0..rows as i64)
            .map(|r| {
                if r % 7 == 3 {
                    -100
                } else {
                    (r * 13) % CLASSES as i64
                }
            })
            .collect();
        let targets: Vec<i64> = labels.iter().map(|&l| l.max(0)).collect();
        let shape = [rows, CLASSES];
        for (name, spec) in &specs {
            let mut inputs = Inputs::new(&student, &teacher, &shape);
            match *name {
                "kl+masked" => inputs = inputs.with_labels(&labels),
                "dkd" => inputs = inputs.with_labels(&targets),
                _ => {}
            }
            let time = |distributed: bool| {
                let mut times = Vec::with_capacity(iters);
                for i in 0..iters + 2 {
                    world.communicator().barrier();
                    let start = Instant::now();
                    let out = if distributed {
                        ctx.evaluate_distributed(spec, &inputs, &world, true)
                    } else {
                        ctx.evaluate(spec, &inputs, true)
                    };
                    let took = start.elapsed().as_secs_f64() * 1e3;
                    out.unwrap_or_else(|e| panic!("rank {rank} {name}: {e}"));
                    if i >= 2 {
                        times.push(took);
                    }
                }
                median(times)
            };
            let local = time(false);
            let distributed = time(true);
            // The slowest rank decides a step: report the largest median over the ranks.
            let worst = world.all_gather(&[local, distributed]).unwrap();
            let local = worst.iter().step_by(2).fold(0.0f64, |m, &v| m.max(v));
            let distributed = worst
                .iter()
                .skip(1)
                .step_by(2)
                .fold(0.0f64, |m, &v| m.max(v));
            if rank == 0 {
                println!(
                    "{name:<12} {rows:>12} {local:>14.2} {distributed:>18.2} {:>8.2} {:>12.2}",
                    distributed / local,
                    distributed - local
                );
            }
        }
    }
}
