// Gradient stores of the quad kernels, IEEE float16: four classes per 8-byte store (element 4q
// in the low half of .x, little-endian). Computed in f32, rounded to nearest even with integer
// operations (no feature or capability needed): overflow gives infinity, NaN stays NaN,
// values below 2^-14 become subnormals.

alias GradQuad = vec2<u32>;

fn f32_to_half_bits(x: vec4<f32>) -> vec4<u32> {
    let bits = bitcast<vec4<u32>>(x);
    let sign = (bits >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
    let magnitude = bits & vec4<u32>(0x7fffffffu);
    // Normal range: rebias the exponent (127 -> 15), round the 13 dropped bits to even; a
    // carry past the largest half gives 0x7c00, infinity, and so does any larger value.
    let rebiased = magnitude - vec4<u32>(0x38000000u);
    let rounded = (rebiased + vec4<u32>(0x0fffu) + ((rebiased >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
    let normal = min(rounded, vec4<u32>(0x7c00u));
    // Below 2^-14: a multiple of 2^-24, rounded half to even by round() (exact scaling).
    let subnormal = vec4<u32>(round(bitcast<vec4<f32>>(magnitude) * 16777216.0));
    let finite = select(normal, subnormal, magnitude < vec4<u32>(0x38800000u));
    let nan = magnitude > vec4<u32>(0x7f800000u);
    return sign | select(finite, vec4<u32>(0x7e00u), nan);
}

fn encode_grad4(g: vec4<f32>) -> GradQuad {
    let h = f32_to_half_bits(g);
    return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}

// A stored f16 gradient has lost bits: the token kernels recompute rather than correct it.
const GRAD_EXACT: bool = false;

fn decode_grad4(g: GradQuad) -> vec4<f32> {
    return vec4<f32>(unpack2x16float(g.x), unpack2x16float(g.y));
}
