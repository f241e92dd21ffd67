// Student and teacher inputs as bfloat16 (the high 16 bits of a float32), two per 32-bit word
// (little-endian: element 2k in the low half). Decoding is a shift: exact.

@group(0) @binding(1) var<storage, read> student: array<u32>;
@group(0) @binding(2) var<storage, read> teacher: array<u32>;

fn bf16_at(word: u32, high: bool) -> f32 {
    return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}

fn load_student(i: u32) -> f32 {
    return bf16_at(student[i >> 1u], (i & 1u) == 1u);
}

fn load_teacher(i: u32) -> f32 {
    return bf16_at(teacher[i >> 1u], (i & 1u) == 1u);
}

// Four consecutive elements from element 4q (the quad kernels use the x4 library instead;
// this keeps one kernel file able to hold both forms).
fn load_student4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(load_student(i), load_student(i + 1u), load_student(i + 2u), load_student(i + 3u));
}

fn load_teacher4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(load_teacher(i), load_teacher(i + 1u), load_teacher(i + 2u), load_teacher(i + 3u));
}
