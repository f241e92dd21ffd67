//! Input traffic, counted: every kernel that reads logits is built with loads that count each
//! element they read (`GpuContext::count_input_loads`, `shaders/lib/input_f32_counted.wgsl`),
//! and each DIST path is run on lavapipe to see how many times it reads each input element.
//! The default streaming path reads each element five times (row pass twice, column pass once,
//! gradient pass twice), four with the one-read row pass (`Strategy::dist_row_reads = 1`); the
//! fused tile pass with the cached gradient reads it twice. KL is measured beside them.

use crate::common::*;
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, GpuContext, Inputs, KlParams, LossSpec, Strategy,
};

/// How many times `spec` reads each student and each teacher element (the same count for
/// every element, asserted), with or without the gradient.
fn reads_per_element(
    strategy: Strategy,
    spec: &LossSpec,
    (rows, cols): (usize, usize),
    want_grad: bool,
) -> (u32, u32) {
    let mut ctx: GpuContext = fresh_gpu(BackendChoice::Vulkan);
    ctx.set_strategy(strategy).unwrap();
    ctx.count_input_loads(rows * cols).unwrap();
    let (student, teacher) = synthetic::logit_pair(7, rows, cols, 3.0);
    let shape = [rows, cols];
    let out = ctx
        .evaluate(spec, &Inputs::new(&student, &teacher, &shape), want_grad)
        .unwrap();
    assert!(out.loss.is_finite());
    let (s, t) = ctx.input_load_counts().unwrap();
    let what = format!("{spec:?} {rows}x{cols} {strategy:?} grad {want_grad}");
    let modelled = matches!(spec, LossSpec::Dist(_)).then(|| ctx.dist_input_reads(cols, want_grad));
    let uniform = |counts: &[u32], name: &str| -> u32 {
        let first = counts[0];
        if let Some((i, c)) = counts.iter().enumerate().find(|(_, &c)| c != first) {
            panic!("{what}: {name}[{i}] read {c} times, {name}[0] {first} times");
        }
        first
    };
    let counted = (uniform(&s, "student"), uniform(&t, "teacher"));
    // What the bench reports for DIST (`input_reads`) is what was counted.
    if let Some(reads) = modelled {
        assert_eq!((reads, reads), counted, "{what}: the bench's input_reads");
    }
    counted
}

const SHAPE: (usize, usize) = (24, 200);

#[test]
fn dist_streaming_reads_each_input_five_times() {
    let dist = LossSpec::Dist(DistParams::default());
    let streaming = Strategy::default()
        .with_cached_rows(Some(false))
        .with_dist_row_reads(Some(2));
    let paths = [
        ("any-C", streaming.with_quads(Some(false))),
        (
            "quads",
            streaming
                .with_quads(Some(true))
                .with_dist_grad_rows(Some(1)),
        ),
        (
            "quads, 4-row gradient blocks",
            streaming
                .with_quads(Some(true))
                .with_dist_grad_rows(Some(4)),
        ),
        (
            "quads, 8-row gradient blocks",
            streaming
                .with_quads(Some(true))
                .with_dist_grad_rows(Some(8)),
        ),
    ];
    for (name, strategy) in paths {
        let with_grad = reads_per_element(strategy, &dist, SHAPE, true);
        eprintln!("dist streaming ({name}): forward+grad reads each input {with_grad:?} times");
        assert_eq!(with_grad, (5, 5), "{name}: forward+grad");
        let forward = reads_per_element(strategy, &dist, SHAPE, false);
        assert_eq!(forward, (3, 3), "{name}: forward");
    }
}

#[test]
fn dist_one_read_row_pass_reads_each_input_four_times() {
    // `dist_row_reads: 1`: the row pass reads each row once (online moments), so where rows are
    // not held on chip DIST reads each input 4 times with the gradient and twice without.
    let dist = LossSpec::Dist(DistParams::default());
    for quads in [false, true] {
        let strategy = Strategy::default()
            .with_cached_rows(Some(false))
            .with_dist_row_reads(Some(1))
            .with_quads(Some(quads));
        let with_grad = reads_per_element(strategy, &dist, SHAPE, true);
        eprintln!("dist one-read rows (quads {quads}): forward+grad reads {with_grad:?} times");
        assert_eq!(with_grad, (4, 4), "quads {quads}: forward+grad");
        let forward = reads_per_element(strategy, &dist, SHAPE, false);
        assert_eq!(forward, (2, 2), "quads {quads}: forward");
    }
}

#[test]
fn dist_fused_tile_with_cached_gradient_reads_each_input_twice() {
    let dist = LossSpec::Dist(DistParams::default());
    let fused = Strategy::default()
        .with_cached_rows(Some(true))
        .with_threads_per_row(Some(64));
    let with_grad = reads_per_element(fused, &dist, SHAPE, true);
    eprintln!("dist fused tile + cached gradient: reads each input {with_grad:?} times");
    assert_eq!(with_grad, (2, 2), "forward+grad");
    assert_eq!(
        reads_per_element(fused, &dist, SHAPE, false),
        (1, 1),
        "forward"
    );
}

#[test]
fn kl_reads_each_input_twice_streaming_and_once_cached() {
    let kl = LossSpec::Kl(KlParams::new(4.0));
    let streaming = Strategy::default().with_cached_rows(Some(false));
    let cached = Strategy::default()
        .with_cached_rows(Some(true))
        .with_threads_per_row(Some(64));
    let counts = [
        reads_per_element(streaming, &kl, SHAPE, true),
        reads_per_element(cached, &kl, SHAPE, true),
    ];
    eprintln!(
        "kl forward+grad: streaming {:?}, cached {:?}",
        counts[0], counts[1]
    );
    assert_eq!(counts, [(2, 2), (1, 1)]);
}

#[test]
fn counting_needs_f32_inputs_and_a_call_to_start() {
    let mut ctx = fresh_gpu(BackendChoice::Vulkan);
    assert!(ctx.input_load_counts().is_err());
    ctx.count_input_loads(16).unwrap();
    let (s, t) = synthetic::logit_pair(1, 2, 8, 1.0);
    let shape = [2, 8];
    let err = ctx
        .evaluate_as(
            &LossSpec::Dist(DistParams::default()),
            &Inputs::new(&s, &t, &shape),
            true,
            wgpu_distill::InputDtype::F16,
        )
        .unwrap_err();
    assert!(err.to_string().contains("f32 inputs only"), "{err}");
}
