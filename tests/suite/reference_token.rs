//! The float64 reference of the token losses (`src/reference/token.rs`): against the golden
//! cases of `tests/fixtures/golden_llm/` (PyTorch autograd of TRL's formulas, float64), by
//! central finite differences, and on SPEC's error list.

use std::path::PathBuf;

use wgpu_distill::losses::DistParams;
use wgpu_distill::reference::{dist, dkd, kl, token};
use wgpu_distill::synthetic::SplitMix;
use wgpu_distill::Error;

use crate::npy;

const IGNORE: i64 = token::DEFAULT_IGNORE_INDEX;

type Output = (f64, Vec<f64>);

fn read_f64(path: PathBuf) -> Vec<f64> {
    npy::read_f64(&path).unwrap().1
}

fn read_ints(path: PathBuf) -> Option<Vec<i64>> {
    path.exists().then(|| npy::read_labels(&path).unwrap().1)
}

/// The reference loss and gradient of one golden case.
fn evaluate(case: &crate::common::Golden) -> Output {
    let param = |key: &str, default: f64| {
        case.params
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or(default)
    };
    let (rows, cols) = (case.shape[0], case.shape[1]);
    let student = read_f64(case.dir.join("student.npy"));
    let labels = read_ints(case.dir.join("labels.npy"));
    let labels = labels.as_deref();
    let ignore = case
        .params
        .get("ignore_index")
        .and_then(|v| v.as_i64())
        .unwrap_or(IGNORE);
    let normalizer = case.params.get("normalizer").and_then(|v| v.as_f64());
    let t = param("temperature", 1.0);
    let (w_soft, w_hard) = (param("soft_weight", 1.0), param("hard_weight", 0.0));
    // The soft term's normaliser, shared by the hard term.
    let n = token::RowMask::new(rows, cols, labels, ignore, normalizer)
        .unwrap()
        .n;
    let (soft, hard) = match case.loss.as_str() {
        "dist" | "dkd" => {
            let teacher = read_f64(case.dir.join("teacher.npy"));
            let labels = labels.expect("dist/dkd hard cases have labels");
            let soft = if case.loss == "dist" {
                let p = DistParams::default()
                    .with_temperature(t)
                    .with_beta(param("beta", 1.0))
                    .with_gamma(param("gamma", 1.0));
                dist::dist(&student, &teacher, rows, cols, &p)
            } else {
                let y: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
                let t = param("temperature", 4.0);
                let (alpha, beta) = (param("alpha", 1.0), param("beta", 8.0));
                dkd::dkd(&student, &teacher, &y, rows, cols, t, alpha, beta)
            };
            let hard = token::hard_term_all_rows(&student, rows, cols, labels).unwrap();
            return token::blend(soft, hard, w_soft, w_hard).unwrap();
        }
        loss => {
            let soft = if case.dir.join("teacher_ids.npy").exists() {
                assert_eq!(loss, "kl");
                let ids = read_ints(case.dir.join("teacher_ids.npy")).unwrap();
                let logprobs = read_f64(case.dir.join("teacher_logprobs.npy"));
                let tail = case.params.get("tail").and_then(|v| v.as_bool());
                token::kl_sparse(
                    &student,
                    rows,
                    cols,
                    &ids,
                    &logprobs,
                    ids.len() / rows,
                    t,
                    tail.unwrap_or(false),
                    labels,
                    ignore,
                    normalizer,
                )
            } else {
                let teacher = read_f64(case.dir.join("teacher.npy"));
                let args = (&student[..], &teacher[..], rows, cols, t);
                match loss {
                    "jsd" => token::jsd(
                        args.0,
                        args.1,
                        rows,
                        cols,
                        t,
                        param("beta", 0.5),
                        labels,
                        ignore,
                        normalizer,
                    ),
                    "tvd" => token::tvd(
                        args.0, args.1, args.2, args.3, args.4, labels, ignore, normalizer,
                    ),
                    "kl" => token::kl_masked(
                        args.0, args.1, args.2, args.3, args.4, labels, ignore, normalizer,
                    ),
                    other => panic!("{}: unknown loss {other}", case.name),
                }
            }
            .unwrap();
            let hard = if w_hard != 0.0 {
                let labels = labels.expect("a hard term needs labels");
                token::hard_term(&student, rows, cols, labels, ignore, n).unwrap()
            } else {
                (0.0, vec![0.0; rows * cols])
            };
            (soft, hard)
        }
    };
    token::blend(soft, hard, w_soft, w_hard).unwrap()
}

