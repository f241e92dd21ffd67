// Student and teacher inputs as IEEE float16, four consecutive elements per 8-byte load
// (bindings 1 and 2 as arrays of vec2<u32>; little-endian: element 4q in the low half of .x).
// Decoded with integer operations on four lanes at once, without branches (no feature or
// capability needed, as in input_f16.wgsl). Accumulation is f32.

@group(0) @binding(1) var<storage, read> student: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> teacher: array<vec2<u32>>;

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

fn load_student4(q: u32) -> vec4<f32> {
    return quad_of_halves(student[q]);
}

fn load_teacher4(q: u32) -> vec4<f32> {
    return quad_of_halves(teacher[q]);
}

// One element (kernels holding both forms in one file; the quad entry points use the above).
fn load_student(i: u32) -> f32 {
    return load_student4(i >> 2u)[i & 3u];
}

fn load_teacher(i: u32) -> f32 {
    return load_teacher4(i >> 2u)[i & 3u];
}
