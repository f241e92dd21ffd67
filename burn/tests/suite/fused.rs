//! `fused_linear_loss` against the unfused path (burn's matmul, then `distill_loss` on the
//! materialised logits) for every token loss and option, chunkings that do not divide N, a
//! chunk of one row, ignored rows, all rows ignored, sparse teachers and f16 heads; and
//! `distill_loss_sparse` against the float64 reference. Errors before any work.

use burn::tensor::{DType, Device, FloatDType, Int, Tensor, TensorData};
use wgpu_distill::{
    reference, synthetic, Error, Inputs, JsdParams, KlParams, LossSpec, SklParams, SparseTeacher,
    SrklParams, TokenOptions, TvdParams,
};
use wgpu_distill_burn::{
    distill_loss, distill_loss_sparse, distill_loss_sparse_with_tail, fused_linear_loss,
    fused_linear_loss_with, FusedOptions, LinearHead, Teacher,
};

use crate::device;

fn tensor<const D: usize>(values: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

fn ints<const D: usize>(values: &[i64], dims: [usize; D], device: &Device) -> Tensor<D, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

/// The host values of one problem: a student head, a teacher head, labels.
struct Problem {
    n: usize,
    h: usize,
    v: usize,
    hidden: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    t_hidden: Vec<f32>,
    t_weight: Vec<f32>,
    labels: Vec<i64>,
}

impl Problem {
    fn new(n: usize, h: usize, v: usize, seed: u64) -> Self {
        let t_h = h + 3;
        Self {
            n,
            h,
            v,
            hidden: synthetic::normal_vec(seed, n * h, 1.0),
            weight: synthetic::normal_vec(seed + 1, v * h, 0.6),
            bias: synthetic::normal_vec(seed + 2, v, 0.5),
            t_hidden: synthetic::normal_vec(seed + 3, n * t_h, 1.0),
            t_weight: synthetic::normal_vec(seed + 4, v * t_h, 0.6),
            // Every third row ignored.
            labels: (0..n as i64)
                .map(|r| if r % 3 == 1 { -100 } else { (r * 7) % v as i64 })
                .collect(),
        }
    }

    fn teacher_head(&self, device: &Device) -> LinearHead {
        let t_h = self.h + 3;
        LinearHead::new(
            tensor(&self.t_hidden, [self.n, t_h], device),
            tensor(&self.t_weight, [self.v, t_h], device),
        )
    }
}

/// Loss and the gradients of hidden, weight and bias (empty without bias).
struct Result3 {
    loss: f32,
    hidden: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

fn run(
    p: &Problem,
    with_bias: bool,
    labels: bool,
    how: impl FnOnce(LinearHead, Option<Tensor<1, Int>>) -> Tensor<1>,
) -> Result3 {
    let device = device().autodiff();
    let hidden = tensor(&p.hidden, [p.n, p.h], &device).require_grad();
    let weight = tensor(&p.weight, [p.v, p.h], &device).require_grad();
    let bias = tensor(&p.bias, [p.v], &device).require_grad();
    let mut head = LinearHead::new(hidden.clone(), weight.clone());
    if with_bias {
        head = head.with_bias(bias.clone());
    }
    let labels = labels.then(|| ints(&p.labels, [p.n], &device));
    let loss = how(head, labels);
    let grads = loss.backward();
    Result3 {
        loss: values(loss)[0],
        hidden: values(hidden.grad(&grads).expect("hidden's gradient")),
        weight: values(weight.grad(&grads).expect("weight's gradient")),
        bias: if with_bias {
            values(bias.grad(&grads).expect("bias's gradient"))
        } else {
            vec![]
        },
    }
}

/// The unfused path: the logits materialised by burn's matmul, then `distill_loss`.
fn unfused(
    head: LinearHead,
    teacher: Tensor<2>,
    spec: &LossSpec,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<1> {
    let mut logits = head.hidden.matmul(head.weight.transpose());
    if let Some(bias) = head.bias {
        logits = logits + bias.unsqueeze_dim(0);
    }
    distill_loss(spec, logits, teacher, labels).unwrap()
}

fn teacher_logits(p: &Problem, device: &Device) -> Tensor<2> {
    let head = p.teacher_head(device);
    head.hidden.matmul(head.weight.transpose())
}

fn assert_same(what: &str, got: &Result3, want: &Result3, tol: f64) {
    let rel =
        (f64::from(got.loss) - f64::from(want.loss)).abs() / f64::from(want.loss).abs().max(1e-6);
    assert!(rel <= tol, "{what}: loss {} vs {}", got.loss, want.loss);
    for (name, g, w) in [
        ("hidden", &got.hidden, &want.hidden),
        ("weight", &got.weight, &want.weight),
        ("bias", &got.bias, &want.bias),
    ] {
        assert_eq!(g.len(), w.len(), "{what}: {name}");
        let scale = w.iter().fold(1e-12f32, |m, x| m.max(x.abs()));
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                f64::from((a - b).abs()) <= tol * 10.0 * f64::from(scale),
                "{what}: d{name}[{i}] = {a} vs {b} (max {scale:e})"
            );
        }
    }
}

fn token_specs() -> Vec<LossSpec> {
    let hard = TokenOptions::default().with_hard_weight(0.3);
    vec![
        LossSpec::Kl(KlParams::new(2.0).with_options(hard)),
        LossSpec::Kl(KlParams::new(1.0).with_options(hard.with_softcap(Some(3.0)))),
        LossSpec::Jsd(JsdParams::new(1.0, 0.0)),
        LossSpec::Jsd(JsdParams::new(2.0, 0.5).with_options(hard)),
        LossSpec::Jsd(JsdParams::new(1.0, 1.0)),
        LossSpec::Tvd(TvdParams::new(1.0).with_options(hard.with_normalizer(Some(40.0)))),
        LossSpec::Skl(SklParams::new(1.0, 0.1).with_options(hard)),
        LossSpec::Srkl(SrklParams::new(2.0, 0.1)),
    ]
}

/// Every token loss, with and without bias, labels (ignored rows skip the matmuls) and a
/// teacher head or teacher logits, at chunkings of 1 row, 5 rows (not dividing N = 13) and the
/// budget's: the unfused path's loss and gradients.
#[test]
fn fused_head_equals_the_unfused_path() {
    let p = Problem::new(13, 8, 37, 10);
    for spec in token_specs() {
        for (with_bias, labels, chunk) in [
            (true, true, Some(1)),
            (false, true, Some(5)),
            (true, false, None),
            (false, false, Some(5)),
        ] {
            if !labels && spec.token_options().unwrap().wants_hard_term() {
                continue;
            }
            let want = run(&p, with_bias, labels, |head, labels| {
                let teacher = teacher_logits(&p, &head.hidden.device());
                unfused(head, teacher, &spec, labels)
            });
            let options = FusedOptions::default().with_chunk_rows(chunk);
            for teacher_is_head in [true, false] {
                let got = run(&p, with_bias, labels, |head, labels| {
                    let device = head.hidden.device();
                    let teacher = if teacher_is_head {
                        Teacher::Head(p.teacher_head(&device))
                    } else {
                        Teacher::Logits(teacher_logits(&p, &device))
                    };
                    fused_linear_loss_with(&spec, head, teacher, labels, &options).unwrap()
                });
                let what = format!(
                    "{spec:?} bias {with_bias} labels {labels} chunk {chunk:?} head {teacher_is_head}"
                );
                assert_same(&what, &got, &want, 1e-5);
            }
        }
    }
}

/// Every row ignored: loss 0 and zero gradients, nothing computed.
#[test]
fn all_rows_ignored() {
    let p = Problem::new(4, 3, 9, 20);
    let spec = LossSpec::Kl(KlParams::new(2.0));
    let got = run(&p, true, true, |head, _| {
        let device = head.hidden.device();
        let labels = ints(&[-100; 4], [4], &device);
        fused_linear_loss(
            &spec,
            head,
            Teacher::Logits(teacher_logits(&p, &device)),
            Some(labels),
        )
        .unwrap()
    });
    assert_eq!(got.loss, 0.0);
    assert!(got
        .hidden
        .iter()
        .chain(&got.weight)
        .chain(&got.bias)
        .all(|&g| g == 0.0));
}

/// A top-k teacher (ids and log-probs of a teacher's full softmax) without the tail, with it,
/// and with the student renormalised over the ids: `distill_loss_sparse` against the float64
/// reference, and the fused head with a sparse teacher against it on the materialised logits.
#[test]
fn sparse_teachers_in_burn() {
    let p = Problem::new(11, 6, 40, 30);
    let k = 5;
    // The teacher's top-k of a full softmax: ids spread over V, log-probs of a distribution.
    let full = synthetic::normal_vec(31, p.n * p.v, 2.0);
    let mut ids = vec![];
    let mut logprobs = vec![];
    for r in 0..p.n {
        let row = &full[r * p.v..(r + 1) * p.v];
        let lse = row.iter().map(|&x| f64::from(x).exp()).sum::<f64>().ln();
        for j in 0..k {
            let id = (r * 7 + j * 8) % p.v;
            ids.push(id as i64);
            logprobs.push((f64::from(row[id]) - lse) as f32);
        }
    }
    let labels = &p.labels;
    // The tail; the student renormalised over the ids (TRL's convention).
    for (tail, over_ids) in [(false, false), (true, false), (false, true)] {
        let options = TokenOptions::default()
            .with_hard_weight(0.2)
            .with_student_over_ids(over_ids);
        let spec = LossSpec::Kl(KlParams::new(1.0).with_options(options));
        // distill_loss_sparse on logits against the reference.
        let device = device().autodiff();
        let student: Vec<f32> = synthetic::normal_vec(32, p.n * p.v, 2.0);
        let s = tensor(&student, [p.n, p.v], &device).require_grad();
        let call = if tail {
            distill_loss_sparse_with_tail
        } else {
            distill_loss_sparse
        };
        let loss = call(
            &spec,
            s.clone(),
            ints(&ids, [p.n, k], &device),
            tensor(&logprobs, [p.n, k], &device),
            Some(ints(labels, [p.n], &device)),
        )
        .unwrap();
        let grads = loss.backward();
        let grad = values(s.grad(&grads).unwrap());
        let teacher = SparseTeacher::new(&ids, &logprobs, k).with_tail(tail);
        let shape = [p.n, p.v];
        let inputs = Inputs::with_sparse_teacher(&student, teacher, &shape).with_labels(labels);
        let want = reference::evaluate(&spec, &inputs).unwrap();
        let loss = values(loss)[0];
        assert!(
            (f64::from(loss) - want.loss).abs() <= 1e-5 * want.loss.abs(),
            "tail {tail}: {loss} vs {}",
            want.loss
        );
        let scale = want.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for (g, w) in grad.iter().zip(&want.grad) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * scale,
                "tail {tail}: {g} vs {w}"
            );
        }
        // The fused head against the unfused sparse path.
        let sparse = |device: &Device| {
            let (i, l) = (
                ints(&ids, [p.n, k], device),
                tensor(&logprobs, [p.n, k], device),
            );
            if tail {
                Teacher::SparseWithTail {
                    ids: i,
                    logprobs: l,
                }
            } else {
                Teacher::Sparse {
                    ids: i,
                    logprobs: l,
                }
            }
        };
        let want = run(&p, true, true, |head, labels| {
            let device = head.hidden.device();
            let logits =
                head.hidden.matmul(head.weight.transpose()) + head.bias.unwrap().unsqueeze_dim(0);
            call(
                &spec,
                logits,
                ints(&ids, [p.n, k], &device),
                tensor(&logprobs, [p.n, k], &device),
                labels,
            )
            .unwrap()
        });
        let got = run(&p, true, true, |head, labels| {
            let device = head.hidden.device();
            let options = FusedOptions::default().with_chunk_rows(Some(4));
            fused_linear_loss_with(&spec, head, sparse(&device), labels, &options).unwrap()
        });
        assert_same(
            &format!("sparse tail {tail} over ids {over_ids}"),
            &got,
            &want,
            1e-5,
        );
    }
}

