// Gram matrices of the batch: one invocation per pair (i, j) with j >= i writes
// G[i, j] = G[j, i] = <f_i, f_j>, for the student (width student_dim) and the teacher (its own
// width). Both entries come from the same sum, so the matrices are exactly symmetric.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> gram_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> gram_t: array<f32>;

@compute @workgroup_size(WG)
fn batch_gram(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ij >= b * b {
        return;
    }
    let i = ij / b;
    let j = ij % b;
    if j < i {
        return;
    }
    let ds = params.student_dim;
    let dt = params.teacher_dim;
    var s = 0.0;
    for (var x = 0u; x < ds; x++) {
        s += student[i * ds + x] * student[j * ds + x];
    }
    var t = 0.0;
    for (var x = 0u; x < dt; x++) {
        t += teacher[i * dt + x] * teacher[j * dt + x];
    }
    gram_s[i * b + j] = s;
    gram_s[j * b + i] = s;
    gram_t[i * b + j] = t;
    gram_t[j * b + i] = t;
}
