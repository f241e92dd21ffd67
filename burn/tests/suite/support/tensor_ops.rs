//! KL and DIST written as burn tensor ops, as a burn user would (the comparison of
//! `tests/suite/burn_losses.rs` and of `benches/vs_tensor_ops.rs`).

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::Tensor;

/// KL written as burn tensor ops, as a burn user would.
pub fn kl_ops(zs: Tensor<2>, zt: Tensor<2>, t: f64) -> Tensor<1> {
    let p = softmax(zt.clone() / t, 1);
    let log_p = log_softmax(zt / t, 1);
    let log_q = log_softmax(zs / t, 1);
    (p * (log_p - log_q)).sum_dim(1).mean() * (t * t)
}

/// Pearson of each row of `a` and `b`.
fn pearson_rows(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let a = a.clone() - a.mean_dim(1);
    let b = b.clone() - b.mean_dim(1);
    let norm_a = (a.clone() * a.clone()).sum_dim(1).sqrt();
    let norm_b = (b.clone() * b.clone()).sum_dim(1).sqrt();
    (a * b).sum_dim(1) / (norm_a * norm_b + 1e-8)
}

/// DIST written as burn tensor ops.
pub fn dist_ops(zs: Tensor<2>, zt: Tensor<2>, t: f64) -> Tensor<1> {
    let ys = softmax(zs / t, 1);
    let yt = softmax(zt / t, 1);
    let inter = pearson_rows(ys.clone(), yt.clone()).mean().neg() + 1.0;
    let intra = pearson_rows(ys.transpose(), yt.transpose()).mean().neg() + 1.0;
    (inter + intra) * (t * t)
}
