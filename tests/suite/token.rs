//! The token losses on the GPU (kl with labels / normaliser / hard term, jsd, tvd): every dense
//! case of `tests/fixtures/golden_llm/` on Vulkan and GL through the library, against float64,
//! and the float64 reference through `reference::evaluate` (what `--backend cpu` runs).

use crate::common::*;
use crate::npy;
use wgpu_distill::{
    reference, synthetic, BackendChoice, DistParams, GpuContext, InputDtype, Inputs, JsdParams,
    KlParams, LossOutput, LossSpec, Precision, SklParams, SparseTeacher, SrklParams, Strategy,
    TokenOptions, TvdParams,
};

/// The golden_llm cases the GPU path takes: dense teachers of kl, jsd and tvd.
fn dense_token_cases() -> Vec<Golden> {
    manifest_cases(&llm_fixtures())
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| ["kl", "jsd", "tvd"].contains(&g.loss.as_str()) && !g.sparse())
        .collect()
}

#[test]
fn golden_llm_dense_cases_on_every_backend() {
    let cases = dense_token_cases();
    assert_eq!(cases.len(), 12, "12 dense kl/jsd/tvd cases");
    for case in &cases {
        let spec = case.spec().unwrap();
        let (student, teacher, want_grad) = (case.student(), case.teacher(), case.grad());
        let labels = case.labels();
        let mut inputs = Inputs::new(&student, &teacher, &case.shape);
        if let Some(labels) = &labels {
            inputs = inputs.with_labels(labels);
        }
        let cpu = reference::evaluate(&spec, &inputs).unwrap();
        let err = (cpu.loss - case.expected_loss).abs();
        assert!(
            err <= 1e-9 * case.expected_loss.abs().max(1.0),
            "{}: reference loss {} vs {}",
            case.name,
            cpu.loss,
            case.expected_loss
        );
        for backend in GPU_BACKENDS {
            let what = format!("{} on {backend:?}", case.name);
            let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
            let grad = out.grad.as_deref().unwrap();
            if case.expected_loss == 0.0 {
                assert_eq!(out.loss, 0.0, "{what}: all rows ignored");
                assert!(grad.iter().all(|&g| g == 0.0), "{what}: zero gradient");
                continue;
            }
            assert_close(
                &what,
                f64::from(out.loss),
                grad,
                case.expected_loss,
                &want_grad,
            );
            let loss_only = gpu(backend).evaluate(&spec, &inputs, false).unwrap();
            assert_eq!(
                loss_only.loss.to_bits(),
                out.loss.to_bits(),
                "{what}: loss without gradient"
            );
        }
    }
}

/// Token specs exercising every branch of the skeleton and the terms: jsd at β = 0, 1 and
/// near them, skl and srkl, soft-capping, the hard term at T = 1 (sharing q) and T != 1 (its own statistics), a caller's
/// normaliser, soft weight 0.
fn sweep_specs() -> Vec<LossSpec> {
    let hard = hard_options();
    let mut specs = vec![
        LossSpec::Kl(KlParams::default().with_temperature(2.0).with_options(hard)),
        LossSpec::Kl(
            KlParams::default()
                .with_temperature(1.0)
                .with_options(hard.with_normalizer(Some(50.0))),
        ),
        LossSpec::Tvd(
            TvdParams::default()
                .with_temperature(3.0)
                .with_options(hard),
        ),
        LossSpec::Tvd(TvdParams::default()),
    ];
    for beta in [0.0, 0.02, 0.5, 0.98, 1.0] {
        specs.push(LossSpec::Jsd(
            JsdParams::default()
                .with_temperature(if beta == 0.5 { 1.0 } else { 2.0 })
                .with_beta(beta)
                .with_options(hard),
        ));
    }
    specs.push(LossSpec::Jsd(
        JsdParams::default().with_options(hard.with_soft_weight(0.0).with_hard_weight(1.0)),
    ));
    // The skew KLs (α = 0 takes kl's and the reverse KL's branches) and soft-capping, which
    // changes the loads, the hard term's logit and the gradient (the in-place projection too).
    let capped = hard.with_softcap(Some(2.5));
    specs.extend([
        LossSpec::Skl(SklParams::new(1.0, 0.1).with_options(hard)),
        LossSpec::Skl(SklParams::new(2.0, 0.0).with_options(capped)),
        LossSpec::Srkl(SrklParams::new(2.0, 0.1).with_options(hard)),
        LossSpec::Srkl(SrklParams::new(1.0, 0.0)),
        LossSpec::Kl(KlParams::new(2.0).with_options(capped)),
        LossSpec::Jsd(JsdParams::new(1.0, 0.5).with_options(capped)),
        LossSpec::Tvd(TvdParams::new(2.0).with_options(capped)),
    ]);
    specs
}

