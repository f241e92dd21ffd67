//! PKT in float64, from the normalised vectors (the kernels work from the Grams: two routes
//! to the same numbers). A row of zeros has the derivative of `x/(‖x‖ + eps)` at 0.

const EPS: f64 = 1e-7;

/// Row-normalised `x/(‖x‖ + eps)` and the norms.
fn normalised(f: &[f64], b: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let norms: Vec<f64> = (0..b)
        .map(|i| {
            f[i * d..(i + 1) * d]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let unit = (0..b * d).map(|e| f[e] / (norms[e / d] + EPS)).collect();
    (unit, norms)
}

/// The row-stochastic `P` of PKT and the row sums of `S' = (x̂·x̂ᵀ + 1)/2`.
fn probabilities(unit: &[f64], b: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let g = crate::losses::batch_gram::gram(unit, b, d);
    let shifted: Vec<f64> = g.iter().map(|s| (s + 1.0) / 2.0).collect();
    let sums: Vec<f64> = (0..b)
        .map(|i| shifted[i * b..(i + 1) * b].iter().sum())
        .collect();
    let p = (0..b * b).map(|ij| shifted[ij] / sums[ij / b]).collect();
    (p, sums)
}

/// Loss and ∂L/∂Fs of PKT for student B×ds and teacher B×dt.
pub fn pkt(student: &[f64], teacher: &[f64], b: usize, ds: usize, dt: usize) -> (f64, Vec<f64>) {
    let (us, ns) = normalised(student, b, ds);
    let (ut, _) = normalised(teacher, b, dt);
    let (ps, sums) = probabilities(&us, b, ds);
    let (pt, _) = probabilities(&ut, b, dt);
    let scale = 1.0 / (b * b) as f64;
    let loss = scale
        * ps.iter()
            .zip(&pt)
            .map(|(s, t)| t * ((t + EPS) / (s + EPS)).ln())
            .sum::<f64>();
    // ∂L/∂S (through the row normalisation of S'), then ∂L/∂x̂ = (M + Mᵀ)·x̂.
    let mut m = vec![0.0; b * b];
    for i in 0..b {
        let row = i * b..(i + 1) * b;
        let a: Vec<f64> = ps[row.clone()]
            .iter()
            .zip(&pt[row.clone()])
            .map(|(s, t)| -scale * t / (s + EPS))
            .collect();
        let dot: f64 = a.iter().zip(&ps[row]).map(|(a, p)| a * p).sum();
        for j in 0..b {
            m[i * b + j] = 0.5 * (a[j] - dot) / sums[i];
        }
    }
    let mut grad = vec![0.0; b * ds];
    for i in 0..b {
        let mut h = vec![0.0; ds];
        for k in 0..b {
            let w = m[i * b + k] + m[k * b + i];
            for x in 0..ds {
                h[x] += w * us[k * ds + x];
            }
        }
        let row = &student[i * ds..(i + 1) * ds];
        let n = ns[i];
        let along = if n > 0.0 {
            row.iter().zip(&h).map(|(x, h)| x * h).sum::<f64>() / (n * (n + EPS) * (n + EPS))
        } else {
            0.0
        };
        for x in 0..ds {
            grad[i * ds + x] = h[x] / (n + EPS) - row[x] * along;
        }
    }
    (loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let (b, ds, dt) = (4, 5, 3);
        let student: Vec<f64> = (0..b * ds)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0)
            .collect();
        let teacher: Vec<f64> = (0..b * dt)
            .map(|i| ((i * 5 % 13) as f64 - 6.0) / 5.0)
            .collect();
        let (_, grad) = pkt(&student, &teacher, b, ds, dt);
        for k in 0..student.len() {
            let h = 1e-6;
            let (mut up, mut down) = (student.clone(), student.clone());
            up[k] += h;
            down[k] -= h;
            let fd =
                (pkt(&up, &teacher, b, ds, dt).0 - pkt(&down, &teacher, b, ds, dt).0) / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-8, "[{k}] {fd} vs {}", grad[k]);
        }
    }

    #[test]
    fn one_row_gives_zero_and_a_zero_row_a_finite_gradient() {
        let (loss, grad) = pkt(&[1.0, 2.0], &[3.0, 1.0, 2.0], 1, 2, 3);
        assert_eq!(loss, 0.0);
        assert!(grad.iter().all(|g| g.abs() < 1e-12));
        let (_, grad) = pkt(&[0.0, 0.0, 1.0, 2.0], &[1.0, 3.0, 2.0, 1.0], 2, 2, 2);
        assert!(grad.iter().all(|g| g.is_finite()));
    }
}
