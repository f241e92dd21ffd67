// DIST, gradient pass, quad form: what dist_grad (dist_grad.wgsl) computes, four consecutive
// classes per load and per store (rows of a multiple of 4 classes):
//   G[b,c]    = row_weight (v_r/N_b - k_b u_r) + col_weight (v_c/N_c - k_c u_c)
//   grad[b,:] = (1/T) ys (G - <G, ys>)  [+ (w_hard / B)(softmax(zs) - onehot) with the hard term]
// Sweep 1 folds <G, ys>, sweep 2 writes the gradient; workgroup (0, 0) also folds the loss
// (lib/dist_fold.wgsl).
// Three entry points: `dist_grad_quads` gives each segment of TPR lanes one row;
// `dist_grad_quads_rows4` and `_rows8` give it four or eight consecutive rows, so that each
// column quad's statistics (four vec4 loads) serve four or eight rows instead of one. Per row
// they compute the same expressions in the same order and reduce with `seg_sum` (one row per
// component), so all three give bitwise the same gradient and loss.
//
// Uniformity: inactive rows skip loads and stores but reach the barriers in `seg_sum`; the
// loss fold depends only on the workgroup id, so its barriers are in uniform control flow.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read> col_stats: array<vec4<f32>>;
// The gradient in f32, or in f16/bf16 (`GradQuad` and `encode_grad4` from lib/grad_*x4.wgsl).
@group(0) @binding(5) var<storage, read_write> grad: array<GradQuad>;
@group(0) @binding(6) var<storage, read> partials: array<f32>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;

// Softmax probabilities and upstream G of four consecutive classes.
struct Upstream4 {
    ys: vec4<f32>,
    g: vec4<f32>,
}

// The column statistics of four consecutive columns, one component per column.
struct Columns4 {
    pivot_s: vec4<f32>,
    pivot_t: vec4<f32>,
    inv_n: vec4<f32>,
    k: vec4<f32>,
    shift: vec4<f32>,
}

// Columns `col .. col + 4` of col_stats (pivot ys, pivot yt, 1/N, k per column, transposed,
// and the four columns' shifts; see dist_merge.wgsl).
fn columns4(col: u32) -> Columns4 {
    let c0 = col_stats[col];
    let c1 = col_stats[col + 1u];
    let c2 = col_stats[col + 2u];
    let c3 = col_stats[col + 3u];
    return Columns4(
        vec4<f32>(c0.x, c1.x, c2.x, c3.x),
        vec4<f32>(c0.y, c1.y, c2.y, c3.y),
        vec4<f32>(c0.z, c1.z, c2.z, c3.z),
        vec4<f32>(c0.w, c1.w, c2.w, c3.w),
        col_stats[params.cols + col / 4u],
    );
}

// (ys, G) from one quad's probabilities, its row's statistics and its columns' statistics.
fn upstream(ys: vec4<f32>, yt: vec4<f32>, row_s: RowStats, cs: Columns4) -> Upstream4 {
    let d_row = (yt - row_s.mean_t) * row_s.inv_n - row_s.k * (ys - row_s.mean_s);
    let d_col = (yt - cs.pivot_t) * cs.inv_n - cs.k * (ys - cs.pivot_s) + cs.shift;
    return Upstream4(ys, params.row_weight * d_row + params.col_weight * d_col);
}

// The gradient of quad `q` (first column `col`) from (ys, G) and the row's <G, ys>, with the
// hard term's part when `hard`. Callers pass a literal `hard` under a uniform branch outside
// their store loop, so that each loop compiles without the branch (inside it, the branch costs
// llvmpipe about 10 instructions per element).
fn gradient4(q: u32, col: u32, u: Upstream4, row_s: RowStats, total: f32, hard: bool) -> vec4<f32> {
    var out = params.inv_t * u.ys * (u.g - total);
    if hard {
        out += hard_gradient4(load_student4(q), u.ys, col, row_s, params.inv_t, params.hard_scale);
    }
    return out;
}

// Sweep 2 of one row: its gradient, quad by quad.
fn store_row(base: u32, lane: u32, row_s: RowStats, total: f32, hard: bool) {
    for (var q = lane; q < params.cols / 4u; q += TPR) {
        let u = upstream4(base + q, 4u * q, row_s);
        grad[base + q] = encode_grad4(gradient4(base + q, 4u * q, u, row_s, total, hard));
    }
}

// Softmax probabilities of quad `q` of the batch, in the row of `row_s`: (ys, yt).
fn probabilities4(q: u32, row_s: RowStats) -> array<vec4<f32>, 2> {
    return softmax_at4(load_student4(q) * params.inv_t, load_teacher4(q) * params.inv_t, row_s);
}

// (ys, G) for quad `q` of the batch in the row of `row_s`, with its columns' statistics.
fn upstream_in(q: u32, row_s: RowStats, cs: Columns4) -> Upstream4 {
    let y = probabilities4(q, row_s);
    return upstream(y[0], y[1], row_s, cs);
}

// (ys, G) for quad `q` of the batch, whose first column is `col` (the inputs loaded first).
fn upstream4(q: u32, col: u32, row_s: RowStats) -> Upstream4 {
    let y = probabilities4(q, row_s);
    return upstream(y[0], y[1], row_s, columns4(col));
}

