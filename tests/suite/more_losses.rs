//! DKD, FitNet, AT, RKD, ICKD and HCL on the GPU against the float64 reference on shapes chosen
//! to break kernels: odd sizes, B = 1 where defined, H not a multiple of the pooling size,
//! fractional exponents, a target logit leading by 200·T, C = 2, and RKD at B = 256, D = 512.

use crate::common::*;
use wgpu_distill::losses::{AtParams, DkdParams, IckdDenominator, IckdParams, RkdParams};
use wgpu_distill::{reference, synthetic, GpuContext, Inputs, LossSpec};

fn compare(
    ctx: &GpuContext,
    spec: &LossSpec,
    dims: &[usize],
    student: &[f32],
    teacher: &[f32],
    labels: Option<&[i64]>,
) {
    compare_floor(ctx, spec, dims, student, teacher, labels, 0.0);
}

fn compare_floor(
    ctx: &GpuContext,
    spec: &LossSpec,
    dims: &[usize],
    student: &[f32],
    teacher: &[f32],
    labels: Option<&[i64]>,
    floor: f64,
) {
    let mut inputs = Inputs::new(student, teacher, dims);
    if let Some(l) = labels {
        inputs = inputs.with_labels(l);
    }
    let want = reference::evaluate(spec, &inputs).unwrap();
    let got = ctx.evaluate(spec, &inputs, true).unwrap();
    let what = format!("{spec:?} {dims:?} on {}", ctx.backend_name());
    if floor > 0.0 {
        assert_close_floor(
            &what,
            f64::from(got.loss),
            got.grad.as_deref().unwrap(),
            want.loss,
            &want.grad,
            floor,
        );
    } else {
        assert_close(
            &what,
            f64::from(got.loss),
            got.grad.as_deref().unwrap(),
            want.loss,
            &want.grad,
        );
    }
}

fn random_pair(seed: u64, dims: &[usize], scale: f64) -> (Vec<f32>, Vec<f32>) {
    let n = dims.iter().product();
    (
        synthetic::normal_vec(seed, n, scale),
        synthetic::normal_vec(seed + 1, n, scale),
    )
}

#[test]
fn dkd_random_shapes() {
    let shapes = [(1, 2), (5, 3), (7, 100), (3, 1001), (33, 10)];
    for backend in GPU_BACKENDS {
        for (i, &(b, c)) in shapes.iter().enumerate() {
            let (student, teacher) = synthetic::logit_pair(i as u64, b, c, 3.0);
            let labels: Vec<i64> = (0..b).map(|r| ((r * 7 + i) % c) as i64).collect();
            for params in [
                DkdParams::default(),
                DkdParams::default()
                    .with_temperature(1.0)
                    .with_alpha(2.0)
                    .with_beta(0.5),
            ] {
                // A KL of nearly equal distributions is tiny: float32 leaves ~1e-6 absolute.
                compare_floor(
                    gpu(backend),
                    &LossSpec::Dkd(params),
                    &[b, c],
                    &student,
                    &teacher,
                    Some(&labels),
                    1e-6,
                );
            }
        }
    }
}

#[test]
fn dkd_target_leading_by_200_t_is_finite_and_stable() {
    let t = 4.0;
    let (b, c) = (4, 10);
    let (mut student, teacher) = synthetic::logit_pair(3, b, c, 1.0);
    let labels: Vec<i64> = vec![0, 3, 9, 5];
    for (r, &g) in labels.iter().enumerate() {
        student[r * c + g as usize] += 200.0 * t as f32;
    }
    let spec = LossSpec::Dkd(
        DkdParams::default()
            .with_temperature(t)
            .with_alpha(1.0)
            .with_beta(8.0),
    );
    let shape = [b, c];
    let inputs = Inputs::new(&student, &teacher, &shape).with_labels(&labels);
    let want = reference::evaluate(&spec, &inputs).unwrap();
    assert!(want.loss.is_finite() && want.grad.iter().all(|g| g.is_finite()));
    for backend in GPU_BACKENDS {
        let got = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
        assert!(got.loss.is_finite(), "{backend:?}: loss {}", got.loss);
        assert!(got.grad.as_ref().unwrap().iter().all(|g| g.is_finite()));
        assert_close(
            &format!("dkd lead 200T {backend:?}"),
            f64::from(got.loss),
            got.grad.as_deref().unwrap(),
            want.loss,
            &want.grad,
        );
    }
}

#[test]
fn dkd_with_two_classes_has_no_nckd() {
    let (student, teacher) = synthetic::logit_pair(5, 6, 2, 2.0);
    let labels: Vec<i64> = vec![0, 1, 1, 0, 1, 0];
    let inputs = Inputs::new(&student, &teacher, &[6, 2]).with_labels(&labels);
    for backend in GPU_BACKENDS {
        let with_nckd = LossSpec::Dkd(
            DkdParams::default()
                .with_temperature(4.0)
                .with_alpha(1.0)
                .with_beta(8.0),
        );
        let without = LossSpec::Dkd(
            DkdParams::default()
                .with_temperature(4.0)
                .with_alpha(1.0)
                .with_beta(0.0),
        );
        let a = gpu(backend).evaluate(&with_nckd, &inputs, true).unwrap();
        let b = gpu(backend).evaluate(&without, &inputs, true).unwrap();
        assert_eq!(a, b, "{backend:?}: beta changed a C = 2 result");
    }
}

