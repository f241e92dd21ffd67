//! `distill_loss` on burn's wgpu backend (lavapipe here): every loss against the float64
//! reference and, for KL and DIST, against burn's own autodiff of the same formula written as
//! tensor ops; lazy fused inputs, views at offsets, two losses in one graph, f16, and errors.

use burn::tensor::{DType, Device, DeviceKind, Int, Tensor, TensorData};
use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
use wgpu_distill::{reference, synthetic, DistParams, Inputs, KlParams, LossSpec};
use wgpu_distill_burn::distill_loss;

use crate::device;

fn tensor<const D: usize>(values: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

/// SPEC's float32 tolerances: loss within 1e-4 relative (plus `floor`), every gradient element
/// within 1e-3 of the largest reference magnitude.
fn assert_close(what: &str, loss: f32, grad: &[f32], want_loss: f64, want_grad: &[f64]) {
    let err = (f64::from(loss) - want_loss).abs();
    assert!(
        err <= 1e-4 * want_loss.abs() + 1e-6,
        "{what}: loss {loss} vs {want_loss}"
    );
    assert_eq!(grad.len(), want_grad.len(), "{what}: gradient length");
    let scale = want_grad.iter().fold(1e-12f64, |m, g| m.max(g.abs()));
    for (i, (g, w)) in grad.iter().zip(want_grad).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= 1e-3 * scale,
            "{what}: grad[{i}] = {g} vs {w} (max {scale:e})"
        );
    }
}

/// Loss and student gradient through `distill_loss` on the autodiff device.
fn burn_loss_and_grad<const D: usize>(
    spec: &LossSpec,
    student: &[f32],
    teacher: &[f32],
    dims: [usize; D],
    labels: Option<&[i64]>,
) -> (f32, Vec<f32>) {
    let device = device().autodiff();
    let s = tensor(student, dims, &device).require_grad();
    let t = tensor(teacher, dims, &device);
    let l = labels
        .map(|l| Tensor::<1, Int>::from_data(TensorData::new(l.to_vec(), [l.len()]), &device));
    let loss = distill_loss(spec, s.clone(), t, l).unwrap();
    let grads = loss.backward();
    let grad = values(s.grad(&grads).expect("student gradient"));
    (values(loss)[0], grad)
}

fn check<const D: usize>(spec: LossSpec, dims: [usize; D], seed: u64) {
    let n: usize = dims.iter().product();
    let student = synthetic::normal_vec(seed, n, 2.0);
    let teacher = synthetic::normal_vec(seed + 50, n, 2.0);
    let labels: Option<Vec<i64>> = spec.needs_labels().then(|| {
        (0..dims[0] as i64)
            .map(|r| (r * 7) % dims[1] as i64)
            .collect()
    });
    let (loss, grad) = burn_loss_and_grad(&spec, &student, &teacher, dims, labels.as_deref());
    let mut inputs = Inputs::new(&student, &teacher, &dims);
    if let Some(l) = &labels {
        inputs = inputs.with_labels(l);
    }
    let want = reference::evaluate(&spec, &inputs).unwrap();
    assert_close(spec.name(), loss, &grad, want.loss, &want.grad);
}

#[test]
fn every_loss_matches_the_float64_reference() {
    check(LossSpec::Kl(KlParams::new(2.0)), [33, 100], 1);
    check(LossSpec::Dist(DistParams::default()), [64, 257], 2);
    check(
        LossSpec::Dist(
            DistParams::default()
                .with_temperature(4.0)
                .with_beta(2.0)
                .with_gamma(1.0),
        ),
        [7, 1000],
        3,
    );
    check(LossSpec::Dkd(DkdParams::default()), [16, 10], 4);
    check(LossSpec::Fitnet, [4, 8, 5, 5], 5);
    check(LossSpec::At(AtParams::default()), [3, 4, 6, 6], 6);
    check(LossSpec::Rkd(RkdParams::default()), [12, 9], 7);
    check(LossSpec::Hcl, [2, 3, 7, 7], 8);
    check(LossSpec::Ickd(IckdParams::default()), [3, 5, 4, 3], 9);
    check(
        LossSpec::Ttm(wgpu_distill::TtmParams::new(0.1).with_weighted(true)),
        [24, 100],
        10,
    );
    check(
        LossSpec::Nkd(wgpu_distill::NkdParams::new(3.0, 3.5)),
        [16, 10],
        11,
    );
    // LS on WTTM and DKD, and MLKD (with LS, and at its defaults).
    let ttm_ls = wgpu_distill::TtmParams::new(0.1).with_weighted(true);
    check(LossSpec::Ttm(ttm_ls.with_standardize(true)), [12, 50], 12);
    check(
        LossSpec::Dkd(DkdParams::new(2.0, 1.0, 8.0).with_standardize(true)),
        [16, 10],
        13,
    );
    let mlkd = wgpu_distill::MlkdParams::default();
    check(LossSpec::Mlkd(mlkd), [16, 10], 14);
    let ls_weights = mlkd
        .with_temperatures(&[2.0, 4.0])
        .with_cc_weight(0.5)
        .with_bc_weight(2.0)
        .with_standardize(true);
    check(LossSpec::Mlkd(ls_weights), [20, 37], 15);
}

