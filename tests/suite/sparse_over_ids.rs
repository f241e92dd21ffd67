//! A sparse teacher with the student renormalised over the K ids (`student_over_ids`, TRL's
//! convention): against TRL's formula written out here in float64, the gradient exactly 0 off
//! the ids without a hard term, and the combinations it refuses.

use crate::common::*;
use wgpu_distill::{
    reference, synthetic, BackendChoice, BufferRegion, Error, Inputs, KlParams, LossBindings,
    LossSpec, SparseTeacher, TokenOptions,
};

/// TRL's top-k KD loss of one batch: `T²·Σ_k p_k (log p_k − log q̂_k)` with both sides
/// `log_softmax` over the gathered K at T, averaged over the rows.
fn trl_loss(student: &[f32], cols: usize, ids: &[i64], logprobs: &[f32], k: usize, t: f64) -> f64 {
    let rows = ids.len() / k;
    let log_softmax = |x: Vec<f64>| {
        let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        x.into_iter().map(|v| v - lse).collect::<Vec<f64>>()
    };
    let mut total = 0.0;
    for r in 0..rows {
        let span = r * k..(r + 1) * k;
        let zs = ids[span.clone()]
            .iter()
            .map(|&c| f64::from(student[r * cols + c as usize]) / t);
        let log_q = log_softmax(zs.collect());
        let log_p = log_softmax(logprobs[span].iter().map(|&l| f64::from(l) / t).collect());
        total += (0..k)
            .map(|j| log_p[j].exp() * (log_p[j] - log_q[j]))
            .sum::<f64>();
    }
    t * t * total / rows as f64
}

fn teacher(rows: usize, cols: usize, k: usize) -> (Vec<i64>, Vec<f32>) {
    let ids = (0..rows * k)
        .map(|i| ((i % k) * 13 + (i / k) * 5) as i64 % cols as i64)
        .collect();
    let logprobs = synthetic::normal_vec(77, rows * k, 1.0)
        .iter()
        .map(|x| x - 4.0)
        .collect();
    (ids, logprobs)
}

#[test]
fn the_gpu_is_trls_formula_and_zero_off_the_ids() {
    let (rows, cols, k, t) = (6, 301, 20, 2.0);
    let student = synthetic::normal_vec(5, rows * cols, 3.0);
    let (ids, logprobs) = teacher(rows, cols, k);
    let shape = [rows, cols];
    let inputs =
        Inputs::with_sparse_teacher(&student, SparseTeacher::new(&ids, &logprobs, k), &shape);
    let spec = LossSpec::Kl(
        KlParams::new(t).with_options(TokenOptions::default().with_student_over_ids(true)),
    );
    let want = trl_loss(&student, cols, &ids, &logprobs, k, t);
    let twin = reference::evaluate(&spec, &inputs).unwrap();
    assert!(
        (twin.loss - want).abs() <= 1e-12 * want.abs(),
        "{} vs {want}",
        twin.loss
    );
    // Not the whole-vocabulary convention's value: the two differ.
    let full = reference::evaluate(&LossSpec::Kl(KlParams::new(t)), &inputs).unwrap();
    assert!((full.loss - want).abs() > 1e-3, "{} vs {want}", full.loss);
    for backend in GPU_BACKENDS {
        let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
        let rel = (f64::from(out.loss) - want).abs() / want;
        assert!(rel < 1e-6, "{backend:?}: {} vs {want}", out.loss);
        let grad = out.grad.unwrap();
        for r in 0..rows {
            let row_ids = &ids[r * k..(r + 1) * k];
            for c in 0..cols {
                let g = grad[r * cols + c];
                if !row_ids.contains(&(c as i64)) {
                    assert_eq!(g, 0.0, "{backend:?}: ∂L/∂zs[{r},{c}] off the ids");
                } else {
                    let w = twin.grad[r * cols + c];
                    assert!((f64::from(g) - w).abs() < 1e-6, "{backend:?}: {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn refused_with_the_tail_and_with_a_dense_teacher() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (rows, cols, k) = (2, 16, 4);
    let student = synthetic::normal_vec(1, rows * cols, 1.0);
    let (ids, logprobs) = teacher(rows, cols, k);
    let shape = [rows, cols];
    let over_ids = LossSpec::Kl(
        KlParams::new(1.0).with_options(TokenOptions::default().with_student_over_ids(true)),
    );
    let tail = SparseTeacher::new(&ids, &logprobs, k).with_tail(true);
    let err = ctx
        .evaluate(
            &over_ids,
            &Inputs::with_sparse_teacher(&student, tail, &shape),
            true,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Param(m) if m.contains("tail")),
        "{err}"
    );
    // Dense teacher: the host path and the caller's buffers.
    let err = ctx
        .evaluate(&over_ids, &Inputs::new(&student, &student, &shape), true)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Param(m) if m.contains("sparse teacher")),
        "{err}"
    );
    let buffer = |bytes: u64| {
        ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let (logits, loss) = (buffer(4 * (rows * cols) as u64), buffer(256));
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    let err = ctx
        .record(
            &mut encoder,
            &over_ids,
            &shape,
            &LossBindings::new(
                BufferRegion::new(&logits),
                BufferRegion::new(&logits),
                BufferRegion::new(&loss),
            ),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Param(m) if m.contains("sparse teacher")),
        "{err}"
    );
}
