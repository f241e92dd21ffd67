//! The benchmark harness (`wgpu_distill::bench`; `wgpu-distill bench` is tested in
//! `cli/tests/cli/bench.rs`): its report has the shape of the command line's. No timing is
//! asserted: only that times were measured.

use crate::common::*;
use wgpu_distill::bench::{run_one, BenchInputs, BenchOptions, Pass};
use wgpu_distill::{DistParams, GpuContext, InputDtype, KlParams, LossSpec};

#[test]
fn library_harness_reports_the_same_shape_of_result() {
    // A context of its own on the shared device: the other tests of this binary call the shared
    // context meanwhile, which changes its cache counts.
    let shared = gpu(wgpu_distill::BackendChoice::Vulkan);
    let ctx = &GpuContext::from_device(shared.device(), shared.queue()).unwrap();
    let data = BenchInputs::synthetic(24, 130);
    for spec in [
        LossSpec::Kl(KlParams::new(4.0)),
        LossSpec::Dist(DistParams::default()),
    ] {
        let options = BenchOptions {
            warmup: 1,
            iters: 2,
            per_dispatch: false,
            roofline: true,
        };
        let r = run_one(
            ctx,
            &spec,
            &data,
            InputDtype::F32,
            Pass::ForwardGrad,
            &options,
        )
        .unwrap();
        assert_eq!(r.shape, [24, 130]);
        assert!(
            r.gpu_ms > 0.0 && r.roofline_ms > 0.0 && r.encode_us > 0.0 && r.encode_warm_us > 0.0,
            "{r:?}"
        );
        assert!(r.dispatch_ms.is_empty());
        // The harness's buffers are not kept alive by the bind-group cache afterwards: a
        // second run leaves exactly as many cached bind groups (those on scratch buffers).
        let before = ctx.cache_stats().bind_groups;
        run_one(
            ctx,
            &spec,
            &data,
            InputDtype::F32,
            Pass::ForwardGrad,
            &options,
        )
        .unwrap();
        assert_eq!(ctx.cache_stats().bind_groups, before, "{spec:?}");
    }
}