#[test]
fn golden_llm_cases_match_to_float64() {
    let cases = crate::common::manifest_cases(&crate::common::llm_fixtures());
    assert_eq!(cases.len(), 17, "the manifest lists 17 cases");
    let mut worst = (0.0f64, 0.0f64);
    for (case, _) in &cases {
        let (loss, grad) = evaluate(case);
        let want = case.expected_loss;
        let err = (loss - want).abs();
        assert!(
            err <= 1e-9 * want.abs().max(1.0),
            "{}: loss {loss} vs {want} (error {err:.3e})",
            case.name
        );
        let want_grad = read_f64(case.dir.join("grad_student.npy"));
        assert_eq!(
            grad.len(),
            want_grad.len(),
            "{}: gradient length",
            case.name
        );
        let mut grad_err = 0.0f64;
        for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
            let e = (g - w).abs();
            assert!(e <= 1e-9, "{}: grad[{i}] = {g} vs {w} ({e:.3e})", case.name);
            grad_err = grad_err.max(e);
        }
        worst = (worst.0.max(err), worst.1.max(grad_err));
    }
    eprintln!(
        "golden_llm: worst loss error {:.3e}, worst gradient error {:.3e}",
        worst.0, worst.1
    );
}

// ---------------------------------------------------------------------------------------------
// Finite differences.

fn normals(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = SplitMix::new(seed);
    (0..n).map(|_| rng.normal() * scale).collect()
}

/// Central differences (step 1e-6) of `f` at `x` against its analytic gradient, element by
/// element, within 1e-6 of the largest gradient magnitude.
fn fd_check(what: &str, x: &[f64], f: impl Fn(&[f64]) -> Output) {
    let (loss, grad) = f(x);
    assert!(loss.is_finite(), "{what}: loss {loss}");
    let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 0.0, "{what}: zero gradient");
    let h = 1e-6;
    let mut xp = x.to_vec();
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        xp[i] = x[i] + h;
        let up = f(&xp).0;
        xp[i] = x[i] - h;
        let down = f(&xp).0;
        xp[i] = x[i];
        let fd = (up - down) / (2.0 * h);
        let err = (fd - grad[i]).abs();
        worst = worst.max(err / scale);
        assert!(
            err <= 1e-6 * scale,
            "{what}: d/dx[{i}] analytic {} vs finite difference {fd} (error {err:.3e}, scale {scale:.3e})",
            grad[i]
        );
    }
    eprintln!("{what}: worst FD error / max|grad| = {worst:.2e}");
}

#[test]
fn jsd_gradient_matches_finite_differences() {
    let (rows, cols) = (4, 9);
    let zs = normals(1, rows * cols, 1.5);
    let zt = normals(2, rows * cols, 1.5);
    let labels = [3, IGNORE, 0, 8];
    for t in [1.0, 2.0] {
        for beta in [0.0, 0.02, 0.5, 0.98, 1.0] {
            fd_check(&format!("jsd beta {beta} T {t}"), &zs, |x| {
                token::jsd(x, &zt, rows, cols, t, beta, Some(&labels), IGNORE, None).unwrap()
            });
        }
    }
    // A caller's normaliser, no labels.
    fd_check("jsd normalizer 10", &zs, |x| {
        token::jsd(x, &zt, rows, cols, 1.0, 0.3, None, IGNORE, Some(10.0)).unwrap()
    });
}

