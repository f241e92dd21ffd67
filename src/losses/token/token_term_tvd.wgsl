// TVD's term for the token skeleton (token_common.wgsl): row = 1/2 sum |p - q|,
// g = 1/2 sign(q - p) (sign(0) = 0), projected.

// Recomputing the cheap term costs less than re-reading the stored gradient.
const PROJECT_IN_PLACE: bool = false;

fn projected() -> bool {
    return true;
}

fn soft_terms(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> SoftTerms {
    let qg = q * (0.5 * sign(q - p));
    return SoftTerms(0.5 * abs(p - q), qg, qg);
}
