//! The losses. Each is one folder, `src/losses/<loss>/`: its parameters and its `Loss`
//! implementation (`mod.rs`: checks, plan, float64 twin's entry), its WGSL kernels and their
//! table entries (`*.wgsl`, `kernels.rs`), its float64 twin (`reference.rs`) and its
//! registration [`Entry`] (name, parameters, defaults, kernels). Adding a loss is its folder
//! (declared with `pub mod`) and one line in `register_losses!` below. The folders: `kl`,
//! `dist`, `dkd`, `ttm`, `nkd`, `mlkd`, `fitnet`, `at`, `rkd`, `ickd`, `hcl`, `sp`, `pkt` (on the shared
//! Grams of `batch_gram`), and `token` for the
//! language-model token losses (`kl` with options, `jsd`, `tvd`, sparse teachers; one row
//! skeleton, a term per loss).
//!
//! Layers: `checks` and `options` (no GPU, no float64 twin) under `common` (the trait and
//! the host inputs) under the folders, under `calls` (the GPU entry points) and this file.

pub mod at;
pub mod batch_gram;
mod calls;
pub mod checks;
pub mod common;
pub mod dist;
pub mod dkd;
pub mod fitnet;
pub mod hcl;
pub mod ickd;
pub mod kl;
pub mod mlkd;
pub mod nkd;
pub mod options;
pub mod pkt;
pub mod registry;
pub mod rkd;
pub mod sp;
pub mod standardize;
pub mod token;
pub mod ttm;

pub use at::AtParams;
pub use checks::check_labels;
pub(crate) use common::Loss;
pub use common::{Inputs, LossBindings, LossOutput, SparseTeacher};
pub use dist::{ColumnMoments, DistParams, DistShardStats};
pub use dkd::DkdParams;
pub use ickd::{IckdDenominator, IckdParams};
pub use kl::{KlParams, SparseBindings};
pub use mlkd::MlkdParams;
pub use nkd::NkdParams;
pub use options::{TokenOptions, DEFAULT_IGNORE_INDEX};
pub use pkt::Pkt;
pub use registry::{Entry, ParamValue, ParamValues};
pub use rkd::RkdParams;
pub use sp::Sp;
pub use token::{JsdParams, SklParams, SrklParams, TvdParams};
pub use ttm::TtmParams;

use crate::error::{Error, Result};
use crate::kernel::Kernel;
use fitnet::Fitnet;
use hcl::Hcl;

/// A registered loss: its folder's [`Entry`] with the [`LossSpec`] variant it builds.
pub struct Registration {
    /// The command-line name.
    pub name: &'static str,
    /// Its parameters by name, as the command line spells them (`--hard-weight`):
    /// [`ParamValues`] given to [`Registration::build`] may hold these and no others.
    pub params: &'static [&'static str],
    /// Its kernels (validated by `tests/suite/shaders.rs`).
    pub kernels: &'static [Kernel],
    build: fn(&ParamValues) -> Result<LossSpec>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// The loss with `values` (names this loss does not take are an `Error::Param`), every
    /// other parameter at its default.
    pub fn build(&self, values: &ParamValues) -> Result<LossSpec> {
        if let Some(name) = values.names().find(|n| !self.params.contains(n)) {
            return Err(Error::Param(format!(
                "parameter '{name}' does not apply to loss {} (it takes: {})",
                self.name,
                if self.params.is_empty() {
                    "none".to_string()
                } else {
                    self.params.join(", ")
                }
            )));
        }
        (self.build)(values)
    }

    /// The loss with every parameter at its default.
    pub fn default_spec(&self) -> Result<LossSpec> {
        (self.build)(&ParamValues::new())
    }
}

/// The pattern of a variant: `LossSpec::V(p)` with parameters, `LossSpec::V` without.
macro_rules! variant_pattern {
    ($variant:ident, $p:ident, $params:ident) => {
        LossSpec::$variant($p)
    };
    ($variant:ident, $p:ident) => {
        LossSpec::$variant
    };
}

/// A variant holding `value` (a unit variant ignores its unit value).
macro_rules! variant_value {
    ($variant:ident, $value:expr, $params:ident) => {
        LossSpec::$variant($value)
    };
    ($variant:ident, $value:expr) => {{
        let _unit = $value;
        LossSpec::$variant
    }};
}

/// The loss behind a variant: its parameters, or the unit loss of the variant's name.
macro_rules! variant_loss {
    ($variant:ident, $p:ident, $params:ident) => {
        $p
    };
    ($variant:ident, $p:ident) => {
        &$variant
    };
}

