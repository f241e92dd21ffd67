//! Bad input ends in a typed error, never a panic (the command line's one-line messages:
//! `cli/tests/cli/errors.rs`).

use crate::common::*;
use wgpu_distill::losses::{AtParams, DkdParams, RkdParams};
use wgpu_distill::{
    reference, BufferRegion, DistParams, Error, Inputs, JsdParams, KlParams, LossBindings,
    LossSpec, SparseTeacher, TokenOptions, TvdParams,
};

fn kl(t: f64) -> LossSpec {
    LossSpec::Kl(KlParams::new(t))
}

/// A bad call, the error kind it must give and a word its message must contain.
type BadCase<'a> = (LossSpec, Inputs<'a>, fn(&Error) -> bool, &'static str);

#[test]
fn library_rejects_bad_input_with_typed_errors() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let data = vec![0.5f32; 12];
    let short = vec![0.5f32; 11];
    let cases: Vec<BadCase<'_>> = vec![
        (
            kl(1.0),
            Inputs::new(&short, &data, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "student holds 11",
        ),
        (
            kl(1.0),
            Inputs::new(&data, &short, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "teacher holds 11",
        ),
        (
            kl(1.0),
            Inputs::new(&data, &data, &[12]),
            |e| matches!(e, Error::Shape(_)),
            "rank 1",
        ),
        (
            kl(1.0),
            Inputs::new(&data, &data, &[2, 3, 2]),
            |e| matches!(e, Error::Shape(_)),
            "rank 3",
        ),
        (
            kl(1.0),
            Inputs::new(&[], &[], &[0, 4]),
            |e| matches!(e, Error::Shape(_)),
            "empty",
        ),
        (
            kl(0.0),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "temperature",
        ),
        (
            kl(-1.0),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "temperature",
        ),
        (
            kl(f64::NAN),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "temperature",
        ),
        (
            kl(f64::INFINITY),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "temperature",
        ),
        (
            LossSpec::Dist(DistParams::default().with_beta(f64::NAN)),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "beta",
        ),
    ];
    let dkd = LossSpec::Dkd(DkdParams::default());
    let dist_hard = LossSpec::Dist(
        DistParams::default()
            .with_hard_weight(1.0)
            .with_soft_weight(2.0),
    );
    let good_labels = [0i64, 1, 2];
    // A sparse teacher of K = 2 ids per row on 3×4 logits, and broken variants of it.
    static IDS: [i64; 6] = [0, 1, 2, 3, 1, 2];
    let (ids, lp) = (&IDS, &[-1.0f32, -2.0, -1.0, -2.0, -1.0, -2.0]);
    let dup_ids = &[0i64, 1, 2, 2, 1, 2];
    let far_ids = &[0i64, 1, 2, 3, 4, 2];
    let positive_lp = &[-1.0f32, 0.5, -1.0, -2.0, -1.0, -2.0];
    let heavy_lp = &[-0.1f32, -0.2, -1.0, -2.0, -1.0, -2.0];
    fn sparse<'a>(ids: &'a [i64], logprobs: &'a [f32], k: usize, tail: bool) -> SparseTeacher<'a> {
        SparseTeacher::new(ids, logprobs, k).with_tail(tail)
    }
    let bad_label = [0i64, 4, 2];
    let negative_label = [0i64, -1, 2];
    let short_labels = [0i64, 1];
    let features = vec![0.5f32; 24];
    let mut cases = cases;
    cases.extend::<Vec<BadCase<'_>>>(vec![
        (
            dkd,
            Inputs::new(&data, &data, &[3, 4]).with_labels(&bad_label),
            |e| matches!(e, Error::Param(_)),
            "label 4 at row 1",
        ),
        (
            dkd,
            Inputs::new(&data, &data, &[3, 4]).with_labels(&negative_label),
            |e| matches!(e, Error::Param(_)),
            "label -1",
        ),
        (
            dkd,
            Inputs::new(&data, &data, &[3, 4]).with_labels(&short_labels),
            |e| matches!(e, Error::Shape(_)),
            "2 labels for B = 3",
        ),
        (
            dkd,
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "needs labels",
        ),
        (
            dkd,
            Inputs::new(&data, &data, &[12, 1]).with_labels(&good_labels),
            |e| matches!(e, Error::Shape(_)),
            "C >= 2",
        ),
        (
            LossSpec::Rkd(RkdParams::default()),
            Inputs::new(&data, &data, &[3, 4]).with_labels(&good_labels),
            |e| matches!(e, Error::Param(_)),
            "takes no labels",
        ),
        // DIST's hard-label term: labels in [0, C), no ignore_index.
        (
            dist_hard,
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "dist needs labels (one per row) for its hard-label term",
        ),
        (
            dist_hard,
            Inputs::new(&data, &data, &[3, 4]).with_labels(&[0, -100, 2]),
            |e| matches!(e, Error::Param(_)),
            "label -100",
        ),
        (
            LossSpec::Dist(DistParams::default().with_hard_weight(f64::INFINITY)),
            Inputs::new(&data, &data, &[3, 4]).with_labels(&good_labels),
            |e| matches!(e, Error::Param(_)),
            "hard weight",
        ),
        // The sparse teacher (SPEC's error list).
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(dup_ids, lp, 2, false), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "appears twice in row 1",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(far_ids, lp, 2, false), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "teacher id 4 at row 2",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(ids, positive_lp, 2, false), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "log-prob 0.5 at row 0, position 1 is not <= 0",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(ids, heavy_lp, 2, false), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "sum",
        ),
        (
            kl(2.0),
            Inputs::with_sparse_teacher(&data, sparse(ids, lp, 2, true), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "tail needs temperature 1",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(&[], &[], 0, false), &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "K = 0",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(ids, lp, 5, false), &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "K = 5",
        ),
        (
            kl(1.0),
            Inputs::with_sparse_teacher(&data, sparse(&ids[..4], &lp[..4], 2, false), &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "hold 4 values",
        ),
        (
            LossSpec::Tvd(TvdParams::default()),
            Inputs::with_sparse_teacher(&data, sparse(ids, lp, 2, false), &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "applies to kl, not tvd",
        ),
        // The token losses (SPEC's error list).
        (
            kl(1.0),
            Inputs::new(&data, &data, &[3, 4]).with_labels(&[0, 4, -100]),
            |e| matches!(e, Error::Param(_)),
            "label 4 at row 1",
        ),
        (
            kl(1.0),
            Inputs::new(&data, &data, &[3, 4]).with_labels(&[0, 1]),
            |e| matches!(e, Error::Shape(_)),
            "2 labels",
        ),
        (
            LossSpec::Tvd(
                TvdParams::default().with_options(TokenOptions::default().with_hard_weight(0.5)),
            ),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "needs labels",
        ),
        (
            LossSpec::Jsd(JsdParams::default().with_beta(1.5)),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "beta must lie in [0, 1]",
        ),
        (
            LossSpec::Jsd(
                JsdParams::default()
                    .with_options(TokenOptions::default().with_normalizer(Some(0.0))),
            ),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "normalizer must be finite and > 0",
        ),
        (
            LossSpec::Kl(
                KlParams::default()
                    .with_temperature(1.0)
                    .with_options(TokenOptions::default().with_soft_weight(f64::NAN)),
            ),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "soft weight must be finite",
        ),
        (
            LossSpec::Kl(
                KlParams::default()
                    .with_temperature(1.0)
                    .with_options(TokenOptions::default().with_ignore_index(1 << 40)),
            ),
            Inputs::new(&data, &data, &[3, 4]).with_labels(&good_labels),
            |e| matches!(e, Error::Param(_)),
            "does not fit in 32 bits",
        ),
        (
            LossSpec::At(AtParams::default().with_p(2.0)),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "rank 4",
        ),
        (
            LossSpec::At(AtParams::default().with_p(0.0)),
            Inputs::new(&features, &features, &[1, 2, 3, 4]),
            |e| matches!(e, Error::Param(_)),
            "exponent",
        ),
        (
            LossSpec::Hcl,
            Inputs::new(&features, &features, &[2, 12]),
            |e| matches!(e, Error::Shape(_)),
            "rank 4",
        ),
        (
            LossSpec::Hcl,
            Inputs::new(&features, &data, &[1, 2, 3, 4]),
            |e| matches!(e, Error::Shape(_)),
            "teacher holds 12",
        ),
        (
            LossSpec::Fitnet,
            Inputs::new(&features, &data, &[24]),
            |e| matches!(e, Error::Shape(_)),
            "teacher holds 12",
        ),
        (
            LossSpec::Rkd(RkdParams::default()),
            Inputs::new(&data, &data, &[1, 12]),
            |e| matches!(e, Error::Shape(_)),
            "B >= 2",
        ),
        (
            LossSpec::Rkd(
                RkdParams::default()
                    .with_distance_weight(f64::NAN)
                    .with_angle_weight(1.0),
            ),
            Inputs::new(&data, &data, &[3, 4]),
            |e| matches!(e, Error::Param(_)),
            "distance weight",
        ),
    ]);
    for (spec, inputs, kind, text) in cases {
        for result in [
            ctx.evaluate(&spec, &inputs, true)
                .map(|o| f64::from(o.loss)),
            reference::evaluate(&spec, &inputs).map(|o| o.loss),
        ] {
            let err = result.unwrap_err();
            assert!(
                kind(&err),
                "{spec:?} {:?}: wrong kind {err:?}",
                inputs.shape
            );
            assert!(
                err.to_string().contains(text),
                "'{err}' does not name '{text}'"
            );
        }
    }
}

