// Roofline, quad form: roofline.wgsl reading and writing four consecutive elements per lane
// (16-byte f32 loads and stores, 8-byte 16-bit loads). The bench uses it whenever the element
// count allows (a multiple of 4), so that the roofline is the fastest such kernel the adapter
// runs, whatever the loss kernels use.
//
// Uniformity: no barriers in this file.

struct RooflineParams {
    // Quads (elements / 4).
    quads: u32,
    write_grad: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: RooflineParams;
@group(0) @binding(3) var<storage, read_write> grad: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn roofline_quads(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WG;
    var acc = vec4<f32>(0.0);
    for (var q = gid.x; q < params.quads; q += stride) {
        let sum = load_student4(q) + load_teacher4(q);
        if params.write_grad != 0u {
            grad[q] = sum;
        } else {
            acc += sum;
        }
    }
    // Never true for real data; keeps the reads alive without a per-element write.
    if acc.x == -1.2345e-38 {
        grad[0] = acc;
    }
}
