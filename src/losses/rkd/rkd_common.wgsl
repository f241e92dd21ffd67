// RKD declarations shared by the rkd_*.wgsl kernels (prepended by `src/shaders.rs`).
// Every geometric quantity is rebuilt from the Gram matrices G = E E^T (B×B), so the angle
// term costs O(B^3) work and O(B^2) memory, never B^3 or B^2·D.

struct RkdParams {
    batch: u32,
    dim: u32,
    groups_x: u32,
    _pad0: u32,
    // w_d / B^2 and 2 w_a / B^3: the slopes' scales.
    distance_scale: f32,
    angle_scale: f32,
    inv_b2: f32,
    inv_b3: f32,
}

// Smooth L1 (delta = 1): (value, slope).
fn smooth_l1(x: f32) -> vec2<f32> {
    if abs(x) < 1.0 {
        return vec2<f32>(0.5 * x * x, x);
    }
    return vec2<f32>(abs(x) - 0.5, sign(x));
}

// |e_i|^2 + |e_j|^2 - 2 <e_i, e_j>.
fn squared_distance(gii: f32, gjj: f32, gij: f32) -> f32 {
    return gii + gjj - 2.0 * gij;
}

// Distance with the clamp, 0 on the diagonal.
fn distance(sq: f32, diagonal: bool) -> f32 {
    if diagonal {
        return 0.0;
    }
    return sqrt(max(sq, 1e-12));
}

// |e_j - e_i| clamped at 1e-12 (the normalisation's divisor).
fn direction_norm(gii: f32, gjj: f32, gij: f32) -> f32 {
    return max(sqrt(max(squared_distance(gii, gjj, gij), 0.0)), 1e-12);
}

// Cosine of the angle at e_i between e_j and e_k: <e_j - e_i, e_k - e_i> / (r_ij r_ik); 0 when
// j or k is i (normalize(0) = 0 exactly, whatever the rounding of the Gram entries).
fn angle(i: u32, j: u32, k: u32, gii: f32, gij: f32, gik: f32, gjk: f32, r_ij: f32, r_ik: f32) -> f32 {
    if j == i || k == i {
        return 0.0;
    }
    return (gjk - gij - gik + gii) / (r_ij * r_ik);
}
