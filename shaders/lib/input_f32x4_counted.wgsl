// Test only (`GpuContext::count_input_loads`, tests/traffic.rs): input_f32x4.wgsl's loads,
// each also counting the elements it reads in `load_counts` (group 1; the teacher's from the
// array's middle): a quad load counts its four elements, a single-element load its one.

@group(0) @binding(1) var<storage, read> student: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> teacher: array<vec4<f32>>;
@group(1) @binding(0) var<storage, read_write> load_counts: array<atomic<u32>>;

// Counts elements 4q .. 4q + 3 from `first`.
fn count_quad(first: u32, q: u32) {
    for (var k = 0u; k < 4u; k++) {
        atomicAdd(&load_counts[first + 4u * q + k], 1u);
    }
}

fn load_student4(q: u32) -> vec4<f32> {
    count_quad(0u, q);
    return student[q];
}

fn load_teacher4(q: u32) -> vec4<f32> {
    count_quad(arrayLength(&load_counts) / 2u, q);
    return teacher[q];
}

fn load_student(i: u32) -> f32 {
    atomicAdd(&load_counts[i], 1u);
    return student[i >> 2u][i & 3u];
}

fn load_teacher(i: u32) -> f32 {
    atomicAdd(&load_counts[arrayLength(&load_counts) / 2u + i], 1u);
    return teacher[i >> 2u][i & 3u];
}
