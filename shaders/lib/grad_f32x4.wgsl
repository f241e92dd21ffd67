// Gradient stores of the quad kernels, float32: four classes per 16-byte store. The kernel
// declares `grad: array<GradQuad>`; grad_f16x4.wgsl and grad_bf16x4.wgsl define the same two
// names for a gradient in the inputs' 16-bit format.

alias GradQuad = vec4<f32>;

fn encode_grad4(g: vec4<f32>) -> GradQuad {
    return g;
}

// Whether a stored gradient reads back exactly (the token kernels then correct it in place).
const GRAD_EXACT: bool = true;

fn decode_grad4(g: GradQuad) -> vec4<f32> {
    return g;
}
