//! The embedding API: the caller's device, queue and buffers (at offsets), several losses
//! recorded into one encoder with no submit or readback by the library.

use crate::common::*;
use wgpu::util::DeviceExt;
use wgpu_distill::losses::{DkdParams, RkdParams};
use wgpu_distill::{
    synthetic, BufferRegion, DistParams, GpuContext, Inputs, KlParams, LossBindings, LossSpec,
    Strategy,
};

fn aligned(bytes: u64, align: u64) -> u64 {
    bytes.div_ceil(align) * align
}

/// Copies `buffer` out after the commands in `encoder`, submits, and returns its 32-bit words
/// (what an application does at the end of a step).
fn submit_and_read_words(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    mut encoder: wgpu::CommandEncoder,
    buffer: &wgpu::Buffer,
) -> Vec<u32> {
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app staging"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    queue.submit([encoder.finish()]);
    staging.map_async(wgpu::MapMode::Read, .., |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = staging.get_mapped_range(..).unwrap();
    view.chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

#[test]
fn several_losses_in_one_encoder_on_caller_buffers() {
    for backend in GPU_BACKENDS {
        // The "application": owns the device; the library borrows it.
        let app = gpu(backend);
        let device = app.device().clone();
        let queue = app.queue().clone();
        let ctx = GpuContext::from_device(&device, &queue).unwrap();

        let (b, c) = (37, 211);
        let (student, teacher) = synthetic::logit_pair(3, b, c, 2.0);
        let bytes = (b * c * 4) as u64;
        let align = u64::from(device.limits().min_storage_buffer_offset_alignment).max(256);
        let teacher_offset = aligned(bytes, align);
        // One buffer holding student then teacher, as an application might pack activations.
        let mut packed = vec![0u8; (teacher_offset + bytes) as usize];
        packed[..bytes as usize].copy_from_slice(bytemuck::cast_slice(&student));
        packed[teacher_offset as usize..].copy_from_slice(bytemuck::cast_slice(&teacher));
        let inputs = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app activations"),
            contents: &packed,
            usage: wgpu::BufferUsages::STORAGE,
        });
        let specs = [
            LossSpec::Kl(KlParams::new(2.0)),
            LossSpec::Kl(KlParams::new(4.0)),
            LossSpec::Dist(
                DistParams::default()
                    .with_temperature(1.0)
                    .with_beta(1.0)
                    .with_gamma(2.0),
            ),
            LossSpec::Dist(
                DistParams::default()
                    .with_temperature(4.0)
                    .with_beta(0.5)
                    .with_gamma(1.0),
            ),
            LossSpec::Dkd(DkdParams::default()),
            LossSpec::Fitnet,
            LossSpec::Rkd(RkdParams::default()),
        ];
        let labels: Vec<i64> = (0..b as i64).map(|r| (r * 5) % c as i64).collect();
        let labels_u32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let labels_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app labels"),
            contents: bytemuck::cast_slice(&labels_u32),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let grad_stride = aligned(bytes, align);
        let outputs = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("app outputs"),
            size: align * specs.len() as u64 + grad_stride * specs.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let grads_base = align * specs.len() as u64;
        let mut encoder = device.create_command_encoder(&Default::default());
        for (i, spec) in specs.iter().enumerate() {
            ctx.record(
                &mut encoder,
                spec,
                &[b, c],
                &LossBindings::new(
                    BufferRegion::new(&inputs),
                    BufferRegion::at(&inputs, teacher_offset),
                    BufferRegion::at(&outputs, align * i as u64),
                )
                .with_labels(
                    spec.needs_labels()
                        .then(|| BufferRegion::new(&labels_buffer)),
                )
                .with_grad(Some(BufferRegion::at(
                    &outputs,
                    grads_base + grad_stride * i as u64,
                ))),
            )
            .unwrap();
        }
        let data: Vec<f32> = submit_and_read_words(&device, &queue, encoder, &outputs)
            .into_iter()
            .map(f32::from_bits)
            .collect();

        let shape = [b, c];
        for (i, spec) in specs.iter().enumerate() {
            let mut host_inputs = Inputs::new(&student, &teacher, &shape);
            if spec.needs_labels() {
                host_inputs = host_inputs.with_labels(&labels);
            }
            let host = app.evaluate(spec, &host_inputs, true).unwrap();
            let loss = data[(align as usize / 4) * i];
            let start = (grads_base + grad_stride * i as u64) as usize / 4;
            let grad = &data[start..start + b * c];
            // Same kernels, same inputs: bitwise the same as the host path.
            assert_eq!(
                loss.to_bits(),
                host.loss.to_bits(),
                "{backend:?} {spec:?} loss"
            );
            assert_eq!(
                grad,
                host.grad.unwrap().as_slice(),
                "{backend:?} {spec:?} grad"
            );
        }
        // And different parameters gave different values (no parameter overwritten).
        assert_ne!(data[0], data[align as usize / 4]);
    }
}

