// Skew reverse KL's term for the token skeleton (token_common.wgsl; DistiLLM's
// skewed_reverse_kl, SPEC "Skew KL"): m = (1 - a) p + a q with the skew a = params.beta,
//   row = KL(q || m), written as kl_term4 (q (log q - log m) + m - q: the added m - q sum to 0).
// Gradient: g = ∂row/∂q = log q - log m + 1 - a q / m; the constant 1 is dropped (the softmax's
// projection removes it), so q ⊙ g = q (log q - log m - a e^(log q - log m)), projected;
// a = 0 is KL(q || p), q ⊙ g = q (log q - log p).

// The term is dearer to recompute than the stored gradient is to re-read.
const PROJECT_IN_PLACE: bool = true;

fn projected() -> bool {
    return true;
}

fn soft_terms(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> SoftTerms {
    let a = params.beta;
    if a == 0.0 {
        let qg = select(-q * d, vec4<f32>(0.0), q == vec4<f32>(0.0));
        return SoftTerms(kl_term4(q, p, -d), qg, qg);
    }
    // M = b p + (1 - b) q at b = 1 - a.
    let m = (1.0 - a) * p + a * q;
    let logs = mix_logs(p, q, d, 1.0 - a);
    // q / m <= 1 / a: the exp's argument is at most log(1 / a).
    // q = 0 (a masked student class) gives 0: with p = 0 too, logs.qm is NaN.
    let qg = select(q * (logs.qm - a * exp_accurate4(logs.qm)), vec4<f32>(0.0), q == vec4<f32>(0.0));
    return SoftTerms(kl_term4(q, m, logs.qm), qg, qg);
}
