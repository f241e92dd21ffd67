//! The GPU against the float64 reference on shapes and values chosen to break kernels: C not a
//! multiple of the workgroup, C = 1, B = 1, more than 65535 rows, logits of magnitude 1e3,
//! temperatures from 0.5 to 8, and every strategy forced.

use crate::common::*;
use wgpu_distill::{reference, synthetic, DistParams, Inputs, KlParams, LossSpec, Strategy};

fn specs(t: f64) -> [LossSpec; 2] {
    [
        LossSpec::Kl(KlParams::new(t)),
        LossSpec::Dist(
            DistParams::default()
                .with_temperature(t)
                .with_beta(1.0)
                .with_gamma(2.0),
        ),
    ]
}

fn compare(
    ctx: &wgpu_distill::GpuContext,
    spec: &LossSpec,
    b: usize,
    c: usize,
    scale: f64,
    seed: u64,
) {
    let (student, teacher) = synthetic::logit_pair(seed, b, c, scale);
    let shape = [b, c];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let want = reference::evaluate(spec, &inputs).unwrap();
    let got = ctx.evaluate(spec, &inputs, true).unwrap();
    let what = format!(
        "{} {b}x{c} scale {scale} on {} {:?}",
        spec.name(),
        ctx.backend_name(),
        ctx.strategy()
    );
    let max_grad = want.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    if max_grad < 1e-9 {
        // A saturated softmax (logits of 1e3): the true gradient is below float32 rounding of
        // the probabilities; require the loss and a gradient that is noise-sized too.
        assert_close(&what, f64::from(got.loss), &[], want.loss, &[]);
        let max_got = got.grad.unwrap().iter().fold(0.0f32, |m, g| m.max(g.abs()));
        assert!(
            max_got < 1e-9,
            "{what}: gradient {max_got} where the reference is {max_grad}"
        );
        return;
    }
    assert_close(
        &what,
        f64::from(got.loss),
        got.grad.as_deref().unwrap(),
        want.loss,
        &want.grad,
    );
}

/// B×C shapes that break kernels: C = 1, B = 1, C not a multiple of the lanes or of 4.
const ODD_SHAPES: [(usize, usize); 7] = [
    (1, 1),
    (1, 7),
    (7, 1),
    (3, 257),
    (5, 1000),
    (2, 4099),
    (33, 3),
];

#[test]
fn odd_shapes_and_temperatures() {
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        for (i, &(b, c)) in ODD_SHAPES.iter().enumerate() {
            for t in [0.5, 1.0, 4.0, 8.0] {
                for spec in specs(t) {
                    compare(ctx, &spec, b, c, 3.0, i as u64 * 10 + t as u64);
                }
            }
        }
    }
}

#[test]
fn large_logits() {
    for backend in GPU_BACKENDS {
        for spec in specs(1.0).into_iter().chain(specs(0.5)) {
            compare(gpu(backend), &spec, 16, 100, 1e3, 7);
        }
    }
}

#[test]
fn more_than_65535_rows() {
    for backend in GPU_BACKENDS {
        for spec in specs(2.0) {
            compare(gpu(backend), &spec, 65_537, 3, 2.0, 11);
        }
        // One workgroup per row: 65537 workgroups, a 2D grid.
        let mut ctx = fresh_gpu(backend);
        ctx.set_strategy(
            Strategy::default()
                .with_threads_per_row(Some(256))
                .with_tile_rows(Some(16)),
        )
        .unwrap();
        for spec in specs(2.0) {
            compare(&ctx, &spec, 70_001, 5, 2.0, 12);
        }
    }
}

