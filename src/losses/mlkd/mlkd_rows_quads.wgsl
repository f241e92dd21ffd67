// MLKD's row pass (mlkd_row.wgsl), quad form: four consecutive classes a slot, one 16-byte load
// per input and one store (rows of a multiple of 4 classes, 16-byte aligned bindings; f32).
//
// Uniformity: the entry point calls `mlkd_row` from every lane (mlkd_row.wgsl says how).

@group(0) @binding(4) var<storage, read_write> grad: array<GradQuad>;

fn slot_count(cols: u32) -> u32 {
    return cols / 4u;
}

fn load_slot(base: u32, s: u32) -> RowSlot {
    let quad = base / 4u + s;
    return RowSlot(load_student4(quad), load_teacher4(quad), vec4<bool>(true));
}

fn store_slot(base: u32, s: u32, g: vec4<f32>) {
    grad[base / 4u + s] = encode_grad4(g);
}

@compute @workgroup_size(WG)
fn mlkd_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    mlkd_row(lid, wid);
}