/// A 16-bit head (f16: burn's WGSL backend has no bf16 type, cubecl refuses `cube.bf16`): the
/// fused loss and gradients against the f32 fused path on the same (f16-rounded) values,
/// within f16's logit rounding; the gradients come back in f16.
#[test]
fn f16_heads() {
    let p = Problem::new(9, 8, 36, 40);
    let device = device().autodiff();
    let round =
        |x: &[f32]| -> Vec<f32> { x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect() };
    let spec = LossSpec::Kl(KlParams::new(2.0));
    let teacher = teacher_logits(&p, &device).without_autodiff();
    let (hidden, weight) = (round(&p.hidden), round(&p.weight));
    let mut results = vec![];
    for dtype in [FloatDType::F32, FloatDType::F16] {
        let h = tensor(&hidden, [p.n, p.h], &device)
            .cast(dtype)
            .require_grad();
        let w = tensor(&weight, [p.v, p.h], &device)
            .cast(dtype)
            .require_grad();
        let loss = fused_linear_loss(
            &spec,
            LinearHead::new(h.clone(), w.clone()),
            Teacher::Logits(teacher.clone()),
            None,
        )
        .unwrap();
        let grads = loss.backward();
        let gh = h.grad(&grads).unwrap();
        assert_eq!(gh.dtype(), DType::from(dtype));
        results.push((
            values(loss)[0],
            values(gh.cast(FloatDType::F32)),
            values(w.grad(&grads).unwrap().cast(FloatDType::F32)),
        ));
    }
    let (f32r, f16r) = (&results[0], &results[1]);
    assert!(
        (f32r.0 - f16r.0).abs() <= 1e-2 * f32r.0.abs(),
        "{} vs {}",
        f32r.0,
        f16r.0
    );
    for (g, w) in [(&f16r.1, &f32r.1), (&f16r.2, &f32r.2)] {
        let scale = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        for (a, b) in g.iter().zip(w.iter()) {
            assert!((a - b).abs() <= 5e-2 * scale, "{a} vs {b}");
        }
    }
}