#[test]
fn record_rejects_unusable_buffers() {
    let ctx = gpu(wgpu_distill::BackendChoice::Vulkan);
    let device = ctx.device();
    let make = |size: u64, usage: wgpu::BufferUsages| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let storage = wgpu::BufferUsages::STORAGE;
    let good = make(4096, storage);
    let small = make(64, storage);
    let no_storage = make(4096, wgpu::BufferUsages::COPY_DST);
    let spec = LossSpec::Kl(KlParams::default());
    let mut encoder = device.create_command_encoder(&Default::default());
    let mut try_record = |student: BufferRegion<'_>, loss: BufferRegion<'_>| {
        ctx.record(
            &mut encoder,
            &spec,
            &[4, 32],
            &LossBindings::new(student, BufferRegion::new(&good), loss),
        )
        .unwrap_err()
        .to_string()
    };
    let msg = try_record(BufferRegion::new(&small), BufferRegion::new(&good));
    assert!(msg.contains("student buffer too small"), "{msg}");
    let msg = try_record(BufferRegion::new(&no_storage), BufferRegion::new(&good));
    assert!(msg.contains("lacks STORAGE"), "{msg}");
    let msg = try_record(BufferRegion::new(&good), BufferRegion::at(&good, 4));
    assert!(msg.contains("min_storage_buffer_offset_alignment"), "{msg}");
}

/// A training loop records the same losses into the same buffers every step: after the first
/// step nothing is created (pipelines, bind groups, parameter blocks), every step gives the
/// same bits, new buffers get new bindings (never a stale one), and `evaluate`'s transient
/// buffers are not kept by the bind-group cache.
#[test]
fn repeated_recording_reuses_every_cached_object() {
    for backend in GPU_BACKENDS {
        let app = gpu(backend);
        let device = app.device().clone();
        let queue = app.queue().clone();
        let ctx = GpuContext::from_device(&device, &queue).unwrap();
        let (b, c) = (19, 300);
        let specs = [
            LossSpec::Kl(KlParams::new(3.0)),
            LossSpec::Dist(DistParams::default()),
            LossSpec::Dkd(DkdParams::default()),
        ];
        let labels: Vec<u32> = (0..b as u32).map(|r| r % c as u32).collect();
        let labels_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("labels"),
            contents: bytemuck::cast_slice(&labels),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let upload = |data: &[f32]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("logits"),
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let align = u64::from(device.limits().min_storage_buffer_offset_alignment).max(256);
        let grad_bytes = (b * c * 4) as u64;
        let grad_stride = grad_bytes.div_ceil(align) * align;
        let outputs = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("outputs"),
            size: align * 3 + grad_stride * 3,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        // One training step: the three losses into `outputs`, read back.
        let step = |student: &wgpu::Buffer, teacher: &wgpu::Buffer| -> Vec<u32> {
            let mut encoder = device.create_command_encoder(&Default::default());
            for (i, spec) in specs.iter().enumerate() {
                ctx.record(
                    &mut encoder,
                    spec,
                    &[b, c],
                    &LossBindings::new(
                        BufferRegion::new(student),
                        BufferRegion::new(teacher),
                        BufferRegion::at(&outputs, align * i as u64),
                    )
                    .with_labels(
                        spec.needs_labels()
                            .then(|| BufferRegion::new(&labels_buffer)),
                    )
                    .with_grad(Some(BufferRegion::at(
                        &outputs,
                        align * 3 + grad_stride * i as u64,
                    ))),
                )
                .unwrap();
            }
            submit_and_read_words(&device, &queue, encoder, &outputs)
        };
        let (s1, t1) = synthetic::logit_pair(21, b, c, 2.0);
        let (student, teacher) = (upload(&s1), upload(&t1));
        let first = step(&student, &teacher);
        let after_first = ctx.cache_stats();
        assert!(after_first.bind_groups > 0, "{backend:?}: {after_first:?}");
        // One kept recording per loss: the repeated steps below replay them.
        assert_eq!(after_first.recordings, specs.len(), "{backend:?}");
        for _ in 0..3 {
            assert_eq!(
                step(&student, &teacher),
                first,
                "{backend:?}: a repeated step"
            );
            assert_eq!(
                ctx.cache_stats(),
                after_first,
                "{backend:?}: a repeated step"
            );
        }

        // New input buffers with other values: new bindings and the new values' results.
        let (s2, t2) = synthetic::logit_pair(22, b, c, 2.0);
        let second = step(&upload(&s2), &upload(&t2));
        assert_ne!(
            second, first,
            "{backend:?}: new inputs gave the old results"
        );
        let stats = ctx.cache_stats();
        assert_eq!(stats.pipelines, after_first.pipelines, "{backend:?}");
        let labels_i64: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        let shape = [b, c];
        let loss_word = |i: usize| second[(align as usize / 4) * i];
        for (i, spec) in specs.iter().enumerate() {
            let mut inputs = Inputs::new(&s2, &t2, &shape);
            if spec.needs_labels() {
                inputs = inputs.with_labels(&labels_i64);
            }
            let host = ctx.evaluate(spec, &inputs, true).unwrap();
            assert_eq!(loss_word(i), host.loss.to_bits(), "{backend:?} {spec:?}");
        }
        // evaluate() bound its own upload buffers: none of their bind groups or recordings
        // stay cached.
        let after_evaluate = ctx.cache_stats();
        assert_eq!(after_evaluate.bind_groups, stats.bind_groups, "{backend:?}");
        assert_eq!(after_evaluate.recordings, stats.recordings, "{backend:?}");
        ctx.release_cached_bind_groups();
        let released = ctx.cache_stats();
        assert_eq!(
            (released.bind_groups, released.recordings),
            (0, 0),
            "{backend:?}"
        );
    }
}

