//! kl's LS (`standardize`) and CTKD (`temperature_grad`) options against the float64 twin on
//! shapes the golden cases do not reach (several slots per lane, quads and strided rows, one
//! lane's worth, C = 2), with masking, a normaliser and the hard term; a constant row; 16-bit
//! inputs; and each refusal. LS on ttm (WTTM) and dkd the same way.

use crate::common::*;
use wgpu_distill::{
    reference, synthetic, BackendChoice, BufferRegion, DkdParams, Error, InputDtype, Inputs,
    JsdParams, KlParams, LossBindings, LossSpec, SparseTeacher, Strategy, TokenOptions, TtmParams,
};

fn ls_ctkd(t: f64, options: TokenOptions) -> LossSpec {
    LossSpec::Kl(KlParams::new(t).with_options(options))
}

/// ∂L/∂T within `1e-4` of the larger of |∂L/∂T| and the row sums' own size (2·L/T: the first
/// of the terms it is a difference of).
fn assert_grad_temperature(what: &str, got: f32, want: f64, loss: f64, t: f64) {
    let scale = want.abs().max(2.0 * loss.abs() / t);
    let err = (f64::from(got) - want).abs();
    assert!(
        err <= 1e-4 * scale,
        "{what}: ∂L/∂T {got} vs {want} (error {err:.2e}, scale {scale:.2e})"
    );
}

#[test]
fn standardize_and_temperature_grad_match_the_reference() {
    let plain = TokenOptions::default();
    let masked = TokenOptions::default()
        .with_hard_weight(0.1)
        .with_soft_weight(9.0);
    let normalised = TokenOptions::default().with_normalizer(Some(40.0));
    let cases = [
        (2.0, plain.with_standardize(true)),
        (4.0, plain.with_temperature_grad(true)),
        (
            1.0,
            plain.with_standardize(true).with_temperature_grad(true),
        ),
        (
            2.0,
            masked.with_standardize(true).with_temperature_grad(true),
        ),
        (1.0, masked.with_standardize(true)),
        (3.0, normalised.with_temperature_grad(true)),
    ];
    for backend in GPU_BACKENDS {
        for (b, c) in [(3, 3), (5, 7), (4, 1000), (3, 4099), (2, 32000)] {
            let (student, teacher) = synthetic::logit_pair(c as u64, b, c, 3.0);
            let labels = token_labels(b, c);
            let shape = [b, c];
            for (t, options) in cases {
                let spec = ls_ctkd(t, options);
                let mut inputs = Inputs::new(&student, &teacher, &shape);
                if options.hard_weight != 0.0 || options.normalizer.is_some() {
                    inputs = inputs.with_labels(&labels);
                }
                let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
                let want = reference::evaluate(&spec, &inputs).unwrap();
                let what = format!("{options:?} T={t} {b}x{c} {backend:?}");
                assert_close(
                    &what,
                    f64::from(out.loss),
                    out.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                );
                match (out.grad_temperature, want.grad_temperature) {
                    (Some(got), Some(w)) => assert_grad_temperature(&what, got, w, want.loss, t),
                    (None, None) => {}
                    other => panic!("{what}: ∂L/∂T {other:?}"),
                }
            }
        }
    }
}

/// A constant row z-scores to 0 (std 0): the student's softmax is uniform, nothing is NaN.
#[test]
fn a_constant_row_standardizes_to_zero() {
    let (b, c) = (3, 50);
    let (mut student, teacher) = synthetic::logit_pair(3, b, c, 2.0);
    student[c..2 * c].iter_mut().for_each(|z| *z = 0.7);
    let shape = [b, c];
    let inputs = Inputs::new(&student, &teacher, &shape);
    let spec = ls_ctkd(
        2.0,
        TokenOptions::default()
            .with_standardize(true)
            .with_temperature_grad(true),
    );
    let want = reference::evaluate(&spec, &inputs).unwrap();
    for backend in GPU_BACKENDS {
        let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
        let grad = out.grad.as_deref().unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{backend:?}");
        assert_close(
            &format!("{backend:?}"),
            f64::from(out.loss),
            grad,
            want.loss,
            &want.grad,
        );
    }
}

