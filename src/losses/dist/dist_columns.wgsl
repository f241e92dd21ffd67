// DIST, column moments: the statistics of the intra-class (column) Pearson term run over the
// batch. Numerically stable: each tile of `tile_rows` rows accumulates Welford's running means
// and centred sums per column (one lane per column, one workgroup row per tile) of the values'
// differences from the tile's first value (the pivot; see ColumnMoments);
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
    var m = ColumnMoments(0u, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var row = first; row < last; row++) {
        let stats = row_stats[params.row_offset + row];
        let y = softmax_at(
            load_student(row * cols + col) * params.inv_t,
            load_teacher(row * cols + col) * params.inv_t,
            stats,
        );
        if row == first {
            m.pivot_s = y.x;
            m.pivot_t = y.y;
        }
        let ys = y.x - m.pivot_s;
        let yt = y.y - m.pivot_t;
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

// The quad form: one lane per four consecutive columns (C a multiple of 4), the same Welford
// steps on vec4s (one division per row for all four), four ColumnMoments written at the end.
@compute @workgroup_size(WG)
fn dist_column_partials_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let quad = wid.x * WG + lid;
    let tile = wid.y;
    let cols = params.cols;
    let quads = cols / 4u;
    if quad >= quads {
        return;
    }
    let first = tile * params.tile_rows;
    let last = min(first + params.tile_rows, params.rows);
    var count = 0u;
    var pivot_s = vec4<f32>(0.0);
    var pivot_t = vec4<f32>(0.0);
    var mean_s = vec4<f32>(0.0);
    var mean_t = vec4<f32>(0.0);
    var m2_s = vec4<f32>(0.0);
    var m2_t = vec4<f32>(0.0);
    var c_st = vec4<f32>(0.0);
    for (var row = first; row < last; row++) {
        let stats = row_stats[params.row_offset + row];
        let y = softmax_at4(
            load_student4(row * quads + quad) * params.inv_t,
            load_teacher4(row * quads + quad) * params.inv_t,
            stats,
        );
        if row == first {
            pivot_s = y[0];
            pivot_t = y[1];
        }
        let ys = y[0] - pivot_s;
        let yt = y[1] - pivot_t;
        count += 1u;
        let inv_n = 1.0 / f32(count);
        let ds = ys - mean_s;
        let dt = yt - mean_t;
        mean_s += ds * inv_n;
        mean_t += dt * inv_n;
        m2_s += ds * (ys - mean_s);
        m2_t += dt * (yt - mean_t);
        c_st += ds * (yt - mean_t);
    }
    let out = (params.tile_offset + tile) * cols + 4u * quad;
    for (var k = 0u; k < 4u; k++) {
        moments[out + k] =
            ColumnMoments(count, pivot_s[k], pivot_t[k], mean_s[k], mean_t[k], m2_s[k], m2_t[k], c_st[k]);
    }
}