#[test]
fn tvd_gradient_matches_finite_differences_away_from_ties() {
    let (rows, cols) = (3, 8);
    let zs = normals(3, rows * cols, 1.0);
    let zt = normals(4, rows * cols, 1.0);
    for t in [1.0, 2.0] {
        // No |p − q| near 0, so a step of 1e-6 crosses no kink.
        for r in 0..rows {
            let span = r * cols..(r + 1) * cols;
            let q = wgpu_distill::reference::softmax_row(&zs[span.clone()], t).0;
            let p = wgpu_distill::reference::softmax_row(&zt[span], t).0;
            let gap = q
                .iter()
                .zip(&p)
                .fold(1.0f64, |m, (a, b)| m.min((a - b).abs()));
            assert!(gap > 1e-4, "test data has a near tie ({gap:e})");
        }
        fd_check(&format!("tvd T {t}"), &zs, |x| {
            token::tvd(x, &zt, rows, cols, t, Some(&[1, 7, IGNORE]), IGNORE, None).unwrap()
        });
    }
}

#[test]
fn kl_masked_gradient_matches_finite_differences() {
    let (rows, cols) = (5, 7);
    let zs = normals(5, rows * cols, 2.0);
    let zt = normals(6, rows * cols, 2.0);
    let labels = [IGNORE, 2, 6, IGNORE, 0];
    for t in [1.0, 4.0] {
        fd_check(&format!("kl_masked T {t}"), &zs, |x| {
            token::kl_masked(x, &zt, rows, cols, t, Some(&labels), IGNORE, None).unwrap()
        });
    }
    fd_check("kl_masked normalizer 64", &zs, |x| {
        token::kl_masked(x, &zt, rows, cols, 2.0, Some(&labels), IGNORE, Some(64.0)).unwrap()
    });
    let (_, grad) =
        token::kl_masked(&zs, &zt, rows, cols, 2.0, Some(&labels), IGNORE, None).unwrap();
    for r in [0, 3] {
        assert!(grad[r * cols..(r + 1) * cols].iter().all(|&g| g == 0.0));
    }
}

#[test]
fn kl_masked_without_labels_is_exactly_the_seed_kl() {
    let (rows, cols) = (6, 33);
    let zs = normals(7, rows * cols, 2.0);
    let zt = normals(8, rows * cols, 2.0);
    for t in [1.0, 2.0, 4.0] {
        let seed = kl::kl(&zs, &zt, rows, cols, t);
        let masked = token::kl_masked(&zs, &zt, rows, cols, t, None, IGNORE, None).unwrap();
        assert_eq!(masked, seed, "T = {t}");
        // Labels that ignore nothing change nothing either.
        let labels: Vec<i64> = (0..rows as i64).collect();
        let all = token::kl_masked(&zs, &zt, rows, cols, t, Some(&labels), IGNORE, None).unwrap();
        assert_eq!(all, seed, "T = {t}, every row valid");
    }
}

#[test]
fn hard_term_and_blend_match_finite_differences() {
    let (rows, cols) = (4, 6);
    let zs = normals(9, rows * cols, 2.0);
    let zt = normals(10, rows * cols, 2.0);
    let labels = [5, IGNORE, 0, 2];
    let n = token::RowMask::new(rows, cols, Some(&labels), IGNORE, None)
        .unwrap()
        .n;
    assert_eq!(n, 3.0);
    fd_check("hard term", &zs, |x| {
        token::hard_term(x, rows, cols, &labels, IGNORE, n).unwrap()
    });
    fd_check("jsd 0.5 + hard 0.5 at T 2", &zs, |x| {
        let soft = token::jsd(x, &zt, rows, cols, 2.0, 0.5, Some(&labels), IGNORE, None).unwrap();
        let hard = token::hard_term(x, rows, cols, &labels, IGNORE, n).unwrap();
        token::blend(soft, hard, 0.5, 0.5).unwrap()
    });
    // DIST's recipe at T = 2: 2·DIST + CE over every row (no ignore_index for dist).
    let targets = [5, 1, 0, 2];
    fd_check("2 dist (T 2) + hard", &zs, |x| {
        let p = DistParams::default().with_temperature(2.0);
        let soft = dist::dist(x, &zt, rows, cols, &p);
        let hard = token::hard_term_all_rows(x, rows, cols, &targets).unwrap();
        token::blend(soft, hard, 2.0, 1.0).unwrap()
    });
    // The hard term reads the raw logits: T does not enter it.
    let (ce, _) = token::hard_term(&zs, rows, cols, &labels, IGNORE, n).unwrap();
    let mut want = 0.0;
    for (r, &y) in labels.iter().enumerate().filter(|(_, &y)| y != IGNORE) {
        let row = &zs[r * cols..(r + 1) * cols];
        let lse = row.iter().map(|z| z.exp()).sum::<f64>().ln();
        want += lse - row[y as usize];
    }
    assert!((ce - want / 3.0).abs() < 1e-13, "{ce} vs {}", want / 3.0);
}

