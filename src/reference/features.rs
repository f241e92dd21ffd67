//! FitNet, AT, ICKD and HCL in float64: the feature losses on B×C×H×W tensors. Each mirrors its
//! shader (`fitnet.wgsl`, `at.wgsl`, `ickd.wgsl`, `hcl.wgsl`).

/// FitNet hint: `mean (fs − ft)²`, gradient `2(fs − ft)/N`.
pub fn fitnet(student: &[f64], teacher: &[f64]) -> (f64, Vec<f64>) {
    let n = student.len() as f64;
    let loss = student
        .iter()
        .zip(teacher)
        .map(|(s, t)| (s - t) * (s - t))
        .sum::<f64>()
        / n;
    let grad = student
        .iter()
        .zip(teacher)
        .map(|(s, t)| 2.0 * (s - t) / n)
        .collect();
    (loss, grad)
}

/// `x^p` that also serves negative `x` when `p` is an integer (as `torch.pow` does).
pub fn signed_pow(x: f64, p: f64) -> f64 {
    if p.fract() == 0.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

/// Attention maps `normalize(mean_c f^p)` per sample, and the unnormalised map and its norm.
fn attention(f: &[f64], b: usize, c: usize, hw: usize, p: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut q = vec![0.0; b * hw];
    for bi in 0..b {
        for ci in 0..c {
            for k in 0..hw {
                q[bi * hw + k] += signed_pow(f[(bi * c + ci) * hw + k], p) / c as f64;
            }
        }
    }
    let mut a = q.clone();
    let mut norms = vec![0.0; b];
    for bi in 0..b {
        let row = &mut a[bi * hw..(bi + 1) * hw];
        let n = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        norms[bi] = n;
        row.iter_mut().for_each(|x| *x /= n.max(1e-12));
    }
    (a, q, norms)
}

/// AT: `mean over B·H·W of (a(fs) − a(ft))²`; returns `(L, ∂L/∂fs)`.
pub fn at(student: &[f64], teacher: &[f64], dims: [usize; 4], p: f64) -> (f64, Vec<f64>) {
    let [b, c, h, w] = dims;
    let hw = h * w;
    let (a_s, _, norm_s) = attention(student, b, c, hw, p);
    let (a_t, _, _) = attention(teacher, b, c, hw, p);
    let scale = 1.0 / (b * hw) as f64;
    let loss = a_s
        .iter()
        .zip(&a_t)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        * scale;
    let mut grad = vec![0.0; student.len()];
    for bi in 0..b {
        let span = bi * hw..(bi + 1) * hw;
        let g: Vec<f64> = span
            .clone()
            .map(|k| 2.0 * (a_s[k] - a_t[k]) * scale)
            .collect();
        let n = norm_s[bi];
        let dq: Vec<f64> = if n > 1e-12 {
            let dot: f64 = span.clone().zip(&g).map(|(k, gk)| a_s[k] * gk).sum();
            span.clone()
                .zip(&g)
                .map(|(k, gk)| (gk - a_s[k] * dot) / n)
                .collect()
        } else {
            g.iter().map(|gk| gk / 1e-12).collect()
        };
        for ci in 0..c {
            for k in 0..hw {
                let idx = (bi * c + ci) * hw + k;
                grad[idx] = p / c as f64 * signed_pow(student[idx], p - 1.0) * dq[k];
            }
        }
    }
    (loss, grad)
}

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

/// Adaptive average pooling window `[floor(i·n/l), ceil((i+1)·n/l))`.
pub fn pool_window(i: usize, n: usize, l: usize) -> (usize, usize) {
    (i * n / l, ((i + 1) * n).div_ceil(l))
}

/// HCL (ReviewKD), one level: MSE plus halving-weighted MSEs of 4×4, 2×2, 1×1 pooled maps
/// (levels with `l >= H` skipped), divided by the total weight.
pub fn hcl(student: &[f64], teacher: &[f64], dims: [usize; 4]) -> (f64, Vec<f64>) {
    let [n, c, h, w] = dims;
    let planes = n * c;
    let d: Vec<f64> = student.iter().zip(teacher).map(|(s, t)| s - t).collect();
    let count = d.len() as f64;
    let mut loss = d.iter().map(|x| x * x).sum::<f64>() / count;
    let mut grad: Vec<f64> = d.iter().map(|x| 2.0 * x / count).collect();
    let (mut weight, mut total) = (1.0, 1.0);
    for l in [4usize, 2, 1] {
        if l >= h {
            continue;
        }
        weight /= 2.0;
        total += weight;
        let cells = (planes * l * l) as f64;
        for plane in 0..planes {
            let base = plane * h * w;
            for i in 0..l {
                let (r0, r1) = pool_window(i, h, l);
                for j in 0..l {
                    let (c0, c1) = pool_window(j, w, l);
                    let size = ((r1 - r0) * (c1 - c0)) as f64;
                    let mean = (r0..r1)
                        .flat_map(|r| (c0..c1).map(move |q| (r, q)))
                        .map(|(r, q)| d[base + r * w + q])
                        .sum::<f64>()
                        / size;
                    loss += weight * mean * mean / cells;
                    for r in r0..r1 {
                        for q in c0..c1 {
                            grad[base + r * w + q] += weight * 2.0 * mean / cells / size;
                        }
                    }
                }
            }
        }
    }
    (loss / total, grad.iter().map(|g| g / total).collect())
}
