// Segmented reductions with subgroup shuffles: the functions of lib/segment_barrier.wgsl with
// the tree's last levels (strides below SG) done by a butterfly of shuffles instead of
// workgroup memory and barriers. Used where the device grants SUBGROUP and a probe
// (subgroup_probe.wgsl) found local_invocation_index laid out linearly over full subgroups of
// at least SG lanes (SG: the smallest subgroup size, a pipeline constant), so that SG
// consecutive lanes of a segment, aligned to SG, are lanes of one subgroup whose invocation
// ids differ in the same low bits.
// - TPR <= SG: the whole tree is a butterfly; no workgroup memory, no barrier.
// - TPR > SG: the strides from TPR/2 down to SG fold through workgroup memory as in the barrier
//   tree, the strides below SG by shuffles within the segment's first SG lanes, and lane 0's
//   total is broadcast through workgroup memory: log2(TPR/SG) + 3 barriers instead of
//   log2(TPR) + 2.
//
// Same results, bit for bit: the butterfly pairs lanes l and l ^ stride, the pairs the barrier
// tree folds (l and l + stride, l < stride), in the same stride order; the lower lane keeps its
// operand first, and the other lanes compute the same commutative sums.
//
// Uniformity: every function here is called where the barrier versions are, in
// workgroup-uniform control flow (every lane of the workgroup, hence of every subgroup); the
// barrier branches depend only on the override constants TPR and SG.

override SG: u32 = 32u;

// The strides below min(TPR, SG), folded by shuffles: stride = lanes/2 down to 1.
fn butterfly_sum(x: vec4<f32>) -> vec4<f32> {
    var v = x;
    for (var stride = min(TPR, SG) / 2u; stride > 0u; stride = stride / 2u) {
        v = v + subgroupShuffleXor(v, stride);
    }
    return v;
}

fn butterfly_max(x: vec4<f32>) -> vec4<f32> {
    var v = x;
    for (var stride = min(TPR, SG) / 2u; stride > 0u; stride = stride / 2u) {
        v = max(v, subgroupShuffleXor(v, stride));
    }
    return v;
}

fn butterfly_lse2(lane: u32, x: vec4<f32>) -> vec4<f32> {
    var v = x;
    for (var stride = min(TPR, SG) / 2u; stride > 0u; stride = stride / 2u) {
        let other = subgroupShuffleXor(v, stride);
        // The lower lane of each pair keeps its own statistics first, as the tree does.
        let low = (lane & stride) == 0u;
        let a = select(other, v, low);
        let b = select(v, other, low);
        v = vec4<f32>(lse_merge(a.xy, b.xy), lse_merge(a.zw, b.zw));
    }
    return v;
}

// Lane 0's value of `v` for every lane of the segment (TPR > SG only).
fn broadcast_first(lid: u32, v: vec4<f32>) -> vec4<f32> {
    let lane = lid % TPR;
    // Each lane last touched only its own slot, so lane 0 may overwrite its own at once.
    if lane == 0u {
        red[lid] = v;
    }
    workgroupBarrier();
    let total = red[lid - lane];
    workgroupBarrier();
    return total;
}

fn seg_sum(lid: u32, x: vec4<f32>) -> vec4<f32> {
    var v = x;
    if TPR > SG {
        let lane = lid % TPR;
        red[lid] = x;
        workgroupBarrier();
        for (var stride = TPR / 2u; stride >= SG; stride = stride / 2u) {
            if lane < stride {
                red[lid] = red[lid] + red[lid + stride];
            }
            workgroupBarrier();
        }
        v = broadcast_first(lid, butterfly_sum(red[lid]));
    } else {
        v = butterfly_sum(x);
    }
    return v;
}

fn seg_max(lid: u32, x: vec4<f32>) -> vec4<f32> {
    var v = x;
    if TPR > SG {
        let lane = lid % TPR;
        red[lid] = x;
        workgroupBarrier();
        for (var stride = TPR / 2u; stride >= SG; stride = stride / 2u) {
            if lane < stride {
                red[lid] = max(red[lid], red[lid + stride]);
            }
            workgroupBarrier();
        }
        v = broadcast_first(lid, butterfly_max(red[lid]));
    } else {
        v = butterfly_max(x);
    }
    return v;
}

fn seg_softmax2(lid: u32, x: vec4<f32>) -> vec4<f32> {
    let lane = lid % TPR;
    var v = x;
    if TPR > SG {
        red[lid] = x;
        workgroupBarrier();
        for (var stride = TPR / 2u; stride >= SG; stride = stride / 2u) {
            if lane < stride {
                let a = red[lid];
                let b = red[lid + stride];
                red[lid] = vec4<f32>(lse_merge(a.xy, b.xy), lse_merge(a.zw, b.zw));
            }
            workgroupBarrier();
        }
        v = broadcast_first(lid, butterfly_lse2(lane, red[lid]));
    } else {
        v = butterfly_lse2(lane, x);
    }
    return v;
}
