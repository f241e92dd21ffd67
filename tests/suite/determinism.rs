//! Fixed reduction trees, no atomics: 100 repeated evaluations of every loss are bitwise
//! identical, on Vulkan and on GL; the async API gives the same bits as the blocking one.

use crate::common::*;

#[test]
fn repeated_evaluations_are_bitwise_identical() {
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        for job in jobs() {
            let first = job.run(ctx);
            for _ in 0..100 {
                let again = job.run(ctx);
                assert_eq!(
                    again.loss.to_bits(),
                    first.loss.to_bits(),
                    "{backend:?} {:?}",
                    job.spec
                );
                assert!(
                    again
                        .grad
                        .as_ref()
                        .unwrap()
                        .iter()
                        .zip(first.grad.as_ref().unwrap())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{backend:?} {:?}: gradient changed between runs",
                    job.spec
                );
            }
            let async_out =
                futures::executor::block_on(ctx.evaluate_async(&job.spec, &job.inputs(), true))
                    .unwrap();
            assert_eq!(
                async_out, first,
                "{backend:?} {:?}: async differs",
                job.spec
            );
        }
    }
}

/// DIST's row pass in one read and in two (`dist_row_reads`), with and without the hard term:
/// 100 repeats bitwise identical (lanes merge in fixed trees, no atomics).
#[test]
fn dist_row_pass_forms_are_bitwise_repeatable() {
    use wgpu_distill::{synthetic, DistParams, Inputs, LossSpec, Strategy};
    for (backend, reads) in GPU_BACKENDS.into_iter().flat_map(|b| [(b, 1), (b, 2)]) {
        let mut ctx = fresh_gpu(backend);
        ctx.set_strategy(Strategy::default().with_dist_row_reads(Some(reads)))
            .unwrap();
        let (b, c) = (33, 1000);
        let (s, t) = synthetic::logit_pair(5, b, c, 3.0);
        let labels: Vec<i64> = (0..b as i64).map(|r| (r * 11) % c as i64).collect();
        let shape = [b, c];
        for hard_weight in [0.0, 1.0] {
            let spec = LossSpec::Dist(
                DistParams::default()
                    .with_temperature(4.0)
                    .with_hard_weight(hard_weight),
            );
            let inputs = Inputs::new(&s, &t, &shape).with_labels(&labels);
            let first = ctx.evaluate(&spec, &inputs, true).unwrap();
            for _ in 0..100 {
                let again = ctx.evaluate(&spec, &inputs, true).unwrap();
                assert_eq!(
                    again.loss.to_bits(),
                    first.loss.to_bits(),
                    "{backend:?} {spec:?}"
                );
                let same = again
                    .grad
                    .as_ref()
                    .unwrap()
                    .iter()
                    .zip(first.grad.as_ref().unwrap());
                assert!(
                    same.clone().all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{backend:?} {spec:?}: gradient changed between runs"
                );
            }
        }
    }
}