/// SP and PKT with a teacher of another width (the same batch size), and the refusal of another
/// batch size.
#[test]
fn sp_and_pkt_take_a_teacher_of_another_width() {
    let device = device().autodiff();
    let (dims, teacher_dims) = ([10, 12], [10, 20]);
    let student = synthetic::normal_vec(21, 120, 1.0);
    let teacher = synthetic::normal_vec(22, 200, 1.0);
    for spec in [LossSpec::Sp, LossSpec::Pkt] {
        let s = tensor(&student, dims, &device).require_grad();
        let t = tensor(&teacher, teacher_dims, &device);
        let loss = distill_loss(&spec, s.clone(), t, None).unwrap();
        let grads = loss.backward();
        let grad = values(s.grad(&grads).expect("student gradient"));
        let inputs = Inputs::new(&student, &teacher, &dims).with_teacher_shape(&teacher_dims);
        let want = reference::evaluate(&spec, &inputs).unwrap();
        assert_close(spec.name(), values(loss)[0], &grad, want.loss, &want.grad);
        let other_batch = tensor(&teacher, [20, 10], &device);
        let err =
            distill_loss(&spec, tensor(&student, dims, &device), other_batch, None).unwrap_err();
        assert!(err.to_string().contains("same batch size"), "{err}");
    }
    let err = distill_loss(
        &LossSpec::Fitnet,
        tensor(&student, dims, &device),
        tensor(&teacher, teacher_dims, &device),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("student's shape"), "{err}");
}

/// The token losses through burn: labels as an Int tensor (rows labelled -100 masked), the hard
/// term, against the float64 reference; DKD's hard term likewise.
#[test]
fn token_losses_with_labels_match_the_float64_reference() {
    let options = wgpu_distill::TokenOptions::default()
        .with_hard_weight(0.5)
        .with_soft_weight(0.5);
    let (b, c) = (13, 100);
    let n = b * c;
    let student = synthetic::normal_vec(21, n, 2.0);
    let teacher = synthetic::normal_vec(22, n, 2.0);
    let labels: Vec<i64> = (0..b as i64)
        .map(|r| if r % 4 == 1 { -100 } else { (r * 7) % c as i64 })
        .collect();
    let targets: Vec<i64> = (0..b as i64).map(|r| (r * 7) % c as i64).collect();
    let specs = [
        (
            LossSpec::Jsd(
                wgpu_distill::JsdParams::default()
                    .with_temperature(2.0)
                    .with_beta(0.3)
                    .with_options(options),
            ),
            &labels,
        ),
        (
            LossSpec::Tvd(
                wgpu_distill::TvdParams::default()
                    .with_temperature(1.0)
                    .with_options(options),
            ),
            &labels,
        ),
        (
            LossSpec::Kl(
                KlParams::default()
                    .with_temperature(1.0)
                    .with_options(options),
            ),
            &labels,
        ),
        (
            LossSpec::Dkd(DkdParams::default().with_hard_weight(1.0)),
            &targets,
        ),
    ];
    for (spec, labels) in specs {
        let (loss, grad) = burn_loss_and_grad(&spec, &student, &teacher, [b, c], Some(labels));
        let shape = [b, c];
        let inputs = Inputs::new(&student, &teacher, &shape).with_labels(labels);
        let want = reference::evaluate(&spec, &inputs).unwrap();
        assert_close(spec.name(), loss, &grad, want.loss, &want.grad);
    }
}

#[path = "support/tensor_ops.rs"]
mod tensor_ops;
use tensor_ops::{dist_ops, kl_ops};

