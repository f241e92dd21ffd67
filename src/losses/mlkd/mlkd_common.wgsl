// MLKD declarations (prepended after reduce.wgsl). `MlkdParams` mirrors `MlkdUniform`,
// `CorrParams` mirrors `CorrUniform` in src/losses/mlkd/mod.rs.
//
// The softmaxes of every temperature are kept in `probs` (the correlation terms need them
// whole): for temperature i, the student's B×C block at 2 i B C, the teacher's after it.

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
    // 1: write the softmaxes (a correlation term has a weight other than 0).
    write_probs: u32,
    // The temperatures, four per vector.
    t: array<vec4<f32>, 2>,
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
    _pad0: u32,
    _pad1: u32,
}