/// Mismatched N, H or V, ids out of range, a loss that is not a token loss, a chunk beyond the
/// device's storage binding: an `Err`.
#[test]
fn fused_head_refuses_bad_input() {
    let device = device();
    let (n, h, v) = (4, 3, 10);
    let head = |n: usize, h: usize, v: usize| {
        LinearHead::new(
            tensor(&vec![0.5; n * h], [n, h], &device),
            tensor(&vec![0.25; v * h], [v, h], &device),
        )
    };
    let logits = |n: usize, v: usize| Teacher::Logits(tensor(&vec![0.1; n * v], [n, v], &device));
    let kl = LossSpec::Kl(KlParams::new(1.0));
    let cases: Vec<(&str, wgpu_distill::Result<Tensor<1>>)> = vec![
        (
            "H",
            fused_linear_loss(
                &kl,
                LinearHead::new(head(n, h, v).hidden, head(n, h + 1, v).weight),
                logits(n, v),
                None,
            ),
        ),
        (
            "bias",
            fused_linear_loss(
                &kl,
                head(n, h, v).with_bias(tensor(&[0.0; 9], [9], &device)),
                logits(n, v),
                None,
            ),
        ),
        (
            "teacher V",
            fused_linear_loss(&kl, head(n, h, v), logits(n, v + 1), None),
        ),
        (
            "teacher N",
            fused_linear_loss(&kl, head(n, h, v), logits(n + 1, v), None),
        ),
        (
            "labels",
            fused_linear_loss(
                &kl,
                head(n, h, v),
                logits(n, v),
                Some(ints(&[0, 1, 2], [3], &device)),
            ),
        ),
        (
            "label range",
            fused_linear_loss(
                &kl,
                head(n, h, v),
                logits(n, v),
                Some(ints(&[0, 1, 2, 10], [4], &device)),
            ),
        ),
        (
            "ids",
            fused_linear_loss(
                &kl,
                head(n, h, v),
                Teacher::Sparse {
                    ids: ints(&[0, 10, 1, 2, 3, 4, 5, 6], [n, 2], &device),
                    logprobs: tensor(&[-1.0; 8], [n, 2], &device),
                },
                None,
            ),
        ),
        (
            "dist",
            fused_linear_loss(
                &LossSpec::Dist(Default::default()),
                head(n, h, v),
                logits(n, v),
                None,
            ),
        ),
        (
            "sparse jsd",
            fused_linear_loss(
                &LossSpec::Jsd(JsdParams::default()),
                head(n, h, v),
                Teacher::Sparse {
                    ids: ints(&[0, 1, 1, 2, 3, 4, 5, 6], [n, 2], &device),
                    logprobs: tensor(&[-1.0; 8], [n, 2], &device),
                },
                None,
            ),
        ),
        (
            "a chunk beyond the storage binding",
            fused_linear_loss_with(
                &kl,
                head(n, h, v),
                logits(n, v),
                None,
                &FusedOptions::default().with_chunk_rows(Some(1 << 40)),
            ),
        ),
    ];
    for (what, result) in cases {
        match result {
            Err(Error::Shape(m) | Error::Param(m) | Error::Limit(m)) => println!("{what}: {m}"),
            Err(other) => panic!("{what}: unexpected error kind {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}