/// Every loss, one line each: its [`LossSpec`] variant (with its parameters' type) and its
/// registration. Generates the enum, [`REGISTRY`], [`LOSS_NAMES`] and `LossSpec::loss`.
macro_rules! register_losses {
    ($( $(#[$doc:meta])* $variant:ident $(($params:ident))? => $registration:path, )*) => {
        /// Which loss, with its parameters. New losses are new variants: match with a `_` arm.
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum LossSpec {
            $( $(#[$doc])* $variant $(($params))?, )*
        }

        /// Every registered loss, in the order of [`LossSpec`]'s variants.
        pub static REGISTRY: &[&Registration] = &[$(&Registration {
            name: $registration.name,
            params: $registration.params,
            kernels: $registration.kernels,
            build: |v| Ok(variant_value!($variant, ($registration.build)(v)? $(, $params)?)),
        }),*];

        /// Names of the losses, as the command line spells them.
        pub const LOSS_NAMES: &[&str] = &[$($registration.name),*];

        impl LossSpec {
            /// The loss behind the variant: every question about a loss is answered by its
            /// own folder (`src/losses/<loss>/mod.rs`).
            pub(crate) fn loss(&self) -> &dyn Loss {
                match self {
                    $( variant_pattern!($variant, p $(, $params)?) => variant_loss!($variant, p $(, $params)?), )*
                }
            }

            /// This loss's registration.
            pub fn registration(&self) -> &'static Registration {
                let name = self.name();
                REGISTRY.iter().copied().find(|r| r.name == name).unwrap_or(REGISTRY[0])
            }
        }
    };
}

register_losses! {
    /// Hinton KD: KL(softmax(zt/T) ‖ softmax(zs/T)), batchmean, times T²; with token options
    /// (masking, normaliser, hard term) for language-model distillation.
    Kl(KlParams) => kl::REGISTRATION,
    /// Generalized Jensen–Shannon divergence (TRL's GKD), with token options.
    Jsd(JsdParams) => token::JSD_REGISTRATION,
    /// Total variation distance, with token options.
    Tvd(TvdParams) => token::TVD_REGISTRATION,
    /// DistiLLM's skew KL, KL(p ‖ α·p + (1−α)·q), with token options.
    Skl(SklParams) => token::SKL_REGISTRATION,
    /// DistiLLM's skew reverse KL, KL(q ‖ (1−α)·p + α·q), with token options.
    Srkl(SrklParams) => token::SRKL_REGISTRATION,
    /// DIST: Pearson inter-class and intra-class relations of the softmax outputs.
    Dist(DistParams) => dist::REGISTRATION,
    /// Decoupled KD: target-class and non-target-class KL, with labels.
    Dkd(DkdParams) => dkd::REGISTRATION,
    /// FitNet hint: mean squared error of features.
    Fitnet => fitnet::REGISTRATION,
    /// Attention transfer on B×C×H×W features.
    At(AtParams) => at::REGISTRATION,
    /// Relational KD (distance and angle) on B×D embeddings.
    Rkd(RkdParams) => rkd::REGISTRATION,
    /// Inter-channel correlation on B×C×H×W features.
    Ickd(IckdParams) => ickd::REGISTRATION,
    /// ReviewKD's hierarchical context loss on one N×C×H×W level.
    Hcl => hcl::REGISTRATION,
    /// TTM / WTTM: KL from the teacher at power γ to the student at T = 1.
    Ttm(TtmParams) => ttm::REGISTRATION,
    /// NKD: teacher-weighted target term and normalized non-target cross-entropy, with labels.
    Nkd(NkdParams) => nkd::REGISTRATION,
    /// MLKD: KL at several temperatures plus the class and batch correlations of the softmaxes.
    Mlkd(MlkdParams) => mlkd::REGISTRATION,
    /// SP: row-normalised B×B similarities of features; the teacher may differ in width.
    Sp => sp::REGISTRATION,
    /// PKT: cosine similarities as row distributions, their KL; the teacher may differ in width.
    Pkt => pkt::REGISTRATION,
}

/// The registration of the loss called `name`.
pub fn registration(name: &str) -> Result<&'static Registration> {
    REGISTRY
        .iter()
        .copied()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            Error::Param(format!(
                "unknown loss '{name}' (available: {})",
                LOSS_NAMES.join(", ")
            ))
        })
}

/// The loss called `name` with `values` (the others at their defaults).
pub fn build(name: &str, values: &ParamValues) -> Result<LossSpec> {
    registration(name)?.build(values)
}

