//! `wgpu-distill eval`'s loss: its registration (`wgpu_distill::losses::REGISTRY`) by name,
//! built from the flags that name its parameters; flags that do not apply are refused.

use wgpu_distill::losses::{registration, ParamValues};
use wgpu_distill::{Error, LossSpec};

use crate::eval::EvalArgs;

/// Builds the loss from its name and the flags; flags that do not apply are refused.
pub(crate) fn loss_spec(args: &EvalArgs) -> Result<LossSpec, Error> {
    let registration = registration(&args.loss)?;
    // The loss parameters, by the flag that sets each.
    let numbers: [(&str, Option<f64>); 17] = [
        ("temperature", args.temperature),
        ("beta", args.beta),
        ("gamma", args.gamma),
        ("alpha", args.alpha),
        ("p", args.p),
        ("distance-weight", args.distance_weight),
        ("angle-weight", args.angle_weight),
        ("ignore-index", args.ignore_index.map(|i| i as f64)),
        ("normalizer", args.normalizer),
        ("hard-weight", args.hard_weight),
        ("soft-weight", args.soft_weight),
        ("power", args.power),
        ("kd-weight", args.kd_weight),
        ("cc-weight", args.cc_weight),
        ("bc-weight", args.bc_weight),
        ("skew", args.skew),
        ("softcap", args.softcap),
    ];
    let mut values = ParamValues::new();
    for (flag, value) in numbers {
        if let Some(v) = value {
            values.set(flag, v);
        }
    }
    for (flag, set) in [
        ("standardize", args.standardize),
        ("temperature-grad", args.temperature_grad),
        ("student-over-ids", args.student_over_ids),
    ] {
        if set {
            values.set(flag, true);
        }
    }
    if let Some(weighted) = args.weighted {
        values.set("weighted", weighted);
    }
    if let Some(d) = &args.denominator {
        values.set("denominator", d.as_str());
    }
    if let Some(list) = &args.temperatures {
        values.set("temperatures", list.as_str());
    }
    if let Some(flag) = values.names().find(|n| !registration.params.contains(n)) {
        return Err(not_for(flag, &args.loss));
    }
    let spec = registration.build(&values)?;
    // Inputs rather than parameters: labels where the loss takes them, a sparse teacher for kl.
    let inputs = [
        ("labels", args.labels.is_some(), spec.takes_labels()),
        (
            "teacher-ids",
            args.teacher_ids.is_some(),
            spec.takes_sparse_teacher(),
        ),
        ("tail", args.tail.is_some(), spec.takes_sparse_teacher()),
    ];
    if let Some((flag, _, _)) = inputs.iter().find(|(_, given, takes)| *given && !takes) {
        return Err(not_for(flag, &args.loss));
    }
    Ok(spec)
}

fn not_for(flag: &str, loss: &str) -> Error {
    Error::Param(format!("--{flag} does not apply to loss {loss}"))
}
