//! The token options shared by `kl`, `jsd`, `tvd`, `skl` and `srkl`: masking, the normaliser,
//! the hard-label term and soft-capping; and kl's LS and CTKD options (`standardize`, `temperature_grad`), here so
//! that `KlParams { temperature, options }` stays the whole of KL's parameters.

use crate::error::{Error, Result};
use crate::losses::checks::{check_finite, check_normalizer};
use crate::losses::registry::ParamValues;

/// TRL's and PyTorch's default `ignore_index`.
pub const DEFAULT_IGNORE_INDEX: i64 = -100;

/// Masking, normalisation and the hard-label term of the token losses (`kl`, `jsd`, `tvd`).
/// The default changes nothing: no row is ignored unless labels are given, the normaliser is
/// the count of valid rows, and `L = 1·soft + 0·CE`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenOptions {
    /// Rows whose label equals this are left out (loss 0, gradient 0). Must fit in an i32:
    /// the GPU holds labels as 32-bit words.
    pub ignore_index: i64,
    /// Divides the summed row losses instead of the count of valid rows (e.g. the token count
    /// of a whole gradient-accumulation step, TRL's `num_items_in_batch`). Finite and > 0.
    pub normalizer: Option<f64>,
    /// Weight of the hard-label cross-entropy on the raw student logits (needs labels).
    pub hard_weight: f64,
    /// Weight of the soft (distillation) term.
    pub soft_weight: f64,
    /// LS (`kl` only; SPEC "LS"): z-score each row of both inputs before the soft term (the
    /// hard term keeps the raw student). Needs C ≥ 2 and a dense teacher.
    pub standardize: bool,
    /// CTKD (`kl` only; SPEC "CTKD"): also return `∂L/∂T` (`LossOutput::grad_temperature`;
    /// a recorded call writes it after the loss, so its `loss` region holds two f32).
    pub temperature_grad: bool,
    /// Logit soft-capping (SPEC "Logit soft-capping"; `kl`, `jsd`, `tvd`, `skl`, `srkl`):
    /// `z ← c·tanh(z/c)` on the student's and the teacher's logits before the temperature
    /// (the hard term sees the capped student too), as Gemma 2 caps its final logits. `c` finite
    /// and > 0; `None` caps nothing. Needs a dense teacher; not with LS or CTKD.
    pub softcap: Option<f64>,
    /// With a sparse top-k teacher without the tail (`kl`): the student's log-probabilities
    /// renormalised over the row's K ids (`log_softmax` of the gathered `zs/T`), TRL's and
    /// most distillation servers' convention, instead of over the whole vocabulary (SPEC's
    /// default). The loss then ignores the student's mass outside the ids and its gradient is
    /// 0 there (but for the hard term's). Refused with a dense teacher and with the tail.
    pub student_over_ids: bool,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            ignore_index: DEFAULT_IGNORE_INDEX,
            normalizer: None,
            hard_weight: 0.0,
            soft_weight: 1.0,
            standardize: false,
            temperature_grad: false,
            softcap: None,
            student_over_ids: false,
        }
    }
}

setters!(TokenOptions {
    /// Rows whose label equals `ignore_index` are left out.
    with_ignore_index(ignore_index: i64),
    /// Divides the summed row losses (`None`: the count of valid rows).
    with_normalizer(normalizer: Option<f64>),
    /// The weight of the hard-label cross-entropy (needs labels).
    with_hard_weight(hard_weight: f64),
    /// The weight of the soft (distillation) term.
    with_soft_weight(soft_weight: f64),
    /// LS: z-score both inputs' rows before the soft term (`kl`).
    with_standardize(standardize: bool),
    /// CTKD: also compute `∂L/∂T` (`kl`).
    with_temperature_grad(temperature_grad: bool),
    /// Soft-cap both inputs' logits at `c` (`None`: no cap).
    with_softcap(softcap: Option<f64>),
    /// A sparse teacher's student renormalised over the K ids (TRL's convention).
    with_student_over_ids(student_over_ids: bool),
});

