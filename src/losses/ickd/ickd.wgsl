// ICKD (inter-channel correlation), B×C×H×W; per sample F is C×HW, G = F F^T (C×C).
//   G^ = G with each row normalised (norm clamped at 1e-12);
//   L = sum_{b,i,j} (G^s - G^t)^2 / D, D = C·B or C·B^2 (finish.wgsl applies 1/D).
// Three kernels:
//   ickd_gram: one invocation per (b, i, j): Gs and Gt.
//   ickd_rows: one segment per row (b, i): the row's loss term into partials, and
//              R = dL/dG_row = (E - G^s <G^s, E>) / |G_row| with E = 2 (G^s - G^t) / D,
//              written over the teacher's Gram row (each lane rewrites only what it read).
//   ickd_grad: one invocation per (b, i, k): dL/dF[i, k] = sum_j (R[i, j] + R[j, i]) F[j, k].
//
// Uniformity: barriers only in `seg_sum` (ickd_rows), reached by every lane.

@group(0) @binding(0) var<uniform> params: IckdParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> gram_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> gram_t: array<f32>;

@compute @workgroup_size(WG)
fn ickd_gram(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = flat_index(gid, params.groups_x);
    let c = params.channels;
    if e >= params.samples * c * c {
        return;
    }
    let b = e / (c * c);
    let i = (e / c) % c;
    let j = e % c;
    let hw = params.hw;
    let row_i = (b * c + i) * hw;
    let row_j = (b * c + j) * hw;
    var s = 0.0;
    var t = 0.0;
    for (var k = 0u; k < hw; k++) {
        s += student[row_i + k] * student[row_j + k];
        t += teacher[row_i + k] * teacher[row_j + k];
    }
    gram_s[e] = s;
    gram_t[e] = t;
}
