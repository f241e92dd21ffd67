// DIST, gradient pass, quad form: what dist_grad (dist_grad.wgsl) computes, four consecutive
// classes per load and per store (rows of a multiple of 4 classes):
//   G[b,c]    = row_weight (v_r/N_b - k_b u_r) + col_weight (v_c/N_c - k_c u_c)
//   grad[b,:] = (1/T) ys (G - <G, ys>)
// Sweep 1 folds <G, ys>, sweep 2 writes the gradient; workgroup (0, 0) also folds the loss
// (lib/dist_fold.wgsl).
// Two entry points: `dist_grad_quads` gives each segment of TPR lanes one row;
// `dist_grad_quads_rows4` gives it four consecutive rows, so that each column quad's
// statistics (four vec4 loads) serve four rows instead of one. Per row they compute the same
// expressions in the same order and reduce with one `seg_sum` (one row per component), so the
// two give bitwise the same gradient and loss.
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
    mean_s: vec4<f32>,
    mean_t: vec4<f32>,
    inv_n: vec4<f32>,
    k: vec4<f32>,
}

// Columns `col .. col + 4` of col_stats (mean ys, mean yt, 1/N, k per column), transposed.
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
    );
}

// (ys, G) from one quad's probabilities, its row's statistics and its columns' statistics.
fn upstream(ys: vec4<f32>, yt: vec4<f32>, row_s: RowStats, cs: Columns4) -> Upstream4 {
    let d_row = (yt - row_s.mean_t) * row_s.inv_n - row_s.k * (ys - row_s.mean_s);
    let d_col = (yt - cs.mean_t) * cs.inv_n - cs.k * (ys - cs.mean_s);
    return Upstream4(ys, params.row_weight * d_row + params.col_weight * d_col);
}

// Softmax probabilities of quad `q` of the batch, in the row of `row_s`: (ys, yt).
fn probabilities4(q: u32, row_s: RowStats) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(
        exp(load_student4(q) * params.inv_t - row_s.lse_s),
        exp(load_teacher4(q) * params.inv_t - row_s.lse_t),
    );
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

    var row_s = RowStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
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
        for (var q = lane; q < quads; q += TPR) {
            let u = upstream4(base + q, 4u * q, row_s);
            grad[base + q] = encode_grad4(params.inv_t * u.ys * (u.g - total));
        }
    }
    fold_loss(lid, wid);
}

// Four consecutive rows per segment. Rows past the batch (in the last segment) repeat the
// batch's last row, so the loops stay free of per-row branches, and store nothing.
@compute @workgroup_size(WG)
fn dist_grad_quads_rows4(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let first = 4u * segment_row(wid, params.groups_x, lid);
    let live = first < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let wanted = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let valid = wanted < vec4<u32>(params.rows);
    let rows = min(wanted, vec4<u32>(max(params.rows, 1u) - 1u));
    let base = rows * quads;

    var s0 = RowStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    var s1 = s0;
    var s2 = s0;
    var s3 = s0;
    var d0 = vec4<f32>(0.0);
    var d1 = vec4<f32>(0.0);
    var d2 = vec4<f32>(0.0);
    var d3 = vec4<f32>(0.0);
    if live {
        s0 = row_stats[params.row_offset + rows.x];
        s1 = row_stats[params.row_offset + rows.y];
        s2 = row_stats[params.row_offset + rows.z];
        s3 = row_stats[params.row_offset + rows.w];
        for (var q = lane; q < quads; q += TPR) {
            let cs = columns4(4u * q);
            let u0 = upstream_in(base.x + q, s0, cs);
            let u1 = upstream_in(base.y + q, s1, cs);
            let u2 = upstream_in(base.z + q, s2, cs);
            let u3 = upstream_in(base.w + q, s3, cs);
            d0 += u0.ys * u0.g;
            d1 += u1.ys * u1.g;
            d2 += u2.ys * u2.g;
            d3 += u3.ys * u3.g;
        }
    }
    let totals = seg_sum(lid, vec4<f32>(sum4(d0), sum4(d1), sum4(d2), sum4(d3)));
    if live {
        for (var q = lane; q < quads; q += TPR) {
            let cs = columns4(4u * q);
            let u0 = upstream_in(base.x + q, s0, cs);
            let u1 = upstream_in(base.y + q, s1, cs);
            let u2 = upstream_in(base.z + q, s2, cs);
            let u3 = upstream_in(base.w + q, s3, cs);
            // The first row of an active segment is always in the batch.
            grad[base.x + q] = encode_grad4(params.inv_t * u0.ys * (u0.g - totals.x));
            if valid.y {
                grad[base.y + q] = encode_grad4(params.inv_t * u1.ys * (u1.g - totals.y));
            }
            if valid.z {
                grad[base.z + q] = encode_grad4(params.inv_t * u2.ys * (u2.g - totals.z));
            }
            if valid.w {
                grad[base.w + q] = encode_grad4(params.inv_t * u3.ys * (u3.g - totals.w));
            }
        }
    }
    fold_loss(lid, wid);
}
