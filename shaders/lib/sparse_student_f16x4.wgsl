// The student of the sparse-teacher quad kernel as IEEE float16, four classes per 8-byte load
// (binding 1 as an array of vec2<u32>), decoded by lib/decode_f16x4.wgsl (prepended).

@group(0) @binding(1) var<storage, read> student: array<vec2<u32>>;

fn load_slot_student(base: u32, s: u32) -> vec4<f32> {
    return quad_of_halves(student[base / 4u + s]);
}

fn student_at(i: u32) -> f32 {
    return quad_of_halves(student[i >> 2u])[i & 3u];
}
