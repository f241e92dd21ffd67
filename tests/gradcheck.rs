//! Central finite differences of the float64 reference losses against their analytic gradients.

use wgpu_distill::reference::{dist::dist, kl::kl};
use wgpu_distill::synthetic::SplitMix;
use wgpu_distill::DistParams;

fn check(name: &str, f: impl Fn(&[f64]) -> (f64, Vec<f64>), x: &[f64]) {
    let (_, grad) = f(x);
    let h = 1e-6;
    let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-12);
    for i in 0..x.len() {
        let mut plus = x.to_vec();
        let mut minus = x.to_vec();
        plus[i] += h;
        minus[i] -= h;
        let numeric = (f(&plus).0 - f(&minus).0) / (2.0 * h);
        let err = (numeric - grad[i]).abs();
        assert!(
            err <= 1e-6 * scale.max(1.0),
            "{name}: d/dx[{i}] numeric {numeric} vs analytic {} (max |grad| {scale})",
            grad[i]
        );
    }
}

fn random(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = SplitMix::new(seed);
    (0..n).map(|_| rng.normal() * scale).collect()
}

#[test]
fn kl_reference_gradient_matches_finite_differences() {
    for (seed, (b, c), t) in [
        (1, (3, 5), 1.0),
        (2, (4, 7), 4.0),
        (3, (1, 3), 0.5),
        (4, (5, 1), 2.0),
    ] {
        let teacher = random(seed + 100, b * c, 2.0);
        let student = random(seed, b * c, 2.0);
        check(
            &format!("kl {b}x{c} T={t}"),
            |s| kl(s, &teacher, b, c, t),
            &student,
        );
    }
}

#[test]
fn dist_reference_gradient_matches_finite_differences() {
    let cases = [
        (1, (4, 5), DistParams::default()),
        (
            2,
            (6, 3),
            DistParams {
                temperature: 4.0,
                beta: 2.0,
                gamma: 0.5,
            },
        ),
        (3, (1, 4), DistParams::default()),
        (
            4,
            (5, 1),
            DistParams {
                temperature: 2.0,
                beta: 1.0,
                gamma: 1.0,
            },
        ),
        (
            5,
            (3, 8),
            DistParams {
                temperature: 0.5,
                beta: 1.0,
                gamma: 3.0,
            },
        ),
    ];
    for (seed, (b, c), p) in cases {
        let teacher = random(seed + 100, b * c, 1.0);
        let student = random(seed, b * c, 1.0);
        check(
            &format!("dist {b}x{c} {p:?}"),
            |s| dist(s, &teacher, b, c, &p),
            &student,
        );
    }
}
