// NKD, quad form: what nkd_rows (nkd.wgsl) computes, reading and writing four consecutive
// classes per load (rows of a multiple of 4 classes, 16-byte aligned bindings). The target is
// masked out of the non-target statistics and terms lane by lane (its logit replaced by
// NEG_BIG, whose exp is 0), never by a large offset on a real logit.
//   row_loss[b] = -t_y log q_y + gamma T^2 sum_{c != y} -p^t_c log p^s_c
//   grad[b, c]  = (1/B) (t_y (q_c - [c = y]) + gamma T (p^s_c - p^t_c) [c != y])
//
// Uniformity: rows past the batch skip their loads and stores but reach every barrier.

@group(0) @binding(0) var<uniform> params: NkdParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
// The gradient (`GradQuad` and `encode_grad4` from lib/grad_*x4.wgsl).
@group(0) @binding(5) var<storage, read_write> grad: array<GradQuad>;

@compute @workgroup_size(WG)
fn nkd_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let quads = cols / 4u;
    let base = row * quads;
    let inv_t = params.inv_t;
    var target_class = 0u;
    if in_batch {
        target_class = min(labels[params.row_offset + row], cols - 1u);
    }
    let offsets = vec4<u32>(0u, 1u, 2u, 3u);

    var raw = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var rest = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var i = lane; i < quads; i += TPR) {
            let zs = load_student4(base + i);
            let zt = load_teacher4(base + i);
            let is_target = vec4<u32>(4u * i) + offsets == vec4<u32>(target_class);
            raw = vec4<f32>(lse_push4(raw.xy, zs), lse_push4(raw.zw, zt));
            let masked_s = select(zs * inv_t, vec4<f32>(NEG_BIG), is_target);
            let masked_t = select(zt * inv_t, vec4<f32>(NEG_BIG), is_target);
            rest = vec4<f32>(lse_push4(rest.xy, masked_s), lse_push4(rest.zw, masked_t));
        }
    }
    let full = seg_softmax2(lid, raw);
    let non = seg_softmax2(lid, rest);

    // The target term, from the label's own logits (every lane of the row loads them).
    var zs_y = 0.0;
    var zt_y = 0.0;
    if in_batch {
        zs_y = load_student(base * 4u + target_class);
        zt_y = load_teacher(base * 4u + target_class);
    }
    let log_q_y = (zs_y - full.x) - log(full.y);
    let t_y = exp_accurate(zt_y - full.z) / full.w;
    // C = 4 minus the target still leaves classes: every quad row has a non-target class.
    let inv_rest = 1.0 / non.yw;
    let log_rest_s = log(non.y);

    var ce = vec4<f32>(0.0);
    if in_batch {
        let write_grad = params.write_grad != 0u;
        let inv_full_s = 1.0 / full.y;
        for (var i = lane; i < quads; i += TPR) {
            let is_target = vec4<u32>(4u * i) + offsets == vec4<u32>(target_class);
            let zs = load_student4(base + i);
            let q = exp_accurate4(zs - full.x) * inv_full_s;
            let xs = zs * inv_t - non.x;
            let xt = load_teacher4(base + i) * inv_t - non.z;
            let ps = exp_accurate4(xs) * inv_rest.x;
            let pt = exp_accurate4(xt) * inv_rest.y;
            // pt = 0 (a masked teacher class) adds 0, never 0 * -inf.
            ce -= select(pt * (xs - log_rest_s), vec4<f32>(0.0), is_target | (pt == vec4<f32>(0.0)));
            let g = t_y * (q - select(vec4<f32>(0.0), vec4<f32>(1.0), is_target))
                + select(params.gamma_t * (ps - pt), vec4<f32>(0.0), is_target);
            if write_grad {
                grad[base + i] = encode_grad4(params.inv_b * g);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(ce), 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = -t_y * log_q_y + params.gamma_t2 * total;
    }
}