fn evaluate(
    ctx: &GpuContext,
    spec: &LossSpec,
    inputs: &Inputs<'_>,
    dtype: InputDtype,
) -> LossOutput {
    ctx.evaluate_as(spec, inputs, true, dtype)
        .unwrap_or_else(|e| panic!("{spec:?}: {e}"))
}

/// Every strategy (quads on and off, TPR 1 to 256, subgroups on and off, rows chunked by 1 and
/// 3) and every input dtype against the float64 reference of the same (rounded) inputs; f32
/// runs of one shape at every strategy give one set of bits per reduction layout.
#[test]
fn token_losses_match_float64_at_every_strategy_and_dtype() {
    let strategies = [
        Strategy::default(),
        Strategy::default().with_quads(Some(false)),
        Strategy::default().with_threads_per_row(Some(1)),
        Strategy::default()
            .with_threads_per_row(Some(8))
            .with_subgroups(Some(false)),
        Strategy::default()
            .with_threads_per_row(Some(256))
            .with_chunk_rows(Some(3)),
        Strategy::default()
            .with_chunk_rows(Some(1))
            .with_quads(Some(false)),
    ];
    for backend in GPU_BACKENDS {
        let mut contexts: Vec<GpuContext> = strategies
            .iter()
            .map(|s| {
                let mut ctx = fresh_gpu(backend);
                ctx.set_strategy(*s).unwrap();
                ctx
            })
            .collect();
        for (rows, cols) in [(13, 100), (9, 1030), (6, 7)] {
            let (s, t) = synthetic::logit_pair(rows as u64 + cols as u64, rows, cols, 3.0);
            let labels = token_labels(rows, cols);
            let shape = [rows, cols];
            for spec in sweep_specs() {
                for dtype in [InputDtype::F32, InputDtype::F16, InputDtype::Bf16] {
                    if dtype != InputDtype::F32 && rows == 6 {
                        continue;
                    }
                    let (s, t) = (dtype.round_trip(&s), dtype.round_trip(&t));
                    let inputs = Inputs::new(&s, &t, &shape).with_labels(&labels);
                    let want = reference::evaluate(&spec, &inputs).unwrap();
                    for (k, ctx) in contexts.iter_mut().enumerate() {
                        let out = evaluate(ctx, &spec, &inputs, dtype);
                        assert_close_floor(
                            &format!(
                                "{spec:?} {rows}x{cols} {dtype:?} strategy {k} on {backend:?}"
                            ),
                            f64::from(out.loss),
                            out.grad.as_deref().unwrap(),
                            want.loss,
                            &want.grad,
                            1e-6,
                        );
                    }
                }
            }
        }
    }
}