#[test]
fn kl_and_dist_match_burns_own_autodiff_of_the_formula() {
    let device = device().autodiff();
    let (b, c) = (24, 100);
    let (s, t) = synthetic::logit_pair(11, b, c, 2.0);
    for (name, t_value) in [("kl", 4.0), ("dist", 4.0)] {
        let spec = match name {
            "kl" => LossSpec::Kl(KlParams::new(t_value)),
            _ => LossSpec::Dist(
                DistParams::default()
                    .with_temperature(t_value)
                    .with_beta(1.0)
                    .with_gamma(1.0),
            ),
        };
        let ours_s = tensor(&s, [b, c], &device).require_grad();
        let ours = distill_loss(&spec, ours_s.clone(), tensor(&t, [b, c], &device), None).unwrap();
        let ours_grad = values(ours_s.grad(&ours.backward()).unwrap());

        let ops_s = tensor(&s, [b, c], &device).require_grad();
        let ops_t = tensor(&t, [b, c], &device);
        let ops = match name {
            "kl" => kl_ops(ops_s.clone(), ops_t, t_value),
            _ => dist_ops(ops_s.clone(), ops_t, t_value),
        };
        let ops_grad = values(ops_s.grad(&ops.backward()).unwrap());
        let want: Vec<f64> = ops_grad.iter().map(|g| f64::from(*g)).collect();
        assert_close(
            &format!("{name} against burn's autodiff"),
            values(ours)[0],
            &ours_grad,
            f64::from(values(ops)[0]),
            &want,
        );
    }
}

#[test]
fn lazy_fused_inputs_and_views_at_offsets() {
    let device = device().autodiff();
    let (b, c) = (16, 64);
    let spec = LossSpec::Dist(DistParams::default());
    let base = synthetic::normal_vec(21, (b + 3) * (c + 5), 1.0);
    let teacher_base = synthetic::normal_vec(22, b * c, 1.0);

    // The student: a strided view at an offset of a larger tensor, through lazy fused ops.
    let big = tensor(&base, [b + 3, c + 5], &device).require_grad();
    let student = big.clone().slice([3..b + 3, 5..c + 5]) * 2.0 - 0.5;
    // The teacher: the transpose of a transposed tensor, times a lazy scale.
    let teacher = tensor(&teacher_base, [c, b], &device).transpose() * 1.5;
    let loss = distill_loss(&spec, student, teacher, None).unwrap();
    let grads = loss.backward();
    let big_grad = values(big.grad(&grads).unwrap());

    let s: Vec<f32> = (0..b * c)
        .map(|i| base[(i / c + 3) * (c + 5) + i % c + 5] * 2.0 - 0.5)
        .collect();
    let t: Vec<f32> = (0..b * c)
        .map(|i| teacher_base[(i % c) * b + i / c] * 1.5)
        .collect();
    let want = reference::evaluate(&spec, &Inputs::new(&s, &t, &[b, c])).unwrap();
    // d/d(big) is 2 d/d(student) inside the slice and 0 outside it.
    let want_big: Vec<f64> = (0..(b + 3) * (c + 5))
        .map(|i| {
            let (r, col) = (i / (c + 5), i % (c + 5));
            if r >= 3 && col >= 5 {
                2.0 * want.grad[(r - 3) * c + col - 5]
            } else {
                0.0
            }
        })
        .collect();
    assert_close(
        "views and lazy inputs",
        values(loss)[0],
        &big_grad,
        want.loss,
        &want_big,
    );
}

/// Also the backward's two paths: KL's upstream gradient is exactly 1 (the scale pass touches
/// nothing), DIST's is 2 (scaled in place on the device).
#[test]
fn two_losses_summed_in_one_graph() {
    let device = device().autodiff();
    let (b, c) = (20, 100);
    let (s, t) = synthetic::logit_pair(31, b, c, 2.0);
    let kl = LossSpec::Kl(KlParams::new(4.0));
    let dist = LossSpec::Dist(DistParams::default());
    let student = tensor(&s, [b, c], &device).require_grad();
    let teacher = tensor(&t, [b, c], &device);
    let total = distill_loss(&kl, student.clone(), teacher.clone(), None).unwrap()
        + distill_loss(&dist, student.clone(), teacher, None).unwrap() * 2.0;
    let grad = values(student.grad(&total.backward()).unwrap());

    let shape = [b, c];
    let inputs = Inputs::new(&s, &t, &shape);
    let want_kl = reference::evaluate(&kl, &inputs).unwrap();
    let want_dist = reference::evaluate(&dist, &inputs).unwrap();
    let want: Vec<f64> = want_kl
        .grad
        .iter()
        .zip(&want_dist.grad)
        .map(|(a, b)| a + 2.0 * b)
        .collect();
    assert_close(
        "kl + 2 dist",
        values(total)[0],
        &grad,
        want_kl.loss + 2.0 * want_dist.loss,
        &want,
    );
}

