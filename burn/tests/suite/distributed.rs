//! `distill_loss_distributed` on burn's device: a linear student spread over a `ThreadGroup`
//! of three members (one without rows); each member's loss is the whole batch's, and the sum
//! of the members' weight gradients is the whole batch's weight gradient.

use burn::tensor::{Device, Int, Tensor, TensorData};
use wgpu_distill::distributed::{Collective, ThreadGroup};
use wgpu_distill::{synthetic, DistParams, DkdParams, Error, KlParams, LossSpec, TokenOptions};
use wgpu_distill_burn::{distill_loss, distill_loss_distributed};

use crate::device;

const FEATURES: usize = 6;
const CLASSES: usize = 12;
const ROWS: usize = 23;

struct Batch {
    x: Vec<f32>,
    w: Vec<f32>,
    teacher: Vec<f32>,
    labels: Vec<i64>,
}

fn batch(masked: bool) -> Batch {
    Batch {
        x: synthetic::normal_vec(31, ROWS * FEATURES, 1.0),
        w: synthetic::normal_vec(32, FEATURES * CLASSES, 0.7),
        teacher: synthetic::normal_vec(33, ROWS * CLASSES, 2.0),
        labels: (0..ROWS as i64)
            .map(|r| {
                if masked && r % 4 == 2 {
                    -100
                } else {
                    (r * 5) % CLASSES as i64
                }
            })
            .collect(),
    }
}

/// Loss and ∂L/∂W of rows `a..b` of the batch through `loss_of`.
fn step(
    b: &Batch,
    (first, last): (usize, usize),
    device: &Device,
    loss_of: impl FnOnce(Tensor<2>, Tensor<2>, Tensor<1, Int>) -> Result<Tensor<1>, Error>,
) -> Result<(f32, Vec<f32>), Error> {
    let rows = last - first;
    let x = Tensor::<2>::from_data(
        TensorData::new(
            b.x[first * FEATURES..last * FEATURES].to_vec(),
            [rows, FEATURES],
        ),
        device,
    );
    let w = Tensor::<2>::from_data(TensorData::new(b.w.clone(), [FEATURES, CLASSES]), device)
        .require_grad();
    let teacher = Tensor::<2>::from_data(
        TensorData::new(
            b.teacher[first * CLASSES..last * CLASSES].to_vec(),
            [rows, CLASSES],
        ),
        device,
    );
    let labels = Tensor::<1, Int>::from_data(
        TensorData::new(b.labels[first..last].to_vec(), [rows]),
        device,
    );
    let loss = loss_of(x.matmul(w.clone()), teacher, labels)?;
    let grads = loss.backward();
    let value = loss.into_data().try_to_vec_as::<f32>().unwrap()[0];
    // burn 0.22.1's matmul backward over an empty axis is not zero: a member without rows
    // contributes no weight gradient (its `x·W` has none).
    let grad = w
        .grad(&grads)
        .filter(|_| rows > 0)
        .map(|g| g.into_data().try_to_vec_as::<f32>().unwrap())
        .unwrap_or_else(|| vec![0.0; FEATURES * CLASSES]);
    Ok((value, grad))
}

#[test]
fn members_summing_their_weight_gradients_get_the_whole_batch() {
    let device = device().autodiff();
    let hard = TokenOptions::default()
        .with_hard_weight(0.3)
        .with_soft_weight(0.7);
    let specs = [
        (
            LossSpec::Dist(
                DistParams::default()
                    .with_hard_weight(1.0)
                    .with_soft_weight(2.0),
            ),
            false,
        ),
        (LossSpec::Kl(KlParams::new(2.0).with_options(hard)), true),
        (LossSpec::Dkd(DkdParams::default()), false),
    ];
    let cuts = [0, 9, 9, ROWS];
    for (spec, masked) in specs {
        let b = batch(masked);
        let (want_loss, want_grad) = step(&b, (0, ROWS), &device, |s, t, l| {
            distill_loss(&spec, s, t, Some(l))
        })
        .unwrap();
        let members: Vec<(f32, Vec<f64>)> = std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(3)
                .into_iter()
                .map(|group| {
                    let (b, device) = (&b, &device);
                    s.spawn(move || {
                        let r = group.rank();
                        let (loss, grad) = step(b, (cuts[r], cuts[r + 1]), device, |s, t, l| {
                            distill_loss_distributed(&spec, s, t, Some(l), &group)
                        })
                        .unwrap();
                        // The data-parallel trainer's sum, through the same group.
                        let grad: Vec<f64> = grad.iter().map(|&g| f64::from(g)).collect();
                        let all = group.all_gather(&grad).unwrap();
                        let summed = (0..grad.len())
                            .map(|i| (0..3).map(|m| all[m * grad.len() + i]).sum())
                            .collect();
                        (loss, summed)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let name = spec.name();
        for (loss, grad) in &members {
            assert_eq!(loss.to_bits(), members[0].0.to_bits(), "{name}");
            let rel = (loss - want_loss).abs() / want_loss.abs();
            assert!(rel <= 1e-6, "{name}: loss {loss} vs {want_loss}");
            let scale = want_grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
            for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
                assert!(
                    (*g as f32 - w).abs() <= 1e-5 * scale,
                    "{name}: ∂L/∂W[{i}] {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn a_pairwise_loss_and_a_foreign_teacher_shape_are_errors() {
    let device = device();
    let members = ThreadGroup::new(1);
    let s = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 8], [2, 4]), &device);
    let err = distill_loss_distributed(
        &LossSpec::Rkd(Default::default()),
        s.clone(),
        s.clone(),
        None,
        &members[0],
    )
    .unwrap_err();
    assert!(err.to_string().contains("rkd relates every pair"), "{err}");
    let t = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 6], [2, 3]), &device);
    let err = distill_loss_distributed(&LossSpec::Kl(KlParams::new(1.0)), s, t, None, &members[0])
        .unwrap_err();
    assert!(matches!(err, Error::Shape(_)), "{err}");
}