#[test]
fn shapes_beyond_device_limits_are_errors() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let small = ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 256,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let io = LossBindings::new(
        BufferRegion::new(&small),
        BufferRegion::new(&small),
        BufferRegion::new(&small),
    );
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    let max = ctx.device().limits().max_storage_buffer_binding_size;
    let cols = (max / 4 + 1) as usize;
    let err = ctx
        .record(&mut encoder, &kl(1.0), &[1, cols], &io)
        .unwrap_err();
    assert!(matches!(err, Error::Limit(_)), "{err:?}");
    assert!(
        err.to_string().contains("max_storage_buffer_binding_size"),
        "{err}"
    );
    // Feature losses are not chunked: one binding, 2^30 elements at most.
    let err = ctx
        .record(&mut encoder, &LossSpec::Fitnet, &[70_000, 70_000], &io)
        .unwrap_err();
    assert!(matches!(err, Error::Limit(_)), "{err:?}");
}

#[test]
fn nan_and_inf_logits_give_nan_not_a_hang() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let mut student = vec![0.1f32; 12];
    let teacher = vec![0.2f32; 12];
    student[5] = f32::NAN;
    for spec in [kl(1.0), LossSpec::Dist(DistParams::default())] {
        let out = ctx
            .evaluate(&spec, &Inputs::new(&student, &teacher, &[3, 4]), true)
            .unwrap();
        assert!(out.loss.is_nan(), "{spec:?}: {}", out.loss);
    }
}

