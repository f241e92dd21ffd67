// DKD declarations shared by dkd.wgsl and dkd_quads.wgsl (prepended by `src/shaders.rs` after
// reduce.wgsl). `DkdParams` mirrors `DkdUniform` in src/losses/dkd.rs.

struct DkdParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // T / B
    grad_scale: f32,
    alpha: f32,
    beta: f32,
    // First row of this chunk in the whole batch (labels and row_loss are batch-indexed).
    row_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// p (log p - log q), 0 when p = 0.
fn kl_term(log_p: f32, log_q: f32) -> f32 {
    let p = exp(log_p);
    if p > 0.0 {
        return p * (log_p - log_q);
    }
    return 0.0;
}

// The same for four classes at once.
fn kl_terms4(log_p: vec4<f32>, log_q: vec4<f32>) -> vec4<f32> {
    let p = exp(log_p);
    return select(vec4<f32>(0.0), p * (log_p - log_q), p > vec4<f32>(0.0));
}