/// A sparse teacher: for each row K distinct ids with the teacher's full-vocabulary
/// log-probabilities at T = 1 (so Σ exp < 1).
fn sparse_teacher(seed: u64, rows: usize, cols: usize, k: usize) -> (Vec<i64>, Vec<f64>) {
    let zt = normals(seed, rows * cols, 2.0);
    let mut rng = SplitMix::new(seed + 1000);
    let mut ids = Vec::new();
    let mut logprobs = Vec::new();
    for r in 0..rows {
        let log_p = wgpu_distill::reference::softmax_row(&zt[r * cols..(r + 1) * cols], 1.0).1;
        let mut order: Vec<usize> = (0..cols).collect();
        for i in (1..cols).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        for &c in &order[..k] {
            ids.push(c as i64);
            logprobs.push(log_p[c]);
        }
    }
    (ids, logprobs)
}

/// Student rows: row 2 puts all but 1e-12 of its mass on the teacher's ids of that row (the
/// others sit at `rest` = ln((V−K)(1−ε)/(S·ε)) below, S = Σ_ids exp(zs), ε = 1e-12).
fn sparse_student(rows: usize, cols: usize, ids: &[i64], k: usize) -> Vec<f64> {
    let mut zs = normals(77, rows * cols, 1.5);
    let row_ids = &ids[2 * k..3 * k];
    let s: f64 = row_ids
        .iter()
        .map(|&c| zs[2 * cols + c as usize].exp())
        .sum();
    let eps = 1e-12;
    let rest = ((cols - k) as f64 * (1.0 - eps) / (s * eps)).ln();
    for c in 0..cols {
        if !row_ids.contains(&(c as i64)) {
            zs[2 * cols + c] = -rest;
        }
    }
    zs
}

#[test]
fn kl_sparse_gradient_matches_finite_differences() {
    let (rows, cols, k) = (4, 12, 4);
    let (ids, logprobs) = sparse_teacher(11, rows, cols, k);
    let zs = sparse_student(rows, cols, &ids, k);
    let labels = [0, IGNORE, 5, 11];
    for (tail, t) in [(false, 1.0), (true, 1.0), (false, 2.0)] {
        fd_check(&format!("kl_sparse tail {tail} T {t}"), &zs, |x| {
            token::kl_sparse(
                x,
                rows,
                cols,
                &ids,
                &logprobs,
                k,
                t,
                tail,
                Some(&labels),
                IGNORE,
                None,
            )
            .unwrap()
        });
    }
}

#[test]
fn kl_sparse_over_ids_gradient_matches_finite_differences() {
    let (rows, cols, k) = (4, 12, 4);
    let (ids, logprobs) = sparse_teacher(13, rows, cols, k);
    let logprobs: Vec<f32> = logprobs.iter().map(|&x| x as f32).collect();
    let zs = normals(14, rows * cols, 2.0);
    let labels = [0, IGNORE, 5, 11];
    let shape = [rows, cols];
    let placeholder = vec![0.0f32; rows * cols];
    let teacher = wgpu_distill::SparseTeacher::new(&ids, &logprobs, k);
    let inputs = wgpu_distill::Inputs::with_sparse_teacher(&placeholder, teacher, &shape)
        .with_labels(&labels);
    let options = wgpu_distill::TokenOptions::default()
        .with_student_over_ids(true)
        .with_hard_weight(0.3);
    for t in [1.0, 2.5] {
        fd_check(&format!("kl sparse over ids T {t}"), &zs, |x| {
            token::evaluate_sparse(x, &inputs, t, &options).unwrap()
        });
    }
}

