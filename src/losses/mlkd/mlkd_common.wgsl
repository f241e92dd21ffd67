// MLKD declarations (prepended after reduce.wgsl). `MlkdParams` mirrors `MlkdUniform`,
// `CorrParams` mirrors `CorrUniform` in src/losses/mlkd/mod.rs.
//
// The correlation terms work on one temperature's raw softmaxes at a time (`probs`, from
// mlkd_probs.wgsl: the student's B×C block, then the teacher's), rebuilt from the per-row
// statistics the row pass writes (`stats`: 2 + 2 MAX_TEMPERATURES floats per row).

const MAX_TEMPERATURES: u32 = 8u;

struct MlkdParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    // How many temperatures (1 to MAX_TEMPERATURES).
    temps: u32,
    // LS on the instance term (the correlations keep the raw logits).
    standardize: u32,
    // w_kd / B.
    kd_scale: f32,
    // 1: write the raw softmaxes' statistics (a correlation term has a weight other than 0).
    write_stats: u32,
    // The temperatures and their inverses, four per vector.
    t: array<vec4<f32>, 2>,
    inv_t: array<vec4<f32>, 2>,
}

// A correlation Gram's or gradient's parameters (one temperature).
struct CorrParams {
    // Gram: the items compared (C for the class Gram, B for the batch Gram), the length of
    // the sum (B, C), where item i's k-th value lies (i * item_stride + k * sum_stride).
    items: u32,
    sum_len: u32,
    item_stride: u32,
    sum_stride: u32,
    // The student's and the teacher's softmax blocks in `probs`.
    student_base: u32,
    teacher_base: u32,
    // Where this Gram's tile partial sums start; the tiles per grid row.
    partial_offset: u32,
    tiles_x: u32,
    // Gradient: rows B, classes C, the grid's columns, 1/T, -4 w_cc / C, -4 w_bc / B.
    rows: u32,
    cols: u32,
    groups_x: u32,
    inv_t: f32,
    cc_scale: f32,
    bc_scale: f32,
    // mlkd_probs.wgsl: which temperature of the row statistics.
    temp_index: u32,
    _pad: u32,
}
