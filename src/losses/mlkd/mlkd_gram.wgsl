// One of MLKD's correlation Grams at one temperature, as the difference of teacher and
// student: D[i, j] = sum_k (Pt[k, i] Pt[k, j] - Ps[k, i] Ps[k, j]) over the items i, j (the C
// classes, summing over the batch: PᵀP; or the B rows, summing over the classes: PPᵀ), with
// item i's k-th value at i * item_stride + k * sum_stride of its softmax block. Tiled: each
// 16×16 workgroup computes a 16×16 tile of D from 16×16 tiles of the inputs staged in
// workgroup memory, so each input value is read from memory once per tile row, not per
// output. D is exactly symmetric: D[j, i] multiplies the same values in the same order.
// Each workgroup also writes its tile's sum of D² (a fixed tree: wg_sum) to
// partials[partial_offset + tile]: the loss's term, scaled by finish.wgsl.
//
// Uniformity: every invocation runs the same loop (over params.sum_len) and reaches every
// barrier; out-of-range items load 0.

@group(0) @binding(0) var<uniform> params: CorrParams;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> diff: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const TILE: u32 = 16u;

var<workgroup> student_i: array<f32, 256>;
var<workgroup> student_j: array<f32, 256>;
var<workgroup> teacher_i: array<f32, 256>;
var<workgroup> teacher_j: array<f32, 256>;

// Item `item`'s k-th value in the block at `base` (0 outside the matrix).
fn value_at(base: u32, item: u32, k: u32) -> f32 {
    if item >= params.items || k >= params.sum_len {
        return 0.0;
    }
    return probs[base + item * params.item_stride + k * params.sum_stride];
}

@compute @workgroup_size(16, 16)
fn mlkd_gram(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let i0 = wid.y * TILE;
    let j0 = wid.x * TILE;
    let i = i0 + local.y;
    let j = j0 + local.x;
    var gs = 0.0;
    var gt = 0.0;
    for (var k0 = 0u; k0 < params.sum_len; k0 += TILE) {
        // Thread (y, x) stages the k0 + y-th value of items i0 + x and j0 + x.
        let k = k0 + local.y;
        student_i[lid] = value_at(params.student_base, i0 + local.x, k);
        student_j[lid] = value_at(params.student_base, j0 + local.x, k);
        teacher_i[lid] = value_at(params.teacher_base, i0 + local.x, k);
        teacher_j[lid] = value_at(params.teacher_base, j0 + local.x, k);
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk++) {
            gs += student_i[kk * TILE + local.y] * student_j[kk * TILE + local.x];
            gt += teacher_i[kk * TILE + local.y] * teacher_j[kk * TILE + local.x];
        }
        workgroupBarrier();
    }
    var square = 0.0;
    if i < params.items && j < params.items {
        let d = gt - gs;
        diff[i * params.items + j] = d;
        square = d * d;
    }
    let total = wg_sum(lid, vec4<f32>(square, 0.0, 0.0, 0.0)).x;
    if lid == 0u {
        partials[params.partial_offset + wid.y * params.tiles_x + wid.x] = total;
    }
}
