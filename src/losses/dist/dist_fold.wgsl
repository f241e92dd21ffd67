// The loss fold done by the first workgroup of dist_grad and dist_grad_quads (prepended after
// dist_common.wgsl to both; each declares `params`, `partials` and `loss`):
//   loss = -row_weight * sum(partials[0..B]) - col_weight * sum(partials[B..B+C])
//          [+ hard_scale * sum(partials[B+C..2B+C]), the CE of each row, with the hard term].
//
// Uniformity: the fold depends only on the workgroup id and uniform parameters, so its
// barriers (in `wg_sum`) are in workgroup-uniform control flow.

// (sum p, sum (p - 1)) over partials[start .. start + count], a contiguous block per lane
// (what finish.wgsl's `block_sum` computes; `exact_sum` picks the form, reduce.wgsl).
fn partial_sum(start: u32, count: u32, lid: u32) -> vec2<f32> {
    let per_lane = (count + WG - 1u) / WG;
    let begin = min(lid * per_lane, count);
    let end = min(begin + per_lane, count);
    var acc = vec2<f32>(0.0);
    for (var i = begin; i < end; i++) {
        let p = partials[start + i];
        acc += vec2<f32>(p, p - 1.0);
    }
    return acc;
}

// The loss, folded by workgroup (0, 0) only.
fn fold_loss(lid: u32, wid: vec3<u32>) {
    if wid.x == 0u && wid.y == 0u && params.fold_loss != 0u {
        let a = partial_sum(0u, params.rows, lid);
        let b = partial_sum(params.rows, params.cols, lid);
        let sums = wg_sum(lid, vec4<f32>(a, b));
        var loss_value = -params.row_weight * exact_sum(sums.xy, params.rows)
            - params.col_weight * exact_sum(sums.zw, params.cols);
        if params.hard != 0u {
            let c = partial_sum(params.rows + params.cols, params.rows, lid);
            let ce = wg_sum(lid, vec4<f32>(c, 0.0, 0.0));
            loss_value += params.hard_scale * exact_sum(ce.xy, params.rows);
        }
        if lid == 0u {
            loss[0] = loss_value;
        }
    }
}