/// A 16-bit gradient (quad kernels, C a multiple of 4): the projected losses then recompute
/// their gradient in sweep 3 instead of correcting the stored one in place, so the result is
/// the f32 gradient rounded once (to within an ulp of the narrow format), and the loss keeps
/// its bits.
#[test]
fn sixteen_bit_gradients_of_the_token_losses() {
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        for (rows, cols) in [(13, 100), (1, 4)] {
            let (s, t) = synthetic::logit_pair(cols as u64, rows, cols, 3.0);
            let labels = token_labels(rows, cols);
            let shape = [rows, cols];
            let inputs = Inputs::new(&s, &t, &shape).with_labels(&labels);
            for spec in sweep_specs() {
                let wide = evaluate(ctx, &spec, &inputs, InputDtype::F32);
                let wide_grad = wide.grad.unwrap();
                let largest = wide_grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
                for (grad, ulp) in [
                    (InputDtype::F16, 2f32.powi(-10)),
                    (InputDtype::Bf16, 2f32.powi(-7)),
                ] {
                    let precision = Precision {
                        inputs: InputDtype::F32,
                        grad,
                    };
                    let narrow = ctx.evaluate_with(&spec, &inputs, true, precision).unwrap();
                    let what = format!("{spec:?} {rows}x{cols} {grad:?} {backend:?}");
                    assert_eq!(narrow.loss.to_bits(), wide.loss.to_bits(), "{what}");
                    for (i, (g, w)) in narrow.grad.unwrap().iter().zip(&wide_grad).enumerate() {
                        let tol = w.abs() * ulp + 2f32.powi(-24) + 1e-6 * largest;
                        assert!((g - w).abs() <= tol, "{what} [{i}]: {g} vs {w}");
                    }
                }
            }
        }
    }
}

/// The sparse golden cases through the library on Vulkan and GL.
#[test]
fn golden_llm_sparse_cases_on_every_backend() {
    let cases: Vec<Golden> = manifest_cases(&llm_fixtures())
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| g.sparse())
        .collect();
    assert_eq!(cases.len(), 3);
    for case in &cases {
        let spec = case.spec().unwrap();
        let student = case.student();
        let (ids_shape, ids) = npy::read_labels(&case.dir.join("teacher_ids.npy")).unwrap();
        let logprobs: Vec<f32> = npy::read_f64(&case.dir.join("teacher_logprobs.npy"))
            .unwrap()
            .1
            .iter()
            .map(|&x| x as f32)
            .collect();
        let teacher = SparseTeacher::new(&ids, &logprobs, ids_shape[1])
            .with_tail(case.params["tail"].as_bool().unwrap());
        let labels = case.labels();
        let mut inputs = Inputs::with_sparse_teacher(&student, teacher, &case.shape);
        if let Some(labels) = &labels {
            inputs = inputs.with_labels(labels);
        }
        for backend in GPU_BACKENDS {
            let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
            assert_close(
                &format!("{} on {backend:?}", case.name),
                f64::from(out.loss),
                out.grad.as_deref().unwrap(),
                case.expected_loss,
                &case.grad(),
            );
        }
    }
}

/// A random sparse teacher for `rows` × `cols`: `k` distinct ids per row (a walk of stride 7
/// from a row-dependent start), log-probs of a softmax over the ids holding `mass` of the teacher's
/// probability (mass < 1: a tail remains).
fn sparse_teacher(
    rows: usize,
    cols: usize,
    k: usize,
    mass: f64,
    seed: u64,
) -> (Vec<i64>, Vec<f32>) {
    let mut rng = synthetic::SplitMix::new(seed);
    let mut ids = Vec::with_capacity(rows * k);
    let mut logprobs = Vec::with_capacity(rows * k);
    for r in 0..rows {
        let start = (r * 7919) % cols;
        // A stride prime to C: the k ids of a row are distinct.
        let step = if cols.is_multiple_of(7) { 1 } else { 7 };
        let logits: Vec<f64> = (0..k).map(|_| rng.normal() * 2.0).collect();
        let lse = logits.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
        let sum: f64 = logits.iter().map(|x| (x - lse).exp()).sum();
        for (j, z) in logits.iter().enumerate() {
            ids.push(((start + j * step) % cols) as i64);
            logprobs.push((z - lse - sum.ln() + mass.ln()) as f32);
        }
    }
    (ids, logprobs)
}