impl LossSpec {
    /// The loss's command-line name.
    pub fn name(&self) -> &'static str {
        self.loss().name()
    }

    /// Whether the loss's kernels read f16 and bf16 inputs (the logit losses).
    pub fn takes_16_bit_inputs(&self) -> bool {
        self.loss().takes_16_bit_inputs()
    }

    /// The token options of `kl`, `jsd` and `tvd` (masking, normaliser, hard term).
    pub fn token_options(&self) -> Option<&TokenOptions> {
        self.loss().token_options()
    }

    /// This token loss (`kl`, `jsd`, `tvd`, `skl`, `srkl`) with its token options replaced; an
    /// `Error::Param` for the other losses.
    pub fn with_token_options(&self, options: TokenOptions) -> Result<LossSpec> {
        Ok(match self {
            LossSpec::Kl(p) => LossSpec::Kl(p.with_options(options)),
            LossSpec::Jsd(p) => LossSpec::Jsd(p.with_options(options)),
            LossSpec::Tvd(p) => LossSpec::Tvd(p.with_options(options)),
            LossSpec::Skl(p) => LossSpec::Skl(p.with_options(options)),
            LossSpec::Srkl(p) => LossSpec::Srkl(p.with_options(options)),
            other => {
                return Err(Error::Param(format!(
                    "{} has no token options (kl, jsd, tvd, skl, srkl have)",
                    other.name()
                )))
            }
        })
    }

    /// Whether the loss needs integer labels (one per row): DKD, and DIST and the token losses
    /// with a hard-label term.
    pub fn needs_labels(&self) -> bool {
        self.loss().needs_labels()
    }

    /// Whether the loss accepts labels: DKD and DIST (the hard term's targets), and the token
    /// losses (to mask rows).
    pub fn takes_labels(&self) -> bool {
        self.loss().takes_labels()
    }

    /// Whether its labels are every row's class target (DKD, NKD), not token labels or a
    /// hard term's.
    pub fn labels_are_targets(&self) -> bool {
        self.loss().labels_are_targets()
    }

    /// How many f32 a recorded call writes to its `loss` region: 1, or 2 (the loss, then
    /// ∂L/∂T) for kl with `temperature_grad`.
    pub fn loss_values(&self) -> usize {
        self.loss().loss_values()
    }

    /// Whether the teacher may differ from the student in width (SP, PKT: only the batch size
    /// must match; give its shape with [`Inputs::with_teacher_shape`] or
    /// [`crate::GpuContext::record_with_teacher_shape`]).
    pub fn takes_other_teacher_width(&self) -> bool {
        self.loss().takes_other_teacher_width()
    }

    /// Checks the teacher's shape against the student's: equal, or for SP and PKT the same
    /// batch size with any width.
    pub fn check_teacher_shape(&self, student: &[usize], teacher: &[usize]) -> Result<()> {
        common::check_teacher_shape(self.loss(), student, teacher)
    }

    /// Whether the loss takes a sparse top-k teacher in place of dense teacher logits (`kl`).
    pub fn takes_sparse_teacher(&self) -> bool {
        self.loss().sparse_temperature().is_some()
    }

    /// Checks the parameters' domains.
    pub fn check_params(&self) -> Result<()> {
        self.loss().check_params()
    }

    /// Checks a shape for this loss.
    pub fn check_shape(&self, dims: &[usize]) -> Result<()> {
        common::check_shape_of(self.loss(), dims)
    }
}

impl Inputs<'_> {
    /// Checks the parameters, the shape, the slice lengths and the labels.
    pub fn check(&self, spec: &LossSpec) -> Result<()> {
        self.check_for(spec.loss())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registration_builds_its_own_variant_with_defaults() {
        for r in REGISTRY {
            let spec = r.default_spec().unwrap();
            assert_eq!(spec.name(), r.name);
            assert!(std::ptr::eq(spec.registration(), *r));
            assert!(!r.kernels.is_empty(), "{} registers no kernel", r.name);
            spec.check_params().unwrap();
        }
        let mut names = LOSS_NAMES.to_vec();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len(), "names are unique");
    }

    #[test]
    fn unknown_names_and_parameters_are_refused() {
        assert!(build("nope", &ParamValues::new()).is_err());
        let err = build("fitnet", &ParamValues::new().with("temperature", 2.0)).unwrap_err();
        assert!(err.to_string().contains("does not apply"), "{err}");
        let kl = build("kl", &ParamValues::new().with("temperature", 2.0)).unwrap();
        assert_eq!(kl, LossSpec::Kl(KlParams::new(2.0)));
    }
}
