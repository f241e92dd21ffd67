//! The linear student of `train_student.rs` (DIST + KL at T = 4 against a fixed random
//! teacher, synthetic features) trained data-parallel across the ranks of an MPI job.
//!
//! Each step every rank takes its share of the batch's rows (unequal shares), computes its
//! logits on the host, and asks `evaluate_distributed` for the WHOLE batch's DIST and KL and
//! their gradients with respect to its rows; its weight gradient `Xᵀ·G` is summed over the
//! ranks with MPI's all-reduce, and every rank takes the same SGD step. At the end rank 0
//! trains the same student in one process on whole batches (plain `evaluate`) and checks the
//! weights agree; all ranks check they hold the same bits.
//!
//! ```sh
//! cargo build --release --features mpi --example data_parallel
//! mpirun -np 3 target/release/examples/data_parallel [--epochs N] [--backend vulkan|gl]
//! ```

use std::io::{IsTerminal, Write};

use mpi::collective::SystemOperation;
use mpi::traits::*;
use wgpu_distill::distributed::{Collective, MpiCollective};
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, GpuContext, Inputs, KlParams, LossOutput, LossSpec,
};

const SAMPLES: usize = 1024;
const FEATURES: usize = 32;
const CLASSES: usize = 10;
const BATCH: usize = 128;
const LEARNING_RATE: f32 = 0.5;

/// `rows × CLASSES` logits of rows `first..first + rows` of `x` under `w` (FEATURES × CLASSES).
fn logits(x: &[f32], w: &[f32], first: usize, rows: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * CLASSES];
    for r in 0..rows {
        let xr = &x[(first + r) * FEATURES..(first + r + 1) * FEATURES];
        for (f, xf) in xr.iter().enumerate() {
            for c in 0..CLASSES {
                out[r * CLASSES + c] += xf * w[f * CLASSES + c];
            }
        }
    }
    out
}

/// `Xᵀ·G` for rows `first..first + rows` (FEATURES × CLASSES), in f64.
fn weight_grad(x: &[f32], g: &[f32], first: usize, rows: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; FEATURES * CLASSES];
    for r in 0..rows {
        for f in 0..FEATURES {
            let xf = f64::from(x[(first + r) * FEATURES + f]);
            for c in 0..CLASSES {
                out[f * CLASSES + c] += xf * f64::from(g[r * CLASSES + c]);
            }
        }
    }
    out
}

/// This rank's rows of a batch: shares of 1, 2, 3, … parts (unequal on purpose).
fn share(rank: usize, size: usize) -> (usize, usize) {
    let parts: usize = (1..=size).sum();
    let cut = |k: usize| BATCH * (1..=k).sum::<usize>() / parts;
    (cut(rank), cut(rank + 1) - cut(rank))
}

fn specs() -> [LossSpec; 2] {
    [
        LossSpec::Dist(
            DistParams::default()
                .with_temperature(4.0)
                .with_beta(1.0)
                .with_gamma(1.0),
        ),
        LossSpec::Kl(KlParams::new(4.0)),
    ]
}