/// kl with LS or CTKD holds a row in registers where each lane has one slot (C <= 4 lanes a
/// row) unless the strategy turns held rows off: both forms, with and without the hard term
/// (the kernel variants compiled with and without it), quads and one-class, a constant row,
/// against the float64 twin.
#[test]
fn held_and_streamed_rows_match_the_reference() {
    let strategies = [
        (
            "streamed",
            Strategy::default().with_cached_rows(Some(false)),
        ),
        (
            "held, 256 lanes",
            Strategy::default().with_threads_per_row(Some(256)),
        ),
        (
            "held, 256 lanes, one-class",
            Strategy::default()
                .with_threads_per_row(Some(256))
                .with_quads(Some(false)),
        ),
    ];
    let both = TokenOptions::default()
        .with_standardize(true)
        .with_temperature_grad(true);
    let cases = [
        (2.0, TokenOptions::default().with_standardize(true)),
        (4.0, TokenOptions::default().with_temperature_grad(true)),
        (3.0, both),
        (
            1.5,
            hard_options()
                .with_standardize(true)
                .with_temperature_grad(true),
        ),
    ];
    for backend in GPU_BACKENDS {
        for (name, strategy) in strategies {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(strategy).unwrap();
            for (b, c) in [(5, 7), (4, 32), (3, 1000), (3, 1024), (2, 1030)] {
                let (mut student, teacher) = synthetic::logit_pair(c as u64 + 1, b, c, 3.0);
                student[c..2 * c].iter_mut().for_each(|z| *z = -0.3);
                let labels = token_labels(b, c);
                let shape = [b, c];
                for (t, options) in cases {
                    let spec = ls_ctkd(t, options);
                    let mut inputs = Inputs::new(&student, &teacher, &shape);
                    if options.hard_weight != 0.0 {
                        inputs = inputs.with_labels(&labels);
                    }
                    let out = ctx.evaluate(&spec, &inputs, true).unwrap();
                    let want = reference::evaluate(&spec, &inputs).unwrap();
                    let what = format!("{name} {options:?} T={t} {b}x{c} {backend:?}");
                    assert_close(
                        &what,
                        f64::from(out.loss),
                        out.grad.as_deref().unwrap(),
                        want.loss,
                        &want.grad,
                    );
                    match (out.grad_temperature, want.grad_temperature) {
                        (Some(got), Some(w)) => {
                            assert_grad_temperature(&what, got, w, want.loss, t)
                        }
                        (None, None) => {}
                        other => panic!("{what}: ∂L/∂T {other:?}"),
                    }
                }
            }
        }
    }
}

/// f16 and bf16 logits: against the reference on the same rounded values.
#[test]
fn standardize_reads_16_bit_inputs() {
    let spec = ls_ctkd(
        2.0,
        TokenOptions::default()
            .with_standardize(true)
            .with_temperature_grad(true),
    );
    for backend in GPU_BACKENDS {
        for (b, c) in [(4, 1000), (3, 101)] {
            let (student, teacher) = synthetic::logit_pair(b as u64, b, c, 3.0);
            let shape = [b, c];
            for dtype in [InputDtype::F16, InputDtype::Bf16] {
                let (s16, t16) = (dtype.round_trip(&student), dtype.round_trip(&teacher));
                let raw = Inputs::new(&student, &teacher, &shape);
                let out = gpu(backend).evaluate_as(&spec, &raw, true, dtype).unwrap();
                let want = reference::evaluate(&spec, &Inputs::new(&s16, &t16, &shape)).unwrap();
                let what = format!("{b}x{c} {dtype:?} {backend:?}");
                assert_close(
                    &what,
                    f64::from(out.loss),
                    out.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                );
                let w = want.grad_temperature.unwrap();
                assert_grad_temperature(&what, out.grad_temperature.unwrap(), w, want.loss, 2.0);
            }
        }
    }
}

