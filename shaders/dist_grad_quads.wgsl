// DIST, gradient pass, quad form: what dist_grad (dist_grad.wgsl) computes, four consecutive
// classes per load and per store (rows of a multiple of 4 classes):
//   G[b,c]    = row_weight (v_r/N_b - k_b u_r) + col_weight (v_c/N_c - k_c u_c)
//   grad[b,:] = (1/T) ys (G - <G, ys>)
// Sweep 1 folds <G, ys>, sweep 2 writes the gradient; workgroup (0, 0) also folds the loss
// (lib/dist_fold.wgsl).
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

// (ys, G) for quad `q` of the batch, whose first column is `col`.
fn upstream4(q: u32, col: u32, row_s: RowStats) -> Upstream4 {
    let ys = exp(load_student4(q) * params.inv_t - row_s.lse_s);
    let yt = exp(load_teacher4(q) * params.inv_t - row_s.lse_t);
    // The four columns' (mean ys, mean yt, 1/N, k), one component per column.
    let c0 = col_stats[col];
    let c1 = col_stats[col + 1u];
    let c2 = col_stats[col + 2u];
    let c3 = col_stats[col + 3u];
    let mean_s = vec4<f32>(c0.x, c1.x, c2.x, c3.x);
    let mean_t = vec4<f32>(c0.y, c1.y, c2.y, c3.y);
    let inv_n = vec4<f32>(c0.z, c1.z, c2.z, c3.z);
    let k = vec4<f32>(c0.w, c1.w, c2.w, c3.w);
    let d_row = (yt - row_s.mean_t) * row_s.inv_n - row_s.k * (ys - row_s.mean_s);
    let d_col = (yt - mean_t) * inv_n - k * (ys - mean_s);
    return Upstream4(ys, params.row_weight * d_row + params.col_weight * d_col);
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
