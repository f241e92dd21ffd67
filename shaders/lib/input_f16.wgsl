// Student and teacher inputs as IEEE float16, two per 32-bit word (little-endian: element 2k in
// the low half). Decoded with integer operations rather than unpack2x16float, which naga
// validates only under the SHADER_FLOAT16_IN_FLOAT32 capability (a downlevel flag some GL and
// mobile devices lack): this path needs no feature and no capability. Accumulation is f32.

@group(0) @binding(1) var<storage, read> student: array<u32>;
@group(0) @binding(2) var<storage, read> teacher: array<u32>;

// The half in the low 16 bits of `h`, exactly, as f32 (subnormals, infinities and NaN too).
fn half_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let exponent = (h >> 10u) & 0x1fu;
    let mantissa = h & 0x3ffu;
    if exponent == 0u {
        // Zero or subnormal: mantissa * 2^-24, exact in f32.
        let magnitude = f32(mantissa) * 5.9604645e-8;
        return select(magnitude, -magnitude, sign != 0u);
    }
    if exponent == 31u {
        return bitcast<f32>(sign | 0x7f800000u | (mantissa << 13u));
    }
    return bitcast<f32>(sign | ((exponent + 112u) << 23u) | (mantissa << 13u));
}

fn half_at(word: u32, high: bool) -> f32 {
    return half_to_f32(select(word & 0xffffu, word >> 16u, high));
}

fn load_student(i: u32) -> f32 {
    return half_at(student[i >> 1u], (i & 1u) == 1u);
}

fn load_teacher(i: u32) -> f32 {
    return half_at(teacher[i >> 1u], (i & 1u) == 1u);
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
