// bfloat16 quads decoded to f32 (little-endian: element 4q in the low half of .x): a shift,
// exact. Prepended to input_bf16x4.wgsl and sparse_student_bf16x4.wgsl by `src/shaders.rs`.

fn quad_of_bf16(w: vec2<u32>) -> vec4<f32> {
    let low = vec4<u32>(w.x, w.x, w.y, w.y);
    let shifted = select(low & vec4<u32>(0xffff0000u), low << vec4<u32>(16u), vec4<bool>(true, false, true, false));
    return bitcast<vec4<f32>>(shifted);
}
