//! Programs written against the documented API of the week before the registry (2026-11-28 to
//! 12-04: README, docs/design.md, the examples) keep compiling and give the same results as the
//! constructors and setters that came after: struct literals with `..Default::default()`, the
//! caller-buffer literals, `KlParams::new`, `Inputs::new`.

use crate::common::*;
use wgpu_distill::{
    BackendChoice, BufferRegion, DistParams, Inputs, KlParams, LossBindings, LossSpec,
    SparseTeacher, Strategy, TokenOptions,
};

#[test]
fn last_weeks_literals_still_compile_and_agree_with_the_setters() {
    // examples/train_student.rs and burn/examples/distill.rs of that week.
    let literal = DistParams {
        temperature: 4.0,
        beta: 2.0,
        gamma: 2.0,
        ..Default::default()
    };
    let built = DistParams::new(4.0, 2.0, 2.0);
    assert_eq!(literal, built);
    let options = TokenOptions {
        hard_weight: 0.5,
        soft_weight: 0.5,
        ..Default::default()
    };
    assert_eq!(
        KlParams {
            temperature: 2.0,
            options
        },
        KlParams::new(2.0).with_options(
            TokenOptions::default()
                .with_hard_weight(0.5)
                .with_soft_weight(0.5)
        )
    );
    // docs/design.md: a sparse teacher and a forced strategy.
    let (ids, logprobs) = (vec![0i64, 2], vec![-0.5f32, -1.5]);
    let teacher = SparseTeacher {
        ids: &ids,
        logprobs: &logprobs,
        k: 1,
        tail: false,
    };
    assert_eq!(teacher.k, SparseTeacher::new(&ids, &logprobs, 1).k);
    let strategy = Strategy {
        cached_rows: Some(true),
        ..Default::default()
    };
    assert_eq!(strategy, Strategy::default().with_cached_rows(Some(true)));
}

/// README's "embedding in a wgpu app" of that week: `LossBindings` as a struct literal.
#[test]
fn last_weeks_readme_bindings_literal_records() {
    let ctx = gpu(BackendChoice::Vulkan);
    let device = ctx.device();
    let (b, c) = (4usize, 8usize);
    let student: Vec<f32> = (0..b * c).map(|i| (i % 7) as f32 * 0.3).collect();
    let teacher: Vec<f32> = (0..b * c).map(|i| (i % 5) as f32 * 0.5).collect();
    let buffer = |data: &[f32]| {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (data.len() * 4).max(256) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        ctx.queue()
            .write_buffer(&buffer, 0, bytemuck::cast_slice(data));
        buffer
    };
    let (s, t, loss, grad) = (
        buffer(&student),
        buffer(&teacher),
        buffer(&[0.0; 64]),
        buffer(&vec![0.0; b * c]),
    );
    let spec = LossSpec::Kl(KlParams::new(4.0));
    let mut encoder = device.create_command_encoder(&Default::default());
    ctx.record(
        &mut encoder,
        &spec,
        &[b, c],
        &LossBindings {
            student: BufferRegion::new(&s),
            teacher: BufferRegion::new(&t),
            labels: None,
            loss: BufferRegion::at(&loss, 0),
            grad: Some(BufferRegion::new(&grad)),
        },
    )
    .unwrap();
    ctx.queue().submit([encoder.finish()]);
    let host = ctx
        .evaluate(&spec, &Inputs::new(&student, &teacher, &[b, c]), true)
        .unwrap();
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&loss, 0, &staging, 0, 4);
    ctx.queue().submit([encoder.finish()]);
    staging.map_async(wgpu::MapMode::Read, .., |_| {});
    device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        })
        .unwrap();
    let recorded = f32::from_le_bytes(
        staging.get_mapped_range(..).unwrap()[..4]
            .try_into()
            .unwrap(),
    );
    assert_eq!(recorded.to_bits(), host.loss.to_bits());
}
