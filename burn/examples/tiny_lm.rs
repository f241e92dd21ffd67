//! A tiny causal language model (token embedding, one layer over the current and the previous
//! token, an LM head) distilled from a fixed teacher's LM head with `fused_linear_loss`: the
//! student's logits are never materialised for the batch, the teacher's are recomputed chunk by
//! chunk from its hidden states and head, and each sequence's prompt tokens are masked
//! (`ignore_index`). Prints per epoch the loss and the student's top-1 agreement with the
//! teacher on the answer tokens, with a progress bar on stderr.
//!
//! ```sh
//! cargo run --release -p wgpu-distill-burn --example tiny_lm -- --epochs 10
//! ```

use std::io::Write;

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor};
use wgpu_distill::losses::DEFAULT_IGNORE_INDEX;
use wgpu_distill::{KlParams, LossSpec};
use wgpu_distill_burn::{fused_linear_loss_with, FusedOptions, LinearHead, Teacher};

pub const VOCAB: usize = 96;
pub const DIM: usize = 32;
pub const TEACHER_DIM: usize = 48;
pub const SEQ: usize = 16;
/// The first PROMPT tokens of each sequence are the prompt: masked out of the loss.
pub const PROMPT: usize = 4;
pub const SEQUENCES: usize = 64;
pub const BATCH: usize = 16;
pub const TEMPERATURE: f64 = 2.0;
/// Rows per chunk of the fused head (a small chunk, to show it: 64 of the batch's 256 tokens).
pub const CHUNK_ROWS: usize = 64;

/// The student: an embedding, one layer mixing each token with the previous one, an LM head
/// (V×D weight and a bias, as torch's `Linear` stores them).
#[derive(Module, Debug)]
pub struct TinyLm {
    embedding: Embedding,
    current: Linear,
    previous: Linear,
    head_weight: Param<Tensor<2>>,
    head_bias: Param<Tensor<1>>,
}

impl TinyLm {
    pub fn new(device: &Device) -> Self {
        Self {
            embedding: EmbeddingConfig::new(VOCAB, DIM).init(device),
            current: LinearConfig::new(DIM, DIM).init(device),
            previous: LinearConfig::new(DIM, DIM).with_bias(false).init(device),
            head_weight: Param::from_tensor(Tensor::random(
                [VOCAB, DIM],
                Distribution::Normal(0.0, 0.1),
                device,
            )),
            head_bias: Param::from_tensor(Tensor::zeros([VOCAB], device)),
        }
    }

    /// The hidden states of `tokens` (B×S), one row per token: (B·S)×D.
    pub fn hidden(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let x = self.embedding.forward(tokens);
        let [b, s, d] = x.dims();
        let previous = Tensor::cat(
            vec![
                Tensor::zeros([b, 1, d], &x.device()),
                x.clone().narrow(1, 0, s - 1),
            ],
            1,
        );
        relu(self.current.forward(x) + self.previous.forward(previous)).reshape([b * s, d])
    }

    /// The LM head over `hidden` ((B·S)×D): for the fused loss.
    pub fn head(&self, hidden: Tensor<2>) -> LinearHead {
        LinearHead::new(hidden, self.head_weight.val()).with_bias(self.head_bias.val())
    }
}

/// One epoch's figures.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean loss over the epoch's batches.
    pub loss: f64,
    /// Fraction of answer tokens where the student's top token is the teacher's.
    pub agreement: f64,
}

/// A fixed random teacher: its own embeddings of the current and previous token, a tanh, an
/// LM head of a sharper scale. Returns its hidden states ((N·S)×TEACHER_DIM) and head weight.
fn teacher(tokens: &Tensor<2, Int>, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let [n, s] = tokens.dims();
    let current = Tensor::<2>::random([VOCAB, TEACHER_DIM], Distribution::Normal(0.0, 1.0), device);
    let previous =
        Tensor::<2>::random([VOCAB, TEACHER_DIM], Distribution::Normal(0.0, 0.5), device);
    let flat: Tensor<1, Int> = tokens.clone().reshape([n * s]);
    let shifted: Tensor<1, Int> = Tensor::cat(
        vec![
            Tensor::zeros([n, 1], device),
            tokens.clone().narrow(1, 0, s - 1),
        ],
        1,
    )
    .reshape([n * s]);
    let hidden = (current.select(0, flat) + previous.select(0, shifted)).tanh();
    let weight = Tensor::<2>::random([VOCAB, TEACHER_DIM], Distribution::Normal(0.0, 1.0), device);
    (hidden.detach(), weight.detach())
}

