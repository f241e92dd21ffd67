// KL declarations shared by kl.wgsl and kl_quads.wgsl (prepended by `src/shaders.rs` after
// reduce.wgsl). `KlParams` mirrors `KlUniform` in src/losses/kl.rs.

struct KlParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // T / B: the gradient's scale.
    grad_scale: f32,
    // First row of this chunk in the whole batch (row_loss is indexed by batch row).
    row_offset: u32,
    _pad1: f32,
}