#[test]
fn feature_losses_random_shapes() {
    let shapes: [[usize; 4]; 6] = [
        [1, 1, 1, 1],
        [1, 3, 7, 7],
        [2, 5, 9, 4],
        [3, 2, 5, 5],
        [2, 17, 3, 11],
        [4, 8, 16, 16],
    ];
    let specs = [
        LossSpec::Fitnet,
        LossSpec::Hcl,
        LossSpec::At(AtParams::default().with_p(2.0)),
        LossSpec::At(AtParams::default().with_p(3.0)),
        LossSpec::Ickd(IckdParams::default().with_denominator(IckdDenominator::Cb)),
        LossSpec::Ickd(IckdParams::default().with_denominator(IckdDenominator::Cb2)),
    ];
    for backend in GPU_BACKENDS {
        for (i, dims) in shapes.iter().enumerate() {
            let (student, teacher) = random_pair(i as u64 * 3, dims, 1.0);
            for spec in &specs {
                compare(gpu(backend), spec, dims, &student, &teacher, None);
            }
        }
    }
}

#[test]
fn at_with_fractional_exponent() {
    let dims = [2, 4, 6, 5];
    let (s, t) = random_pair(21, &dims, 1.0);
    let (student, teacher): (Vec<f32>, Vec<f32>) = (
        s.iter().map(|x| x.abs() + 0.05).collect(),
        t.iter().map(|x| x.abs() + 0.05).collect(),
    );
    for backend in GPU_BACKENDS {
        for p in [0.5, 1.0, 1.5, 2.5] {
            compare(
                gpu(backend),
                &LossSpec::At(AtParams::default().with_p(p)),
                &dims,
                &student,
                &teacher,
                None,
            );
        }
    }
}

#[test]
fn fitnet_and_hcl_large_planes() {
    // FitNet over several blocks of 4096; HCL planes larger than one workgroup's lanes.
    for backend in GPU_BACKENDS {
        let dims = [3, 5, 29, 31];
        let (student, teacher) = random_pair(31, &dims, 1.0);
        compare(
            gpu(backend),
            &LossSpec::Fitnet,
            &dims,
            &student,
            &teacher,
            None,
        );
        compare(
            gpu(backend),
            &LossSpec::Hcl,
            &dims,
            &student,
            &teacher,
            None,
        );
    }
}

#[test]
fn rkd_random_shapes() {
    for backend in GPU_BACKENDS {
        for (i, dims) in [
            vec![2, 3],
            vec![5, 1],
            vec![9, 16],
            vec![31, 7],
            vec![6, 2, 3, 2],
        ]
        .iter()
        .enumerate()
        {
            let (student, teacher) = random_pair(40 + i as u64, dims, 1.0);
            for params in [
                RkdParams::default(),
                RkdParams::default()
                    .with_distance_weight(1.0)
                    .with_angle_weight(0.0),
                RkdParams::default()
                    .with_distance_weight(0.0)
                    .with_angle_weight(1.0),
            ] {
                // B = 2 has an exactly zero loss, and D = 1 (collinear points: every cosine is
                // exactly ±1, the true angle gradient vanishes) leaves Gram-rounding noise of
                // ~1e-7 where the reference has 0: floors for those.
                let floor = if dims[1..].iter().product::<usize>() == 1 {
                    1e-3
                } else {
                    1e-6
                };
                compare_floor(
                    gpu(backend),
                    &LossSpec::Rkd(params),
                    dims,
                    &student,
                    &teacher,
                    None,
                    floor,
                );
            }
        }
    }
}

#[test]
fn rkd_batch_256_width_512_runs() {
    // O(B^3) work with O(B^2) scratch: B^3 floats would be 64 MiB, B^2·D 128 MiB; neither is
    // allocated. Checked against the reference at a smaller size above; here: it runs, and the
    // loss agrees with a second evaluation (deterministic) and is finite.
    let dims = [256, 512];
    let (student, teacher) = random_pair(77, &dims, 1.0);
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let spec = LossSpec::Rkd(RkdParams::default());
    let inputs = Inputs::new(&student, &teacher, &dims);
    let out = ctx.evaluate(&spec, &inputs, true).unwrap();
    assert!(out.loss.is_finite() && out.loss > 0.0, "loss {}", out.loss);
    assert!(out.grad.as_ref().unwrap().iter().all(|g| g.is_finite()));
    assert_eq!(ctx.evaluate(&spec, &inputs, true).unwrap(), out);
}