/// LS on ttm (TTM, WTTM: kl's LS rows with the teacher at power γ) and on dkd (its own LS
/// rows, with and without the hard term), against the float64 twin: one lane's worth, several
/// slots per lane, quads and strided rows; constant student and teacher rows; f16 inputs.
#[test]
fn standardize_on_ttm_and_dkd_matches_the_reference() {
    let specs = [
        LossSpec::Ttm(TtmParams::new(0.2).with_standardize(true)),
        LossSpec::Ttm(
            TtmParams::new(0.1)
                .with_weighted(true)
                .with_standardize(true),
        ),
        LossSpec::Dkd(DkdParams::new(2.0, 1.0, 8.0).with_standardize(true)),
        LossSpec::Dkd(
            DkdParams::new(4.0, 1.0, 8.0)
                .with_hard_weight(0.1)
                .with_soft_weight(9.0)
                .with_standardize(true),
        ),
    ];
    for backend in GPU_BACKENDS {
        for (b, c) in [(3, 3), (5, 7), (4, 1000), (3, 4099), (2, 32000)] {
            let (mut student, mut teacher) = synthetic::logit_pair(c as u64 + 7, b, c, 3.0);
            // A constant student row and a constant teacher row: ẑ = 0, nothing NaN.
            student[..c].iter_mut().for_each(|z| *z = 0.7);
            teacher[(b - 1) * c..].iter_mut().for_each(|z| *z = -1.5);
            let labels: Vec<i64> = (0..b as i64).map(|r| (r * 5 + 1) % c as i64).collect();
            let shape = [b, c];
            for spec in &specs {
                let mut inputs = Inputs::new(&student, &teacher, &shape);
                if spec.needs_labels() {
                    inputs = inputs.with_labels(&labels);
                }
                let want = reference::evaluate(spec, &inputs).unwrap();
                let what = format!("{spec:?} {b}x{c} {backend:?}");
                let out = gpu(backend).evaluate(spec, &inputs, true).unwrap();
                let grad = out.grad.as_deref().unwrap();
                assert_close(&what, f64::from(out.loss), grad, want.loss, &want.grad);
                if c == 1000 {
                    let dtype = InputDtype::F16;
                    let (s16, t16) = (dtype.round_trip(&student), dtype.round_trip(&teacher));
                    let mut rounded = Inputs::new(&s16, &t16, &shape);
                    if spec.needs_labels() {
                        rounded = rounded.with_labels(&labels);
                    }
                    let want = reference::evaluate(spec, &rounded).unwrap();
                    let out = gpu(backend)
                        .evaluate_as(spec, &inputs, true, dtype)
                        .unwrap();
                    let grad = out.grad.as_deref().unwrap();
                    let what = format!("{what} f16");
                    assert_close(&what, f64::from(out.loss), grad, want.loss, &want.grad);
                }
            }
        }
    }
}

#[test]
fn logit_option_refusals_are_clear() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (student, teacher) = (vec![0.5f32; 4], vec![0.25f32; 4]);
    let column = [4usize, 1];
    let ls = KlParams::new(2.0).with_standardize(true);
    let err = ctx
        .evaluate(
            &LossSpec::Kl(ls),
            &Inputs::new(&student, &teacher, &column),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Shape(ref m) if m.contains("2 classes")),
        "{err}"
    );
    let cpu = reference::evaluate(&LossSpec::Kl(ls), &Inputs::new(&student, &teacher, &column));
    assert!(matches!(cpu, Err(Error::Shape(_))));
    let ttm = LossSpec::Ttm(TtmParams::default().with_standardize(true));
    let inputs = Inputs::new(&student, &teacher, &column);
    for err in [
        ctx.evaluate(&ttm, &inputs, true).unwrap_err(),
        reference::evaluate(&ttm, &inputs).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::Shape(ref m) if m.contains("2 classes")),
            "{err}"
        );
    }

    let shape = [2usize, 2];
    let jsd = JsdParams::default().with_options(TokenOptions::default().with_standardize(true));
    let err = ctx
        .evaluate(
            &LossSpec::Jsd(jsd),
            &Inputs::new(&student, &teacher, &shape),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Param(ref m) if m.contains("not jsd")),
        "{err}"
    );

    let (ids, logprobs) = (vec![0i64, 1], vec![-0.1f32, -0.2]);
    let sparse = SparseTeacher::new(&ids, &logprobs, 1);
    let ctkd = LossSpec::Kl(KlParams::new(1.0).with_temperature_grad(true));
    let err = ctx
        .evaluate(
            &ctkd,
            &Inputs::with_sparse_teacher(&student, sparse, &shape),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Param(ref m) if m.contains("sparse")),
        "{err}"
    );
}

/// A recorded CTKD call writes [L, ∂L/∂T]: a loss region of one f32 is refused.
#[test]
fn a_recorded_ctkd_call_needs_two_loss_values() {
    let ctx = gpu(BackendChoice::Vulkan);
    let device = ctx.device();
    let buffer = |bytes: u64| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let (s, t, small) = (buffer(64), buffer(64), buffer(4));
    let mut encoder = device.create_command_encoder(&Default::default());
    let spec = LossSpec::Kl(KlParams::new(2.0).with_temperature_grad(true));
    let err = ctx
        .record(
            &mut encoder,
            &spec,
            &[2, 8],
            &LossBindings::new(
                BufferRegion::new(&s),
                BufferRegion::new(&t),
                BufferRegion::new(&small),
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");
}
