// KL's term for the token skeleton (token_common.wgsl): p (log p - log q) + q - p, gradient
// q - p (no projection: the softmax's Jacobian applied to the KL's g is q - p directly).

// No projection: unused.
const PROJECT_IN_PLACE: bool = false;

fn projected() -> bool {
    return false;
}

fn soft_terms(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> SoftTerms {
    return SoftTerms(kl_term4(p, q, d), vec4<f32>(0.0), q - p);
}
