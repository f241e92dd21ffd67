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
            DistParams::default()
                .with_temperature(4.0)
                .with_beta(2.0)
                .with_gamma(0.5),
        ),
        (3, (1, 4), DistParams::default()),
        (
            4,
            (5, 1),
            DistParams::default()
                .with_temperature(2.0)
                .with_beta(1.0)
                .with_gamma(1.0),
        ),
        (
            5,
            (3, 8),
            DistParams::default()
                .with_temperature(0.5)
                .with_beta(1.0)
                .with_gamma(3.0),
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

fn check_tol(name: &str, f: impl Fn(&[f64]) -> (f64, Vec<f64>), x: &[f64], tol: f64) {
    let (_, grad) = f(x);
    let h = 1e-6;
    let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-12);
    for i in 0..x.len() {
        let mut plus = x.to_vec();
        let mut minus = x.to_vec();
        plus[i] += h;
        minus[i] -= h;
        let numeric = (f(&plus).0 - f(&minus).0) / (2.0 * h);
        assert!(
            (numeric - grad[i]).abs() <= tol * scale,
            "{name}: d/dx[{i}] numeric {numeric} vs analytic {} (max |grad| {scale})",
            grad[i]
        );
    }
}

#[test]
fn dkd_reference_gradient_matches_finite_differences() {
    use wgpu_distill::reference::dkd::dkd;
    for (seed, (b, c), t, alpha, beta) in [
        (1, (3, 5), 4.0, 1.0, 8.0),
        (2, (4, 2), 1.0, 2.0, 0.5),
        (3, (2, 7), 0.5, 1.0, 1.0),
    ] {
        let teacher = random(seed + 100, b * c, 2.0);
        let student = random(seed, b * c, 2.0);
        let labels: Vec<usize> = (0..b).map(|r| (r * 3 + 1) % c).collect();
        check_tol(
            &format!("dkd {b}x{c}"),
            |s| dkd(s, &teacher, &labels, b, c, t, alpha, beta),
            &student,
            1e-6,
        );
    }
}

#[test]
fn feature_reference_gradients_match_finite_differences() {
    use wgpu_distill::reference::features::{at, fitnet, hcl, ickd};
    let dims = [2, 3, 5, 4];
    let n: usize = dims.iter().product();
    let student = random(7, n, 1.0);
    let teacher = random(8, n, 1.0);
    check_tol("fitnet", |s| fitnet(s, &teacher), &student, 1e-6);
    for p in [1.0, 2.0, 3.0] {
        check_tol(
            &format!("at p={p}"),
            |s| at(s, &teacher, dims, p),
            &student,
            1e-5,
        );
    }
    // A fractional exponent needs positive features.
    let positive: Vec<f64> = student.iter().map(|x| x.abs() + 0.1).collect();
    let positive_t: Vec<f64> = teacher.iter().map(|x| x.abs() + 0.1).collect();
    check_tol(
        "at p=1.5",
        |s| at(s, &positive_t, dims, 1.5),
        &positive,
        1e-5,
    );
    check_tol("ickd", |s| ickd(s, &teacher, dims, 6.0), &student, 1e-5);
    for dims in [[2, 2, 7, 7], [1, 3, 5, 3], [2, 1, 3, 6], [1, 2, 1, 1]] {
        let n: usize = dims.iter().product();
        let (s0, t0) = (random(9, n, 1.0), random(10, n, 1.0));
        check_tol(&format!("hcl {dims:?}"), |s| hcl(s, &t0, dims), &s0, 1e-6);
    }
}

#[test]
fn rkd_reference_gradient_matches_finite_differences() {
    use wgpu_distill::reference::rkd::rkd;
    for (seed, b, d) in [(1, 4, 3), (2, 6, 5), (3, 2, 4)] {
        let teacher = random(seed + 100, b * d, 1.0);
        let student = random(seed, b * d, 1.0);
        check_tol(
            &format!("rkd {b}x{d}"),
            |s| rkd(s, &teacher, b, d, 25.0, 50.0),
            &student,
            1e-5,
        );
    }
}

#[test]
fn ttm_reference_gradient_matches_finite_differences() {
    use wgpu_distill::losses::ttm::reference::ttm;
    for (seed, (b, c), gamma, weighted) in [
        (5, (3, 5), 0.2, false),
        (6, (4, 7), 0.1, true),
        (7, (2, 1), 0.5, true),
    ] {
        let teacher = random(seed + 100, b * c, 2.0);
        let student = random(seed, b * c, 2.0);
        check(
            &format!("ttm {b}x{c} gamma={gamma} weighted={weighted}"),
            |s| ttm(s, &teacher, b, c, gamma, weighted),
            &student,
        );
    }
}

#[test]
fn nkd_reference_gradient_matches_finite_differences() {
    use wgpu_distill::losses::nkd::reference::nkd;
    for (seed, (b, c), t, gamma) in [
        (8, (3, 5), 1.0, 1.5),
        (9, (4, 7), 3.0, 3.5),
        (10, (2, 1), 2.0, 1.0),
    ] {
        let teacher = random(seed + 100, b * c, 2.0);
        let student = random(seed, b * c, 2.0);
        let labels: Vec<i64> = (0..b).map(|r| ((r * 3) % c) as i64).collect();
        check(
            &format!("nkd {b}x{c} T={t} gamma={gamma}"),
            |s| nkd(s, &teacher, &labels, b, c, t, gamma),
            &student,
        );
    }
}