#[test]
fn nan_inputs_give_nan_for_every_loss_never_a_hang() {
    for backend in GPU_BACKENDS {
        for mut job in jobs() {
            job.student[1] = f32::NAN;
            let out = job.run(gpu(backend));
            assert!(
                out.loss.is_nan(),
                "{backend:?} {:?}: {}",
                job.spec,
                out.loss
            );
        }
    }
}

/// +Inf logits: the softmax of a row holding +Inf is undefined (Inf - Inf), so the documented
/// value is a non-finite loss (NaN), never a hang or a panic.
#[test]
fn infinite_logits_give_a_non_finite_loss() {
    for backend in GPU_BACKENDS {
        for mut job in jobs() {
            if !job.spec.takes_16_bit_inputs() {
                continue; // the logit losses; feature losses are polynomial in the inputs
            }
            job.student[1] = f32::INFINITY;
            let out = job.run(gpu(backend));
            assert!(
                !out.loss.is_finite(),
                "{backend:?} {:?}: {}",
                job.spec,
                out.loss
            );
        }
    }
}

/// TTM and NKD: γ ≤ 0, missing or out-of-range labels, labels where none are taken; the same
/// typed error from the float64 reference and from the GPU.
#[test]
fn ttm_and_nkd_reject_bad_input() {
    use wgpu_distill::{NkdParams, TtmParams};
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let data = vec![0.5f32; 12];
    let (good, bad) = (vec![0i64, 1, 3], vec![0i64, 1, 4]);
    let plain = Inputs::new(&data, &data, &[3, 4]);
    let cases: Vec<BadCase<'_>> = vec![
        (
            LossSpec::Ttm(TtmParams::new(0.0)),
            plain,
            |e| matches!(e, Error::Param(_)),
            "power (gamma) must be finite and > 0",
        ),
        (
            LossSpec::Ttm(TtmParams::new(f64::NAN)),
            plain,
            |e| matches!(e, Error::Param(_)),
            "power (gamma)",
        ),
        (
            LossSpec::Ttm(TtmParams::default()),
            plain.with_labels(&good),
            |e| matches!(e, Error::Param(_)),
            "ttm takes no labels",
        ),
        (
            LossSpec::Nkd(NkdParams::default()),
            plain,
            |e| matches!(e, Error::Shape(_)),
            "nkd needs labels",
        ),
        (
            LossSpec::Nkd(NkdParams::default()),
            plain.with_labels(&bad),
            |e| matches!(e, Error::Param(_)),
            "label 4 at row 2 is outside [0, 4)",
        ),
        (
            LossSpec::Nkd(NkdParams::new(0.0, 1.5)),
            plain.with_labels(&good),
            |e| matches!(e, Error::Param(_)),
            "temperature must be finite and > 0",
        ),
    ];
    for (spec, inputs, kind, words) in cases {
        for err in [
            reference::evaluate(&spec, &inputs).unwrap_err(),
            ctx.evaluate(&spec, &inputs, true).unwrap_err(),
        ] {
            assert!(kind(&err), "{spec:?}: {err:?}");
            assert!(err.to_string().contains(words), "{spec:?}: {err}");
        }
    }
}

