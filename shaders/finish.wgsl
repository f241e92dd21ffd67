// The last reduction of every loss: one workgroup folds the per-row (and per-column) partial
// terms in a fixed order and writes the scalar loss.
//   loss = scale0 * sum(partials[0 .. n0]) + scale1 * sum(partials[n0 .. n0 + n1])
//          [+ scale2 * sum(partials[n0 + n1 .. n0 + n1 + n2]) when n2 > 0: DIST's hard term;
//           or, with `second`, that sum written to loss[1] instead: kl's ∂L/∂T]
// Each lane sums a contiguous block sequentially, then the tree in `wg_sum` folds the lanes:
// the order is fixed by n0, n1 alone, so the result is bitwise reproducible. Each sum is taken
// both as sum p and as n + sum (p - 1) (`exact_sum`, reduce.wgsl).
//
// Uniformity: a single workgroup; the loops depend only on uniform parameters and the lane's
// own bounds; the barriers are all inside `wg_sum`, reached by every lane.

struct FinishParams {
    n0: u32,
    n1: u32,
    n2: u32,
    // 1: block 2 is a second output, written to loss[1] (kl's ∂L/∂T), not added.
    second: u32,
    scale0: f32,
    scale1: f32,
    scale2: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> params: FinishParams;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;

// (sum p, sum (p - 1)) over partials[start .. start + count], a contiguous block per lane.
fn block_sum(start: u32, count: u32, lid: u32) -> vec2<f32> {
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

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    let a = block_sum(0u, params.n0, lid);
    let b = block_sum(params.n0, params.n1, lid);
    let sums = wg_sum(lid, vec4<f32>(a, b));
    var total = params.scale0 * exact_sum(sums.xy, params.n0) + params.scale1 * exact_sum(sums.zw, params.n1);
    var second = 0.0;
    if params.n2 > 0u {
        let c = block_sum(params.n0 + params.n1, params.n2, lid);
        let third = params.scale2 * exact_sum(wg_sum(lid, vec4<f32>(c, 0.0, 0.0)).xy, params.n2);
        if params.second != 0u {
            second = third;
        } else {
            total += third;
        }
    }
    if lid == 0u {
        loss[0] = total;
        if params.second != 0u {
            loss[1] = second;
        }
    }
}