#[test]
fn a_strategy_change_replans_a_repeated_call() {
    // Recordings are kept per call; a new strategy must not replay one planned under the old.
    let app = gpu(wgpu_distill::BackendChoice::Vulkan);
    let device = app.device().clone();
    let queue = app.queue().clone();
    let mut ctx = GpuContext::from_device(&device, &queue).unwrap();
    let (b, c) = (5, 44);
    let (s, t) = synthetic::logit_pair(8, b, c, 2.0);
    let upload = |data: &[f32]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("logits"),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE,
        })
    };
    let (student, teacher) = (upload(&s), upload(&t));
    let outputs = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("outputs"),
        size: 256 + (b * c * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let spec = LossSpec::Dist(DistParams::default());
    let step = |ctx: &GpuContext| -> Vec<u32> {
        let mut encoder = device.create_command_encoder(&Default::default());
        let io = LossBindings::new(
            BufferRegion::new(&student),
            BufferRegion::new(&teacher),
            BufferRegion::new(&outputs),
        )
        .with_grad(Some(BufferRegion::at(&outputs, 256)));
        ctx.record(&mut encoder, &spec, &[b, c], &io).unwrap();
        submit_and_read_words(&device, &queue, encoder, &outputs)
    };
    let quads = step(&ctx);
    let planned = ctx.cache_stats();
    assert_eq!(planned.recordings, 1);
    ctx.set_strategy(Strategy::default().with_quads(Some(false)))
        .unwrap();
    assert_eq!(
        ctx.cache_stats().recordings,
        0,
        "set_strategy keeps no recording"
    );
    let one_class = step(&ctx);
    let replanned = ctx.cache_stats();
    assert_eq!(replanned.recordings, 1);
    assert!(
        replanned.pipelines > planned.pipelines,
        "the one-class kernels were not planned: {planned:?} then {replanned:?}"
    );
    let loss = |words: &[u32]| f32::from_bits(words[0]);
    let (a, z) = (loss(&quads), loss(&one_class));
    assert!(((a - z) / a).abs() < 1e-5, "{a} against {z}");
}

