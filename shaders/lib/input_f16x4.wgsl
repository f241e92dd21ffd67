// Student and teacher inputs as IEEE float16, four consecutive elements per 8-byte load
// (bindings 1 and 2 as arrays of vec2<u32>; little-endian: element 4q in the low half of .x).
// Decoded by lib/decode_f16x4.wgsl (prepended) on four lanes at once, without branches.
// Accumulation is f32.

@group(0) @binding(1) var<storage, read> student: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> teacher: array<vec2<u32>>;

fn load_student4(q: u32) -> vec4<f32> {
    return quad_of_halves(student[q]);
}

fn load_teacher4(q: u32) -> vec4<f32> {
    return quad_of_halves(teacher[q]);
}

// One element (kernels holding both forms in one file; the quad entry points use the above).
fn load_student(i: u32) -> f32 {
    return load_student4(i >> 2u)[i & 3u];
}

fn load_teacher(i: u32) -> f32 {
    return load_teacher4(i >> 2u)[i & 3u];
}
