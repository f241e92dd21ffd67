// Shared WGSL, prepended to every kernel by `src/shaders.rs`.
//
// Strategy: a workgroup of WG lanes is cut into segments of TPR lanes ("threads per row"); each
// segment owns one row (WG / TPR rows per workgroup). TPR is a pipeline-overridable constant, a
// power of two dividing WG: TPR = WG is "one workgroup per row", small TPR is "several rows per
// workgroup" for small C. The reduction operator (sum, or the merge of softmax statistics) is
// separate from that strategy: each `seg_*` function reduces within a segment with a fixed tree.
//
// Uniformity: every `seg_*` function contains barriers, so it must be called by every lane of the
// workgroup, in workgroup-uniform control flow. The tree loops depend only on TPR (an override
// constant), never on data or on the lane.
//
// Determinism: each lane folds its strided elements in increasing index order, then the tree
// folds lanes in a fixed pattern. No atomics: the same input gives the same bits.

const WG: u32 = 256u;
override TPR: u32 = 256u;

// The most negative finite f32: the start of a running max (no -inf literal in WGSL).
const NEG_BIG: f32 = -3.4028235e38;

var<workgroup> red: array<vec4<f32>, WG>;

// Index of the row owned by this lane's segment. Workgroups are laid out in a 2D grid of
// `groups_x` columns so that more than 65535 workgroups can be launched.
fn segment_row(wid: vec3<u32>, groups_x: u32, lid: u32) -> u32 {
    return (wid.x + wid.y * groups_x) * (WG / TPR) + lid / TPR;
}

// Index of this invocation in a 2D grid of `groups_x` workgroups per row of the grid (kernels
// with one invocation per output element).
fn flat_index(gid: vec3<u32>, groups_x: u32) -> u32 {
    return gid.x + gid.y * groups_x * WG;
}

// Sum of `x` over the whole workgroup, whatever TPR is.
fn wg_sum(lid: u32, x: vec4<f32>) -> vec4<f32> {
    red[lid] = x;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if lid < stride {
            red[lid] = red[lid] + red[lid + stride];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

// The cached paths ("one read per input when a row fits on chip") keep a row in registers:
// lane l holds columns l, l + TPR, l + 2 TPR, l + 3 TPR in one vec4 (rows of at most 4 TPR
// classes). A vec4, not an array: drivers keep vectors in registers, while a private array
// indexed in a loop may be placed in local memory (measured 3.5x slower on an H200).

// The columns of the four slots of this lane, and which of them lie inside the row.
fn slot_columns(lane: u32) -> vec4<u32> {
    return vec4<u32>(lane, lane + TPR, lane + 2u * TPR, lane + 3u * TPR);
}

fn slots_in_row(columns: vec4<u32>, cols: u32, in_batch: bool) -> vec4<bool> {
    return (columns < vec4<u32>(cols)) & vec4<bool>(in_batch);
}

fn max4(v: vec4<f32>) -> f32 {
    return max(max(v.x, v.y), max(v.z, v.w));
}

fn sum4(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

// Online softmax statistics: (running max m, sum of exp(x - m)). One exp per element and no
// branch: exp(-|x - m|) is the factor either way (a new maximum rescales the sum by it, an
// element below the maximum adds it), so SIMD lanes taking different sides do not evaluate
// both exps.
fn lse_push(acc: vec2<f32>, x: f32) -> vec2<f32> {
    let d = x - acc.x;
    let t = exp(-abs(d));
    let bigger = d > 0.0;
    return vec2<f32>(select(acc.x, x, bigger), select(acc.y + t, acc.y * t + 1.0, bigger));
}

// Four more elements into online softmax statistics (the quad kernels): one max, five exps.
fn lse_push4(acc: vec2<f32>, x: vec4<f32>) -> vec2<f32> {
    let m = max(acc.x, max4(x));
    return vec2<f32>(m, acc.y * exp(acc.x - m) + sum4(exp(x - m)));
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
