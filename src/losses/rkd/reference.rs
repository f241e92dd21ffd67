//! RKD (relational KD), float64: distance and angle terms on B×D embeddings. Mirrors the
//! `rkd_*.wgsl` kernels, which compute the same quantities from Gram matrices; here they are
//! computed from the vectors, one anchor `i` at a time (B×D memory, never B²×D or B³).

/// Smooth L1 (Huber with δ = 1) and its derivative.
pub fn smooth_l1(x: f64) -> (f64, f64) {
    if x.abs() < 1.0 {
        (0.5 * x * x, x)
    } else {
        (x.abs() - 0.5, x.signum())
    }
}

/// Pairwise distances `sqrt(max(|e_i|² + |e_j|² − 2<e_i,e_j>, 1e-12))`, diagonal 0, and the
/// clamped squared distances (to know where the clamp cut the gradient).
fn distances(e: &[f64], b: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let dot = |i: usize, j: usize| (0..d).map(|k| e[i * d + k] * e[j * d + k]).sum::<f64>();
    let sq: Vec<f64> = (0..b * b)
        .map(|ij| {
            let (i, j) = (ij / b, ij % b);
            dot(i, i) + dot(j, j) - 2.0 * dot(i, j)
        })
        .collect();
    let dist = (0..b * b)
        .map(|ij| {
            if ij / b == ij % b {
                0.0
            } else {
                sq[ij].max(1e-12).sqrt()
            }
        })
        .collect();
    (dist, sq)
}

/// Mean of the strictly positive entries.
fn positive_mean(x: &[f64]) -> (f64, f64) {
    let (sum, count) = x
        .iter()
        .filter(|v| **v > 0.0)
        .fold((0.0, 0.0), |(s, c), v| (s + v, c + 1.0));
    (sum / count, count)
}

/// Unit vectors `normalize(e_j − e_i)` (norm clamped at 1e-12) for one anchor `i`, and norms.
fn directions(e: &[f64], b: usize, d: usize, i: usize) -> (Vec<f64>, Vec<f64>) {
    let mut n = vec![0.0; b * d];
    let mut norms = vec![0.0; b];
    for j in 0..b {
        let v: Vec<f64> = (0..d).map(|k| e[j * d + k] - e[i * d + k]).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        norms[j] = norm;
        (0..d).for_each(|k| n[j * d + k] = v[k] / norm.max(1e-12));
    }
    (n, norms)
}

/// `L = w_d·L_d + w_a·L_a`; returns `(L, ∂L/∂student)`. Needs B >= 2.
pub fn rkd(
    student: &[f64],
    teacher: &[f64],
    b: usize,
    d: usize,
    w_d: f64,
    w_a: f64,
) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; b * d];
    // Distance term.
    let (ds, sq_s) = distances(student, b, d);
    let (dt, _) = distances(teacher, b, d);
    let (mu_s, count) = positive_mean(&ds);
    let (mu_t, _) = positive_mean(&dt);
    let b2 = (b * b) as f64;
    let mut loss_d = 0.0;
    let mut gd = vec![0.0; b * b];
    for ij in 0..b * b {
        let (value, slope) = smooth_l1(ds[ij] / mu_s - dt[ij] / mu_t);
        loss_d += value / b2;
        gd[ij] = w_d * slope / b2;
    }
    let weighted: f64 = (0..b * b).map(|ij| gd[ij] * ds[ij]).sum();
    for ij in 0..b * b {
        let (i, j) = (ij / b, ij % b);
        if i == j || sq_s[ij] <= 1e-12 {
            continue;
        }
        let d_dist = gd[ij] / mu_s - weighted / (mu_s * mu_s * count);
        let d_sq = d_dist / (2.0 * ds[ij]);
        for k in 0..d {
            let diff = student[i * d + k] - student[j * d + k];
            grad[i * d + k] += 2.0 * d_sq * diff;
            grad[j * d + k] -= 2.0 * d_sq * diff;
        }
    }
    // Angle term, one anchor at a time.
    let b3 = (b * b * b) as f64;
    let mut loss_a = 0.0;
    for i in 0..b {
        let (ns, norms) = directions(student, b, d, i);
        let (nt, _) = directions(teacher, b, d, i);
        let angle = |n: &[f64], j: usize, k: usize| {
            (0..d).map(|x| n[j * d + x] * n[k * d + x]).sum::<f64>()
        };
        for j in 0..b {
            // dL/dn_j = Σ_k (g_ijk + g_ikj) n_k = 2 Σ_k g_ijk n_k (the angle is symmetric in j, k).
            let mut dn = vec![0.0; d];
            for k in 0..b {
                let (value, slope) = smooth_l1(angle(&ns, j, k) - angle(&nt, j, k));
                loss_a += value / b3;
                let g = 2.0 * w_a * slope / b3;
                (0..d).for_each(|x| dn[x] += g * ns[k * d + x]);
            }
            // Back through the normalisation of v_j = e_j − e_i.
            let dv: Vec<f64> = if norms[j] > 1e-12 {
                let dot: f64 = (0..d).map(|x| dn[x] * ns[j * d + x]).sum();
                (0..d)
                    .map(|x| (dn[x] - dot * ns[j * d + x]) / norms[j])
                    .collect()
            } else {
                dn.iter().map(|x| x / 1e-12).collect()
            };
            for x in 0..d {
                grad[j * d + x] += dv[x];
                grad[i * d + x] -= dv[x];
            }
        }
    }
    (w_d * loss_d + w_a * loss_a, grad)
}
