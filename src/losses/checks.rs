//! The checks every loss shares (SPEC's error list): shapes are `Error::Shape`, values out of
//! their domain `Error::Param`. Device-free and float64-free: the GPU path and the float64
//! twins call the same ones.

use crate::error::{Error, Result};

/// The shape error of a loss that needs rank `want` (`layout` names the axes).
pub(crate) fn require_rank(name: &str, dims: &[usize], want: usize, layout: &str) -> Result<()> {
    if dims.len() != want {
        return Err(Error::Shape(format!(
            "{name} needs rank {want} ({layout}), got rank {} {dims:?}",
            dims.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_temperature(t: f64) -> Result<()> {
    if !t.is_finite() || t <= 0.0 {
        return Err(Error::Param(format!(
            "temperature must be finite and > 0, got {t}"
        )));
    }
    Ok(())
}

pub(crate) fn check_finite(name: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        return Err(Error::Param(format!("{name} must be finite, got {v}")));
    }
    Ok(())
}

/// Labels: B of them, each in `[0, C)`.
pub fn check_labels(labels: &[i64], rows: usize, cols: usize) -> Result<()> {
    if labels.len() != rows {
        return Err(Error::Shape(format!(
            "{} labels for B = {rows} rows",
            labels.len()
        )));
    }
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l < 0 || l >= cols as i64)
    {
        return Err(Error::Param(format!(
            "label {bad} at row {i} is outside [0, {cols})"
        )));
    }
    Ok(())
}

/// The slack SPEC allows on `Σ_k exp(logprobs_k)` (inference servers round their log-probs).
pub const SPARSE_MASS_SLACK: f64 = 1e-4;

/// A dense N×V tensor: both axes at least 1 and `len = N·V`.
pub fn check_dense(name: &str, len: usize, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::Shape(format!(
            "empty input [{rows}, {cols}]: every axis must be >= 1"
        )));
    }
    if Some(len) != rows.checked_mul(cols) {
        return Err(Error::Shape(format!(
            "{name} holds {len} values, expected N×V = {rows}×{cols}"
        )));
    }
    Ok(())
}

/// Labels of the masked losses: B of them, each in `[0, V)` or equal to `ignore_index`.
pub fn check_masked_labels(
    labels: &[i64],
    rows: usize,
    cols: usize,
    ignore_index: i64,
) -> Result<()> {
    if labels.len() != rows {
        return Err(Error::Shape(format!(
            "{} labels for N = {rows} rows",
            labels.len()
        )));
    }
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l != ignore_index && (l < 0 || l >= cols as i64))
    {
        return Err(Error::Param(format!(
            "label {bad} at row {i} is outside [0, {cols}) and is not ignore_index {ignore_index}"
        )));
    }
    Ok(())
}

/// The caller's normaliser (e.g. TRL's `num_items_in_batch`): finite and > 0.
pub fn check_normalizer(normalizer: Option<f64>) -> Result<()> {
    match normalizer {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(Error::Param(format!(
            "normalizer must be finite and > 0, got {v}"
        ))),
        _ => Ok(()),
    }
}

/// JSD's interpolation: `β ∈ [0, 1]`.
pub fn check_beta(beta: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&beta) {
        return Err(Error::Param(format!(
            "jsd beta must lie in [0, 1], got {beta}"
        )));
    }
    Ok(())
}

/// The skew α of `skl` and `srkl`: in [0, 1) (α = 1 would make the mixture the distribution
/// itself, a loss of 0).
pub fn check_skew(name: &str, skew: f64) -> Result<()> {
    if !(0.0..1.0).contains(&skew) {
        return Err(Error::Param(format!(
            "{name} skew must lie in [0, 1), got {skew}"
        )));
    }
    Ok(())
}

/// The soft and hard weights: finite.
pub fn check_weights(w_soft: f64, w_hard: f64) -> Result<()> {
    check_finite("soft weight", w_soft)?;
    check_finite("hard weight", w_hard)
}

/// The sparse teacher: K in `[1, V]`, N×K ids distinct within a row and in `[0, V)`, N×K
/// log-probs ≤ 0 (not NaN) with `Σ_k exp ≤ 1 + 1e-4`, the tail only at T = 1.
pub fn check_sparse(
    rows: usize,
    cols: usize,
    ids: &[i64],
    logprobs: &[f64],
    k: usize,
    t: f64,
    tail: bool,
) -> Result<()> {
    check_temperature(t)?;
    if k == 0 || k > cols {
        return Err(Error::Shape(format!(
            "sparse teacher: K = {k} ids per row, expected 1 <= K <= V = {cols}"
        )));
    }
    for (name, len) in [
        ("teacher ids", ids.len()),
        ("teacher log-probs", logprobs.len()),
    ] {
        if Some(len) != rows.checked_mul(k) {
            return Err(Error::Shape(format!(
                "{name} hold {len} values, expected N×K = {rows}×{k}"
            )));
        }
    }
    if tail && t != 1.0 {
        return Err(Error::Param(format!(
            "the sparse teacher's tail needs temperature 1 (its log-probs are at T = 1), got {t}"
        )));
    }
    let mut seen = vec![false; cols];
    for r in 0..rows {
        let row_ids = &ids[r * k..(r + 1) * k];
        let row_lp = &logprobs[r * k..(r + 1) * k];
        for (j, &id) in row_ids.iter().enumerate() {
            if id < 0 || id >= cols as i64 {
                return Err(Error::Param(format!(
                    "teacher id {id} at row {r}, position {j} is outside [0, {cols})"
                )));
            }
            if seen[id as usize] {
                return Err(Error::Param(format!(
                    "teacher id {id} appears twice in row {r}"
                )));
            }
            seen[id as usize] = true;
        }
        for &id in row_ids {
            seen[id as usize] = false;
        }
        if let Some((j, &bad)) = row_lp
            .iter()
            .enumerate()
            .find(|(_, l)| l.is_nan() || **l > 0.0)
        {
            return Err(Error::Param(format!(
                "teacher log-prob {bad} at row {r}, position {j} is not <= 0"
            )));
        }
        let mass: f64 = row_lp.iter().map(|l| l.exp()).sum();
        if mass > 1.0 + SPARSE_MASS_SLACK {
            return Err(Error::Param(format!(
                "teacher probabilities of row {r} sum to {mass} > 1 + {SPARSE_MASS_SLACK}"
            )));
        }
        if !tail && mass == 0.0 {
            return Err(Error::Param(format!(
                "teacher log-probs of row {r} are all -inf: nothing to renormalise"
            )));
        }
    }
    Ok(())
}
