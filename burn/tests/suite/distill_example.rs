//! The burn example, short: a few epochs of DIST + KL on burn's wgpu device lower the loss and
//! raise the student's agreement with the teacher.

#[path = "../../examples/distill.rs"]
#[allow(dead_code)]
mod distill;

#[test]
fn training_lowers_the_loss_and_raises_agreement() {
    // The binary's Vulkan device (burn's runtime is initialised once per process).
    let device = crate::device().autodiff();
    let reports = distill::train(&device, 4, |_| {}).expect("training ran");
    let (first, last) = (reports[0], *reports.last().unwrap());
    assert!(
        last.loss < 0.7 * first.loss,
        "loss {} -> {}",
        first.loss,
        last.loss
    );
    assert!(
        last.agreement > first.agreement + 0.2,
        "agreement {} -> {}",
        first.agreement,
        last.agreement
    );
}

#[path = "../../examples/ctkd.rs"]
#[allow(dead_code)]
mod ctkd;

/// The CTKD example: LS + KD with a learned temperature raises agreement, and T moves (the
/// kernels' ∂L/∂T reached burn's optimizer) within its range.
#[test]
fn a_learned_temperature_moves_and_the_student_learns() {
    let device = crate::device().autodiff();
    let reports = ctkd::train(&device, 4, |_| {}).expect("training ran");
    let (first, last) = (reports[0], *reports.last().unwrap());
    assert!(
        last.agreement > first.agreement + 0.2,
        "agreement {} -> {}",
        first.agreement,
        last.agreement
    );
    assert!(
        (last.temperature - first.temperature).abs() > 1e-3,
        "T {} -> {}",
        first.temperature,
        last.temperature
    );
    assert!(last.temperature.is_finite());
}

#[path = "../../examples/tiny_lm.rs"]
#[allow(dead_code)]
mod tiny_lm;

/// The tiny causal LM distilled through the fused head: the loss falls and the student agrees
/// with the teacher on more answer tokens.
#[test]
fn the_tiny_lm_learns_through_the_fused_head() {
    let device = crate::device().autodiff();
    let reports = tiny_lm::train(&device, 3, |_| {}).expect("training ran");
    let (first, last) = (reports[0], *reports.last().unwrap());
    assert!(
        last.loss < 0.8 * first.loss,
        "loss {} -> {}",
        first.loss,
        last.loss
    );
    assert!(
        last.agreement > first.agreement,
        "agreement {} -> {}",
        first.agreement,
        last.agreement
    );
}
