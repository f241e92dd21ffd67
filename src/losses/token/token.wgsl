// Token losses (kl with labels / normaliser / hard term, jsd, tvd), any row length: the
// skeleton in lib/token_common.wgsl reading four strided classes per slot (columns
// c, c + TPR, c + 2 TPR, c + 3 TPR of a group of 4 TPR classes). token_quads.wgsl is the same
// skeleton reading one quad of consecutive classes per slot.
//
// Uniformity: the entry point calls `token_row` from every lane; its barriers sit in
// workgroup-uniform control flow (lib/token_common.wgsl says how).

@group(0) @binding(6) var<storage, read_write> grad: array<f32>;

// Slots whose first class lies inside the row (so sweep 1 never folds an empty slot).
fn slot_count(cols: u32) -> u32 {
    return strided_slot_count(cols);
}

fn slot_columns_at(s: u32) -> vec4<u32> {
    return strided_slot_columns(s);
}

fn load_slot(base: u32, s: u32) -> Slot {
    let columns = slot_columns_at(s);
    let inside = columns < vec4<u32>(params.cols);
    let at = base + min(columns, vec4<u32>(params.cols - 1u));
    return Slot(
        vec4<f32>(load_student(at.x), load_student(at.y), load_student(at.z), load_student(at.w)),
        vec4<f32>(load_teacher(at.x), load_teacher(at.y), load_teacher(at.z), load_teacher(at.w)),
        columns,
        inside,
    );
}

// The scalar form always writes f32: a stored gradient reads back exactly.
const GRAD_EXACT: bool = true;

fn load_slot_student(base: u32, s: u32) -> vec4<f32> {
    let at = base + min(slot_columns_at(s), vec4<u32>(params.cols - 1u));
    return vec4<f32>(load_student(at.x), load_student(at.y), load_student(at.z), load_student(at.w));
}

fn load_slot_grad(base: u32, s: u32) -> vec4<f32> {
    let columns = slot_columns_at(s);
    var g = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
        if columns[k] < params.cols {
            g[k] = grad[base + columns[k]];
        }
    }
    return g;
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
fn token_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    token_row(lid, wid);
}
