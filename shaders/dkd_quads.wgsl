// DKD, quad form: what dkd_rows (dkd.wgsl) computes, four consecutive classes per load and per
// gradient store (rows of a multiple of 4 classes). The target class is excluded exactly: in
// the log-sum-exp over the other classes it enters as -inf (exp gives 0), in the NCKD terms
// its component is dropped, and its gradient is the TCKD one.
//
// Uniformity: rows past the batch skip loads and stores but reach every barrier.

@group(0) @binding(0) var<uniform> params: DkdParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
// The gradient in f32, or in f16/bf16 (`GradQuad` and `encode_grad4` from lib/grad_*x4.wgsl).
@group(0) @binding(5) var<storage, read_write> grad: array<GradQuad>;

@compute @workgroup_size(WG)
fn dkd_rows_quads(
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
    let neg_inf = bitcast<f32>(0xff800000u);
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
        for (var q = lane; q < quads; q += TPR) {
            let is_target = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(target_class);
            let zs = select(load_student4(base + q) * inv_t, vec4<f32>(neg_inf), is_target);
            let zt = select(load_teacher4(base + q) * inv_t, vec4<f32>(neg_inf), is_target);
            stats = vec4<f32>(lse_push4(stats.xy, zs), lse_push4(stats.zw, zt));
        }
    }
    let others = seg_lse2(lid, stats);

    var zs_g = 0.0;
    var zt_g = 0.0;
    if in_batch {
        zs_g = load_student(4u * base + target_class) * inv_t;
        zt_g = load_teacher(4u * base + target_class) * inv_t;
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

    var nckd = vec4<f32>(0.0);
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var q = lane; q < quads; q += TPR) {
            let is_target = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(target_class);
            let log_hs = load_student4(base + q) * inv_t - others.x;
            let log_ht = load_teacher4(base + q) * inv_t - others.y;
            nckd += select(kl_terms4(log_ht, log_hs), vec4<f32>(0.0), is_target);
            if write_grad {
                let hs = exp(log_hs);
                let g = -params.alpha * tc_grad * hs
                    + params.beta * params.grad_scale * (hs - exp(log_ht));
                grad[base + q] = encode_grad4(select(g, vec4<f32>(params.alpha * tc_grad), is_target));
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(nckd), 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        var value = params.alpha * tckd + params.beta * total;
        if !valid {
            value = bitcast<f32>(0x7fc00000u);
        }
        row_loss[params.row_offset + row] = value;
    }
}
