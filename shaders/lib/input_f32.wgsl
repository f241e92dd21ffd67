// Student and teacher inputs as float32 (bindings 1 and 2), prepended to the logit kernels by
// `src/shaders.rs`; input_f16.wgsl and input_bf16.wgsl define the same two loads.

@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;

fn load_student(i: u32) -> f32 {
    return student[i];
}

fn load_teacher(i: u32) -> f32 {
    return teacher[i];
}

// Four consecutive elements from element 4q (the quad kernels use input_f32x4.wgsl instead;
// this keeps one kernel file able to hold both forms).
fn load_student4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(student[i], student[i + 1u], student[i + 2u], student[i + 3u]);
}

fn load_teacher4(q: u32) -> vec4<f32> {
    let i = 4u * q;
    return vec4<f32>(teacher[i], teacher[i + 1u], teacher[i + 2u], teacher[i + 3u]);
}
