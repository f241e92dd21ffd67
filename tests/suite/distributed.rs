//! `evaluate_distributed` through `ThreadGroup`s of 1 to 4 members holding unequal shards
//! (one empty): the whole batch's loss on every member, bit for bit, and each member's rows of
//! the whole batch's gradient; the errors every member gets alike.

use crate::common::*;
use wgpu_distill::distributed::{Collective, ThreadGroup};
use wgpu_distill::losses::RkdParams;
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, Error, GpuContext, Inputs, KlParams, LossOutput,
    LossSpec, TokenOptions,
};

/// A batch split at `cuts` (row indices, first 0 and last B).
struct Split<'a> {
    job: &'a Job,
    cuts: Vec<usize>,
}

impl Split<'_> {
    fn width(&self) -> usize {
        self.job.dims[1..].iter().product()
    }

    fn shape(&self, member: usize) -> Vec<usize> {
        let mut shape = self.job.dims.clone();
        shape[0] = self.cuts[member + 1] - self.cuts[member];
        shape
    }

    fn inputs<'b>(&'b self, member: usize, shape: &'b [usize]) -> Inputs<'b> {
        let (a, b) = (self.cuts[member], self.cuts[member + 1]);
        let w = self.width();
        let inputs = Inputs::new(
            &self.job.student[a * w..b * w],
            &self.job.teacher[a * w..b * w],
            shape,
        );
        match &self.job.labels {
            Some(labels) => inputs.with_labels(&labels[a..b]),
            None => inputs,
        }
    }
}

/// `member(group)` on one thread per member of a new group of `members`, in rank order.
fn in_group<T: Send>(members: usize, member: impl Fn(&ThreadGroup) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(members)
            .into_iter()
            .map(|group| {
                let member = &member;
                s.spawn(move || member(&group))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Every member's result, in rank order, each member evaluating `spec_of(rank)`.
fn run_group(
    ctx: &GpuContext,
    split: &Split<'_>,
    spec_of: impl Fn(usize) -> LossSpec + Sync,
) -> Vec<Result<LossOutput, Error>> {
    in_group(split.cuts.len() - 1, |group| {
        let rank = group.rank();
        let shape = split.shape(rank);
        let inputs = split.inputs(rank, &shape);
        ctx.evaluate_distributed(&spec_of(rank), &inputs, group, true)
    })
}

/// Cuts of `rows` for `members` members: unequal, the third (of 3 or 4) empty.
fn cuts(rows: usize, members: usize) -> Vec<usize> {
    match members {
        1 => vec![0, rows],
        2 => vec![0, rows / 3, rows],
        3 => vec![0, rows / 2, rows / 2, rows],
        _ => vec![0, 1, 1 + (rows - 1) / 2, 1 + (rows - 1) / 2, rows],
    }
}

fn check_against_whole(ctx: &GpuContext, job: &Job, members: usize) {
    let what = format!("{} {:?} over {members}", job.spec.name(), job.dims);
    let whole = ctx.evaluate(&job.spec, &job.inputs(), true).unwrap();
    let split = Split {
        job,
        cuts: cuts(job.dims[0], members),
    };
    let outs: Vec<LossOutput> = run_group(ctx, &split, |_| job.spec)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect();
    let bits = outs[0].loss.to_bits();
    assert!(
        outs.iter().all(|o| o.loss.to_bits() == bits),
        "{what}: members disagree on the loss"
    );
    let (got, want) = (f64::from(outs[0].loss), f64::from(whole.loss));
    let rel = (got - want).abs() / want.abs().max(1e-3);
    assert!(rel <= 1e-6, "{what}: loss {got} vs {want} ({rel:.1e})");
    if let Some(t) = whole.grad_temperature {
        let g = f64::from(outs[0].grad_temperature.unwrap());
        let rel = (g - f64::from(t)).abs() / f64::from(t).abs().max(1e-3);
        assert!(rel <= 1e-5, "{what}: ∂L/∂T {g} vs {t}");
    }
    let grad: Vec<f32> = outs.iter().flat_map(|o| o.grad.clone().unwrap()).collect();
    let want = whole.grad.unwrap();
    assert_eq!(grad.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    for (i, (a, b)) in grad.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{what}: grad[{i}] {a} vs {b}"
        );
    }
}

#[test]
fn every_row_coupled_loss_split_over_one_to_four_members_is_the_whole_batch() {
    let ctx = gpu(BackendChoice::Vulkan);
    for job in jobs() {
        if job.spec.name() == "rkd" {
            continue;
        }
        for members in 1..=4 {
            check_against_whole(ctx, &job, members);
        }
    }
}

#[test]
fn dist_with_the_hard_term_and_masked_kl_on_gl() {
    let ctx = gpu(BackendChoice::Gl);
    let (rows, cols) = (37, 120);
    let (student, teacher) = synthetic::logit_pair(8, rows, cols, 3.0);
    let dist = Job {
        spec: LossSpec::Dist(
            DistParams::default()
                .with_hard_weight(1.0)
                .with_soft_weight(2.0),
        ),
        dims: vec![rows, cols],
        student: student.clone(),
        teacher: teacher.clone(),
        labels: Some((0..rows as i64).map(|r| (r * 5) % cols as i64).collect()),
    };
    let kl = Job {
        spec: LossSpec::Kl(KlParams::new(3.0).with_options(hard_options())),
        dims: vec![rows, cols],
        student,
        teacher,
        labels: Some(token_labels(rows, cols)),
    };
    for members in [2, 3] {
        check_against_whole(ctx, &dist, members);
        check_against_whole(ctx, &kl, members);
    }
}

#[test]
fn ctkd_without_masked_rows_scales_its_temperature_gradient() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (rows, cols) = (26, 50);
    let (student, teacher) = synthetic::logit_pair(6, rows, cols, 2.0);
    let job = Job {
        spec: LossSpec::Kl(
            KlParams::new(3.0).with_options(hard_options().with_temperature_grad(true)),
        ),
        dims: vec![rows, cols],
        student,
        teacher,
        labels: Some((0..rows as i64).map(|r| (r * 3) % cols as i64).collect()),
    };
    for members in [2, 4] {
        check_against_whole(ctx, &job, members);
    }
}

#[test]
fn a_fixed_normalizer_divides_the_whole_batch_already() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (rows, cols) = (20, 64);
    let (student, teacher) = synthetic::logit_pair(3, rows, cols, 2.0);
    let job = Job {
        spec: LossSpec::Kl(
            KlParams::new(1.0).with_options(TokenOptions::default().with_normalizer(Some(50.0))),
        ),
        dims: vec![rows, cols],
        student,
        teacher,
        labels: Some(token_labels(rows, cols)),
    };
    check_against_whole(ctx, &job, 3);
}

