//! A small wgpu application that trains a student with the library's losses, all on the GPU.
//!
//! The application owns its device. Each step records, into ONE command encoder with no
//! readback in between:
//!   1. its own matmul shader: student logits = X · W_s and teacher logits = X · W_t
//!      (a linear classifier on synthetic features; the teacher is a fixed random model);
//!   2. the library's DIST and KL losses and their gradients, on the application's buffers;
//!   3. its own SGD shader: W_s -= lr · Xᵀ (G_dist + G_kl).
//!
//! Once per epoch it reads back the loss and the student's top-1 agreement with the teacher.
//!
//! `cargo run --release --example train_student -- [--epochs N] [--backend vulkan|gl]`

use std::io::Write;

use wgpu::util::DeviceExt;
use wgpu_distill::{
    synthetic, BackendChoice, BufferRegion, DistParams, GpuContext, KlParams, LossBindings,
    LossSpec,
};

const SAMPLES: usize = 1024;
const FEATURES: usize = 32;
const CLASSES: usize = 10;
const BATCH: usize = 128;

const MATMUL: &str = r#"
// logits[b, c] = sum_f x[(first + b), f] w[f, c]
struct Dims { first: u32, batch: u32, features: u32, classes: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= dims.batch * dims.classes { return; }
    let b = i / dims.classes;
    let c = i % dims.classes;
    var acc = 0.0;
    for (var f = 0u; f < dims.features; f++) {
        acc += x[(dims.first + b) * dims.features + f] * w[f * dims.classes + c];
    }
    logits[i] = acc;
}
"#;

const SGD: &str = r#"
// w[f, c] -= lr * sum_b x[(first + b), f] (g1[b, c] + g2[b, c])
struct Step { first: u32, batch: u32, features: u32, classes: u32, lr: f32, _p0: f32, _p1: f32, _p2: f32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read> g2: array<f32>;
@group(0) @binding(4) var<storage, read_write> w: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= step.features * step.classes { return; }
    let f = i / step.classes;
    let c = i % step.classes;
    var acc = 0.0;
    for (var b = 0u; b < step.batch; b++) {
        acc += x[(step.first + b) * step.features + f] * (g1[b * step.classes + c] + g2[b * step.classes + c]);
    }
    w[i] -= step.lr * acc;
}
"#;

/// What one epoch ended with.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    /// DIST + KL loss of the epoch's last batch.
    pub loss: f32,
    /// Fraction of samples where the student's top-1 class equals the teacher's.
    pub agreement: f32,
}

fn storage(
    device: &wgpu::Device,
    label: &str,
    data: &[f32],
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE | extra,
    })
}

