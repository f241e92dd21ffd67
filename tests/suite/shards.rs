//! Exact sharded DIST: statistics computed per shard (on different devices), merged with Chan's
//! formula, and finished per shard give the whole batch's loss and gradient.

use crate::common::*;
use wgpu_distill::synthetic::SplitMix;
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, DistShardStats, GpuContext, Inputs, LossSpec,
};

/// Loss and concatenated gradient of `batch` split at `cuts`, shard k on `devices[k % len]`,
/// statistics merged as a balanced tree (a different grouping than left to right). `labels`
/// (the hard term's; empty for none) are split with the rows.
#[allow(clippy::too_many_arguments)]
fn sharded(
    devices: &[&GpuContext],
    params: &DistParams,
    student: &[f32],
    teacher: &[f32],
    labels: &[i64],
    cols: usize,
    cuts: &[usize],
) -> (f64, Vec<f32>) {
    let shapes: Vec<[usize; 2]> = cuts.windows(2).map(|w| [w[1] - w[0], cols]).collect();
    let view = |k: usize| {
        let (a, b) = (cuts[k] * cols, cuts[k + 1] * cols);
        let inputs = Inputs::new(&student[a..b], &teacher[a..b], &shapes[k]);
        if labels.is_empty() {
            inputs
        } else {
            inputs.with_labels(&labels[cuts[k]..cuts[k + 1]])
        }
    };
    let mut stats: Vec<DistShardStats> = (0..shapes.len())
        .map(|k| {
            devices[k % devices.len()]
                .dist_shard_stats(params, &view(k))
                .unwrap()
        })
        .collect();
    // Through the flat form a collective would carry.
    stats = stats
        .iter()
        .map(|s| DistShardStats::from_f64s(&s.to_f64s()).unwrap())
        .collect();
    while stats.len() > 1 {
        stats = stats
            .chunks(2)
            .map(|pair| {
                if pair.len() == 2 {
                    pair[0].merge(&pair[1]).unwrap()
                } else {
                    pair[0].clone()
                }
            })
            .collect();
    }
    let merged = &stats[0];
    let mut grad = vec![];
    let mut loss = 0.0;
    for k in 0..shapes.len() {
        let out = devices[k % devices.len()]
            .dist_shard_finish(params, &view(k), merged, true)
            .unwrap();
        loss = f64::from(out.loss);
        grad.extend(out.grad.unwrap());
    }
    assert_eq!(loss as f32, merged.loss(params) as f32);
    (merged.loss(params), grad)
}

fn whole(
    ctx: &GpuContext,
    params: &DistParams,
    student: &[f32],
    teacher: &[f32],
    labels: &[i64],
    shape: &[usize],
) -> (f64, Vec<f32>) {
    let mut inputs = Inputs::new(student, teacher, shape);
    if !labels.is_empty() {
        inputs = inputs.with_labels(labels);
    }
    let out = ctx
        .evaluate(&LossSpec::Dist(*params), &inputs, true)
        .unwrap();
    (f64::from(out.loss), out.grad.unwrap())
}

fn assert_matches(what: &str, got: &(f64, Vec<f32>), want: &(f64, Vec<f32>)) {
    let rel = (got.0 - want.0).abs() / want.0.abs();
    assert!(
        rel < 1e-5,
        "{what}: loss {} vs {} ({rel:.2e})",
        got.0,
        want.0
    );
    let scale = want.1.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    for (i, (a, b)) in got.1.iter().zip(&want.1).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * scale,
            "{what}: grad[{i}] {a} vs {b}"
        );
    }
}

#[test]
fn a_batch_split_across_vulkan_and_gl_matches_the_whole_batch() {
    let (b, c) = (96, 300);
    let (student, teacher) = synthetic::logit_pair(4, b, c, 3.0);
    let params = DistParams::default()
        .with_temperature(2.0)
        .with_beta(1.0)
        .with_gamma(2.0);
    let vulkan = gpu(BackendChoice::Vulkan);
    let gl = gpu(BackendChoice::Gl);
    let want = whole(vulkan, &params, &student, &teacher, &[], &[b, c]);
    let got = sharded(
        &[vulkan, gl],
        &params,
        &student,
        &teacher,
        &[],
        c,
        &[0, 40, b],
    );
    assert_matches("vulkan + gl", &got, &want);
}

#[test]
fn random_splits_match_the_whole_batch() {
    // DIST's row pass in one read (lavapipe's default) and in two (`dist_row_reads: 2`) under
    // the shard API.
    let one_read = gpu(BackendChoice::Vulkan);
    let mut two_reads = fresh_gpu(BackendChoice::Vulkan);
    two_reads
        .set_strategy(wgpu_distill::Strategy::default().with_dist_row_reads(Some(2)))
        .unwrap();
    let mut rng = SplitMix::new(99);
    for trial in 0..12 {
        let ctx = if trial % 3 == 2 { &two_reads } else { one_read };
        let b = 2 + (rng.next_u64() % 120) as usize;
        let c = 1 + (rng.next_u64() % 200) as usize;
        let (student, teacher) = synthetic::logit_pair(trial, b, c, 2.0);
        // Odd trials add the hard-label term (DIST's recipe: CE + 2 DIST).
        let hard = trial % 2 == 1;
        let params = DistParams::default()
            .with_temperature(1.0 + (trial % 4) as f64)
            .with_beta(1.0)
            .with_gamma(1.0)
            .with_hard_weight(if hard { 1.0 } else { 0.0 })
            .with_soft_weight(if hard { 2.0 } else { 1.0 });
        let labels: Vec<i64> = if hard {
            (0..b).map(|r| (r * 7 % c) as i64).collect()
        } else {
            vec![]
        };
        let shards = 1 + (rng.next_u64() % b.min(6) as u64) as usize;
        let mut cuts: Vec<usize> = (1..b).collect();
        // A random choice of shards - 1 distinct cut points.
        for i in 0..cuts.len() {
            let j = i + (rng.next_u64() % (cuts.len() - i) as u64) as usize;
            cuts.swap(i, j);
        }
        let mut cuts: Vec<usize> = cuts[..shards - 1].to_vec();
        cuts.extend([0, b]);
        cuts.sort();
        let want = whole(ctx, &params, &student, &teacher, &labels, &[b, c]);
        let got = sharded(&[ctx], &params, &student, &teacher, &labels, c, &cuts);
        assert_matches(
            &format!(
                "trial {trial} (hard term: {hard}, {:?}): {b}x{c} cut at {cuts:?}",
                ctx.strategy().dist_row_reads
            ),
            &got,
            &want,
        );
    }
}

#[test]
fn statistics_refuse_mismatched_merges() {
    let ctx = gpu(BackendChoice::Vulkan);
    let (s, t) = synthetic::logit_pair(1, 4, 5, 1.0);
    let a = ctx
        .dist_shard_stats(&DistParams::default(), &Inputs::new(&s, &t, &[4, 5]))
        .unwrap();
    let b = ctx
        .dist_shard_stats(
            &DistParams::default(),
            &Inputs::new(&s[..16], &t[..16], &[4, 4]),
        )
        .unwrap();
    assert!(a.merge(&b).is_err());
    assert!(DistShardStats::from_f64s(&[1.0, 2.0, 3.0]).is_err());
    let err = ctx.dist_shard_finish(
        &DistParams::default(),
        &Inputs::new(&s[..16], &t[..16], &[4, 4]),
        &a,
        true,
    );
    assert!(err.is_err());
}
