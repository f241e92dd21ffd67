// scale.wgsl four values per load and store (a count that is a multiple of 4, at a 16-byte
// aligned offset).
//
// Uniformity: no barriers in this file (the early return is allowed).

struct ScaleParams {
    // Quads of values.
    count: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ScaleParams;
@group(0) @binding(1) var<storage, read> factor: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn scale_in_place_quads(@builtin(global_invocation_id) gid: vec3<u32>) {
    let s = factor[0];
    let i = flat_index(gid, params.groups_x);
    if s == 1.0 || i >= params.count {
        return;
    }
    values[i] = values[i] * s;
}