#[test]
fn kl_sparse_tail_is_exact_when_the_student_leaves_1e_12_outside_the_ids() {
    let (rows, cols, k) = (4, 12, 4);
    let (ids, logprobs) = sparse_teacher(11, rows, cols, k);
    let zs = sparse_student(rows, cols, &ids, k);
    // Only row 2 counts.
    let labels = [IGNORE, IGNORE, 3, IGNORE];
    let (loss, grad) = token::kl_sparse(
        &zs,
        rows,
        cols,
        &ids,
        &logprobs,
        k,
        1.0,
        true,
        Some(&labels),
        IGNORE,
        None,
    )
    .unwrap();
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
    // Closed form: the V − K other logits all equal −a, so LSE_rest = ln(V−K) − a exactly,
    // and LSE = ln(S + e^{LSE_rest}) = ln S + ln_1p(e^{LSE_rest}/S), both without cancellation.
    let row = &zs[2 * cols..3 * cols];
    let row_ids = &ids[2 * k..3 * k];
    let row_lp = &logprobs[2 * k..3 * k];
    let s: f64 = row_ids.iter().map(|&c| row[c as usize].exp()).sum();
    let a = -row[(0..cols).find(|c| !row_ids.contains(&(*c as i64))).unwrap()];
    let lse_rest = ((cols - k) as f64).ln() - a;
    let lse = s.ln() + (lse_rest.exp() / s).ln_1p();
    let log_q_rest = lse_rest - lse;
    assert!(
        (log_q_rest - (1e-12f64).ln()).abs() < 1e-9,
        "Q_rest = {:e}",
        log_q_rest.exp()
    );
    let mut want = 0.0;
    let mut mass = 0.0;
    for j in 0..k {
        let p = row_lp[j].exp();
        mass += p;
        want += p * (row_lp[j] - (row[row_ids[j] as usize] - lse));
    }
    let r = 1.0 - mass;
    assert!(r > 0.01, "the test's teacher leaves a tail ({r})");
    want += r * (r.ln() - log_q_rest);
    assert!(
        (loss - want).abs() <= 1e-13 * want.abs(),
        "loss {loss} vs closed form {want}"
    );
    // log(1 − Σq) would have lost the tail: 1 − (1 − 1e-12) keeps ~4 digits in float64.
    let q_ids: f64 = row_ids.iter().map(|&c| (row[c as usize] - lse).exp()).sum();
    let naive = (1.0 - q_ids).ln();
    eprintln!(
        "log Q_rest {log_q_rest}, log(1 - sum q) would give {naive} (error {:.1e})",
        (naive - log_q_rest).abs()
    );
}

#[test]
fn kl_sparse_with_every_id_is_the_dense_kl() {
    // K = V: re-tempered log-probs renormalised over all V are softmax(zt/T) at any T.
    let (rows, cols) = (3, 10);
    let zs = normals(20, rows * cols, 2.0);
    let zt = normals(21, rows * cols, 2.0);
    let mut ids = Vec::new();
    let mut logprobs = Vec::new();
    for r in 0..rows {
        let log_p = wgpu_distill::reference::softmax_row(&zt[r * cols..(r + 1) * cols], 1.0).1;
        for c in (0..cols).rev() {
            ids.push(c as i64);
            logprobs.push(log_p[c]);
        }
    }
    let labels = [4, IGNORE, 9];
    for (tail, t) in [(false, 1.0), (false, 3.0), (true, 1.0)] {
        let sparse = token::kl_sparse(
            &zs,
            rows,
            cols,
            &ids,
            &logprobs,
            cols,
            t,
            tail,
            Some(&labels),
            IGNORE,
            None,
        )
        .unwrap();
        let dense = token::kl_masked(&zs, &zt, rows, cols, t, Some(&labels), IGNORE, None).unwrap();
        assert!(
            (sparse.0 - dense.0).abs() < 1e-12,
            "T {t}: {sparse:?} vs {dense:?}"
        );
        for (a, b) in sparse.1.iter().zip(&dense.1) {
            assert!((a - b).abs() < 1e-13, "T {t} tail {tail}: {a} vs {b}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and the all-ignored batch.

fn is_param<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::Param(_))),
        "{what}: expected Error::Param, got {r:?}"
    );
}

