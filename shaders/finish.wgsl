// The last reduction of every loss: one workgroup folds the per-row (and per-column) partial
// terms in a fixed order and writes the scalar loss.
//   loss = scale0 * sum(partials[0 .. n0]) + scale1 * sum(partials[n0 .. n0 + n1])
// Each lane sums a contiguous block sequentially, then the tree in `wg_sum` folds the lanes:
// the order is fixed by n0, n1 alone, so the result is bitwise reproducible.
//
// Uniformity: a single workgroup; the loops depend only on uniform parameters and the lane's
// own bounds; the barriers are all inside `wg_sum`, reached by every lane.

struct FinishParams {
    n0: u32,
    n1: u32,
    _pad0: u32,
    _pad1: u32,
    scale0: f32,
    scale1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> params: FinishParams;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;

fn block_sum(start: u32, count: u32, lid: u32) -> f32 {
    let per_lane = (count + WG - 1u) / WG;
    let begin = min(lid * per_lane, count);
    let end = min(begin + per_lane, count);
    var acc = 0.0;
    for (var i = begin; i < end; i++) {
        acc += partials[start + i];
    }
    return acc;
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    let a = block_sum(0u, params.n0, lid);
    let b = block_sum(params.n0, params.n1, lid);
    let sums = wg_sum(lid, vec4<f32>(a, b, 0.0, 0.0));
    if lid == 0u {
        loss[0] = params.scale0 * sums.x + params.scale1 * sums.y;
    }
}
