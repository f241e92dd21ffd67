// MLKD's row pass (mlkd_row.wgsl), any C: four strided classes a slot (columns c, c + TPR,
// c + 2 TPR, c + 3 TPR of a group of 4 TPR classes), one-element loads and stores.
//
// Uniformity: the entry point calls `mlkd_row` from every lane (mlkd_row.wgsl says how).

@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

// Slots whose first class lies inside the row.
fn slot_count(cols: u32) -> u32 {
    return strided_slot_count(cols);
}

fn slot_columns_at(s: u32) -> vec4<u32> {
    return strided_slot_columns(s);
}

fn load_slot(base: u32, s: u32) -> RowSlot {
    let columns = slot_columns_at(s);
    let inside = columns < vec4<u32>(params.cols);
    let at = base + min(columns, vec4<u32>(params.cols - 1u));
    return RowSlot(
        vec4<f32>(load_student(at.x), load_student(at.y), load_student(at.z), load_student(at.w)),
        vec4<f32>(load_teacher(at.x), load_teacher(at.y), load_teacher(at.z), load_teacher(at.w)),
        inside,
    );
}

fn store_slot(base: u32, s: u32, g: vec4<f32>) {
    let columns = slot_columns_at(s);
    for (var k = 0u; k < 4u; k++) {
        if columns[k] < params.cols {
            grad[base + columns[k]] = g[k];
        }
    }
}

@compute @workgroup_size(WG)
fn mlkd_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    mlkd_row(lid, wid);
}
