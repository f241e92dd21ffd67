// DIST, row pass: softmax statistics of each row and the inter-class (row) Pearson term.
//   ys = softmax(zs/T), yt = softmax(zt/T); u = ys - mean(ys), v = yt - mean(yt);
//   s = <u, v>; N = |u| |v| + 1e-8; rho = s / N.
// Two sweeps: (1) online softmax statistics (max, sum of exp); (2) sums of the deviations d = y - 1/C and of their
// products, from which the centred sums follow by the shifted-data formula
// sum u^2 = sum d^2 - (sum d)^2 / C. That is stable here because the shift 1/C equals the row
// mean up to rounding (a softmax row sums to 1): no raw moments. The sweep also keeps each
// row's smallest and largest probability: a row whose probabilities are all equal (a constant
// row) gets u = 0 and |u| = 0 exactly, as the definition says, instead of float32 rounding
// noise of 1e-8 (as large as the Pearson eps).
// Writes, per row:
//   row_stats[b] = max and 1/sum of zs/T and zt/T, mean ys, mean yt, 1/N, k with
//                  k = s |v| / (|u| N^2) (0 when |u| = 0): what the column and gradient passes
//                  need to rebuild ys, yt and d(rho)/d(ys) = v/N - k u;
//   partials[b]  = 1 - rho (folded by finish.wgsl into the inter term).
// With the hard-label term (params.hard), sweep 2 also sums exp(zs - m) of the raw student row
// (T != 1; at T = 1 it is sweep 1's sum) with m = max(zs/T)·T, and lane 0 writes the row's raw
// statistics and label into RowStats and its CE, log(sum) + m - zs[label], into
// partials[batch_rows + cols + b].
//
// Uniformity: inactive rows skip loads and stores but reach every barrier; no early return.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read_write> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;

// The hard term's raw statistics of a row: max and sum of exp(zs - max), its label and the
// label's raw logit.
struct HardRow {
    max: f32,
    sum: f32,
    label: u32,
    z_label: f32,
}

// The row's Pearson statistics from the sums of sweep 2 (deviations d from 1/C: sum d_s,
// sum d_t, sum d_s^2, sum d_t^2; sum d_s d_t; the ranges), written by one lane per row.
fn write_row_stats(row: u32, softmax: RowStats, d: vec4<f32>, d_st: f32, range: vec4<f32>, hard: HardRow) {
    let cols_f = f32(params.cols);
    // Constant rows: exactly their value and zero spread.
    let constant_s = range.x == -range.z;
    let constant_t = range.y == -range.w;
    var mean = vec2<f32>(params.inv_cols) + d.xy / cols_f;
    var uu = max(d.z - d.x * d.x / cols_f, 0.0);
    var vv = max(d.w - d.y * d.y / cols_f, 0.0);
    var uv = d_st - d.x * d.y / cols_f;
    if constant_s {
        mean.x = range.x;
        uu = 0.0;
        uv = 0.0;
    }
    if constant_t {
        mean.y = range.y;
        vv = 0.0;
        uv = 0.0;
    }
    let norm_u = sqrt(uu);
    let norm_v = sqrt(vv);
    let n = norm_u * norm_v + 1e-8;
    var k = 0.0;
    if norm_u > 0.0 {
        k = uv * norm_v / (norm_u * n * n);
    }
    var stats = softmax;
    stats.mean_s = mean.x;
    stats.mean_t = mean.y;
    stats.inv_n = v_weight(norm_v, n);
    stats.k = k;
    if params.hard != 0u {
        stats.hard_max = hard.max;
        stats.hard_inv_sum = 1.0 / hard.sum;
        stats.label = hard.label;
        partials[params.batch_rows + params.cols + params.row_offset + row] = cross_entropy(hard.max, hard.sum, hard.z_label);
    }
    row_stats[params.row_offset + row] = stats;
    partials[params.row_offset + row] = 1.0 - uv / n;
}

// The row's HardRow (its label, the label's raw logit `z_label`) from the raw sum `apart` of
// sweep 2, or sweep 1's sum at T = 1.
fn hard_row(label: u32, merged: vec4<f32>, apart: f32, z_label: f32) -> HardRow {
    let sum = select(apart, merged.y, params.inv_t == 1.0);
    return HardRow(hard_max(merged.x, params.inv_t), sum, label, z_label);
}

// RowStats holding a row's softmax statistics (max, sum) of zs/T (.xy) and zt/T (.zw); the
// Pearson fields are filled by `write_row_stats`.
fn softmax_stats(merged: vec4<f32>) -> RowStats {
    return RowStats(merged.x, merged.z, 0.0, 0.0, 0.0, 0.0, 1.0 / merged.y, 1.0 / merged.w, 0.0, 0.0, 0u);
}

// Sweep 2's sums over one lane's classes of a row: (sum d_s, sum d_t, sum d_s^2, sum d_t^2),
// sum d_s d_t, the ranges, and with `with_raw` the hard term's raw sum of exp(zs - raw_max).
// Called with a literal `with_raw` under a uniform branch, so that each call site compiles to
// its own loop (a branch inside the loop costs llvmpipe 6 instructions per element).
struct Deviations {
    sums: vec4<f32>,
    cross: f32,
    raw_sum: f32,
    ranges: vec4<f32>,
}

