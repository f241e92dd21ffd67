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
// Inputs: student f32 (binding 1), log-probs f32 (2), ids u32 (7), id bitmap (8); the ids
// and log-probs are N×K, indexed by batch row like the labels.
//
// Uniformity: rows past the batch and ignored rows skip their loads and stores but every lane
// reaches every barrier (seg_softmax2, seg_sum, storageBarrier), in control flow that reads
// only `params`.

@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> logprobs: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad: array<f32>;
@group(0) @binding(7) var<storage, read> ids: array<u32>;
@group(0) @binding(8) var<storage, read> id_bits: array<u32>;

// ∂L/∂zs of one class: (soft_grad_scale (q - p~) + hard_weight (q1 - onehot)) / n.
fn sparse_grad(c: u32, z: f32, q: f32, p_tilde: f32, hard_stats: vec2<f32>, label: u32, inv_n: f32) -> f32 {
    var g = params.soft_grad_scale * (q - p_tilde);
    if params.hard != 0u {
        var q1 = q;
        if params.hard_at_t == 0u {
            q1 = exp_accurate(z - hard_stats.x) / hard_stats.y;
        }
        g += params.hard_weight * (q1 - select(0.0, 1.0, c == label));
    }
    return g * inv_n;
}

@compute @workgroup_size(WG)
fn token_sparse_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let batch_row = params.row_offset + row;
    let mask = row_mask(in_batch, batch_row);
    let live = mask.live;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let k = params.k;
    let ids_base = batch_row * k;
    let bits_base = batch_row * params.words;
    let inv_t = params.inv_t;
    let tail = params.tail != 0u;
    let hard_apart = params.hard != 0u && params.hard_at_t == 0u;

    // Sweep 1 over V: (max, sum) of x over the row (.xy) and outside the ids (.zw, tail).
    var st = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var st1 = vec2<f32>(NEG_BIG, 0.0);
    if live {
        for (var c = lane; c < cols; c += TPR) {
            let z = student[base + c];
            let x = z * inv_t;
            st = vec4<f32>(lse_push(st.xy, x), st.zw);
            if tail && ((id_bits[bits_base + c / 32u] >> (c % 32u)) & 1u) == 0u {
                st = vec4<f32>(st.xy, lse_push(st.zw, x));
            }
            if hard_apart {
                st1 = lse_push(st1, z);
            }
        }
    }
    let stats = seg_softmax2(lid, st);
    var hard_stats = stats.xy;
    if hard_apart {
        hard_stats = seg_softmax2(lid, vec4<f32>(st1, NEG_BIG, 0.0)).xy;
    }

    // The teacher over the K ids: (max, sum) of logprobs/T (no tail) and sum of exp(lp) (tail).
    var tk = vec2<f32>(NEG_BIG, 0.0);
    var mass = 0.0;
    if live {
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            tk = lse_push(tk, lp * inv_t);
            mass += exp_accurate(lp);
        }
    }
    let teacher = seg_softmax2(lid, vec4<f32>(tk, NEG_BIG, 0.0)).xy;
    let log_s = log(stats.y);
    let log_t = log(teacher.y);

    // The loss terms over the ids: p (log p - log q[id]), 0 where p = 0.
    var kl = 0.0;
    if live {
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            let log_q = (student[base + ids[ids_base + j]] * inv_t - stats.x) - log_s;
            var log_p = (lp * inv_t - teacher.x) - log_t;
            if tail {
                log_p = lp;
            }
            let p = exp_accurate(log_p);
            kl += select(0.0, p * (log_p - log_q), p > 0.0);
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
    let write_grad = params.write_grad != 0u;
    if write_grad && live {
        let inv_sum = 1.0 / stats.y;
        let rest_scale = select(0.0, r / stats.w, rest);
        for (var c = lane; c < cols; c += TPR) {
            let z = student[base + c];
            let x = z * inv_t;
            let q = exp_accurate(x - stats.x) * inv_sum;
            var p_tilde = 0.0;
            if rest {
                p_tilde = rest_scale * exp_accurate(x - stats.z);
            }
            grad[base + c] = sparse_grad(c, z, q, p_tilde, hard_stats, mask.label, inv_n);
        }
    }
    if write_grad && in_batch && !live {
        for (var c = lane; c < cols; c += TPR) {
            grad[base + c] = 0.0;
        }
    }
    storageBarrier();
    if write_grad && live {
        let inv_sum = 1.0 / stats.y;
        for (var j = lane; j < k; j += TPR) {
            let lp = logprobs[ids_base + j];
            let c = ids[ids_base + j];
            let z = student[base + c];
            let q = exp_accurate(z * inv_t - stats.x) * inv_sum;
            var log_p = (lp * inv_t - teacher.x) - log_t;
            if tail {
                log_p = lp;
            }
            grad[base + c] = sparse_grad(c, z, q, exp_accurate(log_p), hard_stats, mask.label, inv_n);
        }
    }

    if in_batch && lane == 0u {
        var total = 0.0;
        if live {
            var z_label = 0.0;
            if params.hard != 0u {
                z_label = student[base + mask.label];
            }
            total = row_total(soft, hard_stats, z_label, inv_n);
        }
        row_loss[batch_row] = total;
    }
}
