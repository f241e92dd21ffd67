//! CTKD through burn: `distill_loss_with_temperature` fills the temperature's gradient and the
//! student's, both against the float64 reference (with LS, and scaled by an upstream factor);
//! the value without autodiff; errors.

use burn::tensor::{Tensor, TensorData};
use wgpu_distill::{reference, synthetic, Inputs, KlParams, LossSpec, TokenOptions};
use wgpu_distill_burn::distill_loss_with_temperature;

use crate::device;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

#[test]
fn the_temperature_gets_its_gradient() {
    let (b, c) = (12, 100);
    let (student, teacher) = synthetic::logit_pair(5, b, c, 3.0);
    let device = device().autodiff();
    for (t, standardize, factor) in [(4.0f32, false, 1.0f32), (2.0, true, 3.0)] {
        let options = TokenOptions::default().with_standardize(standardize);
        let spec = LossSpec::Kl(KlParams::new(99.0).with_options(options));
        let s = Tensor::<2>::from_data(TensorData::new(student.clone(), [b, c]), &device)
            .require_grad();
        let te = Tensor::<2>::from_data(TensorData::new(teacher.clone(), [b, c]), &device);
        let temperature =
            Tensor::<1>::from_data(TensorData::new(vec![t], [1]), &device).require_grad();
        let loss =
            distill_loss_with_temperature(&spec, s.clone(), te, temperature.clone(), None).unwrap();
        let grads = (loss.clone() * factor).backward();
        let dt = values(
            temperature
                .grad(&grads)
                .expect("the temperature's gradient"),
        )[0];
        let grad = values(s.grad(&grads).expect("the student's gradient"));

        let want_spec = LossSpec::Kl(
            KlParams::new(f64::from(t))
                .with_options(options)
                .with_temperature_grad(true),
        );
        let shape = [b, c];
        let want =
            reference::evaluate(&want_spec, &Inputs::new(&student, &teacher, &shape)).unwrap();
        let what = format!("T = {t}, standardize {standardize}");
        let loss = f64::from(values(loss)[0]);
        assert!(
            (loss - want.loss).abs() <= 1e-4 * want.loss,
            "{what}: {loss} vs {}",
            want.loss
        );
        let want_dt = f64::from(factor) * want.grad_temperature.unwrap();
        let scale = want_dt.abs().max(2.0 * want.loss / f64::from(t));
        assert!(
            (f64::from(dt) - want_dt).abs() <= 1e-4 * scale,
            "{what}: dL/dT {dt} vs {want_dt}"
        );
        let max = want.grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) * f64::from(factor);
        for (g, w) in grad.iter().zip(&want.grad) {
            let w = w * f64::from(factor);
            assert!(
                (f64::from(*g) - w).abs() <= 1e-3 * max,
                "{what}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn a_learned_temperature_without_autodiff_and_errors() {
    let device = device();
    let (b, c) = (4, 10);
    let (student, teacher) = synthetic::logit_pair(2, b, c, 2.0);
    let s = Tensor::<2>::from_data(TensorData::new(student.clone(), [b, c]), &device);
    let te = Tensor::<2>::from_data(TensorData::new(teacher.clone(), [b, c]), &device);
    let t = Tensor::<1>::from_data(TensorData::new(vec![3.0f32], [1]), &device);
    let spec = LossSpec::Kl(KlParams::default());
    let loss = distill_loss_with_temperature(&spec, s.clone(), te.clone(), t, None).unwrap();
    let shape = [b, c];
    let want = reference::evaluate(
        &LossSpec::Kl(KlParams::new(3.0)),
        &Inputs::new(&student, &teacher, &shape),
    )
    .unwrap();
    let got = f64::from(values(loss)[0]);
    assert!(
        (got - want.loss).abs() <= 1e-4 * want.loss,
        "{got} vs {}",
        want.loss
    );

    let two = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &device);
    let err = distill_loss_with_temperature(&spec, s.clone(), te.clone(), two, None).unwrap_err();
    assert!(err.to_string().contains("one f32 value"), "{err}");
    let negative = Tensor::<1>::from_data(TensorData::new(vec![-1.0f32], [1]), &device);
    let err =
        distill_loss_with_temperature(&spec, s.clone(), te.clone(), negative, None).unwrap_err();
    assert!(err.to_string().contains("emperature"), "{err}");
    let one = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &device);
    let dkd = LossSpec::Dkd(Default::default());
    let err = distill_loss_with_temperature(&dkd, s, te, one, None).unwrap_err();
    assert!(err.to_string().contains("applies to kl"), "{err}");
}
