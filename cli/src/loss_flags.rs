//! `wgpu-distill eval`'s loss: built from its name and the flags that apply to it.

use wgpu_distill::losses::LOSS_NAMES;
use wgpu_distill::{DistParams, Error, JsdParams, KlParams, LossSpec, TokenOptions, TvdParams};

use crate::eval::EvalArgs;

/// Builds the loss from its name and the flags; flags that do not apply are refused.
pub(crate) fn loss_spec(args: &EvalArgs) -> Result<LossSpec, Error> {
    use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
    let given: [(&str, bool); 15] = [
        ("labels", args.labels.is_some()),
        ("ignore-index", args.ignore_index.is_some()),
        ("normalizer", args.normalizer.is_some()),
        ("hard-weight", args.hard_weight.is_some()),
        ("soft-weight", args.soft_weight.is_some()),
        ("teacher-ids", args.teacher_ids.is_some()),
        ("tail", args.tail.is_some()),
        ("temperature", args.temperature.is_some()),
        ("beta", args.beta.is_some()),
        ("gamma", args.gamma.is_some()),
        ("alpha", args.alpha.is_some()),
        ("p", args.p.is_some()),
        ("distance-weight", args.distance_weight.is_some()),
        ("angle-weight", args.angle_weight.is_some()),
        ("denominator", args.denominator.is_some()),
    ];
    const TOKEN: [&str; 6] = [
        "labels",
        "ignore-index",
        "normalizer",
        "hard-weight",
        "soft-weight",
        "temperature",
    ];
    let allowed: &[&str] = match args.loss.as_str() {
        "kl" => &[
            "labels",
            "ignore-index",
            "normalizer",
            "hard-weight",
            "soft-weight",
            "temperature",
            "teacher-ids",
            "tail",
        ],
        "jsd" => &[
            "labels",
            "ignore-index",
            "normalizer",
            "hard-weight",
            "soft-weight",
            "temperature",
            "beta",
        ],
        "tvd" => &TOKEN,
        "dist" => &[
            "labels",
            "temperature",
            "beta",
            "gamma",
            "hard-weight",
            "soft-weight",
        ],
        "dkd" => &[
            "labels",
            "temperature",
            "alpha",
            "beta",
            "hard-weight",
            "soft-weight",
        ],
        "at" => &["p"],
        "rkd" => &["distance-weight", "angle-weight"],
        "ickd" => &["denominator"],
        "fitnet" | "hcl" => &[],
        other => {
            return Err(Error::Param(format!(
                "unknown loss '{other}' (available: {})",
                LOSS_NAMES.join(", ")
            )))
        }
    };
    if let Some((flag, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
        return Err(Error::Param(format!(
            "--{flag} does not apply to loss {}",
            args.loss
        )));
    }
    let d = TokenOptions::default();
    let options = TokenOptions {
        ignore_index: args.ignore_index.unwrap_or(d.ignore_index),
        normalizer: args.normalizer,
        hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
        soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
    };
    Ok(match args.loss.as_str() {
        "kl" => LossSpec::Kl(KlParams {
            temperature: args.temperature.unwrap_or(KlParams::default().temperature),
            options,
        }),
        "jsd" => {
            let d = JsdParams::default();
            LossSpec::Jsd(JsdParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                beta: args.beta.unwrap_or(d.beta),
                options,
            })
        }
        "tvd" => LossSpec::Tvd(TvdParams {
            temperature: args.temperature.unwrap_or(TvdParams::default().temperature),
            options,
        }),
        "dist" => {
            let d = DistParams::default();
            LossSpec::Dist(DistParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                beta: args.beta.unwrap_or(d.beta),
                gamma: args.gamma.unwrap_or(d.gamma),
                hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
                soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
            })
        }
        "dkd" => {
            let d = DkdParams::default();
            LossSpec::Dkd(DkdParams {
                temperature: args.temperature.unwrap_or(d.temperature),
                alpha: args.alpha.unwrap_or(d.alpha),
                beta: args.beta.unwrap_or(d.beta),
                hard_weight: args.hard_weight.unwrap_or(d.hard_weight),
                soft_weight: args.soft_weight.unwrap_or(d.soft_weight),
            })
        }
        "at" => LossSpec::At(AtParams {
            p: args.p.unwrap_or(AtParams::default().p),
        }),
        "rkd" => {
            let d = RkdParams::default();
            LossSpec::Rkd(RkdParams {
                distance_weight: args.distance_weight.unwrap_or(d.distance_weight),
                angle_weight: args.angle_weight.unwrap_or(d.angle_weight),
            })
        }
        "ickd" => LossSpec::Ickd(IckdParams {
            denominator: args.denominator.as_deref().unwrap_or("cb").parse()?,
        }),
        "hcl" => LossSpec::Hcl,
        _ => LossSpec::Fitnet,
    })
}
