// DIST, fused row and column pass for rows that fit in registers (C <= 4 WG): one workgroup
// takes a tile of `tile_rows` consecutive rows, one row at a time over all WG lanes, and reads
// each input element once. Per row it computes what dist_rows.wgsl computes (softmax
// statistics, row means, centred sums, the inter Pearson term, RowStats); and each lane keeps
// Welford's running column moments of its own four columns over the tile's rows in vec4
// registers, written once at the end as the tile's ColumnMoments (what dist_columns.wgsl
// computes). The Welford step divides by the row count, the same for every column: one
// division per row. With the hard-label term, each row's raw statistics, label and CE as
// dist_rows.wgsl writes them (the raw sum folded with the row's Pearson sums).
//
// Uniformity: dispatched with TPR = WG; the tile loop runs a uniform number of rows (from the
// workgroup id and uniform parameters); every lane reaches every barrier in `seg_*` and the
// broadcast of column 0.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read_write> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> moments: array<ColumnMoments>;
@group(0) @binding(6) var<storage, read> labels: array<u32>;

// Column 0's probabilities of the current row, broadcast from lane 0.
var<workgroup> column0: vec2<f32>;

@compute @workgroup_size(WG)
fn dist_tile(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let tile = wid.x + wid.y * params.groups_x;
    let cols = params.cols;
    let first = tile * params.tile_rows;
    let last = min(first + params.tile_rows, params.rows);
    let inv_t = params.inv_t;
    let columns = slot_columns(lid);
    let inside = slots_in_row(columns, cols, true);

    // Welford on differences from the tile's first row (the pivot; see ColumnMoments).
    var pivot_s = vec4<f32>(0.0);
    var pivot_t = vec4<f32>(0.0);
    var mean_s = vec4<f32>(0.0);
    var mean_t = vec4<f32>(0.0);
    var m2_s = vec4<f32>(0.0);
    var m2_t = vec4<f32>(0.0);
    var c_st = vec4<f32>(0.0);
    var count = 0u;

    for (var row = first; row < last; row++) {
        let base = row * cols;
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
        let ys = es * inv_sums.x;
        let yt = et * inv_sums.y;
        // Row means as deviations from column 0 (see dist_rows.wgsl), with column 0's
        // probability as lane 0 holds it, so a constant row gives u = 0 exactly.
        if lid == 0u {
            column0 = vec2<f32>(ys.x, yt.x);
        }
        workgroupBarrier();
        let first_p = column0;
        let dev_s = select(vec4<f32>(0.0), ys - first_p.x, inside);
        let dev_t = select(vec4<f32>(0.0), yt - first_p.y, inside);
        let mean = first_p + seg_sum(lid, vec4<f32>(sum4(dev_s), sum4(dev_t), 0.0, 0.0)).xy * params.inv_cols;
        let u = select(vec4<f32>(0.0), ys - mean.x, inside);
        let v = select(vec4<f32>(0.0), yt - mean.y, inside);
        // The hard term's raw sum apart from the tempered one (T != 1), shifted by m.x·T.
        let raw_max = hard_max(m.x, inv_t);
        var raw_sum = vec4<f32>(0.0);
        if params.hard != 0u && inv_t != 1.0 {
            for (var k = 0u; k < 4u; k++) {
                if inside[k] {
                    raw_sum[k] = exp_accurate(load_student(base + columns[k]) - raw_max);
                }
            }
        }
        let folded = seg_sum(lid, vec4<f32>(dot(u, v), dot(u, u), dot(v, v), sum4(raw_sum)));
        if lid == 0u {
            let norm_u = sqrt(folded.y);
            let norm_v = sqrt(folded.z);
            let n = norm_u * norm_v + 1e-8;
            var k_coef = 0.0;
            if norm_u > 0.0 {
                k_coef = folded.x * norm_v / (norm_u * n * n);
            }
            var stats = RowStats(m.x, m.y, mean.x, mean.y, v_weight(norm_v, n), k_coef, inv_sums.x, inv_sums.y, 0.0, 0.0, 0u);
            if params.hard != 0u {
                let label = labels[params.row_offset + row];
                let raw_total = select(folded.w, total.x, inv_t == 1.0);
                stats.hard_max = raw_max;
                stats.hard_inv_sum = 1.0 / raw_total;
                stats.label = label;
                partials[params.batch_rows + cols + params.row_offset + row] =
                    cross_entropy(raw_max, raw_total, load_student(base + label));
            }
            row_stats[params.row_offset + row] = stats;
            partials[params.row_offset + row] = 1.0 - folded.x / n;
        }
        // Welford over the tile's rows, for the four owned columns at once.
        if row == first {
            pivot_s = ys;
            pivot_t = yt;
        }
        let xs = ys - pivot_s;
        let xt = yt - pivot_t;
        count += 1u;
        let inv_count = 1.0 / f32(count);
        let ds = xs - mean_s;
        let dt = xt - mean_t;
        mean_s += ds * inv_count;
        mean_t += dt * inv_count;
        m2_s += ds * (xs - mean_s);
        m2_t += dt * (xt - mean_t);
        c_st += ds * (xt - mean_t);
    }
    if first < params.rows {
        for (var k = 0u; k < 4u; k++) {
            if inside[k] {
                moments[(params.tile_offset + tile) * cols + columns[k]] =
                    ColumnMoments(count, pivot_s[k], pivot_t[k], mean_s[k], mean_t[k], m2_s[k], m2_t[k], c_st[k]);
            }
        }
    }
}
