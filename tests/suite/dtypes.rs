//! f16 and bf16 inputs (KL, DIST, DKD): the kernels decode them exactly and accumulate in f32,
//! so against the float64 reference on the same (rounded) values they meet the f32 tolerances;
//! against the unrounded values the error is the rounding of the inputs, documented here.

use crate::common::*;
use wgpu_distill::losses::DkdParams;
use wgpu_distill::{
    reference, synthetic, DistParams, Error, InputDtype, Inputs, KlParams, LossSpec, Strategy,
};

fn specs() -> [LossSpec; 3] {
    [
        LossSpec::Kl(KlParams::new(2.0)),
        LossSpec::Dist(
            DistParams::default()
                .with_temperature(2.0)
                .with_beta(1.0)
                .with_gamma(1.0),
        ),
        LossSpec::Dkd(DkdParams::default()),
    ]
}

#[test]
fn sixteen_bit_inputs_match_the_reference_on_the_same_values() {
    for backend in GPU_BACKENDS {
        // Streamed rows with DIST's row pass in one read and in two (`dist_row_reads`).
        let paths = [
            (None, None),
            (Some(false), Some(2)),
            (Some(true), None),
            (None, Some(1)),
        ];
        for (cached_rows, dist_row_reads) in paths {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(
                Strategy::default()
                    .with_cached_rows(cached_rows)
                    .with_dist_row_reads(dist_row_reads),
            )
            .unwrap();
            // Odd element counts: the last 32-bit word holds one value and padding; multiples
            // of 4 classes: the quad kernels (four 16-bit values per 8-byte load).
            for (b, c) in [(7, 101), (3, 3001), (1, 5), (5, 1000), (2, 12)] {
                let (student, teacher) = synthetic::logit_pair(b as u64, b, c, 3.0);
                let labels: Vec<i64> = (0..b as i64).map(|r| (r * 3) % c as i64).collect();
                let shape = [b, c];
                for dtype in [InputDtype::F16, InputDtype::Bf16] {
                    let (s16, t16) = (dtype.round_trip(&student), dtype.round_trip(&teacher));
                    for spec in specs() {
                        let mut raw = Inputs::new(&student, &teacher, &shape);
                        let mut rounded = Inputs::new(&s16, &t16, &shape);
                        if spec.needs_labels() {
                            raw = raw.with_labels(&labels);
                            rounded = rounded.with_labels(&labels);
                        }
                        let gpu_out = ctx.evaluate_as(&spec, &raw, true, dtype).unwrap();
                        let want = reference::evaluate(&spec, &rounded).unwrap();
                        assert_close(
                            &format!("{spec:?} {b}x{c} {dtype:?} {backend:?} {cached_rows:?} {dist_row_reads:?}"),
                            f64::from(gpu_out.loss),
                            gpu_out.grad.as_deref().unwrap(),
                            want.loss,
                            &want.grad,
                        );
                    }
                }
            }
        }
    }
}

/// The documented tolerance against unrounded inputs: the loss within 2e-3 (f16) and 2e-2
/// (bf16) relative, the gradient within 1e-2 (f16) and 5e-2 (bf16) of its largest magnitude.
#[test]
fn sixteen_bit_inputs_against_unrounded_values() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let (b, c) = (32, 1000);
    let (student, teacher) = synthetic::logit_pair(11, b, c, 3.0);
    let labels: Vec<i64> = (0..b as i64).map(|r| (r * 7) % c as i64).collect();
    let shape = [b, c];
    for spec in specs() {
        let mut inputs = Inputs::new(&student, &teacher, &shape);
        if spec.needs_labels() {
            inputs = inputs.with_labels(&labels);
        }
        let want = reference::evaluate(&spec, &inputs).unwrap();
        for (dtype, loss_tol, grad_tol) in [
            (InputDtype::F16, 2e-3, 1e-2),
            (InputDtype::Bf16, 2e-2, 5e-2),
        ] {
            let out = ctx.evaluate_as(&spec, &inputs, true, dtype).unwrap();
            let rel = (f64::from(out.loss) - want.loss).abs() / want.loss.abs();
            assert!(
                rel < loss_tol,
                "{spec:?} {dtype:?}: loss relative error {rel:.2e}"
            );
            assert_grad_close(
                &format!("{spec:?} {dtype:?}"),
                out.grad.as_deref().unwrap(),
                &want.grad,
                grad_tol,
            );
        }
    }
}