fn is_shape<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::Shape(_))),
        "{what}: expected Error::Shape, got {r:?}"
    );
}

#[test]
fn dense_token_losses_reject_bad_parameters() {
    let (rows, cols) = (3, 5);
    let zs = normals(30, rows * cols, 1.0);
    let zt = normals(31, rows * cols, 1.0);
    for beta in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        is_param(
            &format!("beta {beta}"),
            token::jsd(&zs, &zt, rows, cols, 1.0, beta, None, IGNORE, None),
        );
    }
    for t in [0.0, -1.0, f64::NAN] {
        is_param(
            &format!("T {t}"),
            token::tvd(&zs, &zt, rows, cols, t, None, IGNORE, None),
        );
    }
    for bad in [[0, 5, 1], [0, -1, 1], [0, -101, IGNORE]] {
        is_param(
            &format!("labels {bad:?}"),
            token::kl_masked(&zs, &zt, rows, cols, 1.0, Some(&bad), IGNORE, None),
        );
        is_param(
            &format!("hard labels {bad:?}"),
            token::hard_term(&zs, rows, cols, &bad, IGNORE, 1.0),
        );
    }
    // An ignore_index of the caller's choosing.
    assert!(token::jsd(&zs, &zt, rows, cols, 1.0, 0.5, Some(&[0, -1, 4]), -1, None).is_ok());
    is_shape(
        "two labels for three rows",
        token::jsd(&zs, &zt, rows, cols, 1.0, 0.5, Some(&[0, 1]), IGNORE, None),
    );
    is_shape(
        "student too short",
        token::tvd(&zs[1..], &zt, rows, cols, 1.0, None, IGNORE, None),
    );
    is_shape(
        "zero columns",
        token::kl_masked(&[], &[], rows, 0, 1.0, None, IGNORE, None),
    );
    for norm in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        is_param(
            &format!("normalizer {norm}"),
            token::jsd(&zs, &zt, rows, cols, 1.0, 0.5, None, IGNORE, Some(norm)),
        );
        is_param(
            &format!("hard n {norm}"),
            token::hard_term(&zs, rows, cols, &[0, 1, 2], IGNORE, norm),
        );
    }
    let soft = token::jsd(&zs, &zt, rows, cols, 1.0, 0.5, None, IGNORE, None).unwrap();
    let hard = token::hard_term(&zs, rows, cols, &[0, 1, 2], IGNORE, 3.0).unwrap();
    for (ws, wh) in [
        (f64::NAN, 1.0),
        (1.0, f64::INFINITY),
        (f64::NEG_INFINITY, 0.0),
    ] {
        is_param(
            &format!("weights {ws} {wh}"),
            token::blend(soft.clone(), hard.clone(), ws, wh),
        );
    }
    // dist and dkd: no ignore_index.
    is_param(
        "dist/dkd hard term with -100",
        token::hard_term_all_rows(&zs, rows, cols, &[0, IGNORE, 1]),
    );
}

