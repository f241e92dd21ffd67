//! Criterion: host-call latency of each loss (upload, record, submit, readback) on the default
//! adapter. For GPU time against the roofline use `wgpu-distill bench`.

use criterion::{criterion_group, criterion_main, Criterion};
use wgpu_distill::{synthetic, BackendChoice, DistParams, GpuContext, Inputs, KlParams, LossSpec};

fn host_calls(c: &mut Criterion) {
    let ctx = GpuContext::new(BackendChoice::Auto).expect(wgpu_distill::NO_ADAPTER_HELP);
    let mut group = c.benchmark_group(format!("host call on {}", ctx.adapter_summary().name));
    group.sample_size(20);
    for (b, cols) in [(128usize, 100usize), (256, 1000)] {
        let (student, teacher) = synthetic::logit_pair(1, b, cols, 3.0);
        let shape = [b, cols];
        let inputs = Inputs::new(&student, &teacher, &shape);
        for spec in [
            LossSpec::Kl(KlParams::new(4.0)),
            LossSpec::Dist(DistParams::default()),
        ] {
            group.bench_function(
                format!("{} {b}x{cols} forward+grad", spec.name()),
                |bench| bench.iter(|| ctx.evaluate(&spec, &inputs, true).expect("evaluate")),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, host_calls);
criterion_main!(benches);