#[test]
fn every_strategy_matches_the_reference() {
    for backend in GPU_BACKENDS {
        let mut ctx = fresh_gpu(backend);
        for tpr in [1, 2, 8, 32, 64, 256] {
            for tile in [1, 7, 256] {
                for cached_rows in [None, Some(false), Some(true)] {
                    for quads in [None, Some(false)] {
                        ctx.set_strategy(
                            Strategy::default()
                                .with_threads_per_row(Some(tpr))
                                .with_tile_rows(Some(tile))
                                .with_cached_rows(cached_rows)
                                .with_quads(quads),
                        )
                        .unwrap();
                        let seed = u64::from(tpr * 1000 + tile);
                        for spec in specs(4.0) {
                            // 133 classes: cached from 64 lanes a row up (4 x 64 >= 133).
                            compare(&ctx, &spec, 19, 133, 3.0, seed);
                            compare(&ctx, &spec, 5, 9, 3.0, seed + 1);
                            // Multiples of 4: the quad kernels unless forced off.
                            compare(&ctx, &spec, 11, 132, 3.0, seed + 2);
                            compare(&ctx, &spec, 3, 8, 3.0, seed + 3);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn dist_gradient_several_rows_per_segment_give_the_same_bits() {
    // `dist_grad_rows: 4` and `8` load each column quad's statistics once for four or eight
    // rows; per row they compute what one row per segment computes, in the same order.
    // Batches of 1 to 9 rows leave 0 to 7 rows past the batch in the last segment; chunks of 2
    // and 5 rows start segments at every offset; the 16-bit gradient goes through the same
    // stores.
    use wgpu_distill::{InputDtype, Precision};
    let spec = LossSpec::Dist(
        DistParams::default()
            .with_temperature(2.0)
            .with_beta(1.0)
            .with_gamma(2.0),
    );
    let precisions = [
        Precision::from(InputDtype::F32),
        Precision {
            inputs: InputDtype::F16,
            grad: InputDtype::F16,
        },
    ];
    let mut compared = 0;
    for backend in GPU_BACKENDS {
        let mut one = fresh_gpu(backend);
        let mut four = fresh_gpu(backend);
        let mut eight = fresh_gpu(backend);
        for tpr in [1, 8, 64] {
            for chunk_rows in [None, Some(2), Some(5)] {
                for (ctx, rows) in [(&mut one, 1), (&mut four, 4), (&mut eight, 8)] {
                    ctx.set_strategy(
                        Strategy::default()
                            .with_threads_per_row(Some(tpr))
                            .with_chunk_rows(chunk_rows)
                            .with_dist_grad_rows(Some(rows)),
                    )
                    .unwrap();
                }
                for (b, c) in [(1, 8), (3, 132), (6, 44), (9, 1000)] {
                    let (student, teacher) = synthetic::logit_pair(b as u64 + 40, b, c, 3.0);
                    let shape = [b, c];
                    let inputs = Inputs::new(&student, &teacher, &shape);
                    for precision in precisions {
                        let a = one.evaluate_with(&spec, &inputs, true, precision).unwrap();
                        for (rows, ctx) in [(4, &four), (8, &eight)] {
                            let z = ctx.evaluate_with(&spec, &inputs, true, precision).unwrap();
                            let what = format!(
                                "{backend:?} {b}x{c} TPR {tpr} chunks {chunk_rows:?} \
                                 {precision:?}: 1 against {rows} rows"
                            );
                            assert_eq!(a.loss.to_bits(), z.loss.to_bits(), "{what}");
                            assert_eq!(a.grad, z.grad, "{what}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        // The several-row kernels against the float64 reference, too.
        for (rows, ctx) in [(4, &mut four), (8, &mut eight)] {
            ctx.set_strategy(Strategy::default().with_dist_grad_rows(Some(rows)))
                .unwrap();
            compare(ctx, &spec, 11, 1000, 3.0, 5);
        }
    }
    assert_eq!(compared, 2 * 3 * 3 * 4 * 2 * 2);
    let mut ctx = fresh_gpu(wgpu_distill::BackendChoice::Vulkan);
    let refused = ctx.set_strategy(Strategy::default().with_dist_grad_rows(Some(2)));
    assert!(
        format!("{:?}", refused.unwrap_err()).contains("dist_grad_rows must be 1, 4 or 8"),
        "dist_grad_rows 2 must be refused"
    );
    for reads in [0, 3] {
        let refused = ctx.set_strategy(Strategy::default().with_dist_row_reads(Some(reads)));
        assert!(
            matches!(&refused, Err(wgpu_distill::Error::Param(m)) if m == &format!("dist_row_reads must be 1 or 2, got {reads}")),
            "dist_row_reads {reads} must be refused: {refused:?}"
        );
    }
}

#[test]
fn strategies_agree_within_rounding() {
    // Different lane counts fold in different orders: close, not bitwise equal.
    let (student, teacher) = synthetic::logit_pair(5, 64, 500, 3.0);
    let shape = [64, 500];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let mut ctx = fresh_gpu(wgpu_distill::BackendChoice::Vulkan);
    let spec = LossSpec::Dist(DistParams::default());
    let base = ctx.evaluate(&spec, &inputs, false).unwrap().loss;
    for tpr in [4, 16, 128] {
        ctx.set_strategy(Strategy::default().with_threads_per_row(Some(tpr)))
            .unwrap();
        let loss = ctx.evaluate(&spec, &inputs, false).unwrap().loss;
        assert!(
            ((loss - base) / base).abs() < 1e-5,
            "tpr {tpr}: {loss} vs {base}"
        );
    }
}

#[test]
fn dist_peaked_and_constant_rows() {
    // Peaked softmax rows over a wide vocabulary (the row pass's shifted sums, or the one-read
    // pass's online moments, must stay accurate) and constant student and teacher rows (zero
    // spread, exactly).
    let (b, c) = (6, 20_000);
    let (mut student, mut teacher) = synthetic::logit_pair(77, b, c, 20.0);
    for i in 0..c {
        student[2 * c + i] = 0.25; // a constant student row
        teacher[4 * c + i] = -1.5; // a constant teacher row
    }
    // The default (one-read rows on these adapters) and the two-read row pass.
    let mut two_reads = [fresh_gpu(GPU_BACKENDS[0]), fresh_gpu(GPU_BACKENDS[1])];
    for ctx in &mut two_reads {
        ctx.set_strategy(Strategy::default().with_dist_row_reads(Some(2)))
            .unwrap();
    }
    let contexts = GPU_BACKENDS.iter().map(|&b| gpu(b)).chain(two_reads.iter());
    for ctx in contexts {
        let backend = (ctx.backend_name(), ctx.strategy().dist_row_reads);
        for t in [0.5, 1.0, 4.0] {
            let spec = LossSpec::Dist(
                DistParams::default()
                    .with_temperature(t)
                    .with_beta(1.0)
                    .with_gamma(1.0),
            );
            let shape = [b, c];
            let inputs = Inputs::new(&student, &teacher, &shape);
            let want = reference::evaluate(&spec, &inputs).unwrap();
            let got = ctx.evaluate(&spec, &inputs, true).unwrap();
            assert_close(
                &format!("peaked/constant rows T={t} on {backend:?}"),
                f64::from(got.loss),
                got.grad.as_deref().unwrap(),
                want.loss,
                &want.grad,
            );
        }
    }
}

/// DIST's row pass in one read and in two (`dist_row_reads`; the default on these adapters is
/// one) on the shapes above: C = 1, B = 1, C not a multiple of the lanes, logits of magnitude
/// 1e3, more than 65535 rows; one lane a row and a whole workgroup a row, quads and one class
/// per load.
#[test]
fn dist_row_pass_forms_on_edge_shapes() {
    // The odd shapes, and one of quads (C a multiple of 4).
    let shapes: Vec<_> = ODD_SHAPES.into_iter().chain([(4, 12)]).collect();
    for backend in GPU_BACKENDS {
        let forms = [
            (None, None, 1),
            (Some(1), Some(false), 1),
            (Some(256), None, 1),
        ];
        let forms = forms
            .into_iter()
            .chain([(Some(8), None, 2), (Some(1), Some(false), 2)]);
        for (tpr, quads, reads) in forms {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(
                Strategy::default()
                    .with_dist_row_reads(Some(reads))
                    .with_threads_per_row(tpr)
                    .with_quads(quads),
            )
            .unwrap();
            for (i, &(b, c)) in shapes.iter().enumerate() {
                for t in [0.5, 1.0, 4.0] {
                    compare(&ctx, &specs(t)[1], b, c, 3.0, i as u64 * 10 + t as u64);
                }
            }
            compare(&ctx, &specs(1.0)[1], 16, 100, 1e3, 7);
            compare(&ctx, &specs(0.5)[1], 16, 100, 1e3, 7);
            compare(&ctx, &specs(2.0)[1], 65_537, 3, 2.0, 11);
        }
    }
}
