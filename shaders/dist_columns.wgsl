// DIST, column moments: the statistics of the intra-class (column) Pearson term run over the
// batch. Numerically stable: each tile of `tile_rows` rows accumulates Welford's running means
// and centred sums per column (one lane per column, one workgroup row per tile);
// dist_merge.wgsl then merges the tiles in tile order with Chan's pairwise formula. Raw moments
// (sum x^2 - n mean^2) are never formed.
//
// Uniformity: no barriers in this file; lanes past C only skip their work.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read_write> moments: array<ColumnMoments>;

@compute @workgroup_size(WG)
fn dist_column_partials(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let col = wid.x * WG + lid;
    let tile = wid.y;
    let cols = params.cols;
    if col >= cols {
        return;
    }
    let first = tile * params.tile_rows;
    let last = min(first + params.tile_rows, params.rows);
    var m = ColumnMoments(0u, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var row = first; row < last; row++) {
        let stats = row_stats[params.row_offset + row];
        let ys = exp(load_student(row * cols + col) * params.inv_t - stats.lse_s);
        let yt = exp(load_teacher(row * cols + col) * params.inv_t - stats.lse_t);
        m.count += 1u;
        let inv_n = 1.0 / f32(m.count);
        let ds = ys - m.mean_s;
        let dt = yt - m.mean_t;
        m.mean_s += ds * inv_n;
        m.mean_t += dt * inv_n;
        m.m2_s += ds * (ys - m.mean_s);
        m.m2_t += dt * (yt - m.mean_t);
        m.c_st += ds * (yt - m.mean_t);
    }
    moments[(params.tile_offset + tile) * cols + col] = m;
}
