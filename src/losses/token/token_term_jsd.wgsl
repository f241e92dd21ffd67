// Generalized JSD's term for the token skeleton (token_common.wgsl), TRL's
// generalized_jsd_loss: M = beta p + (1 - beta) q,
//   row = beta KL(p || M) + (1 - beta) KL(q || M); beta = 0: KL(p || q); beta = 1: KL(q || p).
// Each KL term is written as kl_term4 (x (log x - log M) + M - x: the added M - x sum to 0
// over a row, the terms are >= 0 and exact where the distributions agree). The log-ratios to M
// come from token_mix.wgsl's `mix_logs`.
// Gradient: q ⊙ g = (1 - beta) q (log q - log M) (beta = 1: q (log q - log p)), projected.

// The term is dearer to recompute than the stored gradient is to re-read.
const PROJECT_IN_PLACE: bool = true;

fn projected() -> bool {
    return params.beta > 0.0;
}

fn soft_terms(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> SoftTerms {
    let b = params.beta;
    if b == 0.0 {
        return SoftTerms(kl_term4(p, q, d), vec4<f32>(0.0), q - p);
    }
    if b == 1.0 {
        let qg = -q * d;
        return SoftTerms(kl_term4(q, p, -d), qg, qg);
    }
    let m = b * p + (1.0 - b) * q;
    let logs = mix_logs(p, q, d, b);
    let qg = (1.0 - b) * q * logs.qm;
    return SoftTerms(b * kl_term4(p, m, logs.pm) + (1.0 - b) * kl_term4(q, m, logs.qm), qg, qg);
}
