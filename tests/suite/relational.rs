//! SP and PKT: teacher and student of different widths, on Vulkan and GL against the float64
//! twins (which work from the vectors, the kernels from the Grams): B = 1, D = 1, B beyond a
//! workgroup, trailing axes flattened, a row of zeros, the same bits every run, the recorded
//! form with the caller's buffers, and the refusals (another batch size, a teacher of another
//! width for a loss that needs the student's shape, a teacher region too small).

use crate::common::*;
use wgpu::util::DeviceExt;
use wgpu_distill::{reference, synthetic, BufferRegion, Error, Inputs, LossBindings, LossSpec};

const SPECS: [LossSpec; 2] = [LossSpec::Sp, LossSpec::Pkt];

fn features(seed: u64, dims: &[usize]) -> Vec<f32> {
    synthetic::normal_vec(seed, dims.iter().product(), 1.0)
}

#[test]
fn sp_and_pkt_match_float64_with_other_teacher_widths() {
    // (student, teacher, absolute floor of the gradient's scale): at D = 1 every student row
    // is ±its unit vector, so the gradient is 0 up to eps and f32's cancellation (1e-8).
    // Widths over 16384 features are summed in chunks (Mesa's loop limiter: one loop over
    // 40 000 features came back short on lavapipe); PKT's near-uniform rows of random wide
    // features leave a loss of 1e-6 made of f32 cosines: an absolute floor there.
    let cases: [(&[usize], &[usize], f64); 7] = [
        (&[1, 5], &[1, 3], 1e-9),
        (&[2, 1], &[2, 9], 1e-4),
        (&[8, 16], &[8, 32], 1e-9),
        (&[5, 2, 3, 3], &[5, 40], 1e-9),
        (&[300, 24], &[300, 7], 1e-9),
        (&[64, 64], &[64, 64], 1e-9),
        (&[3, 40000], &[3, 20000], 1e-7),
    ];
    for backend in GPU_BACKENDS {
        for (seed, (student_dims, teacher_dims, floor)) in cases.into_iter().enumerate() {
            let student = features(seed as u64, student_dims);
            let teacher = features(seed as u64 + 100, teacher_dims);
            let inputs =
                Inputs::new(&student, &teacher, student_dims).with_teacher_shape(teacher_dims);
            for spec in SPECS {
                let want = reference::evaluate(&spec, &inputs).unwrap();
                let got = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
                assert_close_floor(
                    &format!("{spec:?} {student_dims:?} vs {teacher_dims:?} on {backend:?}"),
                    f64::from(got.loss),
                    got.grad.as_deref().unwrap(),
                    want.loss,
                    &want.grad,
                    floor,
                );
                let again = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
                assert_eq!(got, again, "{spec:?}: the same bits every run");
            }
        }
    }
}

#[test]
fn a_row_of_zeros_and_one_row() {
    let dims = [4, 6];
    let mut student = features(7, &dims);
    student[6..12].fill(0.0);
    let teacher = features(8, &[4, 3]);
    for backend in GPU_BACKENDS {
        for spec in SPECS {
            let inputs = Inputs::new(&student, &teacher, &dims).with_teacher_shape(&[4, 3]);
            let want = reference::evaluate(&spec, &inputs).unwrap();
            let got = gpu(backend).evaluate(&spec, &inputs, true).unwrap();
            let grad = got.grad.unwrap();
            assert!(grad.iter().all(|g| g.is_finite()), "{spec:?}: finite");
            assert_close(
                &format!("{spec:?} zero row on {backend:?}"),
                f64::from(got.loss),
                &grad,
                want.loss,
                &want.grad,
            );
        }
        let one = gpu(backend)
            .evaluate(
                &LossSpec::Pkt,
                &Inputs::new(&[1.0, 2.0], &[3.0, 4.0, 5.0], &[1, 2]).with_teacher_shape(&[1, 3]),
                true,
            )
            .unwrap();
        assert_eq!(one.loss, 0.0, "PKT of one row is 0");
    }
}

#[test]
fn other_widths_are_refused_where_they_do_not_apply() {
    let student = features(1, &[4, 6]);
    let ctx = gpu(GPU_BACKENDS[0]);
    let other_batch = features(2, &[5, 6]);
    for spec in SPECS {
        let err = ctx
            .evaluate(
                &spec,
                &Inputs::new(&student, &other_batch, &[4, 6]).with_teacher_shape(&[5, 6]),
                true,
            )
            .unwrap_err();
        assert!(matches!(err, Error::Shape(_)), "{err}");
        assert!(err.to_string().contains("same batch size"), "{err}");
        let err = reference::evaluate(
            &spec,
            &Inputs::new(&student, &other_batch[..12], &[4, 6]).with_teacher_shape(&[4, 6]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("teacher"), "{err}");
    }
    let wide = features(3, &[4, 9]);
    let err = ctx
        .evaluate(
            &LossSpec::Rkd(Default::default()),
            &Inputs::new(&student, &wide, &[4, 6]).with_teacher_shape(&[4, 9]),
            true,
        )
        .unwrap_err();
    assert!(err.to_string().contains("student's shape"), "{err}");
}

/// The recorded form: the caller's buffers, the teacher's shape given beside the student's;
/// a teacher region smaller than that shape is refused before anything is recorded.
#[test]
fn recorded_with_the_teacher_shape() {
    let (dims, teacher_dims) = ([6, 10], [6, 4]);
    let student = features(11, &dims);
    let teacher = features(12, &teacher_dims);
    for backend in GPU_BACKENDS {
        let ctx = gpu(backend);
        let device = ctx.device();
        let buffer = |label, data: &[f32]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            })
        };
        let (s, t) = (buffer("s", &student), buffer("t", &teacher));
        let out = buffer("out", &[0.0; 64]);
        let mut encoder = device.create_command_encoder(&Default::default());
        let bindings = LossBindings::new(
            BufferRegion::new(&s),
            BufferRegion::new(&t),
            BufferRegion::new(&out),
        );
        ctx.record_with_teacher_shape(&mut encoder, &LossSpec::Sp, &dims, &teacher_dims, &bindings)
            .unwrap();
        let err = ctx
            .record_with_teacher_shape(&mut encoder, &LossSpec::Sp, &dims, &[6, 5], &bindings)
            .unwrap_err();
        assert!(err.to_string().contains("teacher"), "{err}");
        let words = read_words(ctx, encoder, &out);
        let inputs = Inputs::new(&student, &teacher, &dims).with_teacher_shape(&teacher_dims);
        let want = reference::evaluate(&LossSpec::Sp, &inputs).unwrap().loss;
        let got = f64::from(f32::from_bits(words[0]));
        assert!((got - want).abs() <= 1e-4 * want.abs(), "{got} vs {want}");
    }
}

/// Submits `encoder` after copying `buffer` out, and returns its words.
fn read_words(
    ctx: &wgpu_distill::GpuContext,
    mut encoder: wgpu::CommandEncoder,
    buffer: &wgpu::Buffer,
) -> Vec<u32> {
    let device = ctx.device();
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("staging"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    ctx.queue().submit([encoder.finish()]);
    staging.map_async(wgpu::MapMode::Read, .., |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = staging.get_mapped_range(..).unwrap();
    view.chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}
