//! Skew KL and skew reverse KL (DistiLLM, ICML 2024; SPEC "Skew KL and skew reverse KL"): the
//! token skeleton with the terms `token_term_skl.wgsl` and `token_term_srkl.wgsl`, the skew in
//! the uniform's `beta`. The float64 twin is [`super::reference::skew`].

use super::{plan, reference, TokenTerm, TOKEN_PARAMS};
use crate::error::Result;
use crate::losses::checks::{check_skew, check_temperature, require_rank};
use crate::losses::common::{Inputs, Loss};
use crate::losses::options::TokenOptions;
use crate::losses::registry::{Entry, ParamValues};
use crate::plan::{IoLayout, Plan, PlanEnv};

/// DistiLLM's default skew.
pub const DEFAULT_SKEW: f64 = 0.1;

const SKEW_PARAMS: [&str; 7] = [
    "temperature",
    "skew",
    TOKEN_PARAMS[0],
    TOKEN_PARAMS[1],
    TOKEN_PARAMS[2],
    TOKEN_PARAMS[3],
    TOKEN_PARAMS[4],
];

/// Skew KL: row loss `KL(p ‖ α·p + (1−α)·q)`, no T² (α = 0 is `kl` without its T²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SklParams {
    /// Softmax temperature T (> 0); DistiLLM's case is 1.
    pub temperature: f64,
    /// The skew α ∈ [0, 1) (default 0.1).
    pub skew: f64,
    pub options: TokenOptions,
}

/// Skew reverse KL: row loss `KL(q ‖ (1−α)·p + α·q)`, no T² (α = 0 is the reverse KL).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SrklParams {
    /// Softmax temperature T (> 0); DistiLLM's case is 1.
    pub temperature: f64,
    /// The skew α ∈ [0, 1) (default 0.1).
    pub skew: f64,
    pub options: TokenOptions,
}

macro_rules! skew_params {
    ($ty:ident, $registration:ident, $name:literal, $term:expr, $reverse:literal) => {
        /// The loss's name, parameters and kernels (the token skeleton's).
        pub const $registration: Entry<$ty> = Entry {
            name: $name,
            params: &SKEW_PARAMS,
            kernels: super::kernels::KERNELS,
            build: |v: &ParamValues| {
                let d = $ty::default();
                Ok($ty {
                    temperature: v.number_or("temperature", d.temperature)?,
                    skew: v.number_or("skew", d.skew)?,
                    options: TokenOptions::from_values(v)?,
                })
            },
        };

        impl $ty {
            /// The loss at temperature `temperature` with skew `skew`, default options.
            pub fn new(temperature: f64, skew: f64) -> Self {
                Self {
                    temperature,
                    skew,
                    options: TokenOptions::default(),
                }
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new(1.0, DEFAULT_SKEW)
            }
        }

        setters!($ty {
            with_temperature(temperature: f64),
            with_skew(skew: f64),
            with_options(options: TokenOptions),
        });

        impl Loss for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn takes_16_bit_inputs(&self) -> bool {
                true
            }

            fn token_options(&self) -> Option<&TokenOptions> {
                Some(&self.options)
            }

            fn check_params(&self) -> Result<()> {
                check_temperature(self.temperature)?;
                check_skew($name, self.skew)?;
                self.options.check()?;
                self.options.check_kl_only($name)
            }

            fn check_shape(&self, dims: &[usize]) -> Result<()> {
                require_rank(self.name(), dims, 2, "B×C")
            }

            fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
                let (t, skew) = (self.temperature, self.skew);
                plan(env, $term, t, skew, &self.options, shape, io)
            }

            fn reference(
                &self,
                student: &[f64],
                teacher: &[f64],
                inputs: &Inputs<'_>,
            ) -> Result<(f64, Vec<f64>)> {
                let soft = if $reverse {
                    reference::Soft::Srkl(self.skew)
                } else {
                    reference::Soft::Skl(self.skew)
                };
                let (t, labels) = (self.temperature, inputs.labels);
                reference::evaluate(
                    soft,
                    student,
                    teacher,
                    inputs.shape,
                    t,
                    &self.options,
                    labels,
                )
            }
        }
    };
}

skew_params!(SklParams, SKL_REGISTRATION, "skl", TokenTerm::Skl, false);
skew_params!(SrklParams, SRKL_REGISTRATION, "srkl", TokenTerm::Srkl, true);

#[cfg(test)]
mod tests {
    use super::reference::{evaluate, Soft};
    use crate::losses::options::TokenOptions;
    use crate::reference::numerics::testing::{assert_finite_differences, logit_pair};

    /// The float64 twins of skl, srkl and soft-capping (with masking and the hard term, which
    /// sees the capped logits) against central differences of their own loss.
    #[test]
    fn gradients_match_finite_differences() {
        let (rows, cols) = (4, 7);
        let (zs, zt) = logit_pair(rows, cols);
        let labels = [2, -100, 6, 0];
        let plain = TokenOptions::default();
        let capped = plain.with_softcap(Some(1.5)).with_hard_weight(0.3);
        let cases = [
            (Soft::Skl(0.1), 1.0, plain),
            (Soft::Skl(0.0), 2.0, plain),
            (Soft::Skl(0.4), 2.0, capped),
            (Soft::Srkl(0.1), 2.0, plain),
            (Soft::Srkl(0.0), 1.0, plain),
            (Soft::Srkl(0.25), 1.0, capped),
            (Soft::Kl, 2.0, capped),
            (Soft::Jsd(0.5), 1.0, capped),
            (Soft::Tvd, 2.0, capped),
        ];
        for (soft, t, options) in cases {
            let run = |z: &[f64]| {
                evaluate(soft, z, &zt, &[rows, cols], t, &options, Some(&labels)).unwrap()
            };
            let (_, grad) = run(&zs);
            assert!(grad[cols..2 * cols].iter().all(|&g| g == 0.0), "{soft:?}");
            assert_finite_differences(|z| run(z).0, &zs, &grad, 1e-7);
        }
    }

    /// α = 0: skl is kl without its T², srkl the reverse KL (jsd at β = 1).
    #[test]
    fn zero_skew_is_the_plain_divergence() {
        let (rows, cols) = (3, 9);
        let (zs, zt) = logit_pair(rows, cols);
        let o = TokenOptions::default();
        let dims = [rows, cols];
        let t = 2.0;
        let skl = evaluate(Soft::Skl(0.0), &zs, &zt, &dims, t, &o, None).unwrap();
        let kl = evaluate(Soft::Kl, &zs, &zt, &dims, t, &o, None).unwrap();
        assert!((skl.0 * t * t - kl.0).abs() < 1e-12, "{} {}", skl.0, kl.0);
        let srkl = evaluate(Soft::Srkl(0.0), &zs, &zt, &dims, t, &o, None).unwrap();
        let rkl = evaluate(Soft::Jsd(1.0), &zs, &zt, &dims, t, &o, None).unwrap();
        assert!((srkl.0 - rkl.0).abs() < 1e-12, "{} {}", srkl.0, rkl.0);
        for (a, b) in srkl.1.iter().zip(&rkl.1) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
