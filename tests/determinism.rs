//! Fixed reduction trees, no atomics: repeated evaluations are bitwise identical; the async API
//! gives the same bits as the blocking one.

mod common;

use common::*;
use wgpu_distill::{synthetic, DistParams, Inputs, KlParams, LossSpec};

#[test]
fn repeated_evaluations_are_bitwise_identical() {
    let (student, teacher) = synthetic::logit_pair(9, 300, 517, 3.0);
    let shape = [300, 517];
    let inputs = Inputs::new(&student, &teacher, &shape);
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        for spec in [
            LossSpec::Kl(KlParams { temperature: 4.0 }),
            LossSpec::Dist(DistParams::default()),
        ] {
            let first = ctx.evaluate(&spec, &inputs, true).unwrap();
            for _ in 0..25 {
                let again = ctx.evaluate(&spec, &inputs, true).unwrap();
                assert_eq!(
                    again.loss.to_bits(),
                    first.loss.to_bits(),
                    "{backend:?} {spec:?}"
                );
                assert!(
                    again
                        .grad
                        .as_ref()
                        .unwrap()
                        .iter()
                        .zip(first.grad.as_ref().unwrap())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{backend:?} {spec:?}: gradient changed between runs"
                );
            }
            let async_out =
                futures::executor::block_on(ctx.evaluate_async(&spec, &inputs, true)).unwrap();
            assert_eq!(async_out, first, "{backend:?} {spec:?}: async differs");
        }
    }
}
