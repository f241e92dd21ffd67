//! One context shared by 8 threads evaluating different losses and shapes gives the same bits
//! as serial runs; the async API lets other tasks of a single-threaded executor run while the
//! GPU works.

mod common;

use std::sync::Arc;

use common::*;
use wgpu_distill::losses::{AtParams, DkdParams, RkdParams};
use wgpu_distill::{synthetic, DistParams, GpuContext, Inputs, KlParams, LossOutput, LossSpec};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<GpuContext>();
    assert_send_sync::<LossSpec>();
    assert_send_sync::<LossOutput>();
    assert_send_sync::<wgpu_distill::Error>();
}

struct Job {
    spec: LossSpec,
    dims: Vec<usize>,
    student: Vec<f32>,
    teacher: Vec<f32>,
    labels: Option<Vec<i64>>,
}

impl Job {
    fn run(&self, ctx: &GpuContext) -> LossOutput {
        let mut inputs = Inputs::new(&self.student, &self.teacher, &self.dims);
        if let Some(l) = &self.labels {
            inputs = inputs.with_labels(l);
        }
        ctx.evaluate(&self.spec, &inputs, true).unwrap()
    }
}

fn jobs() -> Vec<Job> {
    let specs: [(LossSpec, Vec<usize>); 8] = [
        (LossSpec::Kl(KlParams { temperature: 2.0 }), vec![33, 100]),
        (LossSpec::Dist(DistParams::default()), vec![64, 257]),
        (LossSpec::Dkd(DkdParams::default()), vec![16, 10]),
        (LossSpec::Fitnet, vec![4, 8, 5, 5]),
        (LossSpec::At(AtParams::default()), vec![3, 4, 6, 6]),
        (LossSpec::Rkd(RkdParams::default()), vec![12, 9]),
        (LossSpec::Hcl, vec![2, 3, 7, 7]),
        (
            LossSpec::Dist(DistParams {
                temperature: 4.0,
                beta: 2.0,
                gamma: 1.0,
            }),
            vec![7, 1000],
        ),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (spec, dims))| {
            let n: usize = dims.iter().product();
            let labels = spec
                .needs_labels()
                .then(|| (0..dims[0] as i64).map(|r| r % dims[1] as i64).collect());
            Job {
                spec,
                student: synthetic::normal_vec(i as u64, n, 2.0),
                teacher: synthetic::normal_vec(i as u64 + 50, n, 2.0),
                dims,
                labels,
            }
        })
        .collect()
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