/// `record_scale`: values times a factor read on the device, in place; a factor of exactly 1
/// leaves them bitwise as they were; the factor may share the values' buffer; both the quad
/// and the one-value forms; bad buffers are errors.
#[test]
fn scale_by_a_device_factor_in_place() {
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        let device = ctx.device();
        let align = u64::from(device.limits().min_storage_buffer_offset_alignment).max(256);
        for count in [1usize, 7, 1024, 70_001] {
            let (values, _) = synthetic::logit_pair(5, 1, count, 3.0);
            for factor in [1.0f32, -2.5, 0.0, 1.0 + f32::EPSILON] {
                // values at an aligned offset, the factor after them in the same buffer
                let factor_offset = align + (count as u64 * 4).next_multiple_of(4);
                let mut bytes = vec![0u8; (factor_offset + 4) as usize];
                bytes[align as usize..align as usize + count * 4]
                    .copy_from_slice(bytemuck::cast_slice(&values));
                bytes[factor_offset as usize..].copy_from_slice(&factor.to_le_bytes());
                let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("values and factor"),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                });
                let mut encoder = device.create_command_encoder(&Default::default());
                ctx.record_scale(
                    &mut encoder,
                    BufferRegion::at(&buffer, align),
                    count,
                    BufferRegion::at(&buffer, factor_offset),
                )
                .unwrap();
                let words = submit_and_read_words(device, ctx.queue(), encoder, &buffer);
                let got = &words[align as usize / 4..align as usize / 4 + count];
                for (i, (&w, &v)) in got.iter().zip(&values).enumerate() {
                    let want = if factor == 1.0 { v } else { v * factor };
                    assert_eq!(
                        w,
                        want.to_bits(),
                        "{backend:?} count {count} factor {factor} element {i}"
                    );
                }
            }
        }
        // Unusable buffers are errors, not panics.
        let plain = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 1024,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        let no_copy_src = ctx.record_scale(
            &mut encoder,
            BufferRegion::new(&plain),
            16,
            BufferRegion::new(&plain),
        );
        assert!(matches!(no_copy_src, Err(wgpu_distill::Error::Buffer(_))));
        let too_long = ctx.record_scale(
            &mut encoder,
            BufferRegion::new(&plain),
            1000,
            BufferRegion::new(&plain),
        );
        assert!(too_long.is_err());
        let copyable = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 1024,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        for offset in [2, 1024, u64::MAX - 3] {
            let outside = ctx.record_scale(
                &mut encoder,
                BufferRegion::new(&copyable),
                16,
                BufferRegion::at(&copyable, offset),
            );
            assert!(
                matches!(outside, Err(wgpu_distill::Error::Buffer(_))),
                "factor offset {offset}: {outside:?}"
            );
        }
    }
}

/// The token losses on the caller's buffers: `jsd` with labels and `kl` against a sparse
/// teacher (`record_sparse`) recorded into one encoder give the bits of `evaluate`; a label or
/// an id outside [0, C) (which only this path can pass) makes the loss NaN, and a bad id
/// writes nothing into another row's gradient.
#[test]
fn token_losses_on_caller_buffers() {
    use wgpu_distill::{JsdParams, SparseBindings, SparseTeacher, TokenOptions};
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        let device = ctx.device();
        let (b, c, k) = (6usize, 40usize, 5usize);
        let (student, teacher) = synthetic::logit_pair(3, b, c, 2.0);
        let labels: Vec<i64> = vec![3, -100, 7, 39, 0, 12];
        let ids: Vec<i64> = (0..b * k).map(|i| ((i * 7) % c) as i64).collect();
        let logprobs: Vec<f32> = vec![-2.0; b * k];
        let shape = [b, c];
        let jsd = LossSpec::Jsd(
            JsdParams::default().with_options(TokenOptions::default().with_hard_weight(0.5)),
        );
        let kl = KlParams::new(1.0);
        let want_jsd = ctx
            .evaluate(
                &jsd,
                &Inputs::new(&student, &teacher, &shape).with_labels(&labels),
                true,
            )
            .unwrap();
        let sparse = SparseTeacher::new(&ids, &logprobs, k);
        let want_kl = ctx
            .evaluate(
                &LossSpec::Kl(kl),
                &Inputs::with_sparse_teacher(&student, sparse, &shape),
                true,
            )
            .unwrap();

        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let upload = |bytes: &[u8]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytes,
                usage: storage,
            })
        };
        let run = |labels: &[i64], ids: &[i64]| {
            let s = upload(bytemuck::cast_slice(&student));
            let t = upload(bytemuck::cast_slice(&teacher));
            let l: Vec<u32> = labels.iter().map(|&x| x as u32).collect();
            let l = upload(bytemuck::cast_slice(&l));
            let i: Vec<u32> = ids.iter().map(|&x| x as u32).collect();
            let i = upload(bytemuck::cast_slice(&i));
            let lp = upload(bytemuck::cast_slice(&logprobs));
            // jsd's loss at 0, kl's at 256, jsd's gradient at 512, kl's after it (aligned).
            let grad_bytes = (b * c * 4) as u64;
            let second = aligned(512 + grad_bytes, 256);
            let out = upload(&vec![0u8; (second + grad_bytes) as usize]);
            let mut encoder = device.create_command_encoder(&Default::default());
            ctx.record(
                &mut encoder,
                &jsd,
                &shape,
                &LossBindings::new(
                    BufferRegion::new(&s),
                    BufferRegion::new(&t),
                    BufferRegion::new(&out),
                )
                .with_labels(Some(BufferRegion::new(&l)))
                .with_grad(Some(BufferRegion::at(&out, 512))),
            )
            .unwrap();
            ctx.record_sparse(
                &mut encoder,
                &kl,
                &shape,
                &SparseBindings::new(
                    BufferRegion::new(&s),
                    BufferRegion::new(&i),
                    BufferRegion::new(&lp),
                    k,
                    BufferRegion::at(&out, 256),
                )
                .with_grad(Some(BufferRegion::at(&out, second))),
            )
            .unwrap();
            let words = submit_and_read_words(device, ctx.queue(), encoder, &out);
            let floats = |from: usize| -> Vec<f32> {
                words[from..from + b * c]
                    .iter()
                    .map(|&w| f32::from_bits(w))
                    .collect()
            };
            (
                f32::from_bits(words[0]),
                floats(128),
                f32::from_bits(words[64]),
                floats(second as usize / 4),
            )
        };
        let (jsd_loss, jsd_grad, kl_loss, kl_grad) = run(&labels, &ids);
        assert_eq!(jsd_loss.to_bits(), want_jsd.loss.to_bits(), "{backend:?}");
        assert_eq!(kl_loss.to_bits(), want_kl.loss.to_bits(), "{backend:?}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&jsd_grad), bits(want_jsd.grad.as_ref().unwrap()));
        assert_eq!(bits(&kl_grad), bits(want_kl.grad.as_ref().unwrap()));

        // Row 2's label and one of row 4's ids out of range: NaN losses; the other rows'
        // sparse gradients are untouched.
        let mut bad_labels = labels.clone();
        bad_labels[2] = c as i64;
        let mut bad_ids = ids.clone();
        bad_ids[4 * k + 1] = (c + 3) as i64;
        let (jsd_loss, _, kl_loss, kl_grad) = run(&bad_labels, &bad_ids);
        assert!(jsd_loss.is_nan() && kl_loss.is_nan(), "{backend:?}");
        let want = want_kl.grad.as_ref().unwrap();
        assert_eq!(bits(&kl_grad[..4 * c]), bits(&want[..4 * c]), "{backend:?}");
        assert_eq!(bits(&kl_grad[5 * c..]), bits(&want[5 * c..]), "{backend:?}");
    }
}

