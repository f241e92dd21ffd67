// KL against a sparse top-k teacher (SPEC "Sparse top-k teacher"), with the token options
// (masking, normaliser, hard term) of lib/token_common.wgsl. Per row, with x = zs/T:
//   sweep 1 over V  the student's (max, sum) of x; with the tail also over the classes outside
//                   the ids (one bit test in the id bitmap of token_sparse_bits.wgsl), so that
//                   log Q_rest = LSE_rest - LSE is a difference of two exact statistics, never
//                   log(1 - sum q); the raw (T = 1) statistics of the hard term when T != 1;
//   over the K ids  the teacher's statistics: softmax of logprobs/T (no tail), or p = exp(lp)
//                   and their sum (tail); then the loss terms p (log p - log q[id]);
//   sweep 2 over V  the gradient T (q - p~) with p~ = r q / Q_rest off the ids (tail; 0 without)
//                   and the hard term; then, after a storage barrier, each id's element is
//                   rewritten with p~ = p_k (no lookup of the ids per element: the ids are
//                   scattered once).
// With the student renormalised over the ids (mode SPARSE_OVER_IDS, TRL's convention) the
// student's statistics are taken over the K ids in the teacher's loop, the soft gradient is 0
// off the ids, and sweep 1 runs only for the hard term.
// The ids and log-probs are N×K, indexed by batch row like the labels. How a row's classes are
// read is supplied by the kernel file (token_sparse.wgsl: four strided classes per slot, any
// C; token_sparse_quads.wgsl: one quad per slot):
//   fn slot_count(cols) -> u32, fn slot_columns_at(s) -> vec4<u32>,
//   fn load_slot_student(row_base, s) -> vec4<f32>, fn store_slot(row_base, s, g: vec4<f32>),
//   fn student_at(i) -> f32, fn store_grad_at(i, g: f32)
//
// Uniformity: rows past the batch and ignored rows skip their loads and stores but every lane
// reaches every barrier (seg_softmax2, seg_sum, storageBarrier), in control flow that reads
// only `params`.

// `params.tail`: the teacher renormalised over the K against the whole vocabulary (0), the
// tail bucket (1), the student renormalised over the K too (2).
const SPARSE_TAIL: u32 = 1u;
const SPARSE_OVER_IDS: u32 = 2u;

@group(0) @binding(2) var<storage, read> logprobs: array<f32>;
@group(0) @binding(7) var<storage, read> ids: array<u32>;
@group(0) @binding(8) var<storage, read> id_bits: array<u32>;

// Which of four classes are among the row's ids (bit tests in the row's bitmap).
fn is_id4(bits_base: u32, columns: vec4<u32>) -> vec4<bool> {
    let words = vec4<u32>(
        id_bits[bits_base + columns.x / 32u],
        id_bits[bits_base + columns.y / 32u],
        id_bits[bits_base + columns.z / 32u],
        id_bits[bits_base + columns.w / 32u],
    );
    return ((words >> (columns % vec4<u32>(32u))) & vec4<u32>(1u)) != vec4<u32>(0u);
}

// ∂L/∂zs of four classes: soft_grad_scale (q_soft - p~) + hard_weight (q1 - onehot), over n
// (`scales` holds both weights over n; q is the whole vocabulary's softmax at T, q_soft the
// soft term's: q, or the softmax over the ids).
fn sparse_grad4(columns: vec4<u32>, z: vec4<f32>, q: vec4<f32>, q_soft: vec4<f32>, p_tilde: vec4<f32>, hard_stats: vec2<f32>, label: u32, scales: vec2<f32>) -> vec4<f32> {
    var g = scales.x * (q_soft - p_tilde);
    if params.hard != 0u {
        var q1 = q;
        if params.hard_at_t == 0u {
            q1 = exp_accurate4(z - hard_stats.x) * (1.0 / hard_stats.y);
        }
        g += scales.y * (q1 - select(vec4<f32>(0.0), vec4<f32>(1.0), columns == vec4<u32>(label)));
    }
    return g;
}

