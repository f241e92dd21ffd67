// DIST, column passes: the intra-class (column) Pearson term, whose statistics run over the
// batch. Numerically stable: each tile of `tile_rows` rows accumulates Welford's running means
// and centred sums per column; the tiles are then merged in tile order with Chan's pairwise
// formula. Raw moments (sum x^2 - n mean^2) are never formed.
//
// dist_column_partials: one lane per column, one workgroup row per tile of rows.
// dist_column_merge:    one lane per column; folds the tiles, then writes
//   col_stats[c]      = (mean ys, mean yt, 1/N, k) for the gradient pass,
//   partials[B + c]   = 1 - rho (folded by finish.wgsl into the intra term).
//
// Uniformity: no barriers in this file; lanes past C only skip their work.

struct DistParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    tile_rows: u32,
    inv_t: f32,
    inv_cols: f32,
    row_weight: f32,
    col_weight: f32,
}

// Sufficient statistics of one column over a set of rows; they merge exactly (Chan).
struct ColumnMoments {
    count: u32,
    mean_s: f32,
    mean_t: f32,
    m2_s: f32,
    m2_t: f32,
    c_st: f32,
}

struct RowStats {
    lse_s: f32,
    lse_t: f32,
    mean_s: f32,
    mean_t: f32,
    inv_n: f32,
    k: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
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
        let stats = row_stats[row];
        let ys = exp(student[row * cols + col] * params.inv_t - stats.lse_s);
        let yt = exp(teacher[row * cols + col] * params.inv_t - stats.lse_t);
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
    moments[tile * cols + col] = m;
}
