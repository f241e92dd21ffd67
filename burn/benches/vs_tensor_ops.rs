//! `distill_loss` against the same losses written as burn tensor ops (burn's autodiff), and
//! against the raw kernels recorded on the same device: median wall time per training step
//! (forward + backward + wait), KL and DIST at T = 4, in one run on one adapter.
//!
//! ```sh
//! cargo bench -p wgpu-distill-burn --bench vs_tensor_ops [-- --iters 7 --shapes 256x1000,4096x1000]
//! ```

use std::time::Instant;

#[path = "../tests/suite/support/tensor_ops.rs"]
mod tensor_ops;

use burn::tensor::{Device, Tensor, TensorData};
use wgpu_distill::{synthetic, BufferRegion, DistParams, KlParams, LossBindings, LossSpec};
use wgpu_distill_burn::distill_loss;

const T: f64 = 4.0;

fn kl_ops(zs: Tensor<2>, zt: Tensor<2>) -> Tensor<1> {
    tensor_ops::kl_ops(zs, zt, T)
}

fn dist_ops(zs: Tensor<2>, zt: Tensor<2>) -> Tensor<1> {
    tensor_ops::dist_ops(zs, zt, T)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median ms of `step` over `iters` runs after two warm-ups.
fn time(iters: usize, mut step: impl FnMut()) -> f64 {
    step();
    step();
    median(
        (0..iters)
            .map(|_| {
                let start = Instant::now();
                step();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let iters: usize = value("--iters")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(7);
    let shapes: Vec<(usize, usize)> = value("--shapes")
        .unwrap_or_else(|| "256x1000,4096x1000,512x32000".into())
        .split(',')
        .map(|s| {
            let (b, c) = s.split_once('x').expect("BxC");
            (b.parse().expect("B"), c.parse().expect("C"))
        })
        .collect();

    let base = wgpu_distill_burn::init_device(Device::wgpu_options())?;
    let device = base.clone().autodiff();
    let ctx = wgpu_distill_burn::context(&base)?;
    println!("adapter: {:?}", ctx.adapter_summary());
    println!(
        "{:<5} {:>11} {:>12} {:>12} {:>12} {:>9} {:>9} {:>8}",
        "loss", "shape", "ops ms", "burn op ms", "raw ms", "op gain", "raw gain", "kept"
    );
    for &(b, c) in &shapes {
        let (s, t) = synthetic::logit_pair(3, b, c, 2.0);
        let student =
            Tensor::<2>::from_data(TensorData::new(s.clone(), [b, c]), &device).require_grad();
        let teacher = Tensor::<2>::from_data(TensorData::new(t.clone(), [b, c]), &device);
        for name in ["kl", "dist"] {
            let spec = match name {
                "kl" => LossSpec::Kl(KlParams::new(T)),
                _ => LossSpec::Dist(
                    DistParams::default()
                        .with_temperature(T)
                        .with_beta(1.0)
                        .with_gamma(1.0),
                ),
            };
            let ops_ms = time(iters, || {
                let loss = match name {
                    "kl" => kl_ops(student.clone(), teacher.clone()),
                    _ => dist_ops(student.clone(), teacher.clone()),
                };
                let grads = loss.backward();
                let _ = student.grad(&grads);
                device.sync().expect("sync");
            });
            let ours_ms = time(iters, || {
                let loss =
                    distill_loss(&spec, student.clone(), teacher.clone(), None).expect("loss");
                let grads = loss.backward();
                let _ = student.grad(&grads);
                device.sync().expect("sync");
            });
            // The raw kernels on the same wgpu device: record, submit, wait.
            let wgpu_device = ctx.device();
            let buffer = |bytes: u64| {
                wgpu_device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            };
            let bytes = (b * c * 4) as u64;
            let (sb, tb, lb, gb) = (buffer(bytes), buffer(bytes), buffer(256), buffer(bytes));
            ctx.queue().write_buffer(&sb, 0, bytemuck::cast_slice(&s));
            ctx.queue().write_buffer(&tb, 0, bytemuck::cast_slice(&t));
            let raw_ms = time(iters, || {
                let mut encoder = wgpu_device.create_command_encoder(&Default::default());
                ctx.record(
                    &mut encoder,
                    &spec,
                    &[b, c],
                    &LossBindings::new(
                        BufferRegion::new(&sb),
                        BufferRegion::new(&tb),
                        BufferRegion::new(&lb),
                    )
                    .with_grad(Some(BufferRegion::new(&gb))),
                )
                .expect("record");
                ctx.queue().submit([encoder.finish()]);
                wgpu_device
                    .poll(wgpu::PollType::Wait {
                        submission_index: None,
                        timeout: None,
                    })
                    .expect("poll");
            });
            let (op_gain, raw_gain) = (ops_ms / ours_ms, ops_ms / raw_ms);
            println!(
                "{name:<5} {:>11} {ops_ms:>12.2} {ours_ms:>12.2} {raw_ms:>12.2} {op_gain:>8.1}x {raw_gain:>8.1}x {:>7.0}%",
                format!("{b}x{c}"),
                100.0 * op_gain / raw_gain
            );
        }
    }
    Ok(())
}
