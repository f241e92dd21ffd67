//! The subgroup strategy: segment reductions by subgroup shuffles where the device grants
//! SUBGROUP (lavapipe: subgroups of 8; wider rows fold to 8 lanes through workgroup memory
//! first), and workgroup barriers elsewhere (GL). The two forms fold the same pairs in the same
//! order: forcing either gives bitwise the same results.

use crate::common::*;
use wgpu_distill::losses::DkdParams;
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, InputDtype, Inputs, KlParams, LossSpec, Strategy,
};

fn specs() -> [LossSpec; 3] {
    [
        LossSpec::Kl(KlParams::new(2.0)),
        LossSpec::Dist(DistParams::default()),
        LossSpec::Dkd(DkdParams::default()),
    ]
}

#[test]
fn vulkan_test_adapter_uses_subgroup_reductions() {
    let ctx = gpu(BackendChoice::Vulkan);
    let lanes = ctx.subgroup_layout().unwrap_or_else(|| {
        panic!(
            "the Vulkan test adapter ({}) should grant SUBGROUP with a linear layout \
             (lavapipe does, with subgroups of 8); the subgroup path would go untested",
            ctx.adapter_summary().name
        )
    });
    assert!(lanes >= 4, "{lanes}");
    // Rows of up to `lanes` lanes reduce by shuffles alone, wider ones finish by shuffles.
    for tpr in [1, 2, 4, lanes, 2 * lanes, 256] {
        assert!(ctx.subgroups_for(tpr), "TPR {tpr}");
    }
}

#[test]
fn gl_has_no_subgroups_and_still_runs_when_they_are_asked_for() {
    let mut ctx = fresh_gpu(BackendChoice::Gl);
    assert_eq!(ctx.subgroup_layout(), None);
    ctx.set_strategy(
        Strategy::default()
            .with_subgroups(Some(true))
            .with_threads_per_row(Some(8)),
    )
    .unwrap();
    assert!(!ctx.subgroups_for(8));
    let (s, t) = synthetic::logit_pair(4, 6, 40, 2.0);
    let out = ctx
        .evaluate(&specs()[1], &Inputs::new(&s, &t, &[6, 40]), true)
        .unwrap();
    assert!(out.loss.is_finite());
}

#[test]
fn subgroup_and_barrier_reductions_give_the_same_bits() {
    let lanes = gpu(BackendChoice::Vulkan)
        .subgroup_layout()
        .expect("lavapipe grants SUBGROUP (see vulkan_test_adapter_uses_subgroup_reductions)");
    let mut with = fresh_gpu(BackendChoice::Vulkan);
    let mut without = fresh_gpu(BackendChoice::Vulkan);
    let mut compared = 0;
    // 1 to 8 lanes a row: shuffles alone (lavapipe's subgroups have 8 lanes); 16 to 256: the
    // tree's wide levels through workgroup memory, the last three by shuffles.
    assert_eq!(
        lanes, 8,
        "the TPR range below assumes lavapipe's subgroups of 8"
    );
    // Each TPR with DIST's row pass in two reads and in one (`dist_row_reads`).
    for (tpr, dist_row_reads) in (0..=8).flat_map(|k| [(1u32 << k, Some(2)), (1u32 << k, Some(1))])
    {
        for (ctx, subgroups) in [(&mut with, true), (&mut without, false)] {
            ctx.set_strategy(
                Strategy::default()
                    .with_subgroups(Some(subgroups))
                    .with_threads_per_row(Some(tpr))
                    .with_dist_row_reads(dist_row_reads),
            )
            .unwrap();
            assert_eq!(ctx.subgroups_for(tpr), subgroups, "TPR {tpr}");
        }
        // 133 classes: one element per load; 132 and 1000: the quad kernels.
        for (b, c) in [(19, 133), (11, 132), (5, 1000)] {
            let (s, t) = synthetic::logit_pair(u64::from(tpr) + c as u64, b, c, 3.0);
            let labels: Vec<i64> = (0..b as i64).map(|r| (r * 7) % c as i64).collect();
            let shape = [b, c];
            for dtype in [InputDtype::F32, InputDtype::F16] {
                for spec in specs() {
                    let mut inputs = Inputs::new(&s, &t, &shape);
                    if spec.needs_labels() {
                        inputs = inputs.with_labels(&labels);
                    }
                    let a = with.evaluate_as(&spec, &inputs, true, dtype).unwrap();
                    let b_out = without.evaluate_as(&spec, &inputs, true, dtype).unwrap();
                    let what = format!("{spec:?} {b}x{c} {dtype:?} TPR {tpr} {dist_row_reads:?}");
                    assert_eq!(a.loss.to_bits(), b_out.loss.to_bits(), "{what}");
                    assert_eq!(a.grad, b_out.grad, "{what}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 9 * 2 * 3 * 2 * 3);
}
