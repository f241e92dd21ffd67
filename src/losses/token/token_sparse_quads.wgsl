// KL against a sparse top-k teacher, quad form: the row logic of lib/token_sparse_rows.wgsl
// reading and writing four consecutive classes per slot (rows of a multiple of 4 classes,
// 16-byte aligned bindings). token_sparse.wgsl is the any-C form. The student is read through
// lib/sparse_student_{f32,f16,bf16}x4.wgsl (its dtype's, prepended: `load_slot_student`,
// `student_at`); the gradient is f32.
//
// Uniformity: the entry point calls `sparse_row` from every lane; its barriers sit in
// workgroup-uniform control flow (lib/token_sparse_rows.wgsl says how).

@group(0) @binding(6) var<storage, read_write> grad: array<vec4<f32>>;

fn slot_count(cols: u32) -> u32 {
    return cols / 4u;
}

fn slot_columns_at(s: u32) -> vec4<u32> {
    return 4u * s + vec4<u32>(0u, 1u, 2u, 3u);
}

fn store_slot(base: u32, s: u32, g: vec4<f32>) {
    grad[base / 4u + s] = g;
}

fn store_grad_at(i: u32, g: f32) {
    grad[i >> 2u][i & 3u] = g;
}

@compute @workgroup_size(WG)
fn token_sparse_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    sparse_row(lid, wid);
}