/// The sparse teacher at every strategy (TPR 1 to 256, subgroups off, rows chunked by 1 and
/// 3, quads off): K from 1 to 1024 (= V), with and without the tail, masking and the hard term, a caller's
/// normaliser; against the float64 reference; and bitwise the same over 100 repeats.
#[test]
fn sparse_teacher_matches_float64_at_every_strategy() {
    let strategies = [
        Strategy::default(),
        Strategy::default().with_threads_per_row(Some(1)),
        Strategy::default()
            .with_threads_per_row(Some(8))
            .with_subgroups(Some(false))
            .with_chunk_rows(Some(3)),
        Strategy::default()
            .with_threads_per_row(Some(256))
            .with_chunk_rows(Some(1)),
        Strategy::default().with_quads(Some(false)),
    ];
    let cases = [
        // (rows, cols, k, tail, temperature, teacher mass on its ids)
        (9, 100, 1, false, 2.0, 0.9),
        (9, 100, 17, true, 1.0, 0.9),
        (7, 1030, 64, true, 1.0, 0.999),
        (5, 1024, 1024, true, 1.0, 1.0),
        (5, 2000, 1024, false, 1.5, 0.5),
        (6, 300, 40, true, 1.0, 0.2),
    ];
    for backend in GPU_BACKENDS {
        let contexts: Vec<GpuContext> = strategies
            .iter()
            .map(|s| {
                let mut ctx = fresh_gpu(backend);
                ctx.set_strategy(*s).unwrap();
                ctx
            })
            .collect();
        for (i, &(rows, cols, k, tail, temperature, mass)) in cases.iter().enumerate() {
            let student = synthetic::normal_vec(i as u64, rows * cols, 3.0);
            let (ids, logprobs) = sparse_teacher(rows, cols, k, mass, i as u64 + 100);
            let labels = token_labels(rows, cols);
            let shape = [rows, cols];
            let teacher = SparseTeacher::new(&ids, &logprobs, k).with_tail(tail);
            for options in [
                TokenOptions::default(),
                hard_options(),
                hard_options().with_normalizer(Some(3.0)),
                TokenOptions::default().with_student_over_ids(true),
                hard_options().with_student_over_ids(true),
            ] {
                if tail && options.student_over_ids {
                    continue;
                }
                let spec = LossSpec::Kl(
                    KlParams::default()
                        .with_temperature(temperature)
                        .with_options(options),
                );
                let mut inputs = Inputs::with_sparse_teacher(&student, teacher, &shape);
                if options != TokenOptions::default() {
                    inputs = inputs.with_labels(&labels);
                }
                let want = reference::evaluate(&spec, &inputs).unwrap();
                for (s, ctx) in contexts.iter().enumerate() {
                    let out = evaluate(ctx, &spec, &inputs, InputDtype::F32);
                    assert_close_floor(
                        &format!("sparse case {i} {options:?} strategy {s} on {backend:?}"),
                        f64::from(out.loss),
                        out.grad.as_deref().unwrap(),
                        want.loss,
                        &want.grad,
                        1e-6,
                    );
                }
            }
        }
        // Determinism: the same call, bitwise, 100 times.
        let (rows, cols, k) = (7, 1030, 64);
        let student = synthetic::normal_vec(9, rows * cols, 3.0);
        let (ids, logprobs) = sparse_teacher(rows, cols, k, 0.95, 9);
        let labels = token_labels(rows, cols);
        let shape = [rows, cols];
        let teacher = SparseTeacher::new(&ids, &logprobs, k).with_tail(true);
        let inputs = Inputs::with_sparse_teacher(&student, teacher, &shape).with_labels(&labels);
        let spec = LossSpec::Kl(
            KlParams::default()
                .with_temperature(1.0)
                .with_options(hard_options()),
        );
        let first = evaluate(&contexts[0], &spec, &inputs, InputDtype::F32);
        for _ in 0..100 {
            let again = evaluate(&contexts[0], &spec, &inputs, InputDtype::F32);
            assert_eq!(again.loss.to_bits(), first.loss.to_bits());
            assert!(again
                .grad
                .unwrap()
                .iter()
                .zip(first.grad.as_ref().unwrap())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

/// The sparse teacher with f16 and bf16 student logits (the quad kernel, V a multiple of 4):
/// with and without the tail, masking and the hard term, at several strategies, against
/// float64 on the student as the kernel reads it; the any-C form refuses them with a typed
/// error.
#[test]
fn sparse_teacher_with_16_bit_student_logits() {
    let strategies = [
        Strategy::default(),
        Strategy::default().with_threads_per_row(Some(1)),
        Strategy::default()
            .with_threads_per_row(Some(256))
            .with_chunk_rows(Some(2)),
    ];
    let cases = [
        // (rows, cols, k, tail, temperature, teacher mass on its ids, student over the ids)
        (9, 100, 17, true, 1.0, 0.9, false),
        (5, 1024, 1024, true, 1.0, 1.0, false),
        (5, 2000, 64, false, 1.5, 0.5, false),
        (5, 2000, 64, false, 1.5, 0.5, true),
    ];
    for backend in GPU_BACKENDS {
        for strategy in strategies {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(strategy).unwrap();
            for (i, &(rows, cols, k, tail, temperature, mass, over_ids)) in cases.iter().enumerate()
            {
                let student = synthetic::normal_vec(i as u64 + 40, rows * cols, 3.0);
                let (ids, logprobs) = sparse_teacher(rows, cols, k, mass, i as u64 + 140);
                let labels = token_labels(rows, cols);
                let shape = [rows, cols];
                let teacher = SparseTeacher::new(&ids, &logprobs, k).with_tail(tail);
                let spec = LossSpec::Kl(
                    KlParams::default()
                        .with_temperature(temperature)
                        .with_options(hard_options().with_student_over_ids(over_ids)),
                );
                for dtype in [InputDtype::F16, InputDtype::Bf16] {
                    let read = dtype.decode(&dtype.encode(&student), student.len());
                    let want = reference::evaluate(
                        &spec,
                        &Inputs::with_sparse_teacher(&read, teacher, &shape).with_labels(&labels),
                    )
                    .unwrap();
                    let inputs =
                        Inputs::with_sparse_teacher(&student, teacher, &shape).with_labels(&labels);
                    let out = evaluate(&ctx, &spec, &inputs, dtype);
                    assert_close_floor(
                        &format!("sparse {dtype:?} case {i} {strategy:?} on {backend:?}"),
                        f64::from(out.loss),
                        out.grad.as_deref().unwrap(),
                        want.loss,
                        &want.grad,
                        1e-6,
                    );
                }
            }
        }
    }
    // Rows of V not a multiple of 4, or quads forbidden: the any-C kernel reads f32 only.
    let (rows, cols, k) = (3, 102, 5);
    let student = synthetic::normal_vec(1, rows * cols, 3.0);
    let (ids, logprobs) = sparse_teacher(rows, cols, k, 0.9, 1);
    let teacher = SparseTeacher::new(&ids, &logprobs, k);
    let shape = [rows, cols];
    let inputs = Inputs::with_sparse_teacher(&student, teacher, &shape);
    let spec = LossSpec::Kl(KlParams::new(1.0));
    let err = gpu(BackendChoice::Vulkan)
        .evaluate_as(&spec, &inputs, true, InputDtype::Bf16)
        .unwrap_err();
    assert!(
        matches!(err, wgpu_distill::Error::Shape(ref m) if m.contains("multiple of 4")),
        "{err}"
    );
}

/// A row whose student puts all but about 1e-12 of its mass on the teacher's ids: the tail's
/// log Q_rest comes from the classes outside the ids themselves (never log(1 − Σq), which is
/// 0 or garbage in f32), so loss and gradient stay finite and match float64.
#[test]
fn sparse_tail_with_the_student_mass_on_the_ids() {
    let (rows, cols, k) = (2, 64, 8);
    let mut student = vec![0.0f32; rows * cols];
    let ids: Vec<i64> = (0..rows as i64)
        .flat_map(|r| (0..k as i64).map(move |j| (j * 5 + r) % 64))
        .collect();
    for r in 0..rows {
        for j in 0..k {
            student[r * cols + ids[r * k + j] as usize] = 30.0;
        }
    }
    let logprobs: Vec<f32> = vec![(0.9f32 / k as f32).ln(); rows * k];
    let shape = [rows, cols];
    let teacher = SparseTeacher::new(&ids, &logprobs, k).with_tail(true);
    let inputs = Inputs::with_sparse_teacher(&student, teacher, &shape);
    let spec = LossSpec::Kl(KlParams::new(1.0));
    let want = reference::evaluate(&spec, &inputs).unwrap();
    assert!(
        want.loss > 2.0,
        "the tail term r log(r / Q_rest) dominates: {}",
        want.loss
    );
    for backend in GPU_BACKENDS {
        let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
        assert_close(
            &format!("mass on the ids, {backend:?}"),
            f64::from(out.loss),
            out.grad.as_deref().unwrap(),
            want.loss,
            &want.grad,
        );
    }
}

/// The golden_llm case `name` (with labels) through the library on Vulkan and GL; the loss
/// alone (no gradient asked) has the same bits.
fn golden_case_on_gpus(name: &str) {
    let case = manifest_cases(&llm_fixtures())
        .into_iter()
        .map(|(g, _)| g)
        .find(|g| g.name == name)
        .unwrap();
    let spec = case.spec().unwrap();
    let (student, teacher, labels) = (case.student(), case.teacher(), case.labels().unwrap());
    let inputs = Inputs::new(&student, &teacher, &case.shape).with_labels(&labels);
    for backend in GPU_BACKENDS {
        let out = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
        assert_close(
            &format!("{name} on {backend:?}"),
            f64::from(out.loss),
            out.grad.as_deref().unwrap(),
            case.expected_loss,
            &case.grad(),
        );
        let loss_only = gpu(backend).evaluate(&spec, &inputs, false).unwrap();
        assert_eq!(loss_only.loss.to_bits(), out.loss.to_bits(), "{backend:?}");
    }
}

/// DKD's hard-label term (golden `dkd_hard`, T = 4), and at T = 1 where its softmax comes from
/// DKD's own statistics: every strategy (quads on and off, TPR 1 to 256, rows chunked) against
/// float64, beside plain DKD at the same shapes.
#[test]
fn dkd_hard_term() {
    golden_case_on_gpus("dkd_hard");
    hard_term_sweep(&hard_term_strategies()[..3], |temperature| {
        let plain = wgpu_distill::losses::DkdParams::default().with_temperature(temperature);
        let hard = plain.with_hard_weight(0.7).with_soft_weight(0.4);
        vec![
            (LossSpec::Dkd(hard), InputDtype::F32),
            (LossSpec::Dkd(plain), InputDtype::F32),
        ]
    });
}

/// DIST's hard-label term (golden `dist_hard`: DIST's recipe CE + 2·DIST), and at T != 1
/// where its raw softmax is summed apart: every DIST path (streaming any-C and quads, the
/// quads' 4- and 8-row gradient blocks, the fused tile pass with the cached gradient, rows
/// chunked, TPR 1 to 256) against float64, f32 inputs at T = 1 and bf16 at T = 4.
#[test]
fn dist_hard_term() {
    golden_case_on_gpus("dist_hard");
    hard_term_sweep(&hard_term_strategies(), |temperature| {
        let spec = LossSpec::Dist(
            DistParams::default()
                .with_temperature(temperature)
                .with_hard_weight(0.7)
                .with_soft_weight(0.4),
        );
        let dtype = if temperature == 1.0 {
            InputDtype::F32
        } else {
            InputDtype::Bf16
        };
        vec![(spec, dtype)]
    });
}

/// The hard-term sweeps' strategies: the first three apply to every row loss (quads on and
/// off, TPR 1 to 256, rows chunked), the rest to DIST's own paths.
fn hard_term_strategies() -> [Strategy; 8] {
    let default = Strategy::default();
    [
        default,
        default
            .with_quads(Some(false))
            .with_threads_per_row(Some(1)),
        default
            .with_threads_per_row(Some(256))
            .with_chunk_rows(Some(3)),
        default.with_dist_grad_rows(Some(4)),
        default.with_dist_grad_rows(Some(8)).with_tile_rows(Some(2)),
        default.with_cached_rows(Some(true)),
        // DIST's row pass in one read and in two, forced: any C, and quads in chunks.
        default.with_dist_row_reads(Some(1)).with_quads(Some(false)),
        default
            .with_dist_row_reads(Some(2))
            .with_chunk_rows(Some(2)),
    ]
}

/// Each of `cases(T)` (a loss with labels and the dtype its inputs are read as) at T = 1 and
/// 4, on two shapes, under every strategy on Vulkan and GL, against float64 on the inputs as
/// the kernels read them.
fn hard_term_sweep(strategies: &[Strategy], cases: impl Fn(f64) -> Vec<(LossSpec, InputDtype)>) {
    for backend in GPU_BACKENDS {
        for &strategy in strategies {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(strategy).unwrap();
            for (rows, cols) in [(11, 100), (6, 257)] {
                let (s, t) = synthetic::logit_pair(cols as u64, rows, cols, 3.0);
                let labels: Vec<i64> = (0..rows as i64).map(|r| (r * 13) % cols as i64).collect();
                let shape = [rows, cols];
                let inputs = Inputs::new(&s, &t, &shape).with_labels(&labels);
                for temperature in [1.0, 4.0] {
                    for (spec, dtype) in cases(temperature) {
                        let read_s = dtype.decode(&dtype.encode(&s), s.len());
                        let read_t = dtype.decode(&dtype.encode(&t), t.len());
                        let read = Inputs::new(&read_s, &read_t, &shape).with_labels(&labels);
                        let want = reference::evaluate(&spec, &read).unwrap();
                        let out = evaluate(&ctx, &spec, &inputs, dtype);
                        assert_close(
                            &format!("{spec:?} {dtype:?} {rows}x{cols} {strategy:?} {backend:?}"),
                            f64::from(out.loss),
                            out.grad.as_deref().unwrap(),
                            want.loss,
                            &want.grad,
                        );
                    }
                }
            }
        }
    }
}

/// Rows of V = 262 144 classes (the floor), any-C and quad kernels: jsd, tvd, kl with
/// the hard term, and kl against K = 1024 ids with the tail.
#[test]
fn vocabularies_of_262144_classes() {
    let (rows, cols, k) = (3, 262_144, 1024);
    let student = synthetic::normal_vec(5, rows * cols, 3.0);
    let teacher = synthetic::normal_vec(6, rows * cols, 3.0);
    let labels = vec![17i64, -100, 262_143];
    let shape = [rows, cols];
    let dense = Inputs::new(&student, &teacher, &shape).with_labels(&labels);
    let (ids, logprobs) = sparse_teacher(rows, cols, k, 0.97, 7);
    let teacher_k = SparseTeacher::new(&ids, &logprobs, k).with_tail(true);
    let sparse = Inputs::with_sparse_teacher(&student, teacher_k, &shape).with_labels(&labels);
    let hard = hard_options();
    let cases = [
        (LossSpec::Jsd(JsdParams::default()), dense),
        (LossSpec::Tvd(TvdParams::default()), dense),
        (
            LossSpec::Kl(KlParams::default().with_temperature(2.0).with_options(hard)),
            dense,
        ),
        (
            LossSpec::Kl(KlParams::default().with_temperature(1.0).with_options(hard)),
            sparse,
        ),
    ];
    for backend in GPU_BACKENDS {
        for quads in [None, Some(false)] {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(Strategy::default().with_quads(quads))
                .unwrap();
            for (spec, inputs) in &cases {
                let want = reference::evaluate(spec, inputs).unwrap();
                let out = evaluate(&ctx, spec, inputs, InputDtype::F32);
                assert_close(
                    &format!("{} V = {cols} quads {quads:?} {backend:?}", spec.name()),
                    f64::from(out.loss),
                    out.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                );
            }
        }
    }
}
