//! A small burn MLP student learns from a fixed teacher on synthetic data, with burn's Adam and
//! wgpu-distill's DIST + KL as its loss (fused kernels on burn's own wgpu device, gradients
//! through burn's autodiff). Prints per epoch the loss and the student's top-1 agreement with the
//! teacher, with a progress bar on stderr.
//!
//! ```sh
//! cargo run --release -p wgpu-distill-burn --example distill -- --epochs 20
//! ```

use std::io::Write;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use wgpu_distill::{DistParams, KlParams, LossSpec};
use wgpu_distill_burn::distill_loss;

pub const FEATURES: usize = 32;
pub const HIDDEN: usize = 64;
pub const CLASSES: usize = 16;
pub const SAMPLES: usize = 1024;
pub const BATCH: usize = 128;
pub const TEMPERATURE: f64 = 4.0;

/// The student: a two-layer MLP.
#[derive(Module, Debug)]
pub struct Student {
    hidden: Linear,
    out: Linear,
    relu: Relu,
}

impl Student {
    pub fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(FEATURES, HIDDEN).init(device),
            out: LinearConfig::new(HIDDEN, CLASSES).init(device),
            relu: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.relu.forward(self.hidden.forward(x)))
    }
}

/// One epoch's figures.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean DIST + KL loss over the epoch's batches.
    pub loss: f64,
    /// Fraction of all samples where the student's top class is the teacher's.
    pub agreement: f64,
}

/// Trains for `epochs` epochs on `device` (an autodiff wgpu device initialised through
/// `wgpu_distill_burn::init_device`), calling `report` after epoch 0 (before any step) and
/// after each epoch.
pub fn train(
    device: &Device,
    epochs: usize,
    mut report: impl FnMut(EpochReport),
) -> wgpu_distill::Result<Vec<EpochReport>> {
    device.seed(7);
    let features = Tensor::<2>::random([SAMPLES, FEATURES], Distribution::Normal(0.0, 1.0), device);
    // A fixed random teacher: a linear map with a sharper scale.
    let teacher_weights =
        Tensor::<2>::random([FEATURES, CLASSES], Distribution::Normal(0.0, 1.0), device);
    let teacher_logits = features.clone().matmul(teacher_weights).detach();
    let teacher_top: Tensor<1, Int> = teacher_logits.clone().argmax(1).squeeze_dim(1);

    let mut student = Student::new(device);
    let mut optimizer = AdamConfig::new().init();
    let kl = LossSpec::Kl(KlParams::new(TEMPERATURE));
    let dist = LossSpec::Dist(
        DistParams::default()
            .with_temperature(TEMPERATURE)
            .with_beta(1.0)
            .with_gamma(1.0),
    );

    let measure = |student: &Student, epoch: usize, loss: f64| {
        let top: Tensor<1, Int> = student
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
        }
    };

    let mut reports = Vec::new();
    let first_loss = {
        let logits = student.forward(features.clone().narrow(0, 0, BATCH));
        let teacher = teacher_logits.clone().narrow(0, 0, BATCH);
        let loss = distill_loss(&kl, logits.clone(), teacher.clone(), None)?
            + distill_loss(&dist, logits, teacher, None)?;
        loss.into_scalar::<f64>()
    };
    let start = measure(&student, 0, first_loss);
    report(start);
    reports.push(start);
    for epoch in 1..=epochs {
        let mut total = 0.0;
        for batch in 0..SAMPLES / BATCH {
            let logits = student.forward(features.clone().narrow(0, batch * BATCH, BATCH));
            let teacher = teacher_logits.clone().narrow(0, batch * BATCH, BATCH);
            let loss = distill_loss(&kl, logits.clone(), teacher.clone(), None)?
                + distill_loss(&dist, logits, teacher, None)?;
            let grads = GradientsParams::from_grads(loss.backward(), &student);
            total += loss.into_scalar::<f64>();
            student = optimizer.step(1e-2, student, grads);
        }
        let r = measure(&student, epoch, total / (SAMPLES / BATCH) as f64);
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
        "training an MLP student ({FEATURES}-{HIDDEN}-{CLASSES}, {SAMPLES} samples) with DIST + KL, T = {TEMPERATURE}, on burn's wgpu device"
    );
    train(&device, epochs, |r| {
        let width = 30;
        let done = r.epoch * width / epochs.max(1);
        eprint!(
            "\r[{}{}] {}/{epochs}",
            "#".repeat(done),
            " ".repeat(width - done),
            r.epoch
        );
        let _ = std::io::stderr().flush();
        println!(
            "\repoch {:>3}  loss {:>9.5}  top-1 agreement {:>5.1}%",
            r.epoch,
            r.loss,
            100.0 * r.agreement
        );
    })?;
    eprintln!();
    Ok(())
}