#[test]
fn sparse_teacher_errors() {
    let (rows, cols, k) = (2, 6, 3);
    let zs = normals(40, rows * cols, 1.0);
    let good_ids = [0i64, 3, 5, 1, 2, 4];
    let lp = (0.2f64).ln();
    let good_lp = [lp; 6];
    let run = |ids: &[i64], logprobs: &[f64], k: usize, t: f64, tail: bool| {
        token::kl_sparse(
            &zs, rows, cols, ids, logprobs, k, t, tail, None, IGNORE, None,
        )
    };
    assert!(run(&good_ids, &good_lp, k, 1.0, true).is_ok());
    assert!(run(&good_ids, &good_lp, k, 2.0, false).is_ok());
    is_param(
        "duplicate id",
        run(&[0, 3, 0, 1, 2, 4], &good_lp, k, 1.0, false),
    );
    is_param("id = V", run(&[0, 3, 6, 1, 2, 4], &good_lp, k, 1.0, false));
    is_param("id < 0", run(&[0, 3, 5, 1, -1, 4], &good_lp, k, 1.0, false));
    // Σ exp: 1 + 5e-5 is within the slack, 1 + 2e-4 is not.
    let near = [(1.0f64 / 3.0 + 5e-5 / 3.0).ln(); 6];
    assert!(run(&good_ids, &near, k, 1.0, true).is_ok());
    let over = [(1.0f64 / 3.0 + 2e-4 / 3.0).ln(); 6];
    is_param("mass above 1 + 1e-4", run(&good_ids, &over, k, 1.0, false));
    is_param(
        "mass above 1 + 1e-4 (tail)",
        run(&good_ids, &over, k, 1.0, true),
    );
    let mut positive = good_lp;
    positive[4] = 1e-3;
    is_param(
        "positive log-prob",
        run(&good_ids, &positive, k, 1.0, false),
    );
    let mut nan = good_lp;
    nan[0] = f64::NAN;
    is_param("NaN log-prob", run(&good_ids, &nan, k, 1.0, false));
    is_param("tail at T = 2", run(&good_ids, &good_lp, k, 2.0, true));
    is_shape("K = 0", run(&[], &[], 0, 1.0, false));
    let wide_ids: Vec<i64> = (0..7).chain(0..7).collect();
    is_shape("K > V", run(&wide_ids, &[lp; 14], 7, 1.0, false));
    is_shape("ids not N×K", run(&good_ids[..5], &good_lp, k, 1.0, false));
    is_shape(
        "log-probs not N×K",
        run(&good_ids, &good_lp[..4], k, 1.0, false),
    );
    // −inf log-probs are probability 0: fine, and they contribute 0.
    let mut zero = good_lp;
    zero[1] = f64::NEG_INFINITY;
    let (loss, grad) = run(&good_ids, &zero, k, 1.0, true).unwrap();
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
}

#[test]
fn an_all_ignored_batch_gives_zero_loss_and_zero_gradient() {
    let (rows, cols, k) = (3, 8, 2);
    let zs = normals(50, rows * cols, 1.0);
    let zt = normals(51, rows * cols, 1.0);
    let labels = [IGNORE; 3];
    let (ids, logprobs) = sparse_teacher(52, rows, cols, k);
    for normalizer in [None, Some(7.0)] {
        let outputs = [
            token::jsd(
                &zs,
                &zt,
                rows,
                cols,
                1.0,
                0.5,
                Some(&labels),
                IGNORE,
                normalizer,
            ),
            token::jsd(
                &zs,
                &zt,
                rows,
                cols,
                2.0,
                0.0,
                Some(&labels),
                IGNORE,
                normalizer,
            ),
            token::jsd(
                &zs,
                &zt,
                rows,
                cols,
                2.0,
                1.0,
                Some(&labels),
                IGNORE,
                normalizer,
            ),
            token::tvd(&zs, &zt, rows, cols, 1.0, Some(&labels), IGNORE, normalizer),
            token::kl_masked(&zs, &zt, rows, cols, 4.0, Some(&labels), IGNORE, normalizer),
            token::kl_sparse(
                &zs,
                rows,
                cols,
                &ids,
                &logprobs,
                k,
                1.0,
                true,
                Some(&labels),
                IGNORE,
                normalizer,
            ),
            token::hard_term(&zs, rows, cols, &labels, IGNORE, normalizer.unwrap_or(1.0)),
        ];
        for (i, out) in outputs.into_iter().enumerate() {
            let (loss, grad) = out.unwrap();
            assert_eq!(loss, 0.0, "output {i}");
            assert!(loss.is_sign_positive(), "output {i}: -0.0");
            assert!(grad.iter().all(|&g| g == 0.0), "output {i}");
        }
    }
    let mask = token::RowMask::new(rows, cols, Some(&labels), IGNORE, None).unwrap();
    assert_eq!((mask.count(), mask.n), (0, 1.0));
}
