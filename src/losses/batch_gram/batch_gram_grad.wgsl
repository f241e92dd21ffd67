// The student's gradient from the coefficients: one invocation per element (a, x),
// grad[a, x] = sum_k C[a, k] · fs[k, x] (k in order: the same bits every run).
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> coefficients: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn batch_gram_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = flat_index(gid, params.groups_x);
    let b = params.batch;
    let d = params.student_dim;
    if e >= b * d {
        return;
    }
    let a = e / d;
    let x = e % d;
    var acc = 0.0;
    for (var k = 0u; k < b; k++) {
        acc += coefficients[a * b + k] * student[k * d + x];
    }
    grad[e] = acc;
}
