// The student of the sparse-teacher quad kernel (token_sparse_quads.wgsl) as float32, four
// consecutive classes per 16-byte load (binding 1). Only the student: the teacher is the ids
// and log-probs the kernel binds itself. sparse_student_f16x4.wgsl and _bf16x4.wgsl define the
// same two functions for 16-bit logits.

@group(0) @binding(1) var<storage, read> student: array<vec4<f32>>;

fn load_slot_student(base: u32, s: u32) -> vec4<f32> {
    return student[base / 4u + s];
}

fn student_at(i: u32) -> f32 {
    return student[i >> 2u][i & 3u];
}
