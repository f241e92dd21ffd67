//! The self-check (`wgpu-distill` with no arguments): every loss, a few realistic shapes, on the
//! default adapter against the float64 reference.

use std::time::Instant;

use wgpu_distill::{
    reference, synthetic, BackendChoice, DistParams, Error, GpuContext, Inputs, JsdParams,
    KlParams, LossSpec, TokenOptions, TvdParams,
};

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
pub(crate) fn self_check() -> Result<(), Error> {
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
    use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, NkdParams, RkdParams, TtmParams};
    let logits = [vec![64usize, 100], vec![256, 1000], vec![32, 32000]];
    let mut cases: Vec<(LossSpec, Vec<usize>)> = vec![];
    for spec in [
        LossSpec::Kl(KlParams::new(4.0)),
        LossSpec::Dist(DistParams::default()),
        LossSpec::Dkd(DkdParams::default()),
        LossSpec::Ttm(TtmParams::default().with_weighted(true)),
        LossSpec::Nkd(NkdParams::default()),
    ] {
        cases.extend(logits.iter().map(|d| (spec, d.clone())));
    }
    // The token losses, with labels (every fifth row ignored) and a hard term.
    let token = TokenOptions::default()
        .with_hard_weight(0.5)
        .with_soft_weight(0.5);
    for spec in [
        LossSpec::Kl(
            KlParams::default()
                .with_temperature(2.0)
                .with_options(token),
        ),
        LossSpec::Jsd(JsdParams::default().with_options(token)),
        LossSpec::Tvd(TvdParams::default()),
        // LS + KD at the CIFAR recipe's weights, with CTKD's ∂L/∂T.
        LossSpec::Kl(
            KlParams::new(2.0).with_options(
                TokenOptions::default()
                    .with_hard_weight(0.1)
                    .with_soft_weight(9.0)
                    .with_standardize(true)
                    .with_temperature_grad(true),
            ),
        ),
        // LS on WTTM and on DKD (CIFAR's T = 2).
        LossSpec::Ttm(
            TtmParams::new(0.1)
                .with_weighted(true)
                .with_standardize(true),
        ),
        LossSpec::Dkd(DkdParams::new(2.0, 1.0, 8.0).with_standardize(true)),
    ] {
        cases.extend(logits[1..].iter().map(|d| (spec, d.clone())));
    }
    // MLKD at its five temperatures, with LS (its C×C Gram is B·C² per temperature).
    let mlkd = wgpu_distill::MlkdParams::default().with_standardize(true);
    cases.extend([
        (LossSpec::Mlkd(mlkd), vec![64, 100]),
        (LossSpec::Mlkd(mlkd), vec![256, 100]),
        (LossSpec::Fitnet, vec![64, 128, 8, 8]),
        (LossSpec::At(AtParams::default()), vec![64, 128, 8, 8]),
        (LossSpec::Ickd(IckdParams::default()), vec![32, 64, 8, 8]),
        (LossSpec::Hcl, vec![16, 64, 7, 7]),
        (LossSpec::Rkd(RkdParams::default()), vec![64, 128]),
        // SP and PKT against a teacher twice as wide (below).
        (LossSpec::Sp, vec![64, 128, 4, 4]),
        (LossSpec::Pkt, vec![128, 256]),
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
        let teacher_dims = [dims[0], 2 * n / dims[0]];
        let wide_teacher = synthetic::normal_vec(7 + i as u64, 2 * n, 1.0);
        let mut inputs = Inputs::new(&student, &teacher, dims);
        if spec.takes_other_teacher_width() {
            inputs = Inputs::new(&student, &wide_teacher, dims).with_teacher_shape(&teacher_dims);
        }
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
            let teacher = wgpu_distill::SparseTeacher::new(&sparse.ids, &sparse.logprobs, sparse.k)
                .with_tail(tail);
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
