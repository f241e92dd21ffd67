// DIST, gradient pass: combines the row and column Pearson derivatives and backs them through
// the softmax, per row:
//   G[b,c]  = row_weight (v_r/N_b - k_b u_r) + col_weight (v_c/N_c - k_c u_c)
//             with u_r = ys - mean_c ys[b,:], v_r likewise, u_c = ys - mean_b ys[:,c], v_c likewise
//             (the column terms from the pivots and their shift, see dist_merge.wgsl);
//             row_weight = -T^2 beta / B, col_weight = -T^2 gamma / C
//   grad[b,:] = (1/T) ys (G - <G, ys>)  [+ (w_hard / B)(softmax(zs) - onehot) with the hard term]
// dist_grad streams the row twice (sweep 1 folds <G, ys>, sweep 2 writes the gradient);
// dist_grad_cached keeps the row in registers (rows of at most 4 TPR classes) and reads
// each input once. Workgroup (0, 0) of either also folds the loss from the per-row and
// per-column terms (what finish.wgsl does), which saves the finishing dispatch:
//   loss = -row_weight * sum(partials[0..B]) - col_weight * sum(partials[B..B+C]).
//
// Uniformity: inactive rows skip loads and stores but reach the barriers in `seg_sum`; the
// loss fold depends only on the workgroup id, so its barriers are in uniform control flow.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(3) var<storage, read> row_stats: array<RowStats>;
@group(0) @binding(4) var<storage, read> col_stats: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;
@group(0) @binding(6) var<storage, read> partials: array<f32>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;

// Returns (ys, G) for element (row, col).
fn upstream(idx: u32, col: u32, row_s: RowStats) -> vec2<f32> {
    let y = softmax_at(load_student(idx) * params.inv_t, load_teacher(idx) * params.inv_t, row_s);
    let ys = y.x;
    let yt = y.y;
    let col_s = col_stats[col];
    let col_shift = col_stats[params.cols + col / 4u][col % 4u];
    let d_row = (yt - row_s.mean_t) * row_s.inv_n - row_s.k * (ys - row_s.mean_s);
    let d_col = (yt - col_s.y) * col_s.z - col_s.w * (ys - col_s.x) + col_shift;
    return vec2<f32>(ys, params.row_weight * d_row + params.col_weight * d_col);
}

// Sweep 2 of one row: its gradient, with the hard term's part when `hard` (a literal under a
// uniform branch outside the loop: inside it, the branch costs llvmpipe instructions per
// element).
fn store_row(base: u32, lane: u32, row_s: RowStats, total: f32, hard: bool) {
    for (var c = lane; c < params.cols; c += TPR) {
        let yg = upstream(base + c, c, row_s);
        var out = params.inv_t * yg.x * (yg.y - total);
        if hard {
            out += hard_gradient(load_student(base + c), yg.x, c, row_s, params.inv_t, params.hard_scale);
        }
        grad[base + c] = out;
    }
}

@compute @workgroup_size(WG)
fn dist_grad(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;

    var row_s = no_row_stats();
    var dot = 0.0;
    if in_batch {
        row_s = row_stats[params.row_offset + row];
        for (var c = lane; c < cols; c += TPR) {
            let yg = upstream(base + c, c, row_s);
            dot += yg.x * yg.y;
        }
    }
    let total = seg_sum(lid, vec4<f32>(dot, 0.0, 0.0, 0.0)).x;
    if in_batch {
        if params.hard != 0u {
            store_row(base, lane, row_s, total, true);
        } else {
            store_row(base, lane, row_s, total, false);
        }
    }
    fold_loss(lid, wid);
}

@compute @workgroup_size(WG)
fn dist_grad_cached(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let columns = slot_columns(lane);
    let inside = slots_in_row(columns, cols, in_batch);

    var ys = vec4<f32>(0.0);
    var g = vec4<f32>(0.0);
    var row_s = no_row_stats();
    if in_batch {
        row_s = row_stats[params.row_offset + row];
        for (var k = 0u; k < 4u; k++) {
            if inside[k] {
                let yg = upstream(base + columns[k], columns[k], row_s);
                ys[k] = yg.x;
                g[k] = yg.y;
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(dot(ys, g), 0.0, 0.0, 0.0)).x;
    if in_batch {
        let out = params.inv_t * ys * (g - total);
        for (var k = 0u; k < 4u; k++) {
            if inside[k] {
                var value = out[k];
                if params.hard != 0u {
                    let z = load_student(base + columns[k]);
                    value += hard_gradient(z, ys[k], columns[k], row_s, params.inv_t, params.hard_scale);
                }
                grad[base + columns[k]] = value;
            }
        }
    }
    fold_loss(lid, wid);
}
