//! One context shared by 8 threads evaluating different losses and shapes gives the same bits
//! as serial runs; the async API lets other tasks of a single-threaded executor run while the
//! GPU works.

use std::sync::Arc;

use crate::common::*;
use wgpu_distill::{synthetic, DistParams, GpuContext, Inputs, LossOutput, LossSpec};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<GpuContext>();
    assert_send_sync::<LossSpec>();
    assert_send_sync::<LossOutput>();
    assert_send_sync::<wgpu_distill::Error>();
}

#[test]
fn eight_threads_share_one_context() {
    for backend in GPU_BACKENDS {
        let ctx = Arc::new(fresh_gpu(backend));
        let jobs = Arc::new(jobs());
        let serial: Vec<LossOutput> = jobs.iter().map(|j| j.run(&ctx)).collect();
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (ctx, jobs) = (ctx.clone(), jobs.clone());
                std::thread::spawn(move || {
                    // Each thread runs every job, starting at a different one, several times.
                    (0..3 * jobs.len())
                        .map(|k| {
                            let i = (t + k) % jobs.len();
                            (i, jobs[i].run(&ctx))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (i, out) in handle.join().expect("thread panicked") {
                assert_eq!(
                    out, serial[i],
                    "{backend:?}: job {i} differs from the serial run"
                );
            }
        }
    }
}

/// Returns Pending once after asking to be polled again.
async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn async_evaluation_does_not_block_the_executor() {
    use futures::task::LocalSpawnExt;
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let (student, teacher) = synthetic::logit_pair(1, 512, 2000, 3.0);
    let shape = [512, 2000];
    let spec = LossSpec::Dist(DistParams::default());
    let blocking = ctx
        .evaluate(&spec, &Inputs::new(&student, &teacher, &shape), true)
        .unwrap();

    let mut pool = futures::executor::LocalPool::new();
    let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let done = std::rc::Rc::new(std::cell::Cell::new(false));
    let (t, d) = (ticks.clone(), done.clone());
    // A second task on the same thread: it only advances while evaluate_async is pending.
    pool.spawner()
        .spawn_local(async move {
            while !d.get() {
                t.set(t.get() + 1);
                yield_now().await;
            }
        })
        .unwrap();
    let result = pool.run_until(async {
        let out = ctx
            .evaluate_async(&spec, &Inputs::new(&student, &teacher, &shape), true)
            .await;
        done.set(true);
        out
    });
    assert_eq!(result.unwrap(), blocking);
    assert!(
        ticks.get() > 1,
        "the other task never ran while the GPU worked ({} ticks)",
        ticks.get()
    );
}