/// One SGD step on rows `first..first + rows` through `evaluate`: the loss, and ∂L/∂W summed
/// over whoever holds the batch (`sum`).
fn step(
    w: &mut [f32],
    x: &[f32],
    w_teacher: &[f32],
    (first, rows): (usize, usize),
    evaluate: &mut dyn FnMut(&LossSpec, &Inputs<'_>) -> wgpu_distill::Result<LossOutput>,
    sum: &mut dyn FnMut(&[f64]) -> Vec<f64>,
) -> wgpu_distill::Result<f32> {
    let student = logits(x, w, first, rows);
    let teacher = logits(x, w_teacher, first, rows);
    let shape = [rows, CLASSES];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let mut loss = 0.0;
    let mut grad = vec![0.0f32; rows * CLASSES];
    for spec in specs() {
        let out = evaluate(&spec, &inputs)?;
        loss += out.loss;
        for (g, d) in grad.iter_mut().zip(out.grad.unwrap_or_default()) {
            *g += d;
        }
    }
    let summed = sum(&weight_grad(x, &grad, first, rows));
    for (wi, g) in w.iter_mut().zip(summed) {
        *wi -= LEARNING_RATE * g as f32;
    }
    Ok(loss)
}

fn agreement(x: &[f32], w: &[f32], w_teacher: &[f32]) -> f32 {
    let argmax = |row: &[f32]| {
        (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0)
    };
    let (s, t) = (logits(x, w, 0, SAMPLES), logits(x, w_teacher, 0, SAMPLES));
    let same = (0..SAMPLES)
        .filter(|&r| {
            argmax(&s[r * CLASSES..(r + 1) * CLASSES]) == argmax(&t[r * CLASSES..(r + 1) * CLASSES])
        })
        .count();
    same as f32 / SAMPLES as f32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let world = MpiCollective::world()?;
    let (rank, size) = (world.rank(), world.size());
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let epochs: usize = value("--epochs")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(5);
    let backend: BackendChoice = value("--backend")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or_default();
    // One GPU per rank on a machine with several.
    let ctx = GpuContext::new_for_rank(backend, world.local_rank())?;
    let x = synthetic::normal_vec(1, SAMPLES * FEATURES, 1.0);
    let w_teacher = synthetic::normal_vec(2, FEATURES * CLASSES, 1.0);
    let w_start = synthetic::normal_vec(3, FEATURES * CLASSES, 0.1);
    let (offset, rows) = share(rank, size);
    if rank == 0 {
        println!(
            "data-parallel DIST + KL over {size} rank(s): batch {BATCH}, rows per rank {:?}",
            (0..size).map(|r| share(r, size).1).collect::<Vec<_>>()
        );
    }

    let mut w = w_start.clone();
    let mut all_reduce = |local: &[f64]| {
        let mut summed = vec![0.0f64; local.len()];
        world
            .communicator()
            .all_reduce_into(local, &mut summed[..], SystemOperation::sum());
        summed
    };
    for epoch in 1..=epochs {
        let mut loss = 0.0;
        for batch in 0..SAMPLES / BATCH {
            let mut distributed = |spec: &LossSpec, inputs: &Inputs<'_>| {
                ctx.evaluate_distributed(spec, inputs, &world, true)
            };
            loss = step(
                &mut w,
                &x,
                &w_teacher,
                (batch * BATCH + offset, rows),
                &mut distributed,
                &mut all_reduce,
            )?;
        }
        if rank == 0 {
            if std::io::stderr().is_terminal() {
                let done = epoch * 30 / epochs;
                eprint!(
                    "\r[{}{}] {epoch}/{epochs}",
                    "#".repeat(done),
                    " ".repeat(30 - done)
                );
                let _ = std::io::stderr().flush();
            }
            println!(
                "\repoch {epoch:>3}  loss {loss:>9.5}  top-1 agreement {:>5.1}%",
                100.0 * agreement(&x, &w, &w_teacher)
            );
        }
    }

    // Every rank holds the same weights, bit for bit.
    let bits: Vec<f64> = w.iter().map(|v| f64::from(v.to_bits())).collect();
    let gathered = world.all_gather(&bits)?;
    if gathered.chunks_exact(bits.len()).any(|other| other != bits) {
        return Err(format!("rank {rank}: the ranks' weights differ").into());
    }
    if rank == 0 {
        // One process, whole batches: the same training.
        let mut single = w_start;
        let mut identity = |local: &[f64]| local.to_vec();
        for _ in 0..epochs {
            for batch in 0..SAMPLES / BATCH {
                let mut whole =
                    |spec: &LossSpec, inputs: &Inputs<'_>| ctx.evaluate(spec, inputs, true);
                step(
                    &mut single,
                    &x,
                    &w_teacher,
                    (batch * BATCH, BATCH),
                    &mut whole,
                    &mut identity,
                )?;
            }
        }
        let scale = single.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = w
            .iter()
            .zip(&single)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "every rank holds the same weights; against one process on whole batches: max |Δw| = {diff:.2e} (max |w| = {scale:.3})"
        );
        if diff > 1e-4 * scale {
            return Err(
                format!("data-parallel and single-process weights differ by {diff}").into(),
            );
        }
    }
    Ok(())
}
