//! Token losses of language-model distillation, float64: SPEC "Token losses, masking and the
//! hard-label term". Every token is a row of `zs`, `zt` (N×V). Rows whose label equals
//! `ignore_index` add nothing and get a zero gradient; the sum of the row losses is divided by
//! the normaliser `n` (see [`RowMask`]).
//!
//! Each loss checks its own inputs first (the `check_*` helpers below) and returns an
//! [`Error`] rather than panicking: labels and ids index the logits.

use crate::error::{Error, Result};
use crate::losses::checks::check_temperature;
use crate::losses::options::TokenOptions;
use crate::losses::standardize::reference::{back_through, standardize_rows};
use crate::reference::numerics::{lse_where, softmax_row};

pub use crate::losses::checks::{
    check_beta, check_dense, check_masked_labels, check_normalizer, check_skew, check_sparse,
    check_weights, SPARSE_MASS_SLACK,
};
pub use crate::losses::options::DEFAULT_IGNORE_INDEX;

/// The soft term of a dense token loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Soft {
    Kl,
    /// With its interpolation β.
    Jsd(f64),
    Tvd,
    /// Skew KL with its skew α.
    Skl(f64),
    /// Skew reverse KL with its skew α.
    Srkl(f64),
}

/// `w_soft·soft + w_hard·CE` for a dense token loss with `options` (what the GPU's token
/// skeleton computes): the soft term masked and normalised, the hard term (when its weight is
/// not 0) over the same rows and normaliser. Returns `(L, ∂L/∂zs)`.
pub fn evaluate(
    soft: Soft,
    student: &[f64],
    teacher: &[f64],
    dims: &[usize],
    t: f64,
    options: &TokenOptions,
    labels: Option<&[i64]>,
) -> Result<(f64, Vec<f64>)> {
    let (rows, cols) = (dims[0], dims[1]);
    let (ignore, normalizer) = (options.ignore_index, options.normalizer);
    options.check()?;
    // Soft-capping: every term sees the capped logits; the gradient passes through the cap.
    let capped = options
        .softcap
        .map(|c| (softcap(student, c), softcap(teacher, c)));
    let (student, teacher) = match &capped {
        Some((zs, zt)) => (zs.as_slice(), zt.as_slice()),
        None => (student, teacher),
    };
    // LS: the soft term sees the z-scored rows, the hard term the raw student.
    let standardized = if options.standardize {
        let (zs, scales) = standardize_rows(student, rows, cols)?;
        Some((zs, scales, standardize_rows(teacher, rows, cols)?.0))
    } else {
        None
    };
    let (soft_s, soft_t) = match &standardized {
        Some((zs, _, zt)) => (zs.as_slice(), zt.as_slice()),
        None => (student, teacher),
    };
    let mut soft_part = match soft {
        Soft::Kl => kl_masked(soft_s, soft_t, rows, cols, t, labels, ignore, normalizer)?,
        Soft::Jsd(beta) => jsd(
            soft_s, soft_t, rows, cols, t, beta, labels, ignore, normalizer,
        )?,
        Soft::Tvd => tvd(soft_s, soft_t, rows, cols, t, labels, ignore, normalizer)?,
        Soft::Skl(a) | Soft::Srkl(a) => {
            let reverse = matches!(soft, Soft::Srkl(_));
            let mask = dense_pair_mask(soft_s, soft_t, rows, cols, t, labels, ignore, normalizer)?;
            skew(soft_s, soft_t, cols, t, a, reverse, &mask)?
        }
    };
    if let Some((zs, scales, _)) = &standardized {
        back_through(&mut soft_part.1, zs, scales, cols);
    }
    let hard = hard_part(student, rows, cols, options, labels)?;
    let (loss, mut grad) = blend(soft_part, hard, options.soft_weight, options.hard_weight)?;
    if let Some(c) = options.softcap {
        // ∂(c·tanh(z/c))/∂z = 1 − tanh²(z/c), from the capped logits.
        for (g, zc) in grad.iter_mut().zip(student) {
            let th = zc / c;
            *g *= (1.0 - th) * (1.0 + th);
        }
    }
    Ok((loss, grad))
}

/// Logit soft-capping, `c·tanh(z/c)` (SPEC "Logit soft-capping").
pub fn softcap(logits: &[f64], c: f64) -> Vec<f64> {
    logits.iter().map(|z| c * (z / c).tanh()).collect()
}

