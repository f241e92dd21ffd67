//! ICKD in float64 on B×C×H×W features (mirrors `ickd*.wgsl`).

/// Row-normalised Gram matrix of one sample (C×HW): returns `(G, Ĝ, row norms)`.
fn gram(f: &[f64], c: usize, hw: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut g = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..c {
            g[i * c + j] = (0..hw).map(|k| f[i * hw + k] * f[j * hw + k]).sum();
        }
    }
    let mut gn = g.clone();
    let mut norms = vec![0.0; c];
    for i in 0..c {
        let n = g[i * c..(i + 1) * c]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
        norms[i] = n;
        gn[i * c..(i + 1) * c]
            .iter_mut()
            .for_each(|x| *x /= n.max(1e-12));
    }
    (g, gn, norms)
}

/// ICKD: `Σ (Ĝs − Ĝt)² / D`, `D = C·B` or `C·B²`; returns `(L, ∂L/∂fs)`.
pub fn ickd(
    student: &[f64],
    teacher: &[f64],
    dims: [usize; 4],
    denominator: f64,
) -> (f64, Vec<f64>) {
    let [b, c, h, w] = dims;
    let hw = h * w;
    let mut loss = 0.0;
    let mut grad = vec![0.0; student.len()];
    for bi in 0..b {
        let fs = &student[bi * c * hw..(bi + 1) * c * hw];
        let ft = &teacher[bi * c * hw..(bi + 1) * c * hw];
        let (_, gs, ns) = gram(fs, c, hw);
        let (_, gt, _) = gram(ft, c, hw);
        // R = dL/dG (row-normalisation backward), then dF = (R + Rᵀ) F.
        let mut r = vec![0.0; c * c];
        for i in 0..c {
            let e: Vec<f64> = (0..c)
                .map(|j| 2.0 * (gs[i * c + j] - gt[i * c + j]) / denominator)
                .collect();
            loss += (0..c)
                .map(|j| (gs[i * c + j] - gt[i * c + j]).powi(2))
                .sum::<f64>();
            if ns[i] > 1e-12 {
                let dot: f64 = (0..c).map(|j| gs[i * c + j] * e[j]).sum();
                (0..c).for_each(|j| r[i * c + j] = (e[j] - gs[i * c + j] * dot) / ns[i]);
            } else {
                (0..c).for_each(|j| r[i * c + j] = e[j] / 1e-12);
            }
        }
        for i in 0..c {
            for k in 0..hw {
                grad[bi * c * hw + i * hw + k] = (0..c)
                    .map(|j| (r[i * c + j] + r[j * c + i]) * fs[j * hw + k])
                    .sum();
            }
        }
    }
    (loss / denominator, grad)
}
