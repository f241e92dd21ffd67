// RKD Gram matrices: one invocation per (i, j): G_s[i, j] = <es_i, es_j>, G_t likewise.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: RkdParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> gram_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> gram_t: array<f32>;

@compute @workgroup_size(WG)
fn rkd_gram(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ij >= b * b {
        return;
    }
    let d = params.dim;
    let row_i = (ij / b) * d;
    let row_j = (ij % b) * d;
    var s = 0.0;
    var t = 0.0;
    for (var x = 0u; x < d; x++) {
        s += student[row_i + x] * student[row_j + x];
        t += teacher[row_i + x] * teacher[row_j + x];
    }
    gram_s[ij] = s;
    gram_t[ij] = t;
}