impl TokenOptions {
    /// The options from named values (`ignore-index`, `normalizer`, `hard-weight`,
    /// `soft-weight`), the others at their defaults.
    pub(crate) fn from_values(v: &ParamValues) -> Result<Self> {
        let d = Self::default();
        let ignore = v.number_or("ignore-index", d.ignore_index as f64)?;
        if ignore.fract() != 0.0 || ignore.abs() > 2f64.powi(31) {
            return Err(Error::Param(format!(
                "ignore_index must be a 32-bit integer, got {ignore}"
            )));
        }
        Ok(Self {
            ignore_index: ignore as i64,
            normalizer: v.number("normalizer")?,
            hard_weight: v.number_or("hard-weight", d.hard_weight)?,
            soft_weight: v.number_or("soft-weight", d.soft_weight)?,
            standardize: v.flag("standardize")?.unwrap_or(false),
            temperature_grad: v.flag("temperature-grad")?.unwrap_or(false),
            softcap: v.number("softcap")?,
            student_over_ids: v.flag("student-over-ids")?.unwrap_or(false),
        })
    }

    /// Checks the domains: `ignore_index` fits in an i32, the normaliser is finite and > 0,
    /// the weights are finite.
    pub fn check(&self) -> Result<()> {
        if i32::try_from(self.ignore_index).is_err() {
            return Err(Error::Param(format!(
                "ignore_index {} does not fit in 32 bits",
                self.ignore_index
            )));
        }
        check_normalizer(self.normalizer)?;
        check_finite("soft weight", self.soft_weight)?;
        check_finite("hard weight", self.hard_weight)?;
        if let Some(c) = self.softcap {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::Param(format!(
                    "softcap must be finite and > 0, got {c}"
                )));
            }
            if self.standardize || self.temperature_grad {
                return Err(Error::Param(
                    "softcap is not implemented together with standardize or temperature_grad"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Refuses LS and CTKD for a loss other than `kl` (`name`).
    pub(crate) fn check_kl_only(&self, name: &str) -> Result<()> {
        for (set, option) in [
            (self.standardize, "standardize"),
            (self.temperature_grad, "temperature_grad"),
        ] {
            if set {
                return Err(Error::Param(format!(
                    "{option} applies to kl (and standardize to dkd, ttm, mlkd), not {name}"
                )));
            }
        }
        Ok(())
    }

    /// Refuses the options that need the dense teacher's logits (LS, CTKD, soft-capping) when
    /// the teacher is sparse.
    pub(crate) fn check_sparse_teacher(&self) -> Result<()> {
        if self.standardize || self.temperature_grad || self.softcap.is_some() {
            return Err(Error::Param(
                "standardize, temperature_grad and softcap need the dense teacher's logits, not a \
                 sparse teacher"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Refuses `student_over_ids` for a dense teacher: it names a sparse teacher's ids.
    pub(crate) fn check_dense_teacher(&self) -> Result<()> {
        if self.student_over_ids {
            return Err(Error::Param(
                "student_over_ids renormalises the student over a sparse teacher's ids: give a \
                 sparse teacher (ids and log-probs), or leave it off"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The sparse kernel's mode (`tail` in its uniform): 0 the teacher renormalised over the
    /// K against the full-vocabulary student, 1 the tail bucket, 2 the student renormalised
    /// over the K too (`student_over_ids`).
    pub(crate) fn sparse_mode(&self, tail: bool) -> Result<u32> {
        match (tail, self.student_over_ids) {
            (false, false) => Ok(0),
            (true, false) => Ok(1),
            (false, true) => Ok(2),
            (true, true) => Err(Error::Param(
                "student_over_ids and the tail bucket exclude each other: the tail keeps the \
                 mass outside the ids that the renormalised student drops"
                    .into(),
            )),
        }
    }

    /// Whether the hard-label term is asked for (it needs labels).
    pub fn wants_hard_term(&self) -> bool {
        self.hard_weight != 0.0
    }
}
