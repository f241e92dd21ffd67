// KL divergence with temperature (Hinton KD), per row: the loss term and the student gradient.
//   p = softmax(zt/T), q = softmax(zs/T)
//   row_loss[b] = sum_c p (log p - log q)       (p = 0 contributes 0, never 0 * -inf)
//   grad[b, c]  = (T/B) (q - p)                  (written only when params.write_grad != 0)
// The batchmean and T^2 factors are applied by `finish.wgsl`.
//
// Two sweeps over the row: (1) online max / sum-exp of zs/T and zt/T, merged over the segment;
// (2) the per-element terms and the gradient.
//
// Uniformity: rows past the batch (`in_batch == false`) skip their loads and stores but still
// reach every barrier in `seg_lse2` and `seg_sum`; there is no early return.

struct KlParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // T / B: the gradient's scale.
    grad_scale: f32,
    // First row of this chunk in the whole batch (row_loss is indexed by batch row).
    row_offset: u32,
    _pad1: f32,
}

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

    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            stats = vec4<f32>(
                lse_push(stats.xy, load_student(base + c) * inv_t),
                lse_push(stats.zw, load_teacher(base + c) * inv_t),
            );
        }
    }
    let lse = seg_lse2(lid, stats);

    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let log_q = load_student(base + c) * inv_t - lse.x;
            let log_p = load_teacher(base + c) * inv_t - lse.y;
            let p = exp(log_p);
            if p > 0.0 {
                kl += p * (log_p - log_q);
            }
            if write_grad {
                grad[base + c] = params.grad_scale * (exp(log_q) - p);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = total;
    }
}

// The cached variant, for rows of at most TPR * CACHE classes: each lane keeps its elements in
// registers, so each input is read once and exp is evaluated once per element.
//   sweep 1: load z/T, running max; sweep 2: e = exp(z/T - max), sums; then the terms and the
//   gradient from the registers. Same result as kl_rows up to rounding.
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

    var zs: array<f32, CACHE>;
    var zt: array<f32, CACHE>;
    var high = vec4<f32>(NEG_BIG);
    for (var k = 0u; k < CACHE; k++) {
        let c = lane + k * TPR;
        zs[k] = NEG_BIG;
        zt[k] = NEG_BIG;
        if in_batch && c < cols {
            zs[k] = load_student(base + c) * inv_t;
            zt[k] = load_teacher(base + c) * inv_t;
            high = max(high, vec4<f32>(zs[k], zt[k], 0.0, 0.0));
        }
    }
    let m = seg_max(lid, high).xy;

    var es: array<f32, CACHE>;
    var et: array<f32, CACHE>;
    var sums = vec4<f32>(0.0);
    for (var k = 0u; k < CACHE; k++) {
        es[k] = exp(zs[k] - m.x);
        et[k] = exp(zt[k] - m.y);
        sums += vec4<f32>(es[k], et[k], 0.0, 0.0);
    }
    let total = seg_sum(lid, sums).xy;
    let lse = m + log(total);

    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var k = 0u; k < CACHE; k++) {
            let c = lane + k * TPR;
            if c < cols {
                let p = et[k] / total.y;
                if p > 0.0 {
                    kl += p * ((zt[k] - lse.y) - (zs[k] - lse.x));
                }
                if write_grad {
                    grad[base + c] = params.grad_scale * (es[k] / total.x - p);
                }
            }
        }
    }
    let folded = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = folded;
    }
}
