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

// The strided slots of the streaming one-class kernels (token.wgsl, token_sparse.wgsl,
// mlkd_rows.wgsl): slot s holds columns c, c + TPR, c + 2 TPR, c + 3 TPR of its group of
// 4 TPR classes. `strided_slot_count` counts the slots whose first class lies inside the row.
fn strided_slot_count(cols: u32) -> u32 {
    let groups = cols / (4u * TPR);
    return groups * TPR + min(cols - groups * 4u * TPR, TPR);
}

fn strided_slot_columns(s: u32) -> vec4<u32> {
    let first = (s / TPR) * 4u * TPR + s % TPR;
    return first + TPR * vec4<u32>(0u, 1u, 2u, 3u);
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
    let t = exp_accurate(-abs(d));
    let bigger = d > 0.0;
    return vec2<f32>(select(acc.x, x, bigger), select(acc.y + t, acc.y * t + 1.0, bigger));
}

// Four more elements into online softmax statistics (the quad kernels): one max, five exps.
fn lse_push4(acc: vec2<f32>, x: vec4<f32>) -> vec2<f32> {
    let m = max(acc.x, max4(x));
    return vec2<f32>(m, acc.y * exp_accurate(acc.x - m) + sum4(exp_accurate4(x - m)));
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp_accurate(a.x - m) + b.y * exp_accurate(b.x - m));
}

// A sum of `count` terms from its two forms, (sum p, sum (p - 1)): both are the same sum, and
// the one smaller in magnitude has the smaller rounding. Terms near 1 (DIST's 1 - rho where
// rho ~ 0: a student at initialisation) then add as their small deviations from 1, where
// summing the terms themselves would round at the magnitude of the count.
fn exact_sum(sums: vec2<f32>, count: u32) -> f32 {
    return select(sums.x, f32(count) + sums.y, abs(sums.y) < abs(sums.x));
}

// e^x to about one ulp, the same on every driver (Vulkan lets exp err by 3 + 2|x| ulp, and a
// driver's error pattern is smooth in x: it would bend a near-uniform softmax). For x <= 88
// (the softmax's arguments are <= 0). Cody-Waite reduction x = k ln2 + r (ln2 split so that
// k * LN2_HI is exact for |k| < 128), e^r on |r| <= ln2 / 2 by the Taylor series to r^7 with
// its r^7 term economised into lower powers (Chebyshev): degree 6, relative error below 7e-9;
// then times 2^k built from its exponent bits. Below -87 (where e^x leaves the normal range)
// the result is 0, also for -inf, chosen by a select on x after the fact: a NaN fails the test
// and stays NaN, so that a NaN logit still makes its row's loss NaN (a max or clamp of x
// itself may drop a NaN, and compilers fold `x != x` away).
fn exp_accurate(x: f32) -> f32 {
    let k = round(x * 1.4426950408889634);
    let r = (x - k * 0.693145751953125) - k * 1.4286068203094173e-6;
    var p = 1.0 / 720.0;
    p = 0.008375039324124844 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 0.16666416194554487 + r * p;
    p = 0.5 + r * p;
    p = 1.0000000376062754 + r * p;
    p = 1.0 + r * p;
    let two_k = bitcast<f32>(u32(i32(k) + 127) << 23u);
    return select(p * two_k, 0.0, x < -87.0);
}

fn exp_accurate2(x: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(exp_accurate(x.x), exp_accurate(x.y));
}

fn exp_accurate4(x: vec4<f32>) -> vec4<f32> {
    return exp_from_parts4(x, exp_parts4(x));
}

// e^x = two_k (1 + s): exp_accurate4's reduction and polynomial short of their last add, so
// that a caller can also square 1 + s with one rounding (exp_twice4). For x >= -87.
struct ExpParts4 {
    two_k: vec4<f32>,
    s: vec4<f32>,
}

fn exp_parts4(x: vec4<f32>) -> ExpParts4 {
    let k = round(x * 1.4426950408889634);
    let r = (x - k * 0.693145751953125) - k * 1.4286068203094173e-6;
    var p = vec4<f32>(1.0 / 720.0);
    p = 0.008375039324124844 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 0.16666416194554487 + r * p;
    p = 0.5 + r * p;
    p = 1.0000000376062754 + r * p;
    let two_k = bitcast<vec4<f32>>(vec4<u32>(vec4<i32>(k) + 127) << vec4<u32>(23u));
    return ExpParts4(two_k, r * p);
}

// e^x from x's parts, 0 below -87 as exp_accurate.
fn exp_from_parts4(x: vec4<f32>, e: ExpParts4) -> vec4<f32> {
    return select((1.0 + e.s) * e.two_k, vec4<f32>(0.0), x < vec4<f32>(-87.0));
}

// e^(2x) from x's parts: (1 + s)^2 = 1 + s (2 + s), rounded once at the end, then times
// 2^(2k) (exact). About 0.47 ulp rms against 0.34 for exp_accurate4(2x), where squaring
// exp_accurate4(x) gave 0.75 (errors doubled). 0 where x < -87 (as exp_accurate4(x)); for x
// in [-87, -43.5] 2^(2k) underflows, to 0 or a subnormal, where e^(2x) < 2^-125.
fn exp_twice4(x: vec4<f32>, e: ExpParts4) -> vec4<f32> {
    let square = 1.0 + e.s * (2.0 + e.s);
    return select(square * (e.two_k * e.two_k), vec4<f32>(0.0), x < vec4<f32>(-87.0));
}
