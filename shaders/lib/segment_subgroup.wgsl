// Segmented reductions with subgroup shuffles: the functions of lib/segment_barrier.wgsl for
// segments that lie inside one subgroup (TPR at most the subgroup size), with no workgroup
// memory and no barrier. Used where the device grants SUBGROUP and a probe (subgroup_probe.wgsl)
// found local_invocation_index laid out linearly over full subgroups, so that the TPR lanes of
// a segment are lanes of one subgroup whose invocation ids differ in the same low bits.
//
// Same results, bit for bit: the butterfly pairs lanes l and l ^ stride for stride = TPR/2 down
// to 1, the pairs the barrier tree folds (l and l + stride, l < stride); the lower lane keeps
// its operand first, and the other lanes compute the same commutative sums.
//
// Uniformity: subgroup operations are called where the barrier versions are, in
// workgroup-uniform control flow (every lane of the workgroup, hence of every subgroup).

fn seg_sum(lid: u32, x: vec4<f32>) -> vec4<f32> {
    var v = x;
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        v = v + subgroupShuffleXor(v, stride);
    }
    return v;
}

fn seg_max(lid: u32, x: vec4<f32>) -> vec4<f32> {
    var v = x;
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        v = max(v, subgroupShuffleXor(v, stride));
    }
    return v;
}

fn seg_lse2(lid: u32, x: vec4<f32>) -> vec2<f32> {
    var v = x;
    let lane = lid % TPR;
    for (var stride = TPR / 2u; stride > 0u; stride = stride / 2u) {
        let other = subgroupShuffleXor(v, stride);
        // The lower lane of each pair keeps its own statistics first, as the tree does.
        let low = (lane & stride) == 0u;
        let a = select(other, v, low);
        let b = select(v, other, low);
        v = vec4<f32>(lse_merge(a.xy, b.xy), lse_merge(a.zw, b.zw));
    }
    return vec2<f32>(v.x + log(v.y), v.z + log(v.w));
}
