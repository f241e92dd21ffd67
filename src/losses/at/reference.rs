//! AT in float64 on B×C×H×W features (mirrors `at.wgsl`).

// Index loops on purpose: the reference reads like the shader's index arithmetic.
#![allow(clippy::needless_range_loop)]

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
