//! Numerical fidelity: on the conditioning-sensitive cases of `tests/fixtures/golden_fidelity/`
//! (near-uniform softmaxes: a student at initialisation, high temperatures, columns that barely
//! vary over the batch), every logit kernel is at least as close to float64 as PyTorch float32
//! is: loss and gradient errors at most twice PyTorch's (floors 1e-7 on the loss, 1e-6 on the
//! gradient relative to its largest magnitude), on Vulkan and GL, at every strategy forced.
//! The README's "Numerics" section says why the kernels reach it.

use crate::common::*;
use wgpu_distill::{reference, synthetic, BackendChoice, Inputs, LossSpec, Strategy};

/// One case of the fidelity manifest, with what PyTorch float32 reaches on it.
struct FidelityCase {
    golden: Golden,
    torch_loss_rel_err: f64,
    torch_grad_rel_err: f64,
}

fn fidelity_cases() -> Vec<FidelityCase> {
    manifest_cases(&fixtures().with_file_name("golden_fidelity"))
        .into_iter()
        .map(|(golden, entry)| FidelityCase {
            golden,
            torch_loss_rel_err: entry["torch_f32_loss_rel_err"].as_f64().unwrap(),
            torch_grad_rel_err: entry["torch_f32_grad_rel_err"].as_f64().unwrap(),
        })
        .collect()
}

/// The strategies the tests force, each a named variation of the default.
fn strategies(backend: BackendChoice) -> Vec<(&'static str, Strategy)> {
    let mut list = vec![
        ("default", Strategy::default()),
        (
            "one-class kernels",
            Strategy::default().with_quads(Some(false)),
        ),
        (
            "cached rows",
            Strategy::default().with_cached_rows(Some(true)),
        ),
        (
            "cached rows, one-class",
            Strategy::default()
                .with_cached_rows(Some(true))
                .with_quads(Some(false)),
        ),
        (
            "1 row per DIST gradient segment",
            Strategy::default().with_dist_grad_rows(Some(1)),
        ),
        (
            "4 rows per DIST gradient segment",
            Strategy::default().with_dist_grad_rows(Some(4)),
        ),
        (
            "row chunks of 40, 64 lanes a row",
            Strategy::default()
                .with_chunk_rows(Some(40))
                .with_threads_per_row(Some(64)),
        ),
        (
            "two-read DIST rows",
            Strategy::default().with_dist_row_reads(Some(2)),
        ),
        (
            "one-read DIST rows",
            Strategy::default().with_dist_row_reads(Some(1)),
        ),
        (
            "one-read DIST rows, one-class, 256 lanes a row",
            Strategy::default()
                .with_dist_row_reads(Some(1))
                .with_quads(Some(false))
                .with_threads_per_row(Some(256)),
        ),
    ];
    if backend == BackendChoice::Vulkan {
        list.push((
            "barrier reductions",
            Strategy::default().with_subgroups(Some(false)),
        ));
    }
    list
}

/// (loss relative error, largest gradient error over the largest gradient magnitude).
fn errors(loss: f64, grad: &[f32], want_loss: f64, want_grad: &[f64]) -> (f64, f64) {
    let loss_err = (loss - want_loss).abs() / want_loss.abs();
    let scale = want_grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let grad_err = grad
        .iter()
        .zip(want_grad)
        .fold(0.0f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()));
    (loss_err, grad_err / scale)
}

#[test]
fn logit_kernels_are_as_exact_as_pytorch_float32() {
    let cases = fidelity_cases();
    assert_eq!(cases.len(), 5, "fidelity manifest");
    let mut failures = Vec::new();
    for backend in GPU_BACKENDS {
        let mut ctx = fresh_gpu(backend);
        for (strategy_name, strategy) in strategies(backend) {
            ctx.set_strategy(strategy).unwrap();
            for case in &cases {
                let g = &case.golden;
                let spec = g.spec().unwrap();
                let (student, teacher, want_grad) = (g.student(), g.teacher(), g.grad());
                let labels = g.labels();
                let mut inputs = Inputs::new(&student, &teacher, &g.shape);
                if let Some(labels) = &labels {
                    inputs = inputs.with_labels(labels);
                }
                let out = ctx.evaluate(&spec, &inputs, true).unwrap();
                let (loss_err, grad_err) = errors(
                    f64::from(out.loss),
                    out.grad.as_deref().unwrap(),
                    g.expected_loss,
                    &want_grad,
                );
                let loss_bound = (2.0 * case.torch_loss_rel_err).max(1e-7);
                let grad_bound = (2.0 * case.torch_grad_rel_err).max(1e-6);
                let line = format!(
                    "{backend:?} {strategy_name:<34} {:<34} loss {loss_err:.2e} (bound {loss_bound:.1e}) \
                     grad {grad_err:.2e} (bound {grad_bound:.1e})",
                    g.name
                );
                println!("{line}");
                if loss_err > loss_bound || grad_err > grad_bound {
                    failures.push(line);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "less exact than PyTorch float32:\n{}",
        failures.join("\n")
    );
}

/// Held-out cases of the same kind, against the float64 reference: DIST where every column
/// varies by about 1e-3 relative over 512 rows (SPEC's tolerance is 1e-3 of the largest
/// gradient; PyTorch float32 reached 3.3e-4 on such a case: the bound), and KL at T = 32, whose
/// per-class terms p (log p - log q) nearly cancel over a row (loss within 1e-6 relative).
#[test]
fn near_constant_columns_and_high_temperature_kl() {
    let (b, c) = (512, 200);
    let base = synthetic::normal_vec(91, c, 1.0);
    let noise_s = synthetic::normal_vec(92, b * c, 1.0);
    let noise_t = synthetic::normal_vec(93, b * c, 1.0);
    let near_constant = |noise: &[f32], shift: f32| -> Vec<f32> {
        (0..b * c)
            .map(|i| base[i % c] + shift * base[(i + 7) % c] + 1e-3 * noise[i])
            .collect()
    };
    let student = near_constant(&noise_s, 0.3);
    let teacher = near_constant(&noise_t, -0.2);
    let dist = LossSpec::Dist(wgpu_distill::DistParams::default());

    let (kb, kc) = (128, 1000);
    let (kl_s, kl_t) = synthetic::logit_pair(94, kb, kc, 2.0);
    let kl = LossSpec::Kl(wgpu_distill::KlParams::new(32.0));

    let jobs = [
        (&dist, &student, &teacher, [b, c], 3.3e-4, 1e-6),
        (&kl, &kl_s, &kl_t, [kb, kc], 2e-6, 1e-6),
    ];
    for backend in GPU_BACKENDS {
        let mut ctx = fresh_gpu(backend);
        for (strategy_name, strategy) in strategies(backend) {
            ctx.set_strategy(strategy).unwrap();
            for (spec, s, t, shape, grad_bound, loss_bound) in &jobs {
                let inputs = Inputs::new(s, t, shape);
                let want = reference::evaluate(spec, &inputs).unwrap();
                let out = ctx.evaluate(spec, &inputs, true).unwrap();
                let (loss_err, grad_err) = errors(
                    f64::from(out.loss),
                    out.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                );
                println!(
                    "{backend:?} {strategy_name:<34} {} loss {loss_err:.2e} grad {grad_err:.2e}",
                    spec.name()
                );
                assert!(
                    loss_err <= *loss_bound && grad_err <= *grad_bound,
                    "{} on {backend:?} ({strategy_name}): loss error {loss_err:.2e} (bound \
                     {loss_bound:.0e}), gradient error {grad_err:.2e} (bound {grad_bound:.0e})",
                    spec.name()
                );
            }
        }
    }
}