/// Skew KL (`reverse = false`: row loss `KL(p ‖ α·p + (1−α)·q)`) or skew reverse KL
/// (`reverse = true`: `KL(q ‖ (1−α)·p + α·q)`), no T², over `mask`'s rows divided by its n
/// (DistiLLM, SPEC "Skew KL"). The gradient is JSD's form: `g = ∂row/∂q` through the mixture,
/// `∂row/∂zs = (1/T)·q ⊙ (g − ⟨g, q⟩)`. Returns `(L, ∂L/∂zs)`.
pub fn skew(
    student: &[f64],
    teacher: &[f64],
    cols: usize,
    t: f64,
    a: f64,
    reverse: bool,
    mask: &RowMask,
) -> Result<(f64, Vec<f64>)> {
    check_skew(if reverse { "srkl" } else { "skl" }, a)?;
    let (log_a, log_1ma) = (a.ln(), (1.0 - a).ln());
    let mut loss = 0.0;
    let mut grad = vec![0.0; student.len()];
    let mut g = vec![0.0; cols];
    for r in (0..mask.valid.len()).filter(|&r| mask.valid[r]) {
        let span = r * cols..(r + 1) * cols;
        let (q, log_q) = softmax_row(&student[span.clone()], t);
        let (p, log_p) = softmax_row(&teacher[span.clone()], t);
        for c in 0..cols {
            if reverse {
                // m = (1−α)p + αq; g = log q − log m + 1 − α·q/m, the 1 left to the projection.
                let log_m = lse2(log_p[c] + log_1ma, log_q[c] + log_a);
                if q[c] != 0.0 {
                    loss += q[c] * (log_q[c] - log_m);
                }
                g[c] = log_q[c] - log_m - a * (log_q[c] - log_m).exp();
            } else {
                // m = αp + (1−α)q; g = −(1−α)·p/m.
                let log_m = lse2(log_p[c] + log_a, log_q[c] + log_1ma);
                if p[c] != 0.0 {
                    loss += p[c] * (log_p[c] - log_m);
                }
                g[c] = -(1.0 - a) * (log_p[c] - log_m).exp();
            }
            // g only meets q: where q = 0 (a masked student class) it is 0, not 0/0.
            if q[c] == 0.0 {
                g[c] = 0.0;
            }
        }
        softmax_backward(&q, &g, t, mask.n, &mut grad[span]);
    }
    Ok((loss / mask.n, grad))
}

/// Which rows count, and the normaliser `n` the summed row losses are divided by.
#[derive(Clone, Debug, PartialEq)]
pub struct RowMask {
    /// `valid[r]`: row `r`'s label is not `ignore_index` (every row when there are no labels).
    pub valid: Vec<bool>,
    /// The caller's normaliser, else the number of valid rows, at least 1 (so an all-ignored
    /// batch gives loss 0 and gradient 0, not 0/0).
    pub n: f64,
}

impl RowMask {
    /// Checks `labels` (B of them, each in `[0, V)` or `ignore_index`) and `normalizer` (> 0,
    /// finite) and builds the mask.
    pub fn new(
        rows: usize,
        cols: usize,
        labels: Option<&[i64]>,
        ignore_index: i64,
        normalizer: Option<f64>,
    ) -> Result<Self> {
        if let Some(labels) = labels {
            check_masked_labels(labels, rows, cols, ignore_index)?;
        }
        check_normalizer(normalizer)?;
        let valid: Vec<bool> = match labels {
            Some(labels) => labels.iter().map(|&l| l != ignore_index).collect(),
            None => vec![true; rows],
        };
        let count = valid.iter().filter(|&&v| v).count();
        let n = normalizer.unwrap_or(count.max(1) as f64);
        Ok(Self { valid, n })
    }

    /// Number of valid rows.
    pub fn count(&self) -> usize {
        self.valid.iter().filter(|&&v| v).count()
    }
}

// ---------------------------------------------------------------------------------------------
// Row helpers.

