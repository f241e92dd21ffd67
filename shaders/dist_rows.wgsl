// DIST, row pass: softmax statistics of each row and the inter-class (row) Pearson term.
//   ys = softmax(zs/T), yt = softmax(zt/T); u = ys - mean(ys), v = yt - mean(yt);
//   s = <u, v>; N = |u| |v| + 1e-8; rho = s / N.
// Three sweeps: (1) online log-sum-exp; (2) the row means, summed as deviations from the row's
// first element so that a constant row gets a mean equal to its elements and u = 0 exactly
// (in float32, ys - 1/C would be rounding noise of 1e-8, as large as the eps); (3) centred sums.
// Writes, per row:
//   row_stats[b] = lse_s, lse_t, mean ys, mean yt, 1/N, k with k = s |v| / (|u| N^2) (0 when
//                  |u| = 0): what the column and gradient passes need to rebuild ys, yt and
//                  d(rho)/d(ys) = v/N - k u;
//   partials[b]  = 1 - rho (folded by finish.wgsl into the inter term).
//
// Uniformity: inactive rows skip loads and stores but reach every barrier; no early return.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read_write> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn dist_rows(
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

    // Row means, as the first element plus the mean deviation from it.
    var first = vec2<f32>(0.0);
    var deviations = vec4<f32>(0.0);
    if in_batch {
        first = vec2<f32>(
            exp(load_student(base) * inv_t - lse.x),
            exp(load_teacher(base) * inv_t - lse.y),
        );
        for (var c = lane; c < cols; c += TPR) {
            let ys = exp(load_student(base + c) * inv_t - lse.x);
            let yt = exp(load_teacher(base + c) * inv_t - lse.y);
            deviations += vec4<f32>(ys - first.x, yt - first.y, 0.0, 0.0);
        }
    }
    let mean = first + seg_sum(lid, deviations).xy * params.inv_cols;

    // (s, |u|^2, |v|^2): centred sums, never raw moments.
    var sums = vec4<f32>(0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let u = exp(load_student(base + c) * inv_t - lse.x) - mean.x;
            let v = exp(load_teacher(base + c) * inv_t - lse.y) - mean.y;
            sums += vec4<f32>(u * v, u * u, v * v, 0.0);
        }
    }
    let total = seg_sum(lid, sums);

    if in_batch && lane == 0u {
        let norm_u = sqrt(total.y);
        let norm_v = sqrt(total.z);
        let n = norm_u * norm_v + 1e-8;
        var k = 0.0;
        if norm_u > 0.0 {
            k = total.x * norm_v / (norm_u * n * n);
        }
        row_stats[params.row_offset + row] = RowStats(lse.x, lse.y, mean.x, mean.y, v_weight(norm_v, n), k, 0.0, 0.0);
        partials[params.row_offset + row] = 1.0 - total.x / n;
    }
}