fn deviations(base: u32, lane: u32, softmax: RowStats, raw_max: f32, with_raw: bool) -> Deviations {
    var out = Deviations(vec4<f32>(0.0), 0.0, 0.0, vec4<f32>(NEG_BIG));
    for (var c = lane; c < params.cols; c += TPR) {
        let zs = load_student(base + c);
        let y = softmax_at(zs * params.inv_t, load_teacher(base + c) * params.inv_t, softmax);
        let ds = y.x - params.inv_cols;
        let dt = y.y - params.inv_cols;
        out.sums += vec4<f32>(ds, dt, ds * ds, dt * dt);
        out.cross += ds * dt;
        out.ranges = max(out.ranges, vec4<f32>(y, -y));
        if with_raw {
            out.raw_sum += exp_accurate(zs - raw_max);
        }
    }
    return out;
}

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

    let merged = row_softmax2(lid, in_batch, base, cols, inv_t);
    let softmax = softmax_stats(merged);
    // The hard term's raw sum, apart from sweep 1's when T != 1.
    let hard_apart = params.hard != 0u && inv_t != 1.0;
    let raw_max = hard_max(merged.x, inv_t);

    // Deviations from 1/C: (sum d_s, sum d_t, sum d_s^2, sum d_t^2), sum d_s d_t, and ranges.
    var dev = Deviations(vec4<f32>(0.0), 0.0, 0.0, vec4<f32>(NEG_BIG));
    if in_batch {
        if hard_apart {
            dev = deviations(base, lane, softmax, raw_max, true);
        } else {
            dev = deviations(base, lane, softmax, raw_max, false);
        }
    }
    let d = seg_sum(lid, dev.sums);
    let folded = seg_sum(lid, vec4<f32>(dev.cross, dev.raw_sum, 0.0, 0.0));
    let range = seg_max(lid, dev.ranges);
    if in_batch && lane == 0u {
        var hard = HardRow(0.0, 1.0, 0u, 0.0);
        if params.hard != 0u {
            let label = labels[params.row_offset + row];
            hard = hard_row(label, merged, folded.y, load_student(base + label));
        }
        write_row_stats(row, softmax, d, folded.x, range, hard);
    }
}

// `deviations` four classes per load: the sums kept per component, folded after the sweep.
struct Deviations4 {
    ds: vec4<f32>,
    dt: vec4<f32>,
    ds2: vec4<f32>,
    dt2: vec4<f32>,
    dst: vec4<f32>,
    raw_sum: vec4<f32>,
    ranges: vec4<f32>,
}

fn deviations4(base: u32, lane: u32, softmax: RowStats, raw_max: f32, with_raw: bool) -> Deviations4 {
    var out = Deviations4(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(NEG_BIG));
    for (var q = lane; q < params.cols / 4u; q += TPR) {
        let zs = load_student4(base + q);
        let y = softmax_at4(zs * params.inv_t, load_teacher4(base + q) * params.inv_t, softmax);
        let ys = y[0];
        let yt = y[1];
        let ds = ys - params.inv_cols;
        let dt = yt - params.inv_cols;
        out.ds += ds;
        out.dt += dt;
        out.ds2 += ds * ds;
        out.dt2 += dt * dt;
        out.dst += ds * dt;
        out.ranges = max(out.ranges, vec4<f32>(max4(ys), max4(yt), max4(-ys), max4(-yt)));
        if with_raw {
            out.raw_sum += exp_accurate4(zs - raw_max);
        }
    }
    return out;
}

// The quad form: the same two sweeps, four consecutive classes per load (rows of a multiple of
// 4 classes); per-lane sums are kept per component and folded once after the sweep.
@compute @workgroup_size(WG)
fn dist_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let base = row * quads;
    let inv_t = params.inv_t;

    let merged = row_softmax2_quads(lid, in_batch, base, quads, inv_t);
    let softmax = softmax_stats(merged);
    let hard_apart = params.hard != 0u && inv_t != 1.0;
    let raw_max = hard_max(merged.x, inv_t);

    var dev = Deviations4(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(NEG_BIG));
    if in_batch {
        if hard_apart {
            dev = deviations4(base, lane, softmax, raw_max, true);
        } else {
            dev = deviations4(base, lane, softmax, raw_max, false);
        }
    }
    let sums = vec4<f32>(sum4(dev.ds), sum4(dev.dt), sum4(dev.ds2), sum4(dev.dt2));
    let d = seg_sum(lid, sums);
    let folded = seg_sum(lid, vec4<f32>(sum4(dev.dst), sum4(dev.raw_sum), 0.0, 0.0));
    let range = seg_max(lid, dev.ranges);
    if in_batch && lane == 0u {
        var hard = HardRow(0.0, 1.0, 0u, 0.0);
        if params.hard != 0u {
            let label = labels[params.row_offset + row];
            hard = hard_row(label, merged, folded.y, load_student4(base + label / 4u)[label % 4u]);
        }
        write_row_stats(row, softmax, d, folded.x, range, hard);
    }
}
