//! MLKD in float64 (SPEC "MLKD"): for each temperature T, the instance term
//! `w_kd·T²·KL_batchmean(Pt ‖ Ps)` (of the z-scored logits with LS), the class correlation
//! `w_cc·‖PtᵀPt − PsᵀPs‖²_F / C` and the batch correlation `w_bc·‖PtPtᵀ − PsPsᵀ‖²_F / B` (both
//! of the raw logits). Returns `(L, ∂L/∂zs)`.

use crate::error::Result;
use crate::losses::kl::reference::kl;
use crate::losses::standardize::reference::{back_through, standardize_rows};
use crate::reference::numerics::softmax_row;

/// The three weights of MLKD's terms.
#[derive(Clone, Copy, Debug)]
pub struct Weights {
    pub kd: f64,
    pub cc: f64,
    pub bc: f64,
}

pub fn mlkd(
    student: &[f64],
    teacher: &[f64],
    (rows, cols): (usize, usize),
    temperatures: &[f64],
    w: Weights,
    standardize: bool,
) -> Result<(f64, Vec<f64>)> {
    let n = rows * cols;
    let (zs, zt, scales) = if standardize {
        let (zs, scales) = standardize_rows(student, rows, cols)?;
        (zs, standardize_rows(teacher, rows, cols)?.0, Some(scales))
    } else {
        (student.to_vec(), teacher.to_vec(), None)
    };
    let mut loss = 0.0;
    let mut instance = vec![0.0; n];
    let mut grad = vec![0.0; n];
    for &t in temperatures {
        let (l, g) = kl(&zs, &zt, rows, cols, t);
        loss += w.kd * l;
        instance
            .iter_mut()
            .zip(&g)
            .for_each(|(a, b)| *a += w.kd * b);
        let (l, g) = correlations(student, teacher, (rows, cols), t, w);
        loss += l;
        grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
    }
    if let Some(scales) = scales {
        back_through(&mut instance, &zs, &scales, cols);
    }
    grad.iter_mut().zip(&instance).for_each(|(a, b)| *a += b);
    Ok((loss, grad))
}

/// Row-wise softmax of `z/T`.
fn softmax(z: &[f64], (rows, cols): (usize, usize), t: f64) -> Vec<f64> {
    (0..rows)
        .flat_map(|r| softmax_row(&z[r * cols..(r + 1) * cols], t).0)
        .collect()
}

/// The class and batch correlation terms at one T and their gradient (through the softmax).
fn correlations(
    student: &[f64],
    teacher: &[f64],
    (b, c): (usize, usize),
    t: f64,
    w: Weights,
) -> (f64, Vec<f64>) {
    let ps = softmax(student, (b, c), t);
    let pt = softmax(teacher, (b, c), t);
    // D_c = PtᵀPt − PsᵀPs (C×C), D_b = PtPtᵀ − PsPsᵀ (B×B).
    let mut class = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..c {
            class[i * c + j] = (0..b)
                .map(|r| pt[r * c + i] * pt[r * c + j] - ps[r * c + i] * ps[r * c + j])
                .sum();
        }
    }
    let mut batch = vec![0.0; b * b];
    for i in 0..b {
        for j in 0..b {
            batch[i * b + j] = (0..c)
                .map(|k| pt[i * c + k] * pt[j * c + k] - ps[i * c + k] * ps[j * c + k])
                .sum();
        }
    }
    let squares = |d: &[f64]| d.iter().map(|x| x * x).sum::<f64>();
    let loss = w.cc * squares(&class) / c as f64 + w.bc * squares(&batch) / b as f64;
    // ∂L/∂Ps = −(4 w_cc / C)·Ps·D_c − (4 w_bc / B)·D_b·Ps, then the softmax's Jacobian at T.
    let mut grad = vec![0.0; b * c];
    for r in 0..b {
        let slope: Vec<f64> = (0..c)
            .map(|k| {
                let cc: f64 = (0..c).map(|j| ps[r * c + j] * class[j * c + k]).sum();
                let bc: f64 = (0..b).map(|a| batch[r * b + a] * ps[a * c + k]).sum();
                -4.0 * w.cc / c as f64 * cc - 4.0 * w.bc / b as f64 * bc
            })
            .collect();
        let dot: f64 = (0..c).map(|k| slope[k] * ps[r * c + k]).sum();
        for k in 0..c {
            grad[r * c + k] = ps[r * c + k] * (slope[k] - dot) / t;
        }
    }
    (loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::numerics::testing::{assert_finite_differences, logit_pair};

    /// MLKD with and without LS against central differences of the float64 loss.
    #[test]
    fn gradient_matches_finite_differences() {
        let (rows, cols) = (4, 5);
        let (zs, zt) = logit_pair(rows, cols);
        let w = Weights {
            kd: 0.9,
            cc: 0.5,
            bc: 2.0,
        };
        for standardize in [false, true] {
            let run = |z: &[f64]| mlkd(z, &zt, (rows, cols), &[1.0, 3.0], w, standardize).unwrap();
            assert_finite_differences(|z| run(z).0, &zs, &run(&zs).1, 1e-7);
        }
    }
}
