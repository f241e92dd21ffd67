// Declarations shared by the B×B similarity losses (sp, pkt): both compare Gram matrices of the
// batch, G = F·Fᵀ, computed for student and teacher of their own widths, and both return the
// gradient as C·Fs with a B×B coefficient matrix C.

struct GramParams {
    batch: u32,
    student_dim: u32,
    teacher_dim: u32,
    groups_x: u32,
    // 1/B²: both losses are means over the B² pairs.
    inv_b2: f32,
    write_grad: u32,
    // batch_gram.wgsl: the features per chunk and how many chunks.
    chunk_len: u32,
    chunks: u32,
}