/// `sign(x)` with `sign(0) = 0` (`f64::signum(0.0)` is 1).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `log(exp(a) + exp(b))`, finite whenever one of them is.
fn lse2(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Back through the row softmax: `∂row/∂zs = (1/T)·q ⊙ (g − ⟨g, q⟩)`, written into `out`
/// scaled by `1/n`.
fn softmax_backward(q: &[f64], g: &[f64], t: f64, n: f64, out: &mut [f64]) {
    let dot: f64 = q.iter().zip(g).map(|(qc, gc)| qc * gc).sum();
    for c in 0..q.len() {
        out[c] = q[c] * (g[c] - dot) / t / n;
    }
}

// ---------------------------------------------------------------------------------------------
// Losses.

/// The checks every dense masked loss starts with (both inputs N×V, T), then its row mask.
#[allow(clippy::too_many_arguments)]
fn dense_pair_mask(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    t: f64,
    labels: Option<&[i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
) -> Result<RowMask> {
    check_dense("student", student.len(), rows, cols)?;
    check_dense("teacher", teacher.len(), rows, cols)?;
    check_temperature(t)?;
    RowMask::new(rows, cols, labels, ignore_index, normalizer)
}

/// Generalized JSD (TRL's `generalized_jsd_loss`), no T²: `M = β·p + (1−β)·q`, row loss
/// `β·KL(p‖M) + (1−β)·KL(q‖M)`; `β = 0` is `KL(p‖q)`, `β = 1` is `KL(q‖p)`. Returns
/// `(L, ∂L/∂zs)`.
#[allow(clippy::too_many_arguments)]
pub fn jsd(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    t: f64,
    beta: f64,
    labels: Option<&[i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
) -> Result<(f64, Vec<f64>)> {
    check_beta(beta)?;
    let mask = dense_pair_mask(
        student,
        teacher,
        rows,
        cols,
        t,
        labels,
        ignore_index,
        normalizer,
    )?;
    let (log_beta, log_1m_beta) = (beta.ln(), (1.0 - beta).ln());
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    let mut g = vec![0.0; cols];
    for r in (0..rows).filter(|&r| mask.valid[r]) {
        let span = r * cols..(r + 1) * cols;
        let (q, log_q) = softmax_row(&student[span.clone()], t);
        let (p, log_p) = softmax_row(&teacher[span.clone()], t);
        if beta == 0.0 {
            // Forward KL(p‖q); gradient (1/T)(q − p).
            for c in 0..cols {
                if p[c] != 0.0 {
                    loss += p[c] * (log_p[c] - log_q[c]);
                }
                grad[span.start + c] = (q[c] - p[c]) / t / mask.n;
            }
            continue;
        }
        for c in 0..cols {
            if beta == 1.0 {
                // Reverse KL(q‖p); g = log q − log p (+1, removed by the projection).
                if q[c] != 0.0 {
                    loss += q[c] * (log_q[c] - log_p[c]);
                }
                // Where q = 0 (a masked student class) g only meets q: 0, not -inf.
                g[c] = if q[c] != 0.0 {
                    log_q[c] - log_p[c]
                } else {
                    0.0
                };
            } else {
                let log_m = lse2(log_p[c] + log_beta, log_q[c] + log_1m_beta);
                if p[c] != 0.0 {
                    loss += beta * p[c] * (log_p[c] - log_m);
                }
                if q[c] != 0.0 {
                    loss += (1.0 - beta) * q[c] * (log_q[c] - log_m);
                }
                g[c] = if q[c] != 0.0 {
                    (1.0 - beta) * (log_q[c] - log_m)
                } else {
                    0.0
                };
            }
        }
        softmax_backward(&q, &g, t, mask.n, &mut grad[span]);
    }
    Ok((loss / mask.n, grad))
}

/// Total variation distance, no T²: row loss `½·Σ_c |p_c − q_c|`, `g_c = ½·sign(q_c − p_c)`.
/// Returns `(L, ∂L/∂zs)`.
#[allow(clippy::too_many_arguments)]
pub fn tvd(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    t: f64,
    labels: Option<&[i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
) -> Result<(f64, Vec<f64>)> {
    let mask = dense_pair_mask(
        student,
        teacher,
        rows,
        cols,
        t,
        labels,
        ignore_index,
        normalizer,
    )?;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    let mut g = vec![0.0; cols];
    for r in (0..rows).filter(|&r| mask.valid[r]) {
        let span = r * cols..(r + 1) * cols;
        let (q, _) = softmax_row(&student[span.clone()], t);
        let (p, _) = softmax_row(&teacher[span.clone()], t);
        for c in 0..cols {
            loss += 0.5 * (p[c] - q[c]).abs();
            g[c] = 0.5 * sign(q[c] - p[c]);
        }
        softmax_backward(&q, &g, t, mask.n, &mut grad[span]);
    }
    Ok((loss / mask.n, grad))
}

/// KL with T² and masking: `L = T²/n · Σ_valid Σ_c p (log p − log q)`, `∂L/∂zs = (T/n)(q − p)`
/// on valid rows. It is [`crate::losses::kl::reference::kl`] over the valid rows (m of them), rescaled from 1/m to
/// 1/n: with no labels and no normaliser m = n = B, the factor is exactly 1 and the result is
/// bit for bit the seed's KL.
#[allow(clippy::too_many_arguments)]
pub fn kl_masked(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    t: f64,
    labels: Option<&[i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
) -> Result<(f64, Vec<f64>)> {
    let mask = dense_pair_mask(
        student,
        teacher,
        rows,
        cols,
        t,
        labels,
        ignore_index,
        normalizer,
    )?;
    let kept: Vec<usize> = (0..rows).filter(|&r| mask.valid[r]).collect();
    let mut grad = vec![0.0; rows * cols];
    if kept.is_empty() {
        return Ok((0.0, grad));
    }
    let gather = |x: &[f64]| -> Vec<f64> {
        kept.iter()
            .flat_map(|&r| x[r * cols..(r + 1) * cols].iter().copied())
            .collect()
    };
    let m = kept.len();
    let (loss_m, grad_m) =
        crate::losses::kl::reference::kl(&gather(student), &gather(teacher), m, cols, t);
    let scale = m as f64 / mask.n;
    for (i, &r) in kept.iter().enumerate() {
        for c in 0..cols {
            grad[r * cols + c] = grad_m[i * cols + c] * scale;
        }
    }
    Ok((loss_m * scale, grad))
}

/// The hard-label term: `CE = (1/n)·Σ_valid −log_softmax(zs)[y]` on the **raw** logits (T = 1),
/// gradient `(softmax(zs) − onehot(y))/n` on valid rows. `n` is the soft term's normaliser
/// ([`RowMask::n`]). Returns `(CE, ∂CE/∂zs)`, unweighted (see [`blend`]).
pub fn hard_term(
    student: &[f64],
    rows: usize,
    cols: usize,
    labels: &[i64],
    ignore_index: i64,
    n: f64,
) -> Result<(f64, Vec<f64>)> {
    check_dense("student", student.len(), rows, cols)?;
    check_masked_labels(labels, rows, cols, ignore_index)?;
    check_normalizer(Some(n))?;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    for r in (0..rows).filter(|&r| labels[r] != ignore_index) {
        let y = labels[r] as usize;
        let span = r * cols..(r + 1) * cols;
        let (q, log_q) = softmax_row(&student[span.clone()], 1.0);
        loss -= log_q[y];
        for c in 0..cols {
            let onehot = if c == y { 1.0 } else { 0.0 };
            grad[span.start + c] = (q[c] - onehot) / n;
        }
    }
    Ok((loss / n, grad))
}

/// The hard term of `dist` and `dkd`: every label in `[0, C)` (no `ignore_index`), `n = B`.
pub fn hard_term_all_rows(
    student: &[f64],
    rows: usize,
    cols: usize,
    labels: &[i64],
) -> Result<(f64, Vec<f64>)> {
    crate::losses::checks::check_labels(labels, rows, cols)?;
    // No label is negative after the check, so -1 ignores nothing.
    hard_term(student, rows, cols, labels, -1, rows.max(1) as f64)
}

/// `L = w_soft·soft + w_hard·CE`, gradient likewise; `soft` and `hard` are `(loss, gradient)`.
pub fn blend(
    soft: (f64, Vec<f64>),
    hard: (f64, Vec<f64>),
    w_soft: f64,
    w_hard: f64,
) -> Result<(f64, Vec<f64>)> {
    check_weights(w_soft, w_hard)?;
    if soft.1.len() != hard.1.len() {
        return Err(Error::Shape(format!(
            "soft gradient has {} values, hard gradient {}",
            soft.1.len(),
            hard.1.len()
        )));
    }
    let grad = soft
        .1
        .iter()
        .zip(&hard.1)
        .map(|(s, h)| w_soft * s + w_hard * h)
        .collect();
    Ok((w_soft * soft.0 + w_hard * hard.0, grad))
}

/// `w_soft·KL_sparse + w_hard·CE` for `inputs` with a sparse teacher (what the GPU's
/// `token_sparse.wgsl` computes). Returns `(L, ∂L/∂zs)`.
pub fn evaluate_sparse(
    student: &[f64],
    inputs: &crate::losses::common::Inputs<'_>,
    t: f64,
    options: &TokenOptions,
) -> Result<(f64, Vec<f64>)> {
    let sparse = inputs
        .sparse
        .ok_or_else(|| Error::Param("no sparse teacher given".into()))?;
    let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
    let logprobs: Vec<f64> = sparse.logprobs.iter().map(|&x| f64::from(x)).collect();
    options.sparse_mode(sparse.tail)?;
    let call = SparseCall {
        ids: sparse.ids,
        logprobs: &logprobs,
        k: sparse.k,
        t,
        tail: sparse.tail,
        over_ids: options.student_over_ids,
        labels: inputs.labels,
        ignore_index: options.ignore_index,
        normalizer: options.normalizer,
    };
    let soft = sparse_kl(student, rows, cols, &call)?;
    let hard = hard_part(student, rows, cols, options, inputs.labels)?;
    blend(soft, hard, options.soft_weight, options.hard_weight)
}

/// The hard term's `(CE, ∂CE/∂zs)` with `options`' weight non-zero, else zeros.
fn hard_part(
    student: &[f64],
    rows: usize,
    cols: usize,
    options: &TokenOptions,
    labels: Option<&[i64]>,
) -> Result<(f64, Vec<f64>)> {
    let (ignore, normalizer) = (options.ignore_index, options.normalizer);
    match labels {
        Some(labels) if options.hard_weight != 0.0 => {
            let n = RowMask::new(rows, cols, Some(labels), ignore, normalizer)?.n;
            hard_term(student, rows, cols, labels, ignore, n)
        }
        None if options.hard_weight != 0.0 => Err(Error::Shape(
            "the hard-label term (hard weight != 0) needs labels".into(),
        )),
        _ => Ok((0.0, vec![0.0; student.len()])),
    }
}

/// KL against a sparse top-k teacher (`ids`, `logprobs`: N×K, full-vocabulary log-probs at
/// T = 1). `log q = log_softmax(zs/T)` over the full V.
/// - no tail: `p_k = softmax_k(logprobs/T)`, row loss `T²·Σ_k p_k (log p_k − log q[ids_k])`;
/// - tail (T = 1): `p_k = exp(logprobs_k)`, `r = max(1 − Σ_k p_k, 0)`, plus
///   `r·(log r − log Q_rest)` with `log Q_rest = LSE_{c∉ids}(zs/T) − LSE(zs/T)` taken directly
///   over the other classes (never `log(1 − Σq)`, which loses everything when `Q_rest` ≈ 1e-15).
///
/// Gradient `T·(q − p̃)/n`: `p̃ = p_k` at `ids_k`, and with the tail `r·q_c/Q_rest` elsewhere.
/// With K = V there is no class outside the ids: the tail term is dropped (its `r` is rounding).
#[allow(clippy::too_many_arguments)]
pub fn kl_sparse(
    student: &[f64],
    rows: usize,
    cols: usize,
    ids: &[i64],
    logprobs: &[f64],
    k: usize,
    t: f64,
    tail: bool,
    labels: Option<&[i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
) -> Result<(f64, Vec<f64>)> {
    let call = SparseCall {
        ids,
        logprobs,
        k,
        t,
        tail,
        over_ids: false,
        labels,
        ignore_index,
        normalizer,
    };
    sparse_kl(student, rows, cols, &call)
}

/// A sparse teacher's call: its ids and log-probs (N×K), T, the form (tail, or the student
/// over the ids too: TRL's convention, `TokenOptions::student_over_ids`), the masking.
struct SparseCall<'a> {
    ids: &'a [i64],
    logprobs: &'a [f64],
    k: usize,
    t: f64,
    tail: bool,
    over_ids: bool,
    labels: Option<&'a [i64]>,
    ignore_index: i64,
    normalizer: Option<f64>,
}

/// [`kl_sparse`], and with `over_ids` the student renormalised over the row's K ids:
/// `log q̂_k = zs[ids_k]/T − LSE_k(zs[ids]/T)` in the loss, gradient `T·(q̂ − p)` at the ids
/// and 0 elsewhere.
fn sparse_kl(
    student: &[f64],
    rows: usize,
    cols: usize,
    call: &SparseCall<'_>,
) -> Result<(f64, Vec<f64>)> {
    let SparseCall {
        ids,
        logprobs,
        k,
        t,
        tail,
        over_ids,
        labels,
        ignore_index,
        normalizer,
    } = *call;
    check_dense("student", student.len(), rows, cols)?;
    check_sparse(rows, cols, ids, logprobs, k, t, tail)?;
    if tail && over_ids {
        return Err(Error::Param(
            "the student over the ids takes no tail".into(),
        ));
    }
    let mask = RowMask::new(rows, cols, labels, ignore_index, normalizer)?;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    let mut in_ids = vec![false; cols];
    let mut log_p = vec![0.0; k];
    for r in (0..rows).filter(|&r| mask.valid[r]) {
        let zs = &student[r * cols..(r + 1) * cols];
        let row_ids: Vec<usize> = ids[r * k..(r + 1) * k]
            .iter()
            .map(|&i| i as usize)
            .collect();
        let row_lp = &logprobs[r * k..(r + 1) * k];
        // log p_k: as given with the tail; re-tempered and renormalised over the K without.
        if tail {
            log_p.copy_from_slice(row_lp);
        } else {
            let lse_k = lse_where(row_lp, t, |_| true);
            for j in 0..k {
                log_p[j] = row_lp[j] / t - lse_k;
            }
        }
        let lse = if over_ids {
            let gathered: Vec<f64> = row_ids.iter().map(|&c| zs[c]).collect();
            lse_where(&gathered, t, |_| true)
        } else {
            lse_where(zs, t, |_| true)
        };
        let mut row_loss = 0.0;
        let mut mass = 0.0;
        for j in 0..k {
            let p = log_p[j].exp();
            mass += p;
            if p != 0.0 {
                row_loss += p * (log_p[j] - (zs[row_ids[j]] / t - lse));
            }
        }
        // q everywhere (q̂ at the ids alone over them), minus p̃ at the ids.
        let g = &mut grad[r * cols..(r + 1) * cols];
        for c in 0..cols {
            g[c] = (zs[c] / t - lse).exp();
        }
        if over_ids {
            let q_ids: Vec<f64> = row_ids.iter().map(|&c| g[c]).collect();
            g.fill(0.0);
            row_ids.iter().zip(q_ids).for_each(|(&c, q)| g[c] = q);
        }
        for j in 0..k {
            g[row_ids[j]] -= log_p[j].exp();
            in_ids[row_ids[j]] = true;
        }
        if tail {
            let rest = (1.0 - mass).max(0.0);
            let lse_rest = lse_where(zs, t, |c| !in_ids[c]);
            if rest > 0.0 && lse_rest > f64::NEG_INFINITY {
                row_loss += rest * (rest.ln() - (lse_rest - lse));
                // p̃_c = r·q_c/Q_rest = r·exp(zs_c/T − LSE_rest).
                for c in (0..cols).filter(|&c| !in_ids[c]) {
                    g[c] -= rest * (zs[c] / t - lse_rest).exp();
                }
            }
        }
        for &c in &row_ids {
            in_ids[c] = false;
        }
        for gc in g.iter_mut() {
            *gc *= t / mask.n;
        }
        loss += t * t * row_loss;
    }
    Ok((loss / mask.n, grad))
}

/// `w_soft·soft + w_hard·CE` for `dist` and `dkd` (every label in `[0, C)`, n = B); `soft`
/// itself when the weights leave it alone.
pub(crate) fn with_hard_term(
    soft: (f64, Vec<f64>),
    student: &[f64],
    inputs: &crate::losses::common::Inputs<'_>,
    w_soft: f64,
    w_hard: f64,
) -> Result<(f64, Vec<f64>)> {
    if w_hard == 0.0 && w_soft == 1.0 {
        return Ok(soft);
    }
    let hard = if w_hard == 0.0 {
        (0.0, vec![0.0; student.len()])
    } else {
        let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
        hard_term_all_rows(student, rows, cols, inputs.labels.unwrap_or(&[]))?
    };
    blend(soft, hard, w_soft, w_hard)
}
