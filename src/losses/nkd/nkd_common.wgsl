// NKD declarations (prepended after reduce.wgsl). `NkdParams` mirrors `NkdUniform` in
// src/losses/nkd/mod.rs.

struct NkdParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // gamma T: the non-target gradient's factor; gamma T^2: its loss factor.
    gamma_t: f32,
    gamma_t2: f32,
    // 1 / B.
    inv_b: f32,
    // First row of this chunk in the whole batch (labels and row_loss are batch-indexed).
    row_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}
