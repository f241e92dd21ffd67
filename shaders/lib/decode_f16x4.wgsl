// IEEE float16 quads decoded to f32 with integer operations (no SHADER_F16 feature, no naga
// capability): prepended to input_f16x4.wgsl and sparse_student_f16x4.wgsl by `src/shaders.rs`.

// Four halves (low 16 bits of each lane) as f32, exactly: subnormals, infinities and NaN too.
fn halves_to_f32(h: vec4<u32>) -> vec4<f32> {
    let sign = (h & vec4<u32>(0x8000u)) << vec4<u32>(16u);
    let exponent = (h >> vec4<u32>(10u)) & vec4<u32>(0x1fu);
    let mantissa = h & vec4<u32>(0x3ffu);
    let normal = bitcast<vec4<f32>>(sign | ((exponent + 112u) << vec4<u32>(23u)) | (mantissa << vec4<u32>(13u)));
    let special = bitcast<vec4<f32>>(sign | vec4<u32>(0x7f800000u) | (mantissa << vec4<u32>(13u)));
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    let magnitude = vec4<f32>(mantissa) * 5.9604645e-8;
    let small = select(magnitude, -magnitude, sign != vec4<u32>(0u));
    let zero_exponent = exponent == vec4<u32>(0u);
    return select(select(normal, special, exponent == vec4<u32>(31u)), small, zero_exponent);
}

fn quad_of_halves(w: vec2<u32>) -> vec4<f32> {
    return halves_to_f32(vec4<u32>(w.x & 0xffffu, w.x >> 16u, w.y & 0xffffu, w.y >> 16u));
}
