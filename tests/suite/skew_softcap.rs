//! Skew KL, skew reverse KL and soft-capping beyond the golden cases (the strategy sweep is in
//! `token.rs`, the near-uniform rows in `family.rs`): logits far past the cap, the refusals.

use crate::common::*;
use wgpu_distill::{
    losses, reference, synthetic, Error, Inputs, JsdParams, KlParams, LossSpec, ParamValues,
    SklParams, SparseTeacher, SrklParams, TokenOptions,
};

/// Logits of ±1e4 under a cap of 5: the capped rows are at most 10 apart, the cap's slope
/// underflows to 0 there, and nothing overflows; the GPU matches the float64 twin.
#[test]
fn logits_far_beyond_the_cap() {
    let (b, c) = (6, 300);
    let (mut student, mut teacher) = synthetic::logit_pair(5, b, c, 3.0);
    for (i, (s, t)) in student.iter_mut().zip(teacher.iter_mut()).enumerate() {
        if i % 7 == 0 {
            *s = if i % 2 == 0 { 1e4 } else { -1e4 };
            *t = -*s;
        }
    }
    let labels: Vec<i64> = (0..b as i64).map(|r| (r * 7) % c as i64).collect();
    let capped = TokenOptions::default()
        .with_softcap(Some(5.0))
        .with_hard_weight(0.5);
    let specs = [
        LossSpec::Kl(KlParams::new(2.0).with_options(capped)),
        LossSpec::Jsd(JsdParams::new(1.0, 0.5).with_options(capped)),
        LossSpec::Skl(SklParams::new(1.0, 0.1).with_options(capped)),
        LossSpec::Srkl(SrklParams::new(1.0, 0.1).with_options(capped)),
    ];
    let shape = [b, c];
    let inputs = Inputs::new(&student, &teacher, &shape).with_labels(&labels);
    for spec in &specs {
        let want = reference::evaluate(spec, &inputs).unwrap();
        for backend in GPU_BACKENDS {
            let out = gpu(backend).evaluate(spec, &inputs, true).unwrap();
            let grad = out.grad.as_deref().unwrap();
            assert!(grad.iter().all(|g| g.is_finite()), "{spec:?} {backend:?}");
            assert_close(
                &format!("{spec:?} on {backend:?}"),
                f64::from(out.loss),
                grad,
                want.loss,
                &want.grad,
            );
        }
    }
}

/// Each refusal is a parameter error before any work: a skew outside [0, 1), a cap that is not
/// finite and positive, a cap with LS or CTKD or with a sparse teacher, and the names that do
/// not apply.
#[test]
fn skew_and_softcap_refusals() {
    let (student, teacher) = synthetic::logit_pair(1, 3, 4, 1.0);
    let inputs = Inputs::new(&student, &teacher, &[3, 4]);
    let kl_cap = |c: f64| {
        LossSpec::Kl(KlParams::new(1.0).with_options(TokenOptions::default().with_softcap(Some(c))))
    };
    let bad = [
        (LossSpec::Skl(SklParams::new(1.0, 1.0)), "skew"),
        (LossSpec::Srkl(SrklParams::new(1.0, -0.1)), "skew"),
        (LossSpec::Skl(SklParams::new(1.0, f64::NAN)), "skew"),
        (kl_cap(0.0), "softcap"),
        (kl_cap(-2.0), "softcap"),
        (kl_cap(f64::INFINITY), "softcap"),
        (
            LossSpec::Kl(
                KlParams::new(1.0).with_options(
                    TokenOptions::default()
                        .with_softcap(Some(3.0))
                        .with_standardize(true),
                ),
            ),
            "standardize",
        ),
    ];
    for (spec, word) in &bad {
        for backend in GPU_BACKENDS {
            let err = gpu(backend).evaluate(spec, &inputs, true).unwrap_err();
            assert!(
                matches!(&err, Error::Param(m) if m.contains(word)),
                "{spec:?}: {err}"
            );
        }
        assert!(reference::evaluate(spec, &inputs).is_err(), "{spec:?}");
    }
    // A sparse teacher has no logits to cap.
    let ids = [0i64, 1, 2, 3, 1, 0];
    let logprobs = [-1.0f32, -2.0, -1.5, -0.5, -1.0, -3.0];
    let sparse =
        Inputs::with_sparse_teacher(&student, SparseTeacher::new(&ids, &logprobs, 2), &[3, 4]);
    let err = gpu(GPU_BACKENDS[0])
        .evaluate(&kl_cap(3.0), &sparse, true)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Param(m) if m.contains("softcap")),
        "{err}"
    );
    // Names: skew is skl's and srkl's, softcap the token losses'.
    let skew = ParamValues::new().with("skew", 0.2);
    assert!(losses::build("kl", &skew).is_err());
    assert_eq!(
        losses::build("srkl", &skew).unwrap(),
        LossSpec::Srkl(SrklParams::new(1.0, 0.2))
    );
    let cap = ParamValues::new().with("softcap", 30.0);
    assert!(losses::build("dkd", &cap).is_err());
    let Ok(LossSpec::Tvd(p)) = losses::build("tvd", &cap) else {
        panic!("tvd takes softcap")
    };
    assert_eq!(p.options.softcap, Some(30.0));
}
