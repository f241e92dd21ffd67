//! Device faults end in errors, not hangs: a destroyed device, a wait that times out, buffers
//! dropped while in use.

use std::time::Duration;

use crate::common::*;
use wgpu_distill::{synthetic, DistParams, Error, Inputs, KlParams, LossSpec};

#[test]
fn a_destroyed_device_gives_a_device_error() {
    for backend in GPU_BACKENDS {
        let ctx = fresh_gpu(backend);
        let (s, t) = synthetic::logit_pair(1, 8, 10, 1.0);
        let inputs = Inputs::new(&s, &t, &[8, 10]);
        let spec = LossSpec::Kl(KlParams::default());
        ctx.evaluate(&spec, &inputs, true).unwrap();
        ctx.device().destroy();
        let err = ctx.evaluate(&spec, &inputs, true).unwrap_err();
        assert!(matches!(err, Error::Device(_)), "{backend:?}: {err:?}");
        // And it stays an error, promptly.
        let start = std::time::Instant::now();
        assert!(ctx.evaluate(&spec, &inputs, false).is_err());
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn a_wait_past_the_timeout_is_an_error_and_the_context_recovers() {
    let mut ctx = fresh_gpu(wgpu_distill::BackendChoice::Vulkan);
    let (s, t) = synthetic::logit_pair(2, 2048, 2000, 2.0);
    let shape = [2048, 2000];
    let inputs = Inputs::new(&s, &t, &shape);
    let spec = LossSpec::Dist(DistParams::default());
    ctx.set_timeout(Duration::ZERO);
    let err = ctx.evaluate(&spec, &inputs, true).unwrap_err();
    assert!(
        matches!(&err, Error::Device(m) if m.contains("timed out") || m.contains("Timeout") || m.contains("timeout")),
        "{err:?}"
    );
    ctx.set_timeout(Duration::from_secs(120));
    let out = ctx.evaluate(&spec, &inputs, false).unwrap();
    assert!(out.loss.is_finite());
}

#[test]
fn caller_buffers_dropped_after_recording_are_harmless() {
    // wgpu keeps recorded resources alive: dropping the caller's handles before submit must
    // neither crash nor change the result.
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let device = ctx.device();
    use wgpu::util::DeviceExt;
    let (s, t) = synthetic::logit_pair(3, 16, 40, 1.0);
    let make = |data: &[f32]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE,
        })
    };
    let (student, teacher) = (make(&s), make(&t));
    let loss = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let spec = LossSpec::Kl(KlParams::new(2.0));
    let mut encoder = device.create_command_encoder(&Default::default());
    ctx.record(
        &mut encoder,
        &spec,
        &[16, 40],
        &wgpu_distill::LossBindings::new(
            wgpu_distill::BufferRegion::new(&student),
            wgpu_distill::BufferRegion::new(&teacher),
            wgpu_distill::BufferRegion::new(&loss),
        ),
    )
    .unwrap();
    encoder.copy_buffer_to_buffer(&loss, 0, &staging, 0, 4);
    drop((student, teacher, loss));
    ctx.queue().submit([encoder.finish()]);
    staging.map_async(wgpu::MapMode::Read, .., |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let got = f32::from_le_bytes(
        staging.get_mapped_range(..).unwrap()[..4]
            .try_into()
            .unwrap(),
    );
    let want = ctx
        .evaluate(&spec, &Inputs::new(&s, &t, &[16, 40]), false)
        .unwrap()
        .loss;
    assert_eq!(got.to_bits(), want.to_bits());
}