#[test]
fn sixteen_bit_inputs_are_refused_where_unsupported() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let data = vec![0.5f32; 24];
    let err = ctx
        .evaluate_as(
            &LossSpec::Fitnet,
            &Inputs::new(&data, &data, &[24]),
            true,
            InputDtype::F16,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Param(_)) && err.to_string().contains("kl, dist and dkd"),
        "{err}"
    );
    assert!("f8".parse::<InputDtype>().is_err());
}

/// A 16-bit gradient (KL, DIST and DKD, C a multiple of 4): the quad kernels compute the same f32
/// values and round them to nearest even on the GPU, so the result is exactly the f32
/// gradient rounded by the `half` crate (subnormal, tiny gradients included), with the loss
/// unchanged, whatever the inputs' dtype, in row chunks too.
#[test]
fn sixteen_bit_gradients_are_the_f32_gradient_rounded_to_nearest_even() {
    use wgpu_distill::Precision;
    for backend in GPU_BACKENDS {
        for chunk_rows in [None, Some(3)] {
            let mut ctx = fresh_gpu(backend);
            ctx.set_strategy(Strategy::default().with_chunk_rows(chunk_rows))
                .unwrap();
            for (b, c) in [(5, 1000), (7, 32), (1, 4), (9, 100)] {
                let (student, teacher) = synthetic::logit_pair(c as u64, b, c, 3.0);
                let labels: Vec<i64> = (0..b as i64).map(|r| (r * 3) % c as i64).collect();
                let shape = [b, c];
                for spec in &specs() {
                    let mut inputs = Inputs::new(&student, &teacher, &shape);
                    if spec.needs_labels() {
                        inputs = inputs.with_labels(&labels);
                    }
                    for inputs_dtype in [InputDtype::F32, InputDtype::F16] {
                        let wide = ctx.evaluate_as(spec, &inputs, true, inputs_dtype).unwrap();
                        let wide_grad = wide.grad.unwrap();
                        for grad in [InputDtype::F16, InputDtype::Bf16] {
                            let precision = Precision {
                                inputs: inputs_dtype,
                                grad,
                            };
                            let narrow = ctx.evaluate_with(spec, &inputs, true, precision).unwrap();
                            let what = format!(
                                "{spec:?} {b}x{c} {precision:?} chunks {chunk_rows:?} {backend:?}"
                            );
                            assert_eq!(narrow.loss.to_bits(), wide.loss.to_bits(), "{what}");
                            let expected = grad.round_trip(&wide_grad);
                            let got = narrow.grad.unwrap();
                            assert_eq!(got.len(), expected.len(), "{what}");
                            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                                assert_eq!(g.to_bits(), e.to_bits(), "{what} [{i}]: {g} vs {e}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn sixteen_bit_gradients_are_refused_where_no_quad_kernel_writes_them() {
    use wgpu_distill::Precision;
    let precision = Precision {
        inputs: InputDtype::F32,
        grad: InputDtype::F16,
    };
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let (s, t) = synthetic::logit_pair(1, 3, 101, 2.0);
    let labels = [0i64, 1, 2];
    let message = |spec: &LossSpec, shape: &[usize], ctx: &wgpu_distill::GpuContext| {
        let mut inputs = Inputs::new(&s[..shape[0] * shape[1]], &t[..shape[0] * shape[1]], shape);
        if spec.needs_labels() {
            inputs = inputs.with_labels(&labels);
        }
        match ctx.evaluate_with(spec, &inputs, true, precision) {
            Err(Error::Param(m)) => m,
            other => panic!("{spec:?} {shape:?}: expected a parameter error, got {other:?}"),
        }
    };
    let fitnet = message(&LossSpec::Fitnet, &[3, 100], ctx);
    assert!(fitnet.contains("kl, dist and dkd"), "{fitnet}");
    let odd = message(&specs()[0], &[3, 101], ctx);
    assert!(
        odd.contains("multiple of 4") && odd.contains("101"),
        "{odd}"
    );
    let mut scalar_only = fresh_gpu(wgpu_distill::BackendChoice::Vulkan);
    scalar_only
        .set_strategy(Strategy::default().with_quads(Some(false)))
        .unwrap();
    let forced = message(&specs()[1], &[3, 100], &scalar_only);
    assert!(forced.contains("strategy"), "{forced}");
    // Without a gradient the gradient's dtype does not matter.
    let inputs = Inputs::new(&s[..300], &t[..300], &[3, 100]);
    assert!(scalar_only
        .evaluate_with(&specs()[1], &inputs, false, precision)
        .is_ok());
}
