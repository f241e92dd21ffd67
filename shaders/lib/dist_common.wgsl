// DIST declarations shared by dist_rows, dist_columns, dist_merge and dist_grad (prepended by
// `src/shaders.rs` after reduce.wgsl). `DistParams` mirrors `DistUniform` in src/losses/dist.rs.

struct DistParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    // Rows per column tile (dist_columns.wgsl).
    tile_rows: u32,
    inv_t: f32,
    inv_cols: f32,
    // -T^2 beta / B and -T^2 gamma / C: the weights of d(rho_row) and d(rho_col) in G.
    row_weight: f32,
    col_weight: f32,
}

// Per row, written by dist_rows: softmax log-sum-exps, row means, 1/N and k of the row Pearson.
struct RowStats {
    lse_s: f32,
    lse_t: f32,
    mean_s: f32,
    mean_t: f32,
    inv_n: f32,
    k: f32,
    _pad0: f32,
    _pad1: f32,
}

// Sufficient statistics of one column over a set of rows; they merge exactly (Chan).
struct ColumnMoments {
    count: u32,
    mean_s: f32,
    mean_t: f32,
    m2_s: f32,
    m2_t: f32,
    c_st: f32,
}
