// ICKD gradient (see ickd.wgsl): one invocation per student element (b, i, k):
//   grad[b, i, k] = sum_j (R[b, i, j] + R[b, j, i]) fs[b, j, k].
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: IckdParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> r_rows: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn ickd_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = flat_index(gid, params.groups_x);
    let c = params.channels;
    let hw = params.hw;
    if e >= params.samples * c * hw {
        return;
    }
    let b = e / (c * hw);
    let i = (e / hw) % c;
    let k = e % hw;
    let r_base = b * c * c;
    var acc = 0.0;
    for (var j = 0u; j < c; j++) {
        let coefficient = r_rows[r_base + i * c + j] + r_rows[r_base + j * c + i];
        acc += coefficient * student[(b * c + j) * hw + k];
    }
    grad[e] = acc;
}
