//! Every KL and DIST golden case, forward and gradient: on Vulkan, on GL, with the float64
//! reference (through the command line with each backend: `cli/tests/cli/golden.rs`).

use crate::common::*;
use wgpu_distill::{BackendChoice, Inputs};

fn check_library(loss: &str) {
    for case in golden_cases(loss) {
        check_golden_case(&case, &case.spec().unwrap());
    }
}

#[test]
fn kl_golden_cases() {
    check_library("kl");
}

#[test]
fn dist_golden_cases() {
    check_library("dist");
}

#[test]
fn dkd_golden_cases() {
    check_library("dkd");
}

#[test]
fn fitnet_golden_cases() {
    check_library("fitnet");
}

#[test]
fn at_golden_cases() {
    check_library("at");
}

#[test]
fn rkd_golden_cases() {
    check_library("rkd");
}

#[test]
fn ickd_golden_cases() {
    check_library("ickd");
}

#[test]
fn hcl_golden_cases() {
    check_library("hcl");
}

#[test]
fn backend_choice_is_honoured() {
    assert_eq!(gpu(BackendChoice::Vulkan).backend_name(), "vulkan");
    assert_eq!(gpu(BackendChoice::Gl).backend_name(), "gl");
}

/// The logit losses' golden cases again with each kernel path forced: rows held in registers
/// (and DIST's fused tile pass) or streamed (DIST's row pass in two reads or one), four classes
/// per load (where C allows) or one.
#[test]
fn golden_cases_on_every_kernel_path() {
    for backend in GPU_BACKENDS {
        // Streamed rows with DIST's row pass in one read and in two (`dist_row_reads`).
        let paths = [
            (Some(true), None),
            (Some(false), Some(2)),
            (Some(false), Some(1)),
        ]
        .into_iter()
        .flat_map(|(cached, reads)| [None, Some(8), Some(256)].map(|tpr| (cached, reads, tpr)))
        .flat_map(|(cached, reads, tpr)| {
            [None, Some(false)].map(|quads| (cached, reads, tpr, quads))
        });
        for (cached_rows, dist_row_reads, threads_per_row, quads) in paths {
            {
                let mut ctx = fresh_gpu(backend);
                ctx.set_strategy(
                    wgpu_distill::Strategy::default()
                        .with_threads_per_row(threads_per_row)
                        .with_cached_rows(cached_rows)
                        .with_quads(quads)
                        .with_dist_row_reads(dist_row_reads),
                )
                .unwrap();
                for loss in ["kl", "dist", "dkd"] {
                    for case in golden_cases(loss) {
                        let (student, teacher) = (case.student(), case.teacher());
                        let labels = case.labels();
                        let mut inputs = Inputs::new(&student, &teacher, &case.shape);
                        if let Some(l) = &labels {
                            inputs = inputs.with_labels(l);
                        }
                        let out = ctx.evaluate(&case.spec().unwrap(), &inputs, true).unwrap();
                        assert_close(
                            &format!(
                                "{} on {backend:?} cached {cached_rows:?} row reads {dist_row_reads:?} tpr {threads_per_row:?} quads {quads:?}",
                                case.name
                            ),
                            f64::from(out.loss),
                            out.grad.as_deref().unwrap(),
                            case.expected_loss,
                            &case.grad(),
                        );
                    }
                }
            }
        }
    }
}