/// Trains for `epochs` epochs on `device` (an autodiff wgpu device initialised through
/// `wgpu_distill_burn::init_device`), calling `report` after epoch 0 (before any step) and
/// after each epoch.
pub fn train(
    device: &Device,
    epochs: usize,
    mut report: impl FnMut(EpochReport),
) -> wgpu_distill::Result<Vec<EpochReport>> {
    device.seed(11);
    let tokens = Tensor::<2, Int>::random(
        [SEQUENCES, SEQ],
        Distribution::Uniform(0.0, VOCAB as f64),
        device,
    );
    let (teacher_hidden, teacher_weight) = teacher(&tokens, device);
    // Labels: the prompt's positions masked; the others count (their value is the token itself:
    // only its being ignore_index or not matters here, the hard term being off).
    let prompt = Tensor::<1, Int>::arange(0..SEQ as i64, device)
        .reshape([1, SEQ])
        .repeat_dim(0, SEQUENCES)
        .lower_elem(PROMPT as i64);
    let labels = tokens
        .clone()
        .mask_fill(prompt.clone(), DEFAULT_IGNORE_INDEX);
    let answer = prompt.bool_not().reshape([SEQUENCES * SEQ]);
    let answers = (SEQUENCES * (SEQ - PROMPT)) as f64;
    let spec = LossSpec::Kl(KlParams::new(TEMPERATURE));
    let options = FusedOptions::default().with_chunk_rows(Some(CHUNK_ROWS));
    let teacher_top: Tensor<1, Int> = teacher_hidden
        .clone()
        .matmul(teacher_weight.clone().transpose())
        .argmax(1)
        .reshape([SEQUENCES * SEQ]);

    let batch_loss = |model: &TinyLm, b: usize| -> wgpu_distill::Result<Tensor<1>> {
        let rows = b * BATCH * SEQ..(b + 1) * BATCH * SEQ;
        let hidden = model.hidden(tokens.clone().narrow(0, b * BATCH, BATCH));
        let teacher = Teacher::Head(LinearHead::new(
            teacher_hidden.clone().narrow(0, rows.start, rows.len()),
            teacher_weight.clone(),
        ));
        let batch_labels: Tensor<1, Int> = labels
            .clone()
            .narrow(0, b * BATCH, BATCH)
            .reshape([BATCH * SEQ]);
        fused_linear_loss_with(
            &spec,
            model.head(hidden),
            teacher,
            Some(batch_labels),
            &options,
        )
    };
    let measure = |model: &TinyLm, epoch: usize, loss: f64| {
        let hidden = model.hidden(tokens.clone()).detach();
        let top: Tensor<1, Int> = hidden
            .matmul(model.head_weight.val().transpose().detach())
            .argmax(1)
            .reshape([SEQUENCES * SEQ]);
        let agree = top
            .equal(teacher_top.clone())
            .bool_and(answer.clone())
            .int()
            .sum()
            .into_scalar::<i64>();
        EpochReport {
            epoch,
            loss,
            agreement: agree as f64 / answers,
        }
    };

    let mut model = TinyLm::new(device);
    let mut optimizer = AdamConfig::new().init();
    let batches = SEQUENCES / BATCH;
    let first = batch_loss(&model, 0)?.into_scalar::<f64>();
    let mut reports = vec![measure(&model, 0, first)];
    report(reports[0]);
    for epoch in 1..=epochs {
        let mut total = 0.0;
        for b in 0..batches {
            let loss = batch_loss(&model, b)?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            total += loss.into_scalar::<f64>();
            model = optimizer.step(2e-2, model, grads);
        }
        let r = measure(&model, epoch, total / batches as f64);
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
        .unwrap_or(10);
    let device = wgpu_distill_burn::init_device(Device::wgpu_options())?.autodiff();
    println!(
        "distilling a tiny causal LM (V = {VOCAB}, D = {DIM}, {SEQUENCES} sequences of {SEQ}, the first {PROMPT} masked) from a fixed teacher head (D = {TEACHER_DIM}) with fused_linear_loss (KL, T = {TEMPERATURE}, chunks of {CHUNK_ROWS} rows)"
    );
    let width = 30;
    train(&device, epochs, |r| {
        let done = r.epoch * width / epochs.max(1);
        eprint!(
            "\r[{}{}] {}/{epochs}",
            "#".repeat(done),
            " ".repeat(width - done),
            r.epoch
        );
        let _ = std::io::stderr().flush();
        eprintln!();
        println!(
            "epoch {:>3}: loss {:.4}, agreement with the teacher {:.1}%",
            r.epoch,
            r.loss,
            100.0 * r.agreement
        );
    })?;
    Ok(())
}
