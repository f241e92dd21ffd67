// Skew KL's term for the token skeleton (token_common.wgsl; DistiLLM's skewed forward KL as a
// KL, SPEC "Skew KL"): m = a p + (1 - a) q with the skew a = params.beta,
//   row = KL(p || m), written as kl_term4 (p (log p - log m) + m - p: the added m - p sum to 0).
// Gradient: g = ∂row/∂q = -(1 - a) p / m, so q ⊙ g = -(1 - a) q e^(log p - log m), projected;
// a = 0 is KL(p || q) with gradient q - p, not projected.

// The term is dearer to recompute than the stored gradient is to re-read.
const PROJECT_IN_PLACE: bool = true;

fn projected() -> bool {
    return params.beta > 0.0;
}

fn soft_terms(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> SoftTerms {
    let a = params.beta;
    if a == 0.0 {
        return SoftTerms(kl_term4(p, q, d), vec4<f32>(0.0), q - p);
    }
    let m = a * p + (1.0 - a) * q;
    let logs = mix_logs(p, q, d, a);
    // p / m <= 1 / a: the exp's argument is at most log(1 / a).
    // q = 0 (a masked student class) gives 0: with p = 0 too, logs.pm is NaN.
    let qg = select(-(1.0 - a) * q * exp_accurate4(logs.pm), vec4<f32>(0.0), q == vec4<f32>(0.0));
    return SoftTerms(kl_term4(p, m, logs.pm), qg, qg);
}
