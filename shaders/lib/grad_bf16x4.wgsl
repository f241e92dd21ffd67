// Gradient stores of the quad kernels, bfloat16: four classes per 8-byte store (element 4q in
// the low half of .x, little-endian). Computed in f32, rounded to nearest even (the high 16
// bits after adding 0x7fff plus the lowest kept bit); NaN stays a quiet NaN.

alias GradQuad = vec2<u32>;

fn f32_to_bf16_bits(x: vec4<f32>) -> vec4<u32> {
    let bits = bitcast<vec4<u32>>(x);
    let rounded = (bits + vec4<u32>(0x7fffu) + ((bits >> vec4<u32>(16u)) & vec4<u32>(1u))) >> vec4<u32>(16u);
    let nan = (bits & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
    return select(rounded, (bits >> vec4<u32>(16u)) | vec4<u32>(0x40u), nan);
}

fn encode_grad4(g: vec4<f32>) -> GradQuad {
    let h = f32_to_bf16_bits(g);
    return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}

// A stored bf16 gradient has lost bits: the token kernels recompute rather than correct it.
const GRAD_EXACT: bool = false;

fn decode_grad4(g: GradQuad) -> vec4<f32> {
    return bitcast<vec4<f32>>(vec4<u32>(g.x << 16u, g.x & 0xffff0000u, g.y << 16u, g.y & 0xffff0000u));
}
