//! The embedding example, short: the loss falls and the student's agreement with the teacher
//! rises, on Vulkan and on GL.

#[path = "../../examples/train_student.rs"]
#[allow(dead_code)]
mod example;

use wgpu_distill::BackendChoice;

#[test]
fn training_lowers_the_loss_and_raises_agreement() {
    for backend in [BackendChoice::Vulkan, BackendChoice::Gl] {
        let reports = example::train(backend, 3, |_| {}).expect("training ran");
        let (first, last) = (reports[0], *reports.last().unwrap());
        assert!(
            last.loss < 0.5 * first.loss,
            "{backend:?}: loss {} -> {}",
            first.loss,
            last.loss
        );
        assert!(
            last.agreement > first.agreement + 0.5,
            "{backend:?}: agreement {} -> {}",
            first.agreement,
            last.agreement
        );
        assert!(
            last.agreement > 0.85,
            "{backend:?}: agreement {}",
            last.agreement
        );
    }
}
