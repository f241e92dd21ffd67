// One of MLKD's correlation Grams at one temperature, as the difference of teacher and
// student: D[i, j] = sum_k (Pt[k, i] Pt[k, j] - Ps[k, i] Ps[k, j]) over the items i, j (the C
// classes, summing over the batch: PᵀP; or the B rows, summing over the classes: PPᵀ), with
// item i's k-th value at i * item_stride + k * sum_stride of its softmax block.
//
// Register-blocked: each invocation computes a 4×4 block of D, loading per k the four values
// of its rows and of its columns (for student and teacher) and folding their outer products,
// so each load feeds four products; a 16×16 workgroup covers 64×64 outputs. No workgroup
// memory in the loop: staging tiles behind barriers ran at 0.3 GFLOP/s on lavapipe, whose
// barriers switch between invocations in software, and the loads are cached on a GPU too. D
// is exactly symmetric: D[j, i] multiplies the same values in the same order. Each workgroup
// also writes the Σ D² of its outputs (a fixed tree: wg_sum) to
// partials[partial_offset + workgroup]: the loss's term, scaled by finish.wgsl.
//
// Uniformity: the only barriers are in wg_sum, reached by every invocation (out-of-range
// outputs add 0); no early return.

@group(0) @binding(0) var<uniform> params: CorrParams;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> diff: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

// Items i .. i + 3's k-th values in the block at `base`; past the last item the index is
// clamped (no branches in the loop: those outputs are neither stored nor summed).
fn four_items(base: u32, i: u32, k: u32) -> vec4<f32> {
    let items = min(vec4<u32>(i) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.items - 1u));
    let at = base + items * params.item_stride + k * params.sum_stride;
    return vec4<f32>(probs[at.x], probs[at.y], probs[at.z], probs[at.w]);
}

@compute @workgroup_size(16, 16)
fn mlkd_gram(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let i0 = (wid.y * 16u + local.y) * 4u;
    let j0 = (wid.x * 16u + local.x) * 4u;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    var t0 = vec4<f32>(0.0);
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    if i0 < params.items && j0 < params.items {
        for (var k = 0u; k < params.sum_len; k++) {
            let si = four_items(params.student_base, i0, k);
            let sj = four_items(params.student_base, j0, k);
            let ti = four_items(params.teacher_base, i0, k);
            let tj = four_items(params.teacher_base, j0, k);
            s0 += si.x * sj;
            s1 += si.y * sj;
            s2 += si.z * sj;
            s3 += si.w * sj;
            t0 += ti.x * tj;
            t1 += ti.y * tj;
            t2 += ti.z * tj;
            t3 += ti.w * tj;
        }
    }
    let rows = array<vec4<f32>, 4>(t0 - s0, t1 - s1, t2 - s2, t3 - s3);
    var square = 0.0;
    for (var r = 0u; r < 4u; r++) {
        let i = i0 + r;
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + c;
            if i < params.items && j < params.items {
                let d = rows[r][c];
                diff[i * params.items + j] = d;
                square += d * d;
            }
        }
    }
    let total = wg_sum(lid, vec4<f32>(square, 0.0, 0.0, 0.0)).x;
    if lid == 0u {
        partials[params.partial_offset + wid.y * params.tiles_x + wid.x] = total;
    }
}