fn small_job(spec: LossSpec) -> Job {
    let (rows, cols) = (9, 10);
    let (student, teacher) = synthetic::logit_pair(5, rows, cols, 2.0);
    Job {
        spec,
        dims: vec![rows, cols],
        student,
        teacher,
        labels: spec
            .needs_labels()
            .then(|| (0..rows as i64).map(|r| r % cols as i64).collect()),
    }
}

#[test]
fn members_that_disagree_all_get_the_same_error() {
    let ctx = gpu(BackendChoice::Vulkan);
    let job = small_job(LossSpec::Kl(KlParams::new(2.0)));
    let split = Split {
        job: &job,
        cuts: cuts(9, 3),
    };
    // Parameters: member 2 at another temperature.
    let errors = run_group(ctx, &split, |rank| {
        LossSpec::Kl(KlParams::new(if rank == 2 { 3.0 } else { 2.0 }))
    });
    let first = errors[0].clone().unwrap_err();
    assert!(matches!(first, Error::Param(_)), "{first}");
    assert!(first.to_string().contains("member 2"), "{first}");
    assert!(errors.iter().all(|e| e.as_ref().unwrap_err() == &first));

    // A pairwise loss: refused by name on every member.
    let rkd = small_job(LossSpec::Rkd(RkdParams::default()));
    let split = Split {
        job: &rkd,
        cuts: cuts(9, 2),
    };
    for result in run_group(ctx, &split, |_| rkd.spec) {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("rkd relates every pair"), "{err}");
    }
}

#[test]
fn a_member_rejecting_its_rows_fails_every_member() {
    let ctx = gpu(BackendChoice::Vulkan);
    let mut dkd = small_job(LossSpec::Dkd(Default::default()));
    dkd.labels.as_mut().unwrap()[8] = 10; // outside [0, C) in member 2's rows
    let split = Split {
        job: &dkd,
        cuts: vec![0, 4, 8, 9],
    };
    let results = run_group(ctx, &split, |_| dkd.spec);
    let own = results[2].clone().unwrap_err();
    assert!(matches!(own, Error::Param(_)), "{own}");
    for other in &results[..2] {
        let err = other.clone().unwrap_err();
        assert!(matches!(err, Error::Collective(_)), "{err}");
        assert!(err.to_string().contains("[2]"), "{err}");
    }

    // Another width on member 1: a shape error on all.
    let job = small_job(LossSpec::Kl(KlParams::new(2.0)));
    let results = in_group(2, |group| {
        let cols = if group.rank() == 1 { 5 } else { 10 };
        let shape = [2, cols];
        let n = 2 * cols;
        let inputs = Inputs::new(&job.student[..n], &job.teacher[..n], &shape);
        ctx.evaluate_distributed(&job.spec, &inputs, group, false)
    });
    for result in results {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("row width"), "{err}");
    }
}

#[test]
fn a_member_that_left_fails_the_others_instead_of_hanging() {
    let ctx = gpu(BackendChoice::Vulkan);
    let job = small_job(LossSpec::Kl(KlParams::new(2.0)));
    let mut group = ThreadGroup::new(2);
    drop(group.pop());
    let first = group.pop().unwrap();
    let shape = [9, 10];
    let err = ctx
        .evaluate_distributed(&job.spec, &job.inputs_with(&shape), &first, true)
        .unwrap_err();
    assert!(matches!(err, Error::Collective(_)), "{err}");

    // Every member empty: a shape error, not a division by zero.
    let members = ThreadGroup::new(1);
    let empty = [0, 10];
    let err = ctx
        .evaluate_distributed(&job.spec, &Inputs::new(&[], &[], &empty), &members[0], true)
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

impl Job {
    fn inputs_with<'a>(&'a self, shape: &'a [usize]) -> Inputs<'a> {
        Inputs::new(&self.student, &self.teacher, shape)
    }
}

/// A caller's `Collective` that returns the wrong number of values: an error, not a panic.
struct Broken;

impl Collective for Broken {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        2
    }
    fn all_gather(&self, _local: &[f64]) -> wgpu_distill::Result<Vec<f64>> {
        Ok(vec![])
    }
}

#[test]
fn a_collective_returning_too_few_values_is_an_error() {
    let ctx = gpu(BackendChoice::Vulkan);
    let job = small_job(LossSpec::Kl(KlParams::new(2.0)));
    let shape = [9, 10];
    let err = ctx
        .evaluate_distributed(&job.spec, &job.inputs_with(&shape), &Broken, true)
        .unwrap_err();
    assert!(matches!(err, Error::Collective(_)), "{err}");
}
