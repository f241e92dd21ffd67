// DIST, column merge: folds the per-tile column moments written by `dist_column_partials` in
// tile order with Chan's pairwise formula, then finishes each column's Pearson term:
//   col_stats[c]    = (pivot ys, pivot yt, 1/N, k), N = |u| |v| + 1e-8, k = s |v| / (|u| N^2)
//   col_stats[C + c / 4][c % 4] = k mean_s - mean_t / N (the means relative to the pivots), so
//                     that d(rho)/d(ys) = (yt - pivot_t) / N - k (ys - pivot_s) + that
//   partials[B + c] = 1 - rho
// The same merge combines statistics of row chunks and of shards on other devices.
//
// Uniformity: no barriers in this file; lanes past C return at once.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(1) var<storage, read> moments: array<ColumnMoments>;
@group(0) @binding(2) var<storage, read_write> col_stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn dist_column_merge(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let cols = params.cols;
    if col >= cols {
        return;
    }
    let tiles = params.tiles;
    var m = moments[col];
    for (var tile = 1u; tile < tiles; tile++) {
        m = chan_merge(m, moments[tile * cols + col]);
    }
    let norm_u = sqrt(max(m.m2_s, 0.0));
    let norm_v = sqrt(max(m.m2_t, 0.0));
    let n = norm_u * norm_v + 1e-8;
    var k = 0.0;
    if norm_u > 0.0 {
        k = m.c_st * norm_v / (norm_u * n * n);
    }
    let v_w = v_weight(norm_v, n);
    col_stats[col] = vec4<f32>(m.pivot_s, m.pivot_t, v_w, k);
    col_stats[cols + col / 4u][col % 4u] = k * m.mean_s - v_w * m.mean_t;
    partials[params.rows + col] = 1.0 - m.c_st / n;
}
