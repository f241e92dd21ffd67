// Declarations shared by the token losses' kernels (the dense skeleton, token_rows.wgsl, and
// the sparse-teacher kernel, token_sparse.wgsl): parameters, bindings, masking, normaliser and
// the row's total. Prepended by `src/shaders.rs` after the softmax numerics.
//
// The dense skeleton (lib/token_rows.wgsl), written once for kl, jsd and tvd:
//
//   sweep 1  each row's softmax statistics of zs/T and zt/T (and of zs at T = 1 for the hard
//            term when T != 1), merged over the segment;
//   sweep 2  the loss terms, <g, q> (the softmax projection's row dot) and the gradient
//            without its projection;
//   sweep 3  only for the projected losses (jsd at beta > 0, tvd) when the gradient is asked
//            for: recompute the gradient with q <g, q> subtracted (tvd: fewer instructions and
//            one read fewer, 7 units of traffic instead of 8), or, where the term's
//            `PROJECT_IN_PLACE` says so and the stored gradient is exact (f32), subtract
//            q <g, q> from the gradient sweep 2 stored (jsd: its term costs more to recompute
//            than a read of the student and of the gradient and one exp; lavapipe, 256×4000:
//            204 against 224 instructions per element, and tvd 158 against 166 the other way).
//
// What differs between the losses is only the per-class term, supplied by the loss's term file
// (token_term_kl.wgsl, token_term_jsd.wgsl, token_term_tvd.wgsl), appended after this one:
//   fn projected() -> bool                 whether the gradient subtracts q <g, q>
//   const PROJECT_IN_PLACE: bool           how sweep 3 applies the projection
//   fn soft_terms(p, q, d) -> SoftTerms    four classes' loss terms, q ⊙ g, and ∂row/∂(zs/T)
//                                          before the projection (q ⊙ g; kl: q - p)
// with p = softmax(zt/T), q = softmax(zs/T), d = log p - log q (exact: row_softmax.wgsl).
//
// How a row's classes are read is supplied by the kernel file (token.wgsl: four strided
// classes per slot, any C; token_quads.wgsl: one quad per slot, C a multiple of 4):
//   fn slot_count(cols) -> u32, fn load_slot(row_base, s) -> Slot,
//   fn load_slot_student(row_base, s) -> vec4<f32>, fn load_slot_grad(row_base, s) -> vec4<f32>,
//   fn store_slot(row_base, s, g: vec4<f32>), const GRAD_EXACT: bool
//
// Masking: a row whose label is ignore_index adds 0 and gets a zero gradient. Normaliser: the
// summed row losses are divided by n, the caller's value or the count of valid rows (computed
// on the device by token_count.wgsl). Hard term: w_hard * CE(zs at T = 1, label), gradient
// w_hard (softmax(zs) - onehot(label)), from the same reads as the soft term.
//
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (seg_softmax2, seg_sum); the branches around barriers read only `params`.

struct TokenParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // jsd's interpolation (unused by kl and tvd).
    beta: f32,
    // First row of this chunk in the whole batch (labels and row_loss are indexed by it).
    row_offset: u32,
    has_labels: u32,
    // The i32 ignore_index as the u32 the labels buffer holds.
    ignore_index: u32,
    // 1: 1/n is normaliser[0] (valid rows counted on the device); 0: it is inv_n.
    count_on_device: u32,
    // 1: the hard-label term is computed.
    hard: u32,
    // 1: T = 1, so the hard term's softmax is q itself.
    hard_at_t: u32,
    inv_n: f32,
    // w_soft times the loss's own factor (T^2 for kl).
    soft_scale: f32,
    // w_soft times the gradient's factor (T for kl, 1/T for jsd and tvd).
    soft_grad_scale: f32,
    hard_weight: f32,
    // The sparse teacher (token_sparse.wgsl): ids per row, 1 with the tail bucket, and the
    // words per row of the id bitmap.
    k: u32,
    tail: u32,
    words: u32,
    // kl with LS / CTKD (token_ls_rows.wgsl): 1 to z-score both rows, 1 to write each row's
    // ∂/∂T at row_loss[batch_rows + row]; the batch's rows, T and w_soft for it.
    standardize: u32,
    temperature_grad: u32,
    batch_rows: u32,
    temperature: f32,
    soft_weight: f32,
    // ttm with LS on the same row function: the teacher's power gamma (1 for kl), and 1 to
    // weigh each row by WTTM's U = sum_c p~^gamma of the standardized teacher.
    teacher_power: f32,
    weighted: u32,
    // Logit soft-capping on the dense skeleton (token_slots.wgsl): c > 0, or 0 for none.
    softcap: f32,
}

@group(0) @binding(0) var<uniform> params: TokenParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> normaliser: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;

// A row's label (0xffffffff without labels) and whether it counts.
struct RowMask {
    label: u32,
    live: bool,
}

fn row_mask(in_batch: bool, batch_row: u32) -> RowMask {
    var mask = RowMask(0xffffffffu, in_batch);
    if in_batch && params.has_labels != 0u {
        mask.label = labels[batch_row];
        mask.live = mask.label != params.ignore_index;
    }
    return mask;
}

// 1/n: the caller's normaliser, or the device's count of valid rows (token_count.wgsl).
fn inv_normaliser() -> f32 {
    if params.count_on_device != 0u {
        return normaliser[0];
    }
    return params.inv_n;
}

// The row's share of the loss: (soft_scale * soft + hard_weight * CE) / n; `hard_stats` are the
// (max, sum) of the raw student row, `z_label` its logit at the label. A label outside
// [0, C) that is not ignore_index (only the embedding path can pass one: the host checks)
// makes the row's loss NaN, as DKD's does.
fn row_total(soft: f32, hard_stats: vec2<f32>, z_label: f32, label: u32, inv_n: f32) -> f32 {
    var total = params.soft_scale * soft;
    if params.hard != 0u {
        // CE = LSE(zs) - zs[label], the LSE kept as (max, sum).
        total += params.hard_weight * (hard_stats.x + log(hard_stats.y) - z_label);
    }
    if params.has_labels != 0u && label >= params.cols {
        total = bitcast<f32>(0x7fc00000u);
    }
    return total * inv_n;
}

// Where the hard term reads the row's logit at its label (clamped into the row: a label out of
// range makes the loss NaN in `row_total`).
fn label_column(label: u32) -> u32 {
    return min(label, params.cols - 1u);
}