fn pipeline(device: &wgpu::Device, source: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Trains for `epochs` epochs on `backend`, calling `report` after each.
pub fn train(
    backend: BackendChoice,
    epochs: usize,
    mut report: impl FnMut(EpochReport),
) -> Result<Vec<EpochReport>, Box<dyn std::error::Error>> {
    // The application's own device (the library never creates one on this path).
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backend.wgpu_backends();
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .map_err(|e| format!("{e}: {}", wgpu_distill::NO_ADAPTER_HELP))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))?;
    let distill = GpuContext::from_device(&device, &queue)?;

    let x = synthetic::normal_vec(1, SAMPLES * FEATURES, 1.0);
    let w_teacher = synthetic::normal_vec(2, FEATURES * CLASSES, 1.0);
    // A small random start: an all-zero student has constant logit rows, where DIST's Pearson
    // gradient is v / 1e-8 (SPEC.md) and one SGD step would blow the weights up.
    let w_student = synthetic::normal_vec(3, FEATURES * CLASSES, 0.1);
    let none = wgpu::BufferUsages::empty();
    let x_buf = storage(&device, "x", &x, none);
    let wt_buf = storage(&device, "w_teacher", &w_teacher, none);
    let ws_buf = storage(
        &device,
        "w_student",
        &w_student,
        wgpu::BufferUsages::COPY_SRC,
    );
    let zeros = vec![0.0f32; SAMPLES * CLASSES];
    let student_logits = storage(
        &device,
        "student logits",
        &zeros,
        wgpu::BufferUsages::COPY_SRC,
    );
    let teacher_logits = storage(
        &device,
        "teacher logits",
        &zeros,
        wgpu::BufferUsages::COPY_SRC,
    );
    let grad_dist = storage(&device, "grad dist", &zeros[..BATCH * CLASSES], none);
    let grad_kl = storage(&device, "grad kl", &zeros[..BATCH * CLASSES], none);
    let align = u64::from(device.limits().min_storage_buffer_offset_alignment).max(4);
    let losses = storage(
        &device,
        "losses",
        &vec![0.0f32; (2 * align / 4) as usize],
        wgpu::BufferUsages::COPY_SRC,
    );
    let matmul = pipeline(&device, MATMUL);
    let sgd = pipeline(&device, SGD);
    let dist = LossSpec::Dist(
        DistParams::default()
            .with_temperature(4.0)
            .with_beta(1.0)
            .with_gamma(1.0),
    );
    let kl = LossSpec::Kl(KlParams::new(4.0));

    let uniform = |data: &[u32]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    };
    let logits_pass = |encoder: &mut wgpu::CommandEncoder, first: usize, rows: usize| {
        let dims = uniform(&[first as u32, rows as u32, FEATURES as u32, CLASSES as u32]);
        for (w, out) in [(&ws_buf, &student_logits), (&wt_buf, &teacher_logits)] {
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &matmul.get_bind_group_layout(0),
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: dims.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: x_buf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: w.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: out.as_entire_binding(),
                    },
                ],
            });
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&matmul);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups((rows * CLASSES).div_ceil(64) as u32, 1, 1);
        }
    };

    // One step on the batch starting at sample `first`: logits, losses and gradients, and
    // (when `update`) the SGD pass, all in one encoder with no readback.
    let lr = 0.2f32;
    let step = |first: usize, update: bool| -> Result<(), wgpu_distill::Error> {
        let mut encoder = device.create_command_encoder(&Default::default());
        logits_pass(&mut encoder, first, BATCH);
        for (i, (spec, grad)) in [(&dist, &grad_dist), (&kl, &grad_kl)]
            .into_iter()
            .enumerate()
        {
            distill.record(
                &mut encoder,
                spec,
                &[BATCH, CLASSES],
                &LossBindings::new(
                    BufferRegion::new(&student_logits),
                    BufferRegion::new(&teacher_logits),
                    BufferRegion::at(&losses, align * i as u64),
                )
                .with_grad(Some(BufferRegion::new(grad))),
            )?;
        }
        if update {
            let params = [
                first as u32,
                BATCH as u32,
                FEATURES as u32,
                CLASSES as u32,
                lr.to_bits(),
                0,
                0,
                0,
            ];
            let params = uniform(&params);
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &sgd.get_bind_group_layout(0),
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: x_buf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: grad_dist.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: grad_kl.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: ws_buf.as_entire_binding(),
                    },
                ],
            });
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&sgd);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups((FEATURES * CLASSES).div_ceil(64) as u32, 1, 1);
        }
        queue.submit([encoder.finish()]);
        Ok(())
    };

    // The report of an epoch: the losses of the last recorded step, and top-1 agreement over
    // every sample (the only readback).
    let measure = |epoch: usize| -> Result<EpochReport, Box<dyn std::error::Error>> {
        let loss_stage = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: losses.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&losses, 0, &loss_stage, 0, losses.size());
        logits_pass(&mut encoder, 0, SAMPLES);
        let stages: Vec<wgpu::Buffer> = [&student_logits, &teacher_logits]
            .iter()
            .map(|src| {
                let stage = device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: src.size(),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                encoder.copy_buffer_to_buffer(src, 0, &stage, 0, src.size());
                stage
            })
            .collect();
        queue.submit([encoder.finish()]);
        let all = [&loss_stage, &stages[0], &stages[1]];
        for stage in all {
            stage.map_async(wgpu::MapMode::Read, .., |_| {});
        }
        device.poll(wgpu::PollType::wait_indefinitely())?;
        let mut values = vec![];
        for stage in all {
            let floats: Vec<f32> = stage
                .get_mapped_range(..)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            values.push(floats);
        }
        let agree = (0..SAMPLES)
            .filter(|&i| {
                let row = i * CLASSES..(i + 1) * CLASSES;
                argmax(&values[1][row.clone()]) == argmax(&values[2][row])
            })
            .count();
        Ok(EpochReport {
            epoch,
            loss: values[0][0] + values[0][(align / 4) as usize],
            agreement: agree as f32 / SAMPLES as f32,
        })
    };

    // Epoch 0: the untrained student, on the last batch.
    step(SAMPLES - BATCH, false)?;
    let mut reports = vec![measure(0)?];
    report(reports[0]);
    for epoch in 1..=epochs {
        for first in (0..SAMPLES).step_by(BATCH) {
            step(first, true)?;
        }
        let r = measure(epoch)?;
        report(r);
        reports.push(r);
    }
    Ok(reports)
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let epochs = value("--epochs")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(30);
    let backend: BackendChoice = value("--backend")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or_default();
    println!("training a linear student ({FEATURES} features, {CLASSES} classes, {SAMPLES} samples) with DIST + KL, T = 4");
    train(backend, epochs, |r| {
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