/// A bf16 student buffer of the caller's with a sparse teacher (`record_sparse_as`): bitwise
/// what `evaluate_as` gives for the same bf16 logits.
#[test]
fn sparse_teacher_on_a_caller_bf16_student() {
    use wgpu_distill::{InputDtype, SparseBindings, SparseTeacher};
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        let device = ctx.device();
        let (b, c, k) = (5usize, 48usize, 6usize);
        let student = synthetic::normal_vec(8, b * c, 3.0);
        let ids: Vec<i64> = (0..b * k).map(|i| ((i * 7) % c) as i64).collect();
        let logprobs: Vec<f32> = vec![-2.5; b * k];
        let shape = [b, c];
        let kl = KlParams::new(2.0);
        let sparse = SparseTeacher::new(&ids, &logprobs, k);
        let want = ctx
            .evaluate_as(
                &LossSpec::Kl(kl),
                &Inputs::with_sparse_teacher(&student, sparse, &shape),
                true,
                InputDtype::Bf16,
            )
            .unwrap();
        let upload = |bytes: &[u8]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            })
        };
        let s = upload(&InputDtype::Bf16.encode(&student));
        let i: Vec<u32> = ids.iter().map(|&x| x as u32).collect();
        let i = upload(bytemuck::cast_slice(&i));
        let lp = upload(bytemuck::cast_slice(&logprobs));
        // The loss at 0, the gradient at 256.
        let out = upload(&vec![0u8; 256 + b * c * 4]);
        let mut encoder = device.create_command_encoder(&Default::default());
        ctx.record_sparse_as(
            &mut encoder,
            &kl,
            &shape,
            &SparseBindings::new(
                BufferRegion::new(&s),
                BufferRegion::new(&i),
                BufferRegion::new(&lp),
                k,
                BufferRegion::new(&out),
            )
            .with_grad(Some(BufferRegion::at(&out, 256))),
            InputDtype::Bf16,
        )
        .unwrap();
        let words = submit_and_read_words(device, ctx.queue(), encoder, &out);
        assert_eq!(words[0], want.loss.to_bits(), "{backend:?}");
        let grad: Vec<u32> = want.grad.unwrap().iter().map(|g| g.to_bits()).collect();
        assert_eq!(&words[64..], &grad[..], "{backend:?}");
    }
}
