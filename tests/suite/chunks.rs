//! Batches beyond one binding: rows are bound in chunks at aligned offsets (DIST's column
//! statistics merged over the chunks' tiles). Forced tiny chunks match the unchunked result;
//! a batch larger than lavapipe's 128 MiB binding runs and matches the reference.

use crate::common::*;
use wgpu_distill::losses::DkdParams;
use wgpu_distill::{
    reference, synthetic, DistParams, InputDtype, Inputs, KlParams, LossOutput, LossSpec, Strategy,
};

fn specs() -> [LossSpec; 4] {
    [
        LossSpec::Kl(KlParams::new(2.0)),
        LossSpec::Kl(
            KlParams::new(2.0)
                .with_standardize(true)
                .with_temperature_grad(true),
        ),
        LossSpec::Dkd(DkdParams::default()),
        LossSpec::Dist(
            DistParams::default()
                .with_temperature(2.0)
                .with_beta(1.0)
                .with_gamma(1.0),
        ),
    ]
}

fn run(
    ctx: &wgpu_distill::GpuContext,
    spec: &LossSpec,
    s: &[f32],
    t: &[f32],
    shape: &[usize],
    labels: &[i64],
    dtype: InputDtype,
) -> LossOutput {
    let mut inputs = Inputs::new(s, t, shape);
    if spec.needs_labels() {
        inputs = inputs.with_labels(labels);
    }
    ctx.evaluate_as(spec, &inputs, true, dtype).unwrap()
}

#[test]
fn forced_chunks_match_the_unchunked_result() {
    for backend in GPU_BACKENDS {
        let whole_ctx = gpu(backend);
        for (b, c) in [(37, 100), (20, 257)] {
            let (s, t) = synthetic::logit_pair(b as u64, b, c, 3.0);
            let labels: Vec<i64> = (0..b as i64).map(|r| (r * 5) % c as i64).collect();
            for dtype in [InputDtype::F32, InputDtype::F16] {
                // Streamed rows with DIST's row pass in one read and in two (`dist_row_reads`).
                let paths = [
                    (None, None),
                    (Some(true), None),
                    (Some(false), Some(2)),
                    (None, Some(1)),
                ];
                for (cached_rows, dist_row_reads) in paths {
                    for chunk_rows in [1, 3, 16] {
                        let unchunked = Strategy::default()
                            .with_cached_rows(cached_rows)
                            .with_dist_row_reads(dist_row_reads);
                        let mut ctx = fresh_gpu(backend);
                        ctx.set_strategy(unchunked.with_chunk_rows(Some(chunk_rows)))
                            .unwrap();
                        let mut plain = fresh_gpu(backend);
                        plain.set_strategy(unchunked).unwrap();
                        for spec in specs() {
                            let want = run(&plain, &spec, &s, &t, &[b, c], &labels, dtype);
                            let got = run(&ctx, &spec, &s, &t, &[b, c], &labels, dtype);
                            let what = format!("{spec:?} {b}x{c} {dtype:?} chunks of {chunk_rows} {cached_rows:?} {dist_row_reads:?} {backend:?}");
                            if matches!(spec, LossSpec::Dist(_)) {
                                // Tiles follow the chunks: a different merge order.
                                let want64: Vec<f64> = want
                                    .grad
                                    .as_ref()
                                    .unwrap()
                                    .iter()
                                    .map(|&g| f64::from(g))
                                    .collect();
                                assert_close(
                                    &what,
                                    f64::from(got.loss),
                                    got.grad.as_deref().unwrap(),
                                    f64::from(want.loss),
                                    &want64,
                                );
                            } else {
                                // Row-wise kernels: the same arithmetic, bitwise.
                                assert_eq!(got, want, "{what}");
                            }
                        }
                    }
                }
            }
            let _ = whole_ctx;
        }
    }
}

#[test]
fn batches_beyond_one_binding_run_and_match_the_reference() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let max = ctx.device().limits().max_storage_buffer_binding_size;
    let c = 4200;
    let b = (max / (c as u64 * 4)) as usize + 200; // just past one binding
    let (s, t) = synthetic::logit_pair(9, b, c, 3.0);
    let labels: Vec<i64> = (0..b as i64).map(|r| (r * 13) % c as i64).collect();
    for spec in specs() {
        let out = run(ctx, &spec, &s, &t, &[b, c], &labels, InputDtype::F32);
        let shape = [b, c];
        let mut inputs = Inputs::new(&s, &t, &shape);
        if spec.needs_labels() {
            inputs = inputs.with_labels(&labels);
        }
        let want = reference::evaluate(&spec, &inputs).unwrap();
        assert_close(
            &format!("{spec:?} {b}x{c} beyond one binding"),
            f64::from(out.loss),
            out.grad.as_deref().unwrap(),
            want.loss,
            &want.grad,
        );
    }
}