#[test]
fn without_autodiff_the_loss_is_a_plain_tensor() {
    let device = device();
    let (b, c) = (8, 40);
    let (s, t) = synthetic::logit_pair(41, b, c, 2.0);
    let spec = LossSpec::Kl(KlParams::new(2.0));
    let loss = distill_loss(
        &spec,
        tensor(&s, [b, c], &device),
        tensor(&t, [b, c], &device),
        None,
    )
    .unwrap();
    assert!(!loss.is_autodiff());
    let want = reference::evaluate(&spec, &Inputs::new(&s, &t, &[b, c])).unwrap();
    let got = values(loss)[0];
    assert!(
        (f64::from(got) - want.loss).abs() <= 1e-4 * want.loss,
        "{got} vs {}",
        want.loss
    );
}

#[test]
fn f16_students_get_an_f16_gradient() {
    let device = device().autodiff();
    let (b, c) = (8, 64);
    let (s, t) = synthetic::logit_pair(51, b, c, 2.0);
    let spec = LossSpec::Kl(KlParams::new(2.0));
    let student = tensor(&s, [b, c], &device).cast(DType::F16).require_grad();
    let teacher = tensor(&t, [b, c], &device).cast(DType::F16);
    let loss = distill_loss(&spec, student.clone(), teacher, None).unwrap();
    let grad = student.grad(&loss.backward()).unwrap();
    assert_eq!(grad.dtype(), DType::F16);
    let grad = values(grad);

    // The reference on the same f16-rounded values.
    let round =
        |v: &[f32]| -> Vec<f32> { v.iter().map(|x| half::f16::from_f32(*x).to_f32()).collect() };
    let (s16, t16) = (round(&s), round(&t));
    let want = reference::evaluate(&spec, &Inputs::new(&s16, &t16, &[b, c])).unwrap();
    let scale = want.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    for (g, w) in grad.iter().zip(&want.grad) {
        assert!((f64::from(*g) - w).abs() <= 1e-2 * scale, "{g} vs {w}");
    }
    let got = values(loss)[0];
    assert!((f64::from(got) - want.loss).abs() <= 1e-3 * want.loss);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let device = device().autodiff();
    let (s, t) = synthetic::logit_pair(61, 4, 12, 1.0);
    let kl = LossSpec::Kl(KlParams::default());
    // Shapes that differ.
    let err = distill_loss(
        &kl,
        tensor(&s, [4, 12], &device),
        tensor(&t, [6, 8], &device),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, wgpu_distill::Error::Shape(_)), "{err}");
    // A 16-bit tensor for a loss that takes f32 only.
    let err = distill_loss(
        &LossSpec::Fitnet,
        tensor(&s, [4, 12], &device).cast(DType::F16),
        tensor(&t, [4, 12], &device).cast(DType::F16),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, wgpu_distill::Error::Param(_)), "{err}");
    // DKD without labels; labels of the wrong length.
    let dkd = LossSpec::Dkd(DkdParams::default());
    let err = distill_loss(
        &dkd,
        tensor(&s, [4, 12], &device),
        tensor(&t, [4, 12], &device),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, wgpu_distill::Error::Param(_)), "{err}");
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 2, 3], [3]), &device);
    let err = distill_loss(
        &dkd,
        tensor(&s, [4, 12], &device),
        tensor(&t, [4, 12], &device),
        Some(labels),
    )
    .unwrap_err();
    assert!(matches!(err, wgpu_distill::Error::Shape(_)), "{err}");
    // A bad parameter.
    let err = distill_loss(
        &LossSpec::Kl(KlParams::new(-1.0)),
        tensor(&s, [4, 12], &device),
        tensor(&t, [4, 12], &device),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, wgpu_distill::Error::Param(_)), "{err}");
    // A wgpu device that was not initialised through the crate (nothing runs on it).
    let other = Device::wgpu(DeviceKind::Cpu);
    let Err(err) = wgpu_distill_burn::context(&other) else {
        panic!("a device that was not registered has a context");
    };
    assert!(matches!(err, wgpu_distill::Error::Device(_)), "{err}");
}
