// Test only (`GpuContext::count_input_loads`, tests/traffic.rs): input_f32.wgsl's loads, each
// also counting the element it reads in `load_counts` (group 1): the student's elements first,
// then the teacher's from the array's middle. One atomic add per element load, so a kernel's
// input traffic is measured, not inferred, on any adapter (lavapipe included).

@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(1) @binding(0) var<storage, read_write> load_counts: array<atomic<u32>>;

fn load_student(i: u32) -> f32 {
    atomicAdd(&load_counts[i], 1u);
    return student[i];
}

fn load_teacher(i: u32) -> f32 {
    atomicAdd(&load_counts[arrayLength(&load_counts) / 2u + i], 1u);
    return teacher[i];
}

fn load_student4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(load_student(i), load_student(i + 1u), load_student(i + 2u), load_student(i + 3u));
}

fn load_teacher4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(load_teacher(i), load_teacher(i + 1u), load_teacher(i + 2u), load_teacher(i + 3u));
}
