// TTM declarations (prepended after reduce.wgsl). `TtmParams` mirrors `TtmUniform` in
// src/losses/ttm/mod.rs.

struct TtmParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    // The teacher's power gamma (> 0).
    gamma: f32,
    // 1 / B: the gradient's scale before the row weight.
    grad_scale: f32,
    // First row of this chunk in the whole batch (row_loss is indexed by batch row).
    row_offset: u32,
    // WTTM: weigh each row by U = sum_c p_t^gamma.
    weighted: u32,
}

// WTTM's weight of a row, U = exp(LSE(gamma zt) - gamma LSE(zt)), from the row's merged
// statistics of gamma zt (`stats.zw`) and each lane's of zt (`raw`); 1 for TTM. `weighted`
// comes from the uniform block: the merge's barriers stay in uniform control flow.
fn row_weight(lid: u32, weighted: bool, stats: vec4<f32>, raw: vec2<f32>, gamma: f32) -> f32 {
    var weight = 1.0;
    if weighted {
        let teacher = seg_softmax2(lid, vec4<f32>(raw, NEG_BIG, 0.0)).xy;
        // log U, each LSE as max + log(sum).
        let log_weight = (stats.z + log(stats.w)) - gamma * (teacher.x + log(teacher.y));
        weight = exp_accurate(log_weight);
    }
    return weight;
}
