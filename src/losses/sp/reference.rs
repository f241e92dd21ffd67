//! SP in float64: the Grams, the row normalisation and its chain rule, written out (the
//! `sp*.wgsl` kernels' twin).

use crate::losses::batch_gram::{apply_coefficients, gram};

const EPS: f64 = 1e-12;

/// Loss and ∂L/∂Fs of SP for student B×ds and teacher B×dt.
pub fn sp(student: &[f64], teacher: &[f64], b: usize, ds: usize, dt: usize) -> (f64, Vec<f64>) {
    let (gs, gt) = (gram(student, b, ds), gram(teacher, b, dt));
    let norm = |g: &[f64], i: usize| {
        g[i * b..(i + 1) * b]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(EPS)
    };
    let scale = 1.0 / (b * b) as f64;
    let mut loss = 0.0;
    let mut slopes = vec![0.0; b * b];
    for i in 0..b {
        let (ns, nt) = (norm(&gs, i), norm(&gt, i));
        let row = i * b..(i + 1) * b;
        let s: Vec<f64> = gs[row.clone()].iter().map(|v| v / ns).collect();
        let t: Vec<f64> = gt[row].iter().map(|v| v / nt).collect();
        let a: Vec<f64> = s
            .iter()
            .zip(&t)
            .map(|(s, t)| 2.0 * scale * (s - t))
            .collect();
        loss += s
            .iter()
            .zip(&t)
            .map(|(s, t)| (s - t) * (s - t))
            .sum::<f64>();
        let dot: f64 = a.iter().zip(&s).map(|(a, s)| a * s).sum();
        for j in 0..b {
            let m = if ns > EPS { a[j] - s[j] * dot } else { a[j] };
            slopes[i * b + j] = m / ns;
        }
    }
    let c: Vec<f64> = (0..b * b)
        .map(|ij| slopes[ij] + slopes[(ij % b) * b + ij / b])
        .collect();
    (loss * scale, apply_coefficients(&c, student, b, ds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let (b, ds, dt) = (5, 3, 7);
        let student: Vec<f64> = (0..b * ds)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0)
            .collect();
        let teacher: Vec<f64> = (0..b * dt)
            .map(|i| ((i * 5 % 13) as f64 - 6.0) / 5.0)
            .collect();
        let (_, grad) = sp(&student, &teacher, b, ds, dt);
        for k in 0..student.len() {
            let h = 1e-6;
            let (mut up, mut down) = (student.clone(), student.clone());
            up[k] += h;
            down[k] -= h;
            let fd =
                (sp(&up, &teacher, b, ds, dt).0 - sp(&down, &teacher, b, ds, dt).0) / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-7, "[{k}] {fd} vs {}", grad[k]);
        }
    }
}
