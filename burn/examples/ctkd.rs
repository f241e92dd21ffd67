//! LS + KD with a learned temperature (CTKD) in burn: an MLP student learns from a fixed
//! teacher with kl on z-scored logits (LS, the CIFAR recipe's weights: 9·KD + 0.1·CE on the
//! teacher's top class), at a temperature that is a parameter of the model. The kernels return
//! ∂L/∂T with the loss; CTKD's gradient reversal is one line of tensor ops (`T.detach()·2 − T`
//! has T's value and gradient −1), so burn's Adam moves T to *raise* the loss while it moves the
//! student to lower it. Prints per epoch the loss, the top-1 agreement and T.
//!
//! ```sh
//! cargo run --release -p wgpu-distill-burn --example ctkd -- --epochs 20
//! ```

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use wgpu_distill::{KlParams, LossSpec, TokenOptions};
use wgpu_distill_burn::distill_loss_with_temperature;

pub const FEATURES: usize = 32;
pub const HIDDEN: usize = 64;
pub const CLASSES: usize = 16;
pub const SAMPLES: usize = 1024;
pub const BATCH: usize = 128;
/// Where T starts, and the range it is kept in (CTKD bounds it too).
pub const START_T: f32 = 2.0;
pub const T_RANGE: (f32, f32) = (1.0, 8.0);

/// The student, and the temperature it learns with.
#[derive(Module, Debug)]
pub struct Learner {
    hidden: Linear,
    out: Linear,
    relu: Relu,
    temperature: Param<Tensor<1>>,
}

impl Learner {
    pub fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(FEATURES, HIDDEN).init(device),
            out: LinearConfig::new(HIDDEN, CLASSES).init(device),
            relu: Relu::new(),
            temperature: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![START_T], [1]),
                device,
            )),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.relu.forward(self.hidden.forward(x)))
    }

    /// T as the loss sees it: kept in range, its gradient reversed (CTKD).
    fn reversed_temperature(&self) -> Tensor<1> {
        let t = self.temperature.val().clamp(T_RANGE.0, T_RANGE.1);
        t.clone().detach() * 2.0 - t
    }

    pub fn temperature(&self) -> f32 {
        self.temperature.val().into_scalar::<f32>()
    }
}

/// One epoch's figures.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean loss over the epoch's batches.
    pub loss: f64,
    /// Fraction of all samples where the student's top class is the teacher's.
    pub agreement: f64,
    pub temperature: f32,
}

/// Trains for `epochs` epochs on `device` (an autodiff wgpu device initialised through
/// `wgpu_distill_burn::init_device`), calling `report` after epoch 0 and after each epoch.
pub fn train(
    device: &Device,
    epochs: usize,
    mut report: impl FnMut(EpochReport),
) -> wgpu_distill::Result<Vec<EpochReport>> {
    device.seed(11);
    let features = Tensor::<2>::random([SAMPLES, FEATURES], Distribution::Normal(0.0, 1.0), device);
    let teacher_weights =
        Tensor::<2>::random([FEATURES, CLASSES], Distribution::Normal(0.0, 1.0), device);
    let teacher_logits = features.clone().matmul(teacher_weights).detach();
    let teacher_top: Tensor<1, Int> = teacher_logits.clone().argmax(1).squeeze_dim(1);
    // LS + KD, the CIFAR recipe's weights; its T comes from the learner.
    let options = TokenOptions::default()
        .with_standardize(true)
        .with_soft_weight(9.0)
        .with_hard_weight(0.1);
    let spec = LossSpec::Kl(KlParams::default().with_options(options));

    let mut learner = Learner::new(device);
    let mut optimizer = AdamConfig::new().init();
    let batch_loss = |learner: &Learner, batch: usize| {
        let rows = batch * BATCH;
        let logits = learner.forward(features.clone().narrow(0, rows, BATCH));
        let teacher = teacher_logits.clone().narrow(0, rows, BATCH);
        let labels = teacher_top.clone().narrow(0, rows, BATCH);
        let t = learner.reversed_temperature();
        distill_loss_with_temperature(&spec, logits, teacher, t, Some(labels))
    };
    let measure = |learner: &Learner, epoch: usize, loss: f64| {
        let top: Tensor<1, Int> = learner
            .forward(features.clone().detach())
            .argmax(1)
            .squeeze_dim(1);
        let agree = top
            .equal(teacher_top.clone())
            .int()
            .sum()
            .into_scalar::<i64>();
        EpochReport {
            epoch,
            loss,
            agreement: agree as f64 / SAMPLES as f64,
            temperature: learner.temperature(),
        }
    };

    let mut reports = Vec::new();
    let first = batch_loss(&learner, 0)?.into_scalar::<f64>();
    let start = measure(&learner, 0, first);
    report(start);
    reports.push(start);
    for epoch in 1..=epochs {
        let mut total = 0.0;
        for batch in 0..SAMPLES / BATCH {
            let loss = batch_loss(&learner, batch)?;
            let grads = GradientsParams::from_grads(loss.backward(), &learner);
            total += loss.into_scalar::<f64>();
            learner = optimizer.step(1e-2, learner, grads);
        }
        let r = measure(&learner, epoch, total / (SAMPLES / BATCH) as f64);
        report(r);
        reports.push(r);
    }
    Ok(reports)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let epochs = args
        .iter()
        .position(|a| a == "--epochs")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(20);
    let device = wgpu_distill_burn::init_device(Device::wgpu_options())?.autodiff();
    println!(
        "training an MLP student ({FEATURES}-{HIDDEN}-{CLASSES}) with LS + KD (9·KD + 0.1·CE) and a learned temperature (CTKD, from T = {START_T}) on burn's wgpu device"
    );
    train(&device, epochs, |r| {
        println!(
            "epoch {:>3}  loss {:>9.5}  top-1 agreement {:>5.1}%  T {:.3}",
            r.epoch,
            r.loss,
            100.0 * r.agreement,
            r.temperature
        );
    })?;
    Ok(())
}
