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

    // `HARD_TERM` (prepended by the family, dkd/kernels.rs) equals params.hard != 0.
    let hard = HARD_TERM;
    let hard_apart = hard && inv_t != 1.0;

    // Online softmax statistics over the non-target classes, student (.xy) and teacher (.zw);
    // the raw student row's when the hard term needs them apart.
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var raw = vec2<f32>(NEG_BIG, 0.0);
    if in_batch {
        for (var q = lane; q < quads; q += TPR) {
            let is_target = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(target_class);
            let z = load_student4(base + q);
            let zs = select(z * inv_t, vec4<f32>(neg_inf), is_target);
            let zt = select(load_teacher4(base + q) * inv_t, vec4<f32>(neg_inf), is_target);
            stats = vec4<f32>(lse_push4(stats.xy, zs), lse_push4(stats.zw, zt));
            if hard_apart {
                raw = lse_push4(raw, z);
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
        let at = 4u * base + target_class;
        zg = load_student(at);
        xg = vec2<f32>(zg, load_teacher(at)) * inv_t;
    }
    let full = hard_stats(others, zg, raw);
    let inv_full = 1.0 / full.y;
    let split = target_split(others, xg);
    let tc_grad = params.grad_scale * (split.ps_g - split.pt_g);
    let inv_others = 1.0 / others.yw;
    let log_ratio = log(others.w / others.y);

    var nckd = vec4<f32>(0.0);
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var q = lane; q < quads; q += TPR) {
            let is_target = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(target_class);
            let xs = load_student4(base + q) * inv_t - others.x;
            let xt = load_teacher4(base + q) * inv_t - others.z;
            let hs = exp_accurate4(xs) * inv_others.x;
            let ht = exp_accurate4(xt) * inv_others.y;
            nckd += select(kl_term4(ht, hs, (xt - xs) - log_ratio), vec4<f32>(0.0), is_target);
            if write_grad {
                let g = -params.alpha * tc_grad * hs
                    + params.beta * params.grad_scale * (hs - ht);
                var hard_grad = vec4<f32>(0.0);
                if hard {
                    let q1 = exp_accurate4(load_student4(base + q) - full.x) * inv_full;
                    hard_grad = params.hard_scale * (q1 - select(vec4<f32>(0.0), vec4<f32>(1.0), is_target));
                }
                grad[base + q] = encode_grad4(select(g, vec4<f32>(params.alpha * tc_grad), is_target) + hard_grad);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(nckd), 0.0, 0.0, 0.0)).x;
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
