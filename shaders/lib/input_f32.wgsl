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
