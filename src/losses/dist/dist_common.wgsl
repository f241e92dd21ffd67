// DIST declarations shared by dist_rows, dist_columns, dist_merge and dist_grad (prepended by
// `src/shaders.rs` after reduce.wgsl). `DistParams` mirrors `DistUniform` in src/losses/dist.rs.

struct DistParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    // Rows per column tile (dist_columns.wgsl).
    tile_rows: u32,
    inv_t: f32,
    inv_cols: f32,
    // -T^2 beta / B and -T^2 gamma / C: the weights of d(rho_row) and d(rho_col) in G.
    row_weight: f32,
    col_weight: f32,
    // Rows beyond one binding are processed in chunks: the chunk's first row and first tile
    // in the whole batch (row_stats, partials and moments are batch-indexed).
    row_offset: u32,
    tile_offset: u32,
    // Tiles of the whole batch (the merge folds them all).
    tiles: u32,
    // 1: dist_grad's first workgroup folds the loss (unchunked calls); 0: finish.wgsl does.
    fold_loss: u32,
    // The hard-label term (SPEC, "The hard-label term"): 1 when on; its gradient scale
    // w_hard / B; the rows of the batch `partials` holds (row b's CE is at
    // partials[batch_rows + cols + b], after the inter and intra terms).
    hard: u32,
    hard_scale: f32,
    batch_rows: u32,
    _pad: u32,
}

// Per row, written by dist_rows (or dist_tile): the softmax statistics of zs/T and zt/T (max
// and 1 / sum of exp(x - max)), row means, 1/N and k of the row Pearson. Every pass rebuilds
// the probabilities from them the same way (`softmax_at`).
struct RowStats {
    max_s: f32,
    max_t: f32,
    mean_s: f32,
    mean_t: f32,
    inv_n: f32,
    k: f32,
    inv_sum_s: f32,
    inv_sum_t: f32,
    // The hard term's softmax statistics of the raw student row (T = 1: max and 1 / sum) and
    // the row's label; zeros when the term is off.
    hard_max: f32,
    hard_inv_sum: f32,
    label: u32,
}

// RowStats with every field 0 (rows past the batch).
fn no_row_stats() -> RowStats {
    return RowStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0u);
}

// The hard term's shift of the raw row: the tempered max times T (any shift near the max keeps
// exp(zs - m) in range; at T = 1 it is the max itself).
fn hard_max(max_s: f32, inv_t: f32) -> f32 {
    return max_s / inv_t;
}

// A row's cross-entropy -log_softmax(zs)[label] from its raw statistics (shift, sum of
// exp(zs - shift)) and the label's raw logit.
fn cross_entropy(raw_max: f32, raw_sum: f32, z_label: f32) -> f32 {
    return log(raw_sum) + raw_max - z_label;
}

// The hard term's gradient at class `col` of a row, `scale (softmax(zs)_col - onehot)`, from
// the raw logit `z` and the row's statistics; at T = 1 the softmax is `ys` itself.
fn hard_gradient(z: f32, ys: f32, col: u32, row: RowStats, inv_t: f32, scale: f32) -> f32 {
    var q = ys;
    if inv_t != 1.0 {
        q = exp_accurate(z - row.hard_max) * row.hard_inv_sum;
    }
    return scale * (q - select(0.0, 1.0, col == row.label));
}

// The same for the four classes `col .. col + 4`.
fn hard_gradient4(z: vec4<f32>, ys: vec4<f32>, col: u32, row: RowStats, inv_t: f32, scale: f32) -> vec4<f32> {
    var q = ys;
    if inv_t != 1.0 {
        q = exp_accurate4(z - row.hard_max) * row.hard_inv_sum;
    }
    let is_label = vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(row.label);
    return scale * (q - select(vec4<f32>(0.0), vec4<f32>(1.0), is_label));
}

// (ys, yt) = softmax probabilities from x = z/T: exp(x - max) / sum (README, "Numerics").
fn softmax_at(xs: f32, xt: f32, row: RowStats) -> vec2<f32> {
    return vec2<f32>(exp_accurate(xs - row.max_s) * row.inv_sum_s, exp_accurate(xt - row.max_t) * row.inv_sum_t);
}

fn softmax_at4(xs: vec4<f32>, xt: vec4<f32>, row: RowStats) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(
        exp_accurate4(xs - row.max_s) * row.inv_sum_s,
        exp_accurate4(xt - row.max_t) * row.inv_sum_t,
    );
}

// Sufficient statistics of one column over a set of rows; they merge exactly (Chan). The
// means are kept as a pivot (one of the column's own values) plus the mean of the values'
// differences from it: on a column that barely varies over the batch, y - pivot is exact and
// so is the centred value (y - pivot) - mean, where a mean rounded to f32 would be off by half
// an ulp of y, as much as the column's whole spread (README, "Numerics").
struct ColumnMoments {
    count: u32,
    pivot_s: f32,
    pivot_t: f32,
    mean_s: f32,
    mean_t: f32,
    m2_s: f32,
    m2_t: f32,
    c_st: f32,
}

// Chan's pairwise merge of two sets of column moments (exact in exact arithmetic, stable).
fn chan_merge(a: ColumnMoments, b: ColumnMoments) -> ColumnMoments {
    if b.count == 0u {
        return a;
    }
    if a.count == 0u {
        return b;
    }
    let n = a.count + b.count;
    let fa = f32(a.count);
    let fb = f32(b.count);
    let wb = fb / f32(n);
    let cross = fa * wb;
    // b's mean rebased on a's pivot (pivots are values of the same column: their difference
    // is of the column's spread).
    let ds = ((b.pivot_s - a.pivot_s) + b.mean_s) - a.mean_s;
    let dt = ((b.pivot_t - a.pivot_t) + b.mean_t) - a.mean_t;
    return ColumnMoments(
        n,
        a.pivot_s,
        a.pivot_t,
        a.mean_s + ds * wb,
        a.mean_t + dt * wb,
        a.m2_s + b.m2_s + ds * ds * cross,
        a.m2_t + b.m2_t + dt * dt * cross,
        a.c_st + b.c_st + ds * dt * cross,
    );
}

// The weight of v in d(rho)/d(a) = v / N - k u. When |v| = 0 the centred teacher vector is
// exactly 0 and so is v / N: the weight is 0, so that a v recomputed in another kernel (equal
// up to rounding, of 1e-9) is not multiplied by 1/N (up to 1e8). This is the definition, not a
// clamp: v / N = 0 there.
fn v_weight(norm_v: f32, n: f32) -> f32 {
    return select(0.0, 1.0 / n, norm_v > 0.0);
}
