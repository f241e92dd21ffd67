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
