// Student and teacher inputs as float32, read four consecutive elements at a time (bindings 1
// and 2 as arrays of vec4): for the "quad" kernels, used when a row's length is a multiple of
// 4. One 16-byte load per lane instead of four 4-byte loads: fewer load instructions on GPUs,
// and on llvmpipe (which loads each SIMD lane in a scalar loop) a quarter of the loop trips.

@group(0) @binding(1) var<storage, read> student: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> teacher: array<vec4<f32>>;

fn load_student4(q: u32) -> vec4<f32> {
    return student[q];
}

fn load_teacher4(q: u32) -> vec4<f32> {
    return teacher[q];
}

// One element (kernels holding both forms in one file; the quad entry points use the above).
fn load_student(i: u32) -> f32 {
    return load_student4(i >> 2u)[i & 3u];
}

fn load_teacher(i: u32) -> f32 {
    return load_teacher4(i >> 2u)[i & 3u];
}