/// -inf logits mark masked classes (a padded vocabulary): a teacher's -inf is p = 0, whose
/// term is 0 (SPEC: never 0·(−inf)), also where the student's logit is -inf too. Every logit
/// loss matches its float64 twin, loss and gradient, on Vulkan and GL (each MLKD layout: up to
/// four temperatures, five, five paired).
#[test]
fn masked_classes_of_minus_infinity_match_the_reference() {
    use wgpu_distill::{synthetic, MlkdParams, NkdParams, SklParams, SrklParams, TtmParams};
    let (b, c) = (4, 100);
    let (mut student, mut teacher) = synthetic::logit_pair(5, b, c, 2.0);
    for masked in [3, 150, 299, 398] {
        teacher[masked] = f32::NEG_INFINITY;
    }
    // Masked in both.
    teacher[210] = f32::NEG_INFINITY;
    student[210] = f32::NEG_INFINITY;
    let labels: Vec<i64> = vec![0, 1, 2, 5];
    let shape = [b, c];
    let specs = [
        kl(4.0),
        kl(1.0),
        LossSpec::Jsd(JsdParams::new(1.0, 0.5)),
        LossSpec::Tvd(TvdParams::new(1.0)),
        LossSpec::Dist(DistParams::default()),
        LossSpec::Dkd(DkdParams::new(4.0, 1.0, 8.0)),
        LossSpec::Ttm(TtmParams::new(0.1)),
        LossSpec::Nkd(NkdParams::new(1.0, 1.5)),
        LossSpec::Skl(SklParams::new(1.0, 0.1)),
        LossSpec::Srkl(SrklParams::new(1.0, 0.1)),
        LossSpec::Mlkd(MlkdParams::default()),
        LossSpec::Mlkd(MlkdParams::new(&[4.0, 8.0])),
        LossSpec::Mlkd(MlkdParams::new(&[1.0, 2.5, 3.0, 4.5, 6.0])),
    ];
    for backend in GPU_BACKENDS {
        for spec in &specs {
            let mut inputs = Inputs::new(&student, &teacher, &shape);
            if spec.needs_labels() {
                inputs = inputs.with_labels(&labels);
            }
            let want = reference::evaluate(spec, &inputs).unwrap();
            let out = gpu(backend).evaluate(spec, &inputs, true).unwrap();
            let what = format!("{backend:?} {spec:?}");
            assert!(want.loss.is_finite(), "{what}: reference {}", want.loss);
            assert_close(
                &what,
                f64::from(out.loss),
                out.grad.as_deref().unwrap(),
                want.loss,
                &want.grad,
            );
        }
    }
}

/// LS on a row holding -inf: the row has no z-score, and the GPU and the float64 twin both give
/// NaN (the twin's `p = 0` tests skipped NaN terms before, and gave a finite loss). A NaN teacher
/// logit likewise makes the twin's KL NaN.
#[test]
fn standardize_of_a_row_holding_minus_infinity_is_nan_everywhere() {
    use wgpu_distill::{synthetic, MlkdParams, TtmParams};
    let (b, c) = (4, 100);
    let (student, mut teacher) = synthetic::logit_pair(5, b, c, 2.0);
    teacher[3] = f32::NEG_INFINITY;
    let labels: Vec<i64> = vec![0, 1, 2, 5];
    let shape = [b, c];
    let specs = [
        LossSpec::Kl(KlParams::new(4.0).with_standardize(true)),
        LossSpec::Dkd(DkdParams::new(4.0, 1.0, 8.0).with_standardize(true)),
        LossSpec::Ttm(TtmParams::new(0.1).with_standardize(true)),
        LossSpec::Mlkd(
            MlkdParams::new(&[4.0, 8.0])
                .with_standardize(true)
                .with_cc_weight(0.0)
                .with_bc_weight(0.0),
        ),
    ];
    for spec in &specs {
        let mut inputs = Inputs::new(&student, &teacher, &shape);
        if spec.needs_labels() {
            inputs = inputs.with_labels(&labels);
        }
        let want = reference::evaluate(spec, &inputs).unwrap().loss;
        assert!(want.is_nan(), "{spec:?}: float64 twin {want}");
        for backend in GPU_BACKENDS {
            let got = gpu(backend).evaluate(spec, &inputs, false).unwrap().loss;
            assert!(got.is_nan(), "{backend:?} {spec:?}: {got}");
        }
    }
    teacher[3] = f32::NAN;
    let inputs = Inputs::new(&student, &teacher, &shape);
    let want = reference::evaluate(&kl(4.0), &inputs).unwrap().loss;
    assert!(
        want.is_nan(),
        "kl's float64 twin with a NaN teacher logit: {want}"
    );
}
