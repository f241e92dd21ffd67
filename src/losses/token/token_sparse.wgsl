// KL against a sparse top-k teacher, any row length: the row logic of
// lib/token_sparse_rows.wgsl reading four strided classes per slot (columns c, c + TPR,
// c + 2 TPR, c + 3 TPR of a group of 4 TPR classes). token_sparse_quads.wgsl reads one quad of
// consecutive classes per slot. Student and gradient f32.
//
// Uniformity: the entry point calls `sparse_row` from every lane; its barriers sit in
// workgroup-uniform control flow (lib/token_sparse_rows.wgsl says how).

@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad: array<f32>;

// Slots whose first class lies inside the row.
fn slot_count(cols: u32) -> u32 {
    return strided_slot_count(cols);
}

fn slot_columns_at(s: u32) -> vec4<u32> {
    return strided_slot_columns(s);
}

fn load_slot_student(base: u32, s: u32) -> vec4<f32> {
    let at = base + min(slot_columns_at(s), vec4<u32>(params.cols - 1u));
    return vec4<f32>(student[at.x], student[at.y], student[at.z], student[at.w]);
}

fn store_slot(base: u32, s: u32, g: vec4<f32>) {
    let columns = slot_columns_at(s);
    for (var k = 0u; k < 4u; k++) {
        if columns[k] < params.cols {
            grad[base + columns[k]] = g[k];
        }
    }
}

fn student_at(i: u32) -> f32 {
    return student[i];
}

fn store_grad_at(i: u32, g: f32) {
    grad[i] = g;
}

@compute @workgroup_size(WG)
fn token_sparse_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    sparse_row(lid, wid);
}
