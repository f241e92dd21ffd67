//! The per-adapter defaults (`wgpu_distill::tuning`): the table itself, and a GPU's defaults
//! run on the software adapters, so that the paths a GPU takes by default are checked where CI
//! runs (it has no GPU).

use crate::common::*;
use wgpu_distill::tuning::{AdapterClass, Lanes, CPU_RASTERIZER, GPU};
use wgpu_distill::{reference, synthetic, DistParams, Inputs, KlParams, LossSpec, Tuning};

#[test]
fn each_class_has_one_row_and_the_lane_rules_hold() {
    assert_eq!(Tuning::for_class(AdapterClass::Gpu), &GPU);
    assert_eq!(
        Tuning::for_class(AdapterClass::CpuRasterizer),
        &CPU_RASTERIZER
    );
    assert_eq!(CPU_RASTERIZER.lanes, Lanes::Fixed(8));
    // About sixteen classes a lane, from a warp to a workgroup.
    for (cols, lanes) in [(1, 32), (100, 32), (1000, 64), (4000, 256), (32000, 256)] {
        assert_eq!(GPU.threads_per_row(cols), lanes, "C = {cols}");
        assert_eq!(CPU_RASTERIZER.threads_per_row(cols), 8, "C = {cols}");
    }
    // About 64 column tiles of 16 to 1024 rows; 8 on a CPU when a row fits one column group.
    assert_eq!(GPU.tile_rows(4096, 1), 64);
    assert_eq!(GPU.tile_rows(512, 32), 16);
    assert_eq!(GPU.tile_rows(1 << 20, 1), 1024);
    assert_eq!(CPU_RASTERIZER.tile_rows(4096, 1), 512);
    assert_eq!(CPU_RASTERIZER.tile_rows(4096, 2), 64);
}

#[test]
fn the_software_adapters_get_the_cpu_rasterizer_row() {
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        assert_eq!(
            ctx.tuning(),
            &CPU_RASTERIZER,
            "{}: a CPU adapter must keep the defaults measured on lavapipe",
            ctx.backend_name()
        );
    }
}

/// A GPU's defaults on the software adapters: every logit loss against the float64
/// reference, and DIST's one-element column pass bitwise equal to its quad form.
#[test]
fn gpu_defaults_are_exact_on_the_software_adapters() {
    let specs = [
        LossSpec::Kl(KlParams::new(4.0)),
        LossSpec::Dist(DistParams::default()),
        LossSpec::Dkd(wgpu_distill::losses::DkdParams::default()),
        LossSpec::Jsd(wgpu_distill::JsdParams::default()),
    ];
    for backend in GPU_BACKENDS {
        let mut gpu_tuned = fresh_gpu(backend);
        gpu_tuned.set_tuning(GPU);
        let mut column_quads = fresh_gpu(backend);
        column_quads.set_tuning(Tuning {
            dist_column_quads: true,
            ..GPU
        });
        for (b, c) in [(64, 100), (300, 1000), (8, 4000), (5, 1001)] {
            let (student, teacher) = synthetic::logit_pair(3, b, c, 3.0);
            let labels: Vec<i64> = (0..b as i64).map(|r| r % c as i64).collect();
            let shape = [b, c];
            for spec in &specs {
                let mut inputs = Inputs::new(&student, &teacher, &shape);
                if matches!(spec, LossSpec::Dkd(_) | LossSpec::Jsd(_)) {
                    inputs = inputs.with_labels(&labels);
                }
                let what = format!(
                    "{} {b}x{c} on {} under a GPU's defaults",
                    spec.name(),
                    gpu_tuned.backend_name()
                );
                let want = reference::evaluate(spec, &inputs).unwrap();
                let got = gpu_tuned.evaluate(spec, &inputs, true).unwrap();
                assert_close(
                    &what,
                    f64::from(got.loss),
                    got.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                );
                if let LossSpec::Dist(_) = spec {
                    let quads = column_quads.evaluate(spec, &inputs, true).unwrap();
                    assert_eq!(
                        got, quads,
                        "{what}: the one-element column pass differs from the quad one"
                    );
                }
            }
        }
    }
}
