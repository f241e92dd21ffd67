// Gram matrices of the batch: one invocation per pair (i, j) with j >= i and per chunk of the
// features writes G[i, j] = G[j, i] = <f_i, f_j> over the chunk, for the student (width
// student_dim) and the teacher (its own width). Both entries come from the same sum, so the
// matrices are exactly symmetric. With one chunk (widths up to chunk_len) that is the Gram;
// with more, chunk k's partial Grams lie at k B² and batch_gram_sum.wgsl folds them in chunk
// order (the same bits every run). Chunks keep every invocation's loops under Mesa's loop
// limiter (llvmpipe and lavapipe stop an invocation's loops after 65535 iterations in all:
// one loop over 100 000 features came back short).
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> gram_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> gram_t: array<f32>;

@compute @workgroup_size(WG)
fn batch_gram(@builtin(global_invocation_id) gid: vec3<u32>) {
    let index = flat_index(gid, params.groups_x);
    let b = params.batch;
    let pairs = b * b;
    if index >= pairs * params.chunks {
        return;
    }
    let chunk = index / pairs;
    let ij = index % pairs;
    let i = ij / b;
    let j = ij % b;
    if j < i {
        return;
    }
    let first = chunk * params.chunk_len;
    let ds = params.student_dim;
    let dt = params.teacher_dim;
    var s = 0.0;
    for (var x = first; x < min(first + params.chunk_len, ds); x++) {
        s += student[i * ds + x] * student[j * ds + x];
    }
    var t = 0.0;
    for (var x = first; x < min(first + params.chunk_len, dt); x++) {
        t += teacher[i * dt + x] * teacher[j * dt + x];
    }
    let at = chunk * pairs;
    gram_s[at + i * b + j] = s;
    gram_s[at + j * b + i] = s;
    gram_t[at + i * b + j] = t;
    gram_t[at + j * b + i] = t;
}