@compute @workgroup_size(WG)
fn dist_grad_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let base = row * quads;

    var row_s = no_row_stats();
    var dots = vec4<f32>(0.0);
    if in_batch {
        row_s = row_stats[params.row_offset + row];
        for (var q = lane; q < quads; q += TPR) {
            let u = upstream4(base + q, 4u * q, row_s);
            dots += u.ys * u.g;
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(dots), 0.0, 0.0, 0.0)).x;
    if in_batch {
        if params.hard != 0u {
            store_row(base, lane, row_s, total, true);
        } else {
            store_row(base, lane, row_s, total, false);
        }
    }
    fold_loss(lid, wid);
}

// Four consecutive rows of a segment, clamped into the batch: rows past it (in the last
// segment) repeat the batch's last row, so the loops stay free of per-row branches, and store
// nothing.
struct RowBlock {
    s0: RowStats,
    s1: RowStats,
    s2: RowStats,
    s3: RowStats,
    // Each row's first quad in the batch.
    base: vec4<u32>,
    valid: vec4<bool>,
}

fn row_block(first: u32, quads: u32) -> RowBlock {
    let wanted = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let rows = min(wanted, vec4<u32>(max(params.rows, 1u) - 1u));
    let at = vec4<u32>(params.row_offset) + rows;
    return RowBlock(
        row_stats[at.x],
        row_stats[at.y],
        row_stats[at.z],
        row_stats[at.w],
        rows * quads,
        wanted < vec4<u32>(params.rows),
    );
}

// The block's ys * G at quad `q`, one column per row.
fn block_dots(q: u32, b: RowBlock, cs: Columns4) -> mat4x4<f32> {
    let u0 = upstream_in(b.base.x + q, b.s0, cs);
    let u1 = upstream_in(b.base.y + q, b.s1, cs);
    let u2 = upstream_in(b.base.z + q, b.s2, cs);
    let u3 = upstream_in(b.base.w + q, b.s3, cs);
    return mat4x4<f32>(u0.ys * u0.g, u1.ys * u1.g, u2.ys * u2.g, u3.ys * u3.g);
}

// Each row's lane sum of its dots.
fn block_sums(d: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>(sum4(d[0]), sum4(d[1]), sum4(d[2]), sum4(d[3]));
}

// Stores the block's gradient at quad `q`, given each row's <G, ys> (`hard`: see gradient4).
fn block_store(q: u32, b: RowBlock, cs: Columns4, totals: vec4<f32>, hard: bool) {
    let u0 = upstream_in(b.base.x + q, b.s0, cs);
    let u1 = upstream_in(b.base.y + q, b.s1, cs);
    let u2 = upstream_in(b.base.z + q, b.s2, cs);
    let u3 = upstream_in(b.base.w + q, b.s3, cs);
    if b.valid.x {
        grad[b.base.x + q] = encode_grad4(gradient4(b.base.x + q, 4u * q, u0, b.s0, totals.x, hard));
    }
    if b.valid.y {
        grad[b.base.y + q] = encode_grad4(gradient4(b.base.y + q, 4u * q, u1, b.s1, totals.y, hard));
    }
    if b.valid.z {
        grad[b.base.z + q] = encode_grad4(gradient4(b.base.z + q, 4u * q, u2, b.s2, totals.z, hard));
    }
    if b.valid.w {
        grad[b.base.w + q] = encode_grad4(gradient4(b.base.w + q, 4u * q, u3, b.s3, totals.w, hard));
    }
}

// Sweep 2 of one or two blocks (`count`) of four rows: their gradient, quad by quad.
fn store_blocks(lane: u32, low: RowBlock, totals_low: vec4<f32>, high: RowBlock, totals_high: vec4<f32>, count: u32, hard: bool) {
    for (var q = lane; q < params.cols / 4u; q += TPR) {
        let cs = columns4(4u * q);
        block_store(q, low, cs, totals_low, hard);
        if count == 2u {
            block_store(q, high, cs, totals_high, hard);
        }
    }
}

// Four rows per segment.
@compute @workgroup_size(WG)
fn dist_grad_quads_rows4(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let first = 4u * segment_row(wid, params.groups_x, lid);
    let live = first < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let block = row_block(first, quads);
    var dots = mat4x4<f32>();
    if live {
        for (var q = lane; q < quads; q += TPR) {
            dots += block_dots(q, block, columns4(4u * q));
        }
    }
    let totals = seg_sum(lid, block_sums(dots));
    if live {
        if params.hard != 0u {
            store_blocks(lane, block, totals, block, totals, 1u, true);
        } else {
            store_blocks(lane, block, totals, block, totals, 1u, false);
        }
    }
    fold_loss(lid, wid);
}

// Eight rows per segment: two blocks sharing each column quad's statistics.
@compute @workgroup_size(WG)
fn dist_grad_quads_rows8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let first = 8u * segment_row(wid, params.groups_x, lid);
    let live = first < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let low = row_block(first, quads);
    let high = row_block(first + 4u, quads);
    var dots_low = mat4x4<f32>();
    var dots_high = mat4x4<f32>();
    if live {
        for (var q = lane; q < quads; q += TPR) {
            let cs = columns4(4u * q);
            dots_low += block_dots(q, low, cs);
            dots_high += block_dots(q, high, cs);
        }
    }
    let totals_low = seg_sum(lid, block_sums(dots_low));
    let totals_high = seg_sum(lid, block_sums(dots_high));
    if live {
        if params.hard != 0u {
            store_blocks(lane, low, totals_low, high, totals_high, 2u, true);
        } else {
            store_blocks(lane, low, totals_low, high, totals_high, 2u, false);
        }
    }
    fold_loss(lid, wid);
}
