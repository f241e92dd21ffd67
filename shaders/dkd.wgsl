// DKD (decoupled KD), per row: TCKD (binary target / non-target KL) and NCKD (KL over the
// non-target classes), and the student gradient.
//   log ps_g = zs_g/T - LSE(zs/T),  log ps_o = LSE_{c!=g}(zs/T) - LSE(zs/T)  (log space: no
//   underflow of ps_o when the target leads), the same for the teacher;
//   TCKD_b = sum over {g, o} of pt (log pt - log ps);  NCKD_b = sum_{c!=g} p^t (log p^t - log p^s)
//   with p^ = softmax over c != g (the target excluded exactly, not by a -1000 offset);
//   row_loss[b] = alpha TCKD_b + beta NCKD_b   (finish.wgsl applies T^2 / B)
//   grad[b,g] = alpha (T/B)(P - Pt);  grad[b,c] = -alpha (T/B)(P - Pt) p^s_c + beta (T/B)(p^s_c - p^t_c)
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

    // Online LSE over the non-target classes, student (.xy) and teacher (.zw).
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            if c != target_class {
                stats = vec4<f32>(
                    lse_push(stats.xy, load_student(base + c) * inv_t),
                    lse_push(stats.zw, load_teacher(base + c) * inv_t),
                );
            }
        }
    }
    let others = seg_lse2(lid, stats);

    var zs_g = 0.0;
    var zt_g = 0.0;
    if in_batch {
        zs_g = load_student(base + target_class) * inv_t;
        zt_g = load_teacher(base + target_class) * inv_t;
    }
    // Full LSE = logaddexp(LSE over others, target).
    let m_s = max(others.x, zs_g);
    let lse_s = m_s + log(exp(others.x - m_s) + exp(zs_g - m_s));
    let m_t = max(others.y, zt_g);
    let lse_t = m_t + log(exp(others.y - m_t) + exp(zt_g - m_t));
    let log_ps_g = zs_g - lse_s;
    let log_pt_g = zt_g - lse_t;
    let tckd = kl_term(log_pt_g, log_ps_g) + kl_term(others.y - lse_t, others.x - lse_s);
    let tc_grad = params.grad_scale * (exp(log_ps_g) - exp(log_pt_g));

    var nckd = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            if c == target_class {
                if write_grad {
                    grad[base + c] = params.alpha * tc_grad;
                }
                continue;
            }
            let log_hs = load_student(base + c) * inv_t - others.x;
            let log_ht = load_teacher(base + c) * inv_t - others.y;
            nckd += kl_term(log_ht, log_hs);
            if write_grad {
                let hs = exp(log_hs);
                grad[base + c] = -params.alpha * tc_grad * hs
                    + params.beta * params.grad_scale * (hs - exp(log_ht));
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(nckd, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        var value = params.alpha * tckd + params.beta * total;
        if !valid {
            value = bitcast<f32>(0x7fc00000u);
        }
        row_loss[params.row_offset + row] = value;
    }
}
