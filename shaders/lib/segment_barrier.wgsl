// Segmented reductions with workgroup barriers (the default): a fixed tree in workgroup
// memory. Prepended after reduce.wgsl; lib/segment_subgroup.wgsl defines the same functions
// with subgroup shuffles and gives bitwise the same results.
//
// Uniformity: every function here contains barriers, so it must be called by every lane of the
// workgroup, in workgroup-uniform control flow. The tree loops depend only on TPR (an override
// constant), never on data or on the lane.

// Sum of `x` over the lanes of this segment (all four components at once).
fn seg_sum(lid: u32, x: vec4<f32>) -> vec4<f32> {
    let lane = lid % TPR;
    red[lid] = x;
    workgroupBarrier();
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        if lane < stride {
            red[lid] = red[lid] + red[lid + stride];
        }
        workgroupBarrier();
    }
    let total = red[lid - lane];
    workgroupBarrier();
    return total;
}

// Maximum of `x` over the lanes of this segment (all four components at once).
fn seg_max(lid: u32, x: vec4<f32>) -> vec4<f32> {
    let lane = lid % TPR;
    red[lid] = x;
    workgroupBarrier();
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        if lane < stride {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let total = red[lid - lane];
    workgroupBarrier();
    return total;
}

// Merges two pairs of softmax statistics, (m, s) in .xy and in .zw, over the segment, and
// returns the merged pairs: each row's max and sum of exp(x - max). Not their log-sum-exps:
// the kernels evaluate probabilities as exp(x - max) / sum (README, "Numerics").
fn seg_softmax2(lid: u32, x: vec4<f32>) -> vec4<f32> {
    let lane = lid % TPR;
    red[lid] = x;
    workgroupBarrier();
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        if lane < stride {
            let a = red[lid];
            let b = red[lid + stride];
            red[lid] = vec4<f32>(lse_merge(a.xy, b.xy), lse_merge(a.zw, b.zw));
        }
        workgroupBarrier();
    }
    let total = red[lid - lane];
    workgroupBarrier();
    return total;
}
