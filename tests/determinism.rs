//! Fixed reduction trees, no atomics: 100 repeated evaluations of every loss are bitwise
//! identical, on Vulkan and on GL; the async API gives the same bits as the blocking one.

mod common;

use common::*;

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
