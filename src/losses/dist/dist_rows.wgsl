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
    let mean = vec2<f32>(params.inv_cols) + d.xy / cols_f;
    let uu = max(d.z - d.x * d.x / cols_f, 0.0);
    let vv = max(d.w - d.y * d.y / cols_f, 0.0);
    let uv = d_st - d.x * d.y / cols_f;
    let constant = vec2<bool>(range.x == -range.z, range.y == -range.w);
    write_row_pearson(row, softmax, CentredRow(mean, uu, vv, uv), constant, range.xy, hard);
}

// A row's means of ys and yt and its centred sums sum u^2, sum v^2, sum uv.
struct CentredRow {
    mean: vec2<f32>,
    uu: f32,
    vv: f32,
    uv: f32,
}

// Writes the row's statistics, its inter term and (with the hard term) its CE. A constant
// student (teacher) row, `constant.x` (`.y`), gets exactly its value `constant_mean` as mean
// and zero spread.
fn write_row_pearson(row: u32, softmax: RowStats, centred: CentredRow, constant: vec2<bool>, constant_mean: vec2<f32>, hard: HardRow) {
    var mean = centred.mean;
    var uu = centred.uu;
    var vv = centred.vv;
    var uv = centred.uv;
    if constant.x {
        mean.x = constant_mean.x;
        uu = 0.0;
        uv = 0.0;
    }
    if constant.y {
        mean.y = constant_mean.y;
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

// ---------------------------------------------------------------------------------------------
// One-read form (`Strategy::dist_row_reads = 1`): the same RowStats and partials from one sweep
// over the row instead of two, so DIST forward+grad reads each input 4 times instead of 5 where
// a row does not fit on chip (row 1, columns 1, gradient 2: `tests/traffic.rs`).
//
// Each lane keeps, for x = z/T of each input, the running max m and, of e = exp(x - m) over its
// classes, the sum S, the mean and the centred sum of squares M2 (Welford), the co-moment of
// e_s and e_t, and the smallest x (a constant row has min = max). A new maximum rescales what
// was kept by r = exp(m_old - m_new): S, mean and co-moment by r (r_s r_t), M2 by r^2. The
// lanes then meet at the row's max (seg_max), sum S, and add their centred sums about a shift
// a near the row's mean by the parallel-axis rule, sum_l (M2_l + n_l (mean_l - a)^2), less
// (sum_l n_l (mean_l - a))^2 / C: every difference is centred, no raw moment is formed
// (README, "Numerics"). With the row's S:
// ys = e / S, so sum u^2 = M2_s / S_s^2, sum v^2 = M2_t / S_t^2, sum uv = C_st / (S_s S_t).
// The hard term's raw sum at T != 1, sum exp(zs - T m_s), is kept and rescaled alike.
// Results equal the two-sweep form's up to rounding (not bitwise).
// ---------------------------------------------------------------------------------------------

struct OnlineRow {
    // Running max of x (student, teacher), and the sums S of exp(x - max).
    max: vec2<f32>,
    sum: vec2<f32>,
    // Welford mean and M2 of e, and the co-moment of (e_s, e_t).
    mean: vec2<f32>,
    m2: vec2<f32>,
    c_st: f32,
    count: f32,
    // Smallest x of each input.
    min_x: vec2<f32>,
    // The hard term's sum of exp(zs - max.x / inv_t) (T != 1 only).
    raw_sum: f32,
}

fn no_online_row() -> OnlineRow {
    return OnlineRow(vec2<f32>(NEG_BIG), vec2<f32>(0.0), vec2<f32>(0.0), vec2<f32>(0.0), 0.0, 0.0, vec2<f32>(-NEG_BIG), 0.0);
}

// `o` with what it kept rescaled to the new max `m` (>= o.max): r = exp(old max - m), exactly
// 1 where the max did not rise.
fn rescaled(o: OnlineRow, m: vec2<f32>, with_raw: bool) -> OnlineRow {
    var out = o;
    let r = exp_accurate2(o.max - m);
    out.max = m;
    out.sum = o.sum * r;
    out.mean = o.mean * r;
    out.m2 = o.m2 * (r * r);
    out.c_st = o.c_st * (r.x * r.y);
    if with_raw {
        out.raw_sum = o.raw_sum * exp_accurate((o.max.x - m.x) / params.inv_t);
    }
    return out;
}

// One class (x = z/T of both inputs, zs the raw student logit) into a lane's moments. One exp
// per input, as in `lse_push`: t = exp(-|x - max|) is the rescaling factor of a new maximum
// (whose own e is 1) or the new element's e.
fn online_push(o: OnlineRow, x: vec2<f32>, zs: f32, with_raw: bool) -> OnlineRow {
    let d = x - o.max;
    let t = exp_accurate2(-abs(d));
    let bigger = d > vec2<f32>(0.0);
    let r = select(vec2<f32>(1.0), t, bigger);
    let e = select(t, vec2<f32>(1.0), bigger);
    var out = o;
    out.max = max(o.max, x);
    out.sum = o.sum * r + e;
    out.count = o.count + 1.0;
    let mean = o.mean * r;
    let delta = e - mean;
    out.mean = mean + delta * (1.0 / out.count);
    let after = e - out.mean;
    out.m2 = o.m2 * (r * r) + delta * after;
    out.c_st = o.c_st * (r.x * r.y) + delta.x * after.y;
    out.min_x = min(o.min_x, x);
    if with_raw {
        let r_raw = exp_accurate((o.max.x - out.max.x) / params.inv_t);
        out.raw_sum = o.raw_sum * r_raw + exp_accurate(zs - out.max.x / params.inv_t);
    }
    return out;
}

// Four classes into a lane's moments: the quad's own mean and centred sums, merged by Chan's
// formula (n_a classes kept, 4 new).
fn online_push4(o: OnlineRow, xs: vec4<f32>, xt: vec4<f32>, zs: vec4<f32>, with_raw: bool) -> OnlineRow {
    var out = rescaled(o, max(o.max, vec2<f32>(max4(xs), max4(xt))), with_raw);
    let es = exp_accurate4(xs - out.max.x);
    let et = exp_accurate4(xt - out.max.y);
    let quad_sum = vec2<f32>(sum4(es), sum4(et));
    let quad_mean = quad_sum * 0.25;
    let ds = es - quad_mean.x;
    let dt = et - quad_mean.y;
    let n = out.count + 4.0;
    let weight = 4.0 / n;
    let cross = out.count * weight;
    let delta = quad_mean - out.mean;
    out.sum += quad_sum;
    out.mean += delta * weight;
    out.m2 += vec2<f32>(sum4(ds * ds), sum4(dt * dt)) + delta * delta * cross;
    out.c_st += sum4(ds * dt) + delta.x * delta.y * cross;
    out.count = n;
    out.min_x = min(out.min_x, vec2<f32>(-max4(-xs), -max4(-xt)));
    if with_raw {
        out.raw_sum += sum4(exp_accurate4(zs - out.max.x / params.inv_t));
    }
    return out;
}

// The lanes' moments merged over the segment (every lane calls it: barriers), and the row's
// statistics written by lane 0. `z_label` is the label's raw logit (read by lane 0 before, with
// the hard term; unused without it).
fn finish_online_row(lid: u32, in_batch: bool, row: u32, o: OnlineRow, z_label: f32) {
    let lane = lid % TPR;
    let range = seg_max(lid, vec4<f32>(o.max, -o.min_x));
    let m = range.xy;
    let kept = rescaled(o, m, params.hard != 0u && params.inv_t != 1.0);
    let sums = seg_sum(lid, vec4<f32>(kept.sum, kept.raw_sum, 0.0));
    // About a shift near the row's mean of e (S / C; the lanes' Welford means need not average
    // to it exactly), then the shifted-data correction: exact for any shift, and the terms
    // are centred differences.
    let cols_f = f32(params.cols);
    let shift = sums.xy / cols_f;
    let dm = kept.mean - shift;
    let about_shift = seg_sum(lid, vec4<f32>(kept.m2 + o.count * dm * dm, kept.c_st + o.count * dm.x * dm.y, 0.0));
    let offset = seg_sum(lid, vec4<f32>(o.count * dm, 0.0, 0.0)).xy;
    if in_batch && lane == 0u {
        let merged = vec4<f32>(m.x, sums.x, m.y, sums.y);
        let softmax = softmax_stats(merged);
        let inv_sum = vec2<f32>(softmax.inv_sum_s, softmax.inv_sum_t);
        let m2 = max(about_shift.xy - offset * offset / cols_f, vec2<f32>(0.0));
        let c_st = about_shift.z - offset.x * offset.y / cols_f;
        let moments = CentredRow(
            (shift + offset / cols_f) * inv_sum,
            m2.x * inv_sum.x * inv_sum.x,
            m2.y * inv_sum.y * inv_sum.y,
            c_st * (inv_sum.x * inv_sum.y),
        );
        var hard = HardRow(0.0, 1.0, 0u, 0.0);
        if params.hard != 0u {
            hard = hard_row(labels[params.row_offset + row], merged, sums.z, z_label);
        }
        // A constant row: every e is exactly 1, so its probability is exactly 1 / S.
        let constant = vec2<bool>(range.x == -range.z, range.y == -range.w);
        write_row_pearson(row, softmax, moments, constant, inv_sum, hard);
    }
}

@compute @workgroup_size(WG)
fn dist_rows_one_read(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let base = row * params.cols;
    let inv_t = params.inv_t;
    var o = no_online_row();
    var z_label = 0.0;
    if in_batch {
        if params.hard != 0u && inv_t != 1.0 {
            for (var c = lane; c < params.cols; c += TPR) {
                let zs = load_student(base + c);
                o = online_push(o, vec2<f32>(zs, load_teacher(base + c)) * inv_t, zs, true);
            }
        } else {
            for (var c = lane; c < params.cols; c += TPR) {
                let zs = load_student(base + c);
                o = online_push(o, vec2<f32>(zs, load_teacher(base + c)) * inv_t, zs, false);
            }
        }
        if params.hard != 0u && lane == 0u {
            z_label = load_student(base + labels[params.row_offset + row]);
        }
    }
    finish_online_row(lid, in_batch, row, o, z_label);
}

// The one-read form four classes per load (rows of a multiple of 4 classes).
@compute @workgroup_size(WG)
fn dist_rows_one_read_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let base = row * quads;
    let inv_t = params.inv_t;
    var o = no_online_row();
    var z_label = 0.0;
    if in_batch {
        if params.hard != 0u && inv_t != 1.0 {
            for (var q = lane; q < quads; q += TPR) {
                let zs = load_student4(base + q);
                o = online_push4(o, zs * inv_t, load_teacher4(base + q) * inv_t, zs, true);
            }
        } else {
            for (var q = lane; q < quads; q += TPR) {
                let zs = load_student4(base + q);
                o = online_push4(o, zs * inv_t, load_teacher4(base + q) * inv_t, zs, false);
            }
        }
        if params.hard != 0u && lane == 0u {
            let label = labels[params.row_offset + row];
            z_label = load_student4(base + label / 4u)[label % 4u];
        }
    }
    finish_online_row(lid, in_batch, row, o, z_label);
}
