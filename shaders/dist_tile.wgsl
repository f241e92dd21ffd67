// DIST, fused row and column pass for rows that fit in registers (C <= WG * TILE_CACHE): one
// workgroup takes a tile of `tile_rows` consecutive rows, one row at a time over all WG lanes,
// and reads each input element once. Per row it computes what dist_rows.wgsl computes (softmax
// statistics, row means, centred sums, the inter Pearson term, RowStats); and each lane keeps
// Welford's running column moments of its own columns over the tile's rows in registers,
// written once at the end as the tile's ColumnMoments (what dist_columns.wgsl computes).
// The Welford step divides by the row count, the same for every column: one division per row.
//
// Uniformity: dispatched with TPR = WG; the tile loop runs a uniform number of rows (from the
// workgroup id and uniform parameters); every lane reaches every barrier in `seg_*`.

const TILE_CACHE: u32 = 8u;

// Column 0's probabilities of the current row, broadcast from lane 0.
var<workgroup> column0: vec2<f32>;

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read_write> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> moments: array<ColumnMoments>;

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

    var mean_s: array<f32, TILE_CACHE>;
    var mean_t: array<f32, TILE_CACHE>;
    var m2_s: array<f32, TILE_CACHE>;
    var m2_t: array<f32, TILE_CACHE>;
    var c_st: array<f32, TILE_CACHE>;
    for (var k = 0u; k < TILE_CACHE; k++) {
        mean_s[k] = 0.0;
        mean_t[k] = 0.0;
        m2_s[k] = 0.0;
        m2_t[k] = 0.0;
        c_st[k] = 0.0;
    }
    var count = 0u;

    for (var row = first; row < last; row++) {
        let base = row * cols;
        var zs: array<f32, TILE_CACHE>;
        var zt: array<f32, TILE_CACHE>;
        var high = vec4<f32>(NEG_BIG);
        for (var k = 0u; k < TILE_CACHE; k++) {
            let c = lid + k * WG;
            zs[k] = NEG_BIG;
            zt[k] = NEG_BIG;
            if c < cols {
                zs[k] = load_student(base + c) * inv_t;
                zt[k] = load_teacher(base + c) * inv_t;
                high = max(high, vec4<f32>(zs[k], zt[k], 0.0, 0.0));
            }
        }
        let m = seg_max(lid, high).xy;
        var sums = vec4<f32>(0.0);
        for (var k = 0u; k < TILE_CACHE; k++) {
            zs[k] = exp(zs[k] - m.x);
            zt[k] = exp(zt[k] - m.y);
            sums += vec4<f32>(zs[k], zt[k], 0.0, 0.0);
        }
        let total = seg_sum(lid, sums).xy;
        let lse = m + log(total);
        // Probabilities, and the row means as deviations from column 0 (see dist_rows.wgsl):
        // column 0's probability as lane 0 holds it, so a constant row gives u = 0 exactly.
        for (var k = 0u; k < TILE_CACHE; k++) {
            zs[k] = zs[k] / total.x;
            zt[k] = zt[k] / total.y;
        }
        if lid == 0u {
            column0 = vec2<f32>(zs[0], zt[0]);
        }
        workgroupBarrier();
        let first_p = column0;
        var deviations = vec4<f32>(0.0);
        for (var k = 0u; k < TILE_CACHE; k++) {
            if lid + k * WG < cols {
                deviations += vec4<f32>(zs[k] - first_p.x, zt[k] - first_p.y, 0.0, 0.0);
            }
        }
        let mean = first_p + seg_sum(lid, deviations).xy * params.inv_cols;
        var centred = vec4<f32>(0.0);
        for (var k = 0u; k < TILE_CACHE; k++) {
            if lid + k * WG < cols {
                let u = zs[k] - mean.x;
                let v = zt[k] - mean.y;
                centred += vec4<f32>(u * v, u * u, v * v, 0.0);
            }
        }
        let folded = seg_sum(lid, centred);
        if lid == 0u {
            let norm_u = sqrt(folded.y);
            let norm_v = sqrt(folded.z);
            let n = norm_u * norm_v + 1e-8;
            var k_coef = 0.0;
            if norm_u > 0.0 {
                k_coef = folded.x * norm_v / (norm_u * n * n);
            }
            row_stats[params.row_offset + row] = RowStats(lse.x, lse.y, mean.x, mean.y, v_weight(norm_v, n), k_coef, 0.0, 0.0);
            partials[params.row_offset + row] = 1.0 - folded.x / n;
        }
        // Welford over the tile's rows, per owned column.
        count += 1u;
        let inv_count = 1.0 / f32(count);
        for (var k = 0u; k < TILE_CACHE; k++) {
            let ds = zs[k] - mean_s[k];
            let dt = zt[k] - mean_t[k];
            mean_s[k] += ds * inv_count;
            mean_t[k] += dt * inv_count;
            m2_s[k] += ds * (zs[k] - mean_s[k]);
            m2_t[k] += dt * (zt[k] - mean_t[k]);
            c_st[k] += ds * (zt[k] - mean_t[k]);
        }
    }
    for (var k = 0u; k < TILE_CACHE; k++) {
        let c = lid + k * WG;
        if c < cols && first < params.rows {
            moments[(params.tile_offset + tile) * cols + c] = ColumnMoments(count, mean_s[k], mean_t[k], m2_s[k], m2_t[k], c_st[k]);
        }
    }
}
