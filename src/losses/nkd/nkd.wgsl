// NKD (normalized KD), per row, with the target y of the row:
//   target term  L_t = -t_y log q_y, with t = softmax(zt), q = softmax(zs) (T = 1; t_y is a
//                constant weight);
//   non-target   L_n = -sum_{c != y} p^t_c log p^s_c, p^ = softmax over c != y of z/T (the
//                target removed exactly, not by a -1000 offset; a cross-entropy: the teacher's
//                entropy is not subtracted, as in the authors' code);
//   row_loss[b]  = L_t + gamma T^2 L_n            (finish.wgsl applies 1/B)
//   grad[b, c]   = (1/B) (t_y (q_c - [c = y]) + gamma T (p^s_c - p^t_c) [c != y])
// With C = 1 there is no non-target class: L_n = 0. A label outside [0, C) is clamped here
// (the host checks labels before this).
//
// Two sweeps over the row: (1) online max / sum-exp of zs and zt at T = 1 and of zs/T and
// zt/T over the non-target classes, merged over the segment; (2) the terms and the gradient.
//
// Uniformity: rows past the batch skip their loads and stores but reach every barrier.

@group(0) @binding(0) var<uniform> params: NkdParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn nkd_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let inv_t = params.inv_t;
    var target_class = 0u;
    if in_batch {
        target_class = min(labels[params.row_offset + row], cols - 1u);
    }

    var raw = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var rest = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let zs = load_student(base + c);
            let zt = load_teacher(base + c);
            raw = vec4<f32>(lse_push(raw.xy, zs), lse_push(raw.zw, zt));
            if c != target_class {
                rest = vec4<f32>(lse_push(rest.xy, zs * inv_t), lse_push(rest.zw, zt * inv_t));
            }
        }
    }
    let full = seg_softmax2(lid, raw);
    let non = seg_softmax2(lid, rest);

    // The target term, from the label's own logits (every lane of the row loads them).
    var zs_y = 0.0;
    var zt_y = 0.0;
    if in_batch {
        zs_y = load_student(base + target_class);
        zt_y = load_teacher(base + target_class);
    }
    let log_q_y = (zs_y - full.x) - log(full.y);
    let t_y = exp_accurate(zt_y - full.z) / full.w;
    // No non-target class (C = 1): its sums are 0 and its term is left out.
    let has_rest = cols > 1u;
    let inv_rest = select(vec2<f32>(0.0), 1.0 / non.yw, has_rest);
    let log_rest_s = select(0.0, log(non.y), has_rest);

    var ce = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        let inv_full_s = 1.0 / full.y;
        for (var c = lane; c < cols; c += TPR) {
            let zs = load_student(base + c);
            let q = exp_accurate(zs - full.x) * inv_full_s;
            var g = t_y * (q - select(0.0, 1.0, c == target_class));
            if c != target_class {
                let xs = zs * inv_t - non.x;
                let xt = load_teacher(base + c) * inv_t - non.z;
                let ps = exp_accurate(xs) * inv_rest.x;
                let pt = exp_accurate(xt) * inv_rest.y;
                // pt = 0 (a masked teacher class) adds 0, never 0 * -inf.
                ce -= select(pt * (xs - log_rest_s), 0.0, pt == 0.0);
                g += params.gamma_t * (ps - pt);
            }
            if write_grad {
                grad[base + c] = params.inv_b * g;
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(ce, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = -t_y * log_q_y + params.gamma_t2 * total;
    }
}
