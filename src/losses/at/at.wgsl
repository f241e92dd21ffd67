// AT (attention transfer), B×C×H×W, one workgroup per sample b.
//   q(f)[b, k] = mean_c f[b, c, k]^p (k over H·W); a = q / max(|q|, 1e-12) (a clamp);
//   L = mean over B·H·W of (a_s - a_t)^2;
//   g = 2 (a_s - a_t) / (B·HW); dL/dq = (g - a_s <a_s, g>) / |q_s| (g / 1e-12 under the clamp);
//   grad[b, c, k] = (p / C) fs^(p-1) dL/dq[b, k].
// The maps q_s, q_t live in a scratch buffer (B·HW each): every lane reads back only the
// entries it wrote itself, so no barrier is needed between writing and reading them.
// Integer p uses repeated multiplication, so negative features work as with torch.pow.
//
// Uniformity: `in_range` depends on the workgroup id only; all lanes reach every `seg_sum`.

struct AtParams {
    samples: u32,
    channels: u32,
    hw: u32,
    groups_x: u32,
    p: f32,
    inv_c: f32,
    // 1 / (B·HW)
    scale: f32,
    write_grad: u32,
}

@group(0) @binding(0) var<uniform> params: AtParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> maps: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

// x^e: exact repeated multiplication for small integer e (negative x allowed), pow otherwise.
fn power(x: f32, e: f32) -> f32 {
    if e == 0.0 {
        return 1.0;
    }
    if fract(e) == 0.0 && e > 0.0 && e <= 64.0 {
        var r = x;
        for (var i = 1u; i < u32(e); i++) {
            r *= x;
        }
        return r;
    }
    return pow(x, e);
}

@compute @workgroup_size(WG)
fn at_samples(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let b = wid.x + wid.y * params.groups_x;
    let in_range = b < params.samples;
    let hw = params.hw;
    let channels = params.channels;
    let student_maps = b * hw;
    let teacher_maps = params.samples * hw + b * hw;

    var norms = vec4<f32>(0.0);
    if in_range {
        for (var k = lid; k < hw; k += WG) {
            var qs = 0.0;
            var qt = 0.0;
            for (var c = 0u; c < channels; c++) {
                let idx = (b * channels + c) * hw + k;
                qs += power(student[idx], params.p);
                qt += power(teacher[idx], params.p);
            }
            qs *= params.inv_c;
            qt *= params.inv_c;
            maps[student_maps + k] = qs;
            maps[teacher_maps + k] = qt;
            norms += vec4<f32>(qs * qs, qt * qt, 0.0, 0.0);
        }
    }
    let total = seg_sum(lid, norms);
    let norm_s = sqrt(total.x);
    let norm_t = sqrt(total.y);
    let div_s = max(norm_s, 1e-12);
    let div_t = max(norm_t, 1e-12);

    var sums = vec4<f32>(0.0);
    if in_range {
        for (var k = lid; k < hw; k += WG) {
            let a_s = maps[student_maps + k] / div_s;
            let a_t = maps[teacher_maps + k] / div_t;
            let diff = a_s - a_t;
            let g = 2.0 * diff * params.scale;
            sums += vec4<f32>(diff * diff, a_s * g, 0.0, 0.0);
        }
    }
    let folded = seg_sum(lid, sums);
    if in_range && lid == 0u {
        partials[b] = folded.x;
    }

    if in_range && params.write_grad != 0u {
        for (var k = lid; k < hw; k += WG) {
            let a_s = maps[student_maps + k] / div_s;
            let g = 2.0 * (a_s - maps[teacher_maps + k] / div_t) * params.scale;
            var dq = g / 1e-12;
            if norm_s > 1e-12 {
                dq = (g - a_s * folded.y) / norm_s;
            }
            for (var c = 0u; c < channels; c++) {
                let idx = (b * channels + c) * hw + k;
                grad[idx] = params.p * params.inv_c * power(student[idx], params.p - 1.0) * dq;
            }
        }
    }
}