fn sparse_row(lid: u32, wid: vec3<u32>) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let batch_row = params.row_offset + row;
    let mask = row_mask(in_batch, batch_row);
    let live = mask.live;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let slots = slot_count(cols);
    let k = params.k;
    let ids_base = batch_row * k;
    let bits_base = batch_row * params.words;
    let inv_t = params.inv_t;
    let tail = params.tail == SPARSE_TAIL;
    let over_ids = params.tail == SPARSE_OVER_IDS;
    // The whole row's statistics: the soft term's, unless the student is over the ids; the
    // hard term's.
    let full_row = !over_ids || params.hard != 0u;
    let hard_apart = params.hard != 0u && params.hard_at_t == 0u;
    let big = vec4<f32>(NEG_BIG);

    // Sweep 1 over V: (max, sum) of x over the row (.xy) and outside the ids (.zw, tail).
    var st = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var st1 = vec2<f32>(NEG_BIG, 0.0);
    if live && full_row {
        for (var s = lane; s < slots; s += TPR) {
            let columns = slot_columns_at(s);
            let inside = columns < vec4<u32>(cols);
            let z = load_slot_student(base, s);
            let x = select(big, z * inv_t, inside);
            st = vec4<f32>(lse_push4(st.xy, x), st.zw);
            if tail {
                // A slot whose classes are all ids (or outside the row) adds nothing: pushing
                // it would fold exp(0) terms while the running max is still NEG_BIG.
                let rest = inside & !is_id4(bits_base, columns);
                if any(rest) {
                    st = vec4<f32>(st.xy, lse_push4(st.zw, select(big, x, rest)));
                }
            }
            if hard_apart {
                st1 = lse_push4(st1, select(big, z, inside));
            }
        }
    }
    let stats = seg_softmax2(lid, st);
    var hard_stats = stats.xy;
    if hard_apart {
        hard_stats = seg_softmax2(lid, vec4<f32>(st1, NEG_BIG, 0.0)).xy;
    }

    // The teacher over the K ids: (max, sum) of logprobs/T (no tail) and sum of exp(lp) (tail);
    // the student's (max, sum) of x over the ids (over_ids).
    var tk = vec2<f32>(NEG_BIG, 0.0);
    var sk = vec2<f32>(NEG_BIG, 0.0);
    var mass = 0.0;
    if live {
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            tk = lse_push(tk, lp * inv_t);
            mass += exp_accurate(lp);
            if over_ids {
                sk = lse_push(sk, student_at(base + min(ids[ids_base + j], cols - 1u)) * inv_t);
            }
        }
    }
    let over_k = seg_softmax2(lid, vec4<f32>(tk, sk));
    let teacher = over_k.xy;
    let log_t = log(teacher.y);
    // The soft term's student statistics (max, log sum): the row's, or the ids'.
    var soft_stats = vec2<f32>(stats.x, log(stats.y));
    if over_ids {
        soft_stats = vec2<f32>(over_k.z, log(over_k.w));
    }

    // The loss terms over the ids: p (log p - log q[id]), 0 where p = 0.
    var kl = 0.0;
    if live {
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            // An id outside [0, C) (only the embedding path can pass one: the host checks)
            // makes the row's loss NaN and writes nothing.
            let c = ids[ids_base + j];
            let log_q = (student_at(base + min(c, cols - 1u)) * inv_t - soft_stats.x) - soft_stats.y;
            var log_p = (lp * inv_t - teacher.x) - log_t;
            if tail {
                log_p = lp;
            }
            let p = exp_accurate(log_p);
            kl += select(0.0, p * (log_p - log_q), p > 0.0);
            if c >= cols {
                kl = bitcast<f32>(0x7fc00000u);
            }
        }
    }
    let sums = seg_sum(lid, vec4<f32>(kl, mass, 0.0, 0.0)).xy;
    // The tail bucket: r = max(1 - sum p, 0); dropped when no class lies outside the ids.
    let r = max(1.0 - sums.y, 0.0);
    let rest = tail && stats.w > 0.0 && r > 0.0;
    let log_q_rest = (stats.z - stats.x) + log(stats.w / stats.y);
    var soft = sums.x;
    if rest {
        soft += r * (log(r) - log_q_rest);
    }

    // Sweep 2 over V: the gradient with p~ = r q / Q_rest = r exp(x - m_rest) / S_rest off the
    // ids; then each id's element rewritten with p~ = p_k.
    let inv_n = inv_normaliser();
    let scales = vec2<f32>(params.soft_grad_scale, params.hard_weight) * inv_n;
    let write_grad = params.write_grad != 0u;
    let inv_sum = 1.0 / stats.y;
    if write_grad && live {
        let rest_scale = select(0.0, r / stats.w, rest);
        for (var s = lane; s < slots; s += TPR) {
            if !full_row {
                // Over the ids without a hard term: nothing off the ids.
                store_slot(base, s, vec4<f32>(0.0));
                continue;
            }
            let columns = slot_columns_at(s);
            let z = load_slot_student(base, s);
            let x = z * inv_t;
            let q = exp_accurate4(x - stats.x) * inv_sum;
            var p_tilde = vec4<f32>(0.0);
            if rest {
                p_tilde = rest_scale * exp_accurate4(x - stats.z);
            }
            let q_soft = select(q, vec4<f32>(0.0), over_ids);
            store_slot(base, s, sparse_grad4(columns, z, q, q_soft, p_tilde, hard_stats, mask.label, scales));
        }
    }
    if write_grad && in_batch && !live {
        for (var s = lane; s < slots; s += TPR) {
            store_slot(base, s, vec4<f32>(0.0));
        }
    }
    storageBarrier();
    if write_grad && live {
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            let c = ids[ids_base + j];
            if c >= cols {
                continue;
            }
            let z = student_at(base + c);
            let q = exp_accurate(z * inv_t - stats.x) * inv_sum;
            var q_soft = q;
            if over_ids {
                q_soft = exp_accurate(z * inv_t - over_k.z) / over_k.w;
            }
            var log_p = (lp * inv_t - teacher.x) - log_t;
            if tail {
                log_p = lp;
            }
            let g = sparse_grad4(vec4<u32>(c), vec4<f32>(z), vec4<f32>(q), vec4<f32>(q_soft), vec4<f32>(exp_accurate(log_p)), hard_stats, mask.label, scales);
            store_grad_at(base + c, g.x);
        }
    }

    if in_batch && lane == 0u {
        var total = 0.0;
        if live {
            var z_label = 0.0;
            if params.hard != 0u {
                z_label = student_at(base + label_column(mask.label));
            }
            total = row_total(soft, hard_stats, z_label, mask.label, inv_n);
        }
        row_loss[batch_row] = total;
    }
}
