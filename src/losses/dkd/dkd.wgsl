// DKD (decoupled KD), per row: TCKD (binary target / non-target KL) and NCKD (KL over the
// non-target classes), and the student gradient.
//   ps_g = exp(zs_g/T - max) / sum, ps_o = 1 - ps_g from the non-target sum, their log-ratios
//   from the sums (no log of an underflowed ps_o when the target leads), the same for the
//   teacher (`target_split`, lib/dkd_common.wgsl);
//   TCKD_b = sum over {g, o} of kl_term(pt, ps);  NCKD_b = sum_{c!=g} kl_term(p^t, p^s)
//   with p^ = softmax over c != g (the target excluded exactly, not by a -1000 offset), and
//   kl_term(p, q) = p (log p - log q) + q - p (lib/row_softmax.wgsl; the q - p sum to 0);
//   row_loss[b] = alpha TCKD_b + beta NCKD_b   (finish.wgsl applies T^2 / B)
//   grad[b,g] = alpha (T/B)(P - Pt);  grad[b,c] = -alpha (T/B)(P - Pt) p^s_c + beta (T/B)(p^s_c - p^t_c)
// With the hard-label term (params.hard): CE_b = LSE(zs_b) - zs_b[g] at T = 1 goes to
// row_loss[B + b] (finish.wgsl scales it by w_hard / B) and grad[b, c] gains
// (w_hard / B)(softmax(zs_b)_c - onehot); the raw statistics come from the same sweep (at
// T != 1 a second running (max, sum)). w_soft is folded into alpha and beta by the host.
// A label outside [0, C) makes the row's loss NaN (the host checks labels before this).
//
// Uniformity: rows past the batch skip loads and stores but reach every barrier.

@group(0) @binding(0) var<uniform> params: DkdParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn dkd_rows(
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
    var valid = false;
    if in_batch {
        target_class = labels[params.row_offset + row];
        valid = target_class < cols;
        target_class = min(target_class, cols - 1u);
    }

    // `HARD_TERM` (prepended by the family, dkd/kernels.rs) equals params.hard != 0.
    let hard = HARD_TERM;
    let hard_apart = hard && inv_t != 1.0;

    // Online softmax statistics over the non-target classes, student (.xy) and teacher (.zw);
    // the raw student row's when the hard term needs them apart.
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var raw = vec2<f32>(NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = load_student(base + c);
            if c != target_class {
                stats = vec4<f32>(
                    lse_push(stats.xy, z * inv_t),
                    lse_push(stats.zw, load_teacher(base + c) * inv_t),
                );
            }
            if hard_apart {
                raw = lse_push(raw, z);
            }
        }
    }
    let others = seg_softmax2(lid, stats);
    if hard_apart {
        raw = seg_softmax2(lid, vec4<f32>(raw, NEG_BIG, 0.0)).xy;
    }

    var xg = vec2<f32>(0.0);
    var zg = 0.0;
    if in_batch {
        zg = load_student(base + target_class);
        xg = vec2<f32>(zg, load_teacher(base + target_class)) * inv_t;
    }
    let full = hard_stats(others, zg, raw);
    let inv_full = 1.0 / full.y;
    let split = target_split(others, xg);
    let tc_grad = params.grad_scale * (split.ps_g - split.pt_g);
    let inv_others = 1.0 / others.yw;
    let log_ratio = log(others.w / others.y);

    var nckd = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            var hard_grad = 0.0;
            if hard && write_grad {
                let q1 = exp_accurate(load_student(base + c) - full.x) * inv_full;
                hard_grad = params.hard_scale * (q1 - select(0.0, 1.0, c == target_class));
            }
            if c == target_class {
                if write_grad {
                    grad[base + c] = params.alpha * tc_grad + hard_grad;
                }
                continue;
            }
            let xs = load_student(base + c) * inv_t - others.x;
            let xt = load_teacher(base + c) * inv_t - others.z;
            let hs = exp_accurate(xs) * inv_others.x;
            let ht = exp_accurate(xt) * inv_others.y;
            nckd += kl_term(ht, hs, (xt - xs) - log_ratio);
            if write_grad {
                grad[base + c] = -params.alpha * tc_grad * hs
                    + params.beta * params.grad_scale * (hs - ht) + hard_grad;
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(nckd, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        var value = params.alpha * split.tckd + params.beta * total;
        if !valid {
            value = bitcast<f32>(0x7fc00000u);
        }
        row_loss[params.row_offset + row] = value;
        if hard {
            row_loss[params.batch_rows + params.row_offset + row] = full.x + log(full.y) - zg;
        }
    }
}
