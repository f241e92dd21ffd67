//! MLKD on Vulkan and GL against its float64 twin: one row, C = 2, shapes beyond a Gram tile
//! and a workgroup, 1000 classes, the class limit's edge; LS and the weights; the same bits
//! every run; the forward pass alone; and the refusals (an empty or too long temperature list,
//! a temperature ≤ 0, C above the C×C Gram's limit, LS at C = 1), from the library and the
//! float64 reference. Correlation terms of weight 0 are skipped, and nothing stale leaks in.

use crate::common::*;
use wgpu_distill::losses::mlkd::{MAX_CLASSES, MAX_TEMPERATURES};
use wgpu_distill::{reference, synthetic, BackendChoice, Error, Inputs, LossSpec, MlkdParams};

#[test]
fn mlkd_matches_float64() {
    let default = MlkdParams::default();
    let ls = default
        .with_temperatures(&[2.0, 4.0])
        .with_kd_weight(0.9)
        .with_cc_weight(0.5)
        .with_bc_weight(2.0)
        .with_standardize(true);
    let one = MlkdParams::new(&[1.0]).with_cc_weight(3.0);
    // Terms of weight 0 are skipped (after calls that left their Grams in the scratch).
    let no_class = default.with_cc_weight(0.0);
    let instance_only = ls.with_cc_weight(0.0).with_bc_weight(0.0);
    // Five temperatures (the fifth beside the first four; the default's first two
    // exponentials squares of the third's and fifth's) with LS and its raw statistics; five in
    // no such ratio, and five in it other than the default; seven (the `hi` half's vectors).
    let five_ls = default.with_standardize(true).with_bc_weight(0.0);
    let five_unpaired = MlkdParams::new(&[1.0, 2.5, 3.0, 4.5, 6.0]).with_standardize(true);
    let five_paired = MlkdParams::new(&[1.5, 2.5, 3.0, 4.0, 5.0]).with_bc_weight(0.0);
    // mdistiller's order of the default (arranged for the kernel, the correlations too).
    let five_shuffled = default.with_temperatures(&[4.0, 3.0, 5.0, 2.0, 6.0]);
    let seven = MlkdParams::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]).with_cc_weight(0.5);
    for backend in GPU_BACKENDS {
        for (b, c) in [(1, 7), (3, 2), (17, 33), (40, 100), (300, 12), (8, 1000)] {
            let (student, teacher) = synthetic::logit_pair(b as u64 * 31 + c as u64, b, c, 2.0);
            let shape = [b, c];
            let inputs = Inputs::new(&student, &teacher, &shape);
            for params in [
                default,
                ls,
                one,
                no_class,
                instance_only,
                five_ls,
                five_unpaired,
                five_paired,
                five_shuffled,
                seven,
            ] {
                let spec = LossSpec::Mlkd(params);
                let want = reference::evaluate(&spec, &inputs).unwrap();
                let got = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
                let what = format!("{params:?} {b}x{c} {backend:?}");
                let grad = got.grad.as_deref().unwrap();
                // At C = 2 a z-scored row is ±1/√2 whatever the logits: LS's instance term is
                // constant up to the 1e-7 in its std, and its gradient (~1e-6) is what is left
                // of terms of ~0.1/d cancelling in f32: there the bound is absolute, 1e-6.
                let floor = if params.standardize && c == 2 {
                    1e-3
                } else {
                    1e-9
                };
                let (loss, want_loss) = (f64::from(got.loss), want.loss);
                assert_close_floor(&what, loss, grad, want_loss, &want.grad, floor);
                let err = (loss - want_loss).abs();
                assert!(
                    err <= 1e-4 * want_loss.abs(),
                    "{what}: loss {loss} vs {want_loss}"
                );
                let again = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
                assert_eq!(got, again, "{what}: the same bits every run");
                let forward = gpu(backend).evaluate(&spec, &inputs, false).unwrap();
                assert_eq!(forward.loss, got.loss, "{what}: the forward pass alone");
            }
        }
    }
}

/// C at the class limit (a 4096×4096 Gram) on Vulkan.
#[test]
fn mlkd_at_the_class_limit() {
    let (b, c) = (2, MAX_CLASSES);
    let (student, teacher) = synthetic::logit_pair(5, b, c, 3.0);
    let shape = [b, c];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let spec = LossSpec::Mlkd(MlkdParams::new(&[2.0, 5.0]));
    let want = reference::evaluate(&spec, &inputs).unwrap();
    let got = gpu(BackendChoice::Vulkan)
        .evaluate(&spec, &inputs, true)
        .unwrap();
    let grad = got.grad.as_deref().unwrap();
    assert_close("C = 4096", f64::from(got.loss), grad, want.loss, &want.grad);
}

#[test]
fn mlkd_refusals_are_clear() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (student, teacher) = synthetic::logit_pair(1, 2, 5, 1.0);
    let shape = [2, 5];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let too_many = vec![2.0; MAX_TEMPERATURES + 1];
    for (params, needle) in [
        (MlkdParams::new(&[]), "at least one temperature"),
        (MlkdParams::new(&too_many), "at most 8 temperatures"),
        (
            MlkdParams::new(&[2.0, 0.0]),
            "temperature must be finite and > 0",
        ),
        (MlkdParams::default().with_bc_weight(f64::NAN), "bc weight"),
    ] {
        let spec = LossSpec::Mlkd(params);
        for err in [
            ctx.evaluate(&spec, &inputs, true).unwrap_err(),
            reference::evaluate(&spec, &inputs).unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::Param(ref m) if m.contains(needle)),
                "{needle}: {err}"
            );
        }
    }
    let wide = vec![0.0f32; MAX_CLASSES + 1];
    let wide_shape = [1, MAX_CLASSES + 1];
    let err = ctx
        .evaluate(
            &LossSpec::Mlkd(MlkdParams::default()),
            &Inputs::new(&wide, &wide, &wide_shape),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Limit(ref m) if m.contains("C ≤ 4096, got C = 4097")),
        "{err}"
    );
    let column = [2, 1];
    let ls = LossSpec::Mlkd(MlkdParams::default().with_standardize(true));
    let err = ctx
        .evaluate(
            &ls,
            &Inputs::new(&student[..2], &teacher[..2], &column),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Shape(ref m) if m.contains("2 classes")),
        "{err}"
    );
}
