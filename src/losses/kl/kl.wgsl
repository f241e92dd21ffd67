// KL divergence with temperature (Hinton KD), per row: the loss term and the student gradient.
//   p = softmax(zt/T), q = softmax(zs/T)
//   row_loss[b] = sum_c p (log p - log q) + q - p   (the q - p sum to 0; README, "Numerics")
//   grad[b, c]  = (T/B) (q - p)                      (written only when params.write_grad != 0)
// The batchmean and T^2 factors are applied by `finish.wgsl`.
//
// Two sweeps over the row: (1) online max / sum-exp of zs/T and zt/T, merged over the segment;
// (2) the per-element terms and the gradient, from p = exp(x - max) / sum.
//
// Uniformity: rows past the batch (`in_batch == false`) skip their loads and stores but still
// reach every barrier in `seg_softmax2` and `seg_sum`; there is no early return.

@group(0) @binding(0) var<uniform> params: KlParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn kl_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let inv_t = params.inv_t;

    let stats = row_softmax2(lid, in_batch, base, cols, inv_t);
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);

    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let xs = load_student(base + c) * inv_t - stats.x;
            let xt = load_teacher(base + c) * inv_t - stats.z;
            let q = exp_accurate(xs) * inv_sums.x;
            let p = exp_accurate(xt) * inv_sums.y;
            kl += kl_term(p, q, (xt - xs) - log_ratio);
            if write_grad {
                grad[base + c] = params.grad_scale * (q - p);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = total;
    }
}

// The cached variant, for rows of at most 4 TPR classes: each lane keeps its four elements
// in a vec4, so each input is read once and exp is evaluated once per element.
//   load z/T, row max; e = exp(z/T - max), sums; then the terms and the gradient from the
//   registers. The same formulas as kl_rows; the sums are folded in another order.
@compute @workgroup_size(WG)
fn kl_rows_cached(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let inv_t = params.inv_t;
    let columns = slot_columns(lane);
    let inside = slots_in_row(columns, cols, in_batch);

    var zs = vec4<f32>(NEG_BIG);
    var zt = vec4<f32>(NEG_BIG);
    for (var k = 0u; k < 4u; k++) {
        if inside[k] {
            zs[k] = load_student(base + columns[k]) * inv_t;
            zt[k] = load_teacher(base + columns[k]) * inv_t;
        }
    }
    let m = seg_max(lid, vec4<f32>(max4(zs), max4(zt), 0.0, 0.0)).xy;
    let es = select(vec4<f32>(0.0), exp_accurate4(zs - m.x), inside);
    let et = select(vec4<f32>(0.0), exp_accurate4(zt - m.y), inside);
    let total = seg_sum(lid, vec4<f32>(sum4(es), sum4(et), 0.0, 0.0)).xy;
    let inv_sums = 1.0 / total;
    let log_ratio = log(total.y / total.x);

    let q = es * inv_sums.x;
    let p = et * inv_sums.y;
    let d = (zt - m.y) - (zs - m.x) - log_ratio;
    let terms = select(vec4<f32>(0.0), kl_term4(p, q, d), inside);
    if in_batch && params.write_grad != 0u {
        let g = params.grad_scale * (q - p);
        for (var k = 0u; k < 4u; k++) {
            if inside[k] {
                grad[base + columns[k]] = g[k];
            }
        }
    }
    let folded = seg_sum(lid, vec4<f32>(sum4(terms), 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = folded;
    }
}
