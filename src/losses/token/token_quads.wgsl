// Token losses, quad form: the skeleton in lib/token_common.wgsl reading and writing four
// consecutive classes per slot (rows of a multiple of 4 classes, 16-byte aligned bindings; the
// gradient in f32, f16 or bf16 through `encode_grad4`). token.wgsl is the any-C form.
//
// Uniformity: the entry point calls `token_row` from every lane; its barriers sit in
// workgroup-uniform control flow (lib/token_common.wgsl says how).

@group(0) @binding(6) var<storage, read_write> grad: array<GradQuad>;

fn slot_count(cols: u32) -> u32 {
    return cols / 4u;
}

fn load_slot(base: u32, s: u32) -> Slot {
    let quad = base / 4u + s;
    return Slot(
        load_student4(quad),
        load_teacher4(quad),
        4u * s + vec4<u32>(0u, 1u, 2u, 3u),
        vec4<bool>(true),
    );
}

fn load_slot_student(base: u32, s: u32) -> vec4<f32> {
    return load_student4(base / 4u + s);
}

fn load_slot_grad(base: u32, s: u32) -> vec4<f32> {
    return decode_grad4(grad[base / 4u + s]);
}

fn store_slot(base: u32, s: u32, g: vec4<f32>) {
    grad[base / 4u + s] = encode_grad4(g);
}

@compute @workgroup_size(WG)
fn token_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    token_row(lid, wid);
}
