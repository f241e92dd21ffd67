// ICKD declarations shared by ickd.wgsl, ickd_rows.wgsl and ickd_grad.wgsl (prepended by
// `src/shaders.rs`). Mirrors `IckdUniform` in src/losses/ickd.rs.

struct IckdParams {
    samples: u32,
    channels: u32,
    hw: u32,
    groups_x: u32,
    // 2 / D
    grad_scale: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}
