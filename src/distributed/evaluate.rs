//! [`GpuContext::evaluate_distributed`]: the header every member sends first, then one
//! exchange of the loss's batch statistics.

use super::collective::Collective;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::losses::common::BatchCoupling;
use crate::losses::{ColumnMoments, DistParams, DistShardStats, Inputs, LossOutput, LossSpec};

/// Float64 values of the header: status, row width, spec hash (two halves), rows, weight.
const HEADER_LEN: usize = 6;

/// What a member found in its own inputs before any work.
struct Local {
    coupling: BatchCoupling,
    rows: usize,
    /// Values per row (the trailing axes of the student's shape).
    width: usize,
    /// What the member adds to the batch's denominator: its valid rows (token losses), its
    /// rows (the others).
    weight: f64,
}

/// One member's header, as gathered.
struct Header {
    ok: bool,
    width: f64,
    hash: (f64, f64),
    rows: f64,
    weight: f64,
}

impl GpuContext {
    /// The loss of the whole batch held by the members of `group` (identical on every member)
    /// and, with `with_grad`, the gradient of that loss with respect to this member's rows
    /// (`local`, any number of rows, none included). Every member calls it with the same
    /// spec and row width; members that disagree, or whose inputs one of them rejects, all
    /// get an `Err` (the rejecting member its own reason). DIST's column statistics, the
    /// token losses' count of valid rows (unless the spec fixes a `normalizer`: it then
    /// already divides the whole batch) and the means over rows are those of the whole batch;
    /// losses whose terms relate pairs of rows (RKD, SP, PKT, MLKD) are an `Error::Param`.
    pub fn evaluate_distributed(
        &self,
        spec: &LossSpec,
        local: &Inputs<'_>,
        group: &dyn Collective,
        with_grad: bool,
    ) -> Result<LossOutput> {
        let mine = local_facts(spec, local);
        let hash = fnv1a(&format!(
            "{spec:?} f32 sparse {:?}",
            local.sparse.map(|s| (s.k, s.tail))
        ));
        let header = match &mine {
            Ok(m) => [
                1.0,
                m.width as f64,
                (hash >> 32) as f64,
                (hash & 0xffff_ffff) as f64,
                m.rows as f64,
                m.weight,
            ],
            Err(_) => [0.0; HEADER_LEN],
        };
        let members: Vec<Header> = gather(group, &header)?
            .chunks_exact(HEADER_LEN)
            .map(|h| Header {
                ok: h[0] == 1.0,
                width: h[1],
                hash: (h[2], h[3]),
                rows: h[4],
                weight: h[5],
            })
            .collect();
        let mine = mine?;
        agree(&members, group.size())?;
        let total_rows: f64 = members.iter().map(|m| m.rows).sum();
        let total_weight: f64 = members.iter().map(|m| m.weight).sum();
        match mine.coupling {
            BatchCoupling::Normalizer => {
                let options = *spec
                    .token_options()
                    .ok_or_else(|| Error::Param(format!("{} has no normaliser", spec.name())))?;
                match options.normalizer {
                    // A fixed normaliser already divides the whole batch: members add up.
                    Some(_) => self.scaled(spec, local, &mine, group, with_grad, (1.0, 1.0)),
                    // No masked row anywhere: the count is B, a mean over rows (the spec
                    // unchanged keeps its fastest kernels).
                    None if total_weight == total_rows => {
                        let rows = (mine.rows as f64, total_rows);
                        self.scaled(spec, local, &mine, group, with_grad, rows)
                    }
                    // Else the whole batch's count of valid rows divides every member's.
                    None => {
                        let spec = spec.with_token_options(
                            options.with_normalizer(Some(total_weight.max(1.0))),
                        )?;
                        self.scaled(&spec, local, &mine, group, with_grad, (1.0, 1.0))
                    }
                }
            }
            BatchCoupling::RowMean { rows_power } => {
                let denominator = |rows: f64| rows.powi(rows_power);
                let shares = (denominator(mine.rows as f64), denominator(total_rows));
                self.scaled(spec, local, &mine, group, with_grad, shares)
            }
            BatchCoupling::ColumnMoments => {
                let LossSpec::Dist(params) = spec else {
                    return Err(Error::Param(format!(
                        "{} has no column statistics",
                        spec.name()
                    )));
                };
                self.dist_distributed(params, local, &mine, group, with_grad)
            }
            BatchCoupling::Pairwise => Err(pairwise(spec)),
        }
    }

    /// A loss that is a sum of row terms over a denominator: `evaluate` on the member's rows
    /// (divided by `own`), the members' `loss · own` summed in rank order over `whole`, the
    /// gradient and ∂L/∂T scaled by `own / whole`.
    fn scaled(
        &self,
        spec: &LossSpec,
        local: &Inputs<'_>,
        mine: &Local,
        group: &dyn Collective,
        with_grad: bool,
        (own, whole): (f64, f64),
    ) -> Result<LossOutput> {
        let out = self.evaluate_rows(spec, local, mine, with_grad);
        let shares = out
            .as_ref()
            .map(|o| o.loss_values().map(|value| value * own));
        let sums = sum_over(group, shares);
        let mut out = out?;
        let sums = sums?;
        out.loss = (sums[0] / whole) as f32;
        out.grad_temperature = out.grad_temperature.map(|_| (sums[1] / whole) as f32);
        let scale = own / whole;
        if scale != 1.0 {
            if let Some(grad) = &mut out.grad {
                grad.iter_mut()
                    .for_each(|g| *g = (f64::from(*g) * scale) as f32);
            }
        }
        Ok(out)
    }

    /// The member's own rows through `evaluate` (nothing to run for none).
    fn evaluate_rows(
        &self,
        spec: &LossSpec,
        local: &Inputs<'_>,
        mine: &Local,
        with_grad: bool,
    ) -> Result<LossOutput> {
        if mine.rows > 0 {
            return self.evaluate(spec, local, with_grad);
        }
        let mut out = LossOutput::new(0.0, with_grad.then(Vec::new));
        out.grad_temperature = (spec.loss_values() == 2).then_some(0.0);
        Ok(out)
    }

    /// DIST: every member's shard statistics, merged in rank order (the same on all), then
    /// this member's rows of the gradient.
    fn dist_distributed(
        &self,
        params: &DistParams,
        local: &Inputs<'_>,
        mine: &Local,
        group: &dyn Collective,
        with_grad: bool,
    ) -> Result<LossOutput> {
        // Uploaded once for the statistics and the gradient.
        let shard = (mine.rows > 0)
            .then(|| self.upload_shard(params, local))
            .transpose();
        let stats = if let Ok(Some(shard)) = &shard {
            self.shard_stats(params, shard)
        } else if let Err(e) = &shard {
            Err(e.clone())
        } else {
            Ok(DistShardStats {
                rows: 0,
                inter_sum: 0.0,
                hard_sum: 0.0,
                columns: vec![ColumnMoments::default(); mine.width],
            })
        };
        let len = 3 + 6 * mine.width;
        let flat = match &stats {
            Ok(s) => [vec![1.0], s.to_f64s()].concat(),
            Err(_) => vec![0.0; 1 + len],
        };
        let gathered = gather(group, &flat)?;
        stats?;
        let mut merged: Option<DistShardStats> = None;
        for (rank, member) in gathered.chunks_exact(1 + len).enumerate() {
            if member[0] != 1.0 {
                return Err(failed_member(rank));
            }
            let stats = DistShardStats::from_f64s(&member[1..])?;
            merged = Some(match merged {
                None => stats,
                Some(m) => m.merge(&stats)?,
            });
        }
        let merged = merged.ok_or_else(|| Error::Collective("the group has no member".into()))?;
        let loss = merged.loss(params) as f32;
        let grad = match shard? {
            Some(shard) if with_grad => Some(self.shard_grad(params, &shard, &merged)?),
            _ => with_grad.then(Vec::new),
        };
        Ok(LossOutput::new(loss, grad))
    }
}

impl LossOutput {
    /// The values members sum: the loss and ∂L/∂T (0 without).
    fn loss_values(&self) -> [f64; 2] {
        [
            f64::from(self.loss),
            self.grad_temperature.map_or(0.0, f64::from),
        ]
    }
}

/// The member's checks, before anything is exchanged.
fn local_facts(spec: &LossSpec, local: &Inputs<'_>) -> Result<Local> {
    let coupling = spec.loss().batch_coupling();
    if coupling == BatchCoupling::Pairwise {
        return Err(pairwise(spec));
    }
    let rows = *local
        .shape
        .first()
        .ok_or_else(|| Error::Shape("an empty shape has no rows".into()))?;
    let width: usize = local.shape[1..].iter().product();
    if rows == 0 {
        check_empty(spec, local)?;
    } else {
        local.check(spec)?;
    }
    let weight = match (coupling, spec.token_options(), local.labels) {
        (BatchCoupling::Normalizer, Some(o), Some(labels)) => {
            labels.iter().filter(|&&l| l != o.ignore_index).count()
        }
        _ => rows,
    };
    Ok(Local {
        coupling,
        rows,
        width,
        weight: weight as f64,
    })
}

/// A member without rows: its parameters, its row shape and empty slices.
fn check_empty(spec: &LossSpec, local: &Inputs<'_>) -> Result<()> {
    spec.check_params()?;
    let mut one_row = local.shape.to_vec();
    one_row[0] = 1;
    spec.check_shape(&one_row)?;
    let sparse_len = local.sparse.map_or(0, |s| s.ids.len() + s.logprobs.len());
    let labels_len = local.labels.map_or(0, <[i64]>::len);
    let lengths = local.student.len() + local.teacher.len() + sparse_len + labels_len;
    if lengths != 0 {
        return Err(Error::Shape(format!(
            "shape {:?} holds no rows, but {lengths} values were given",
            local.shape
        )));
    }
    Ok(())
}

/// Errors every member derives alike from the gathered headers.
fn agree(members: &[Header], size: usize) -> Result<()> {
    let failed: Vec<usize> = (0..members.len()).filter(|&r| !members[r].ok).collect();
    if !failed.is_empty() {
        return Err(Error::Collective(format!(
            "member(s) {failed:?} of {size} rejected their inputs (each says why); nothing was evaluated"
        )));
    }
    let first = &members[0];
    if let Some(r) = members.iter().position(|m| m.width != first.width) {
        return Err(Error::Shape(format!(
            "members disagree on the row width: member {r} has {} values per row, member 0 {}",
            members[r].width, first.width
        )));
    }
    if let Some(r) = members.iter().position(|m| m.hash != first.hash) {
        return Err(Error::Param(format!(
            "member {r} evaluates another loss or other parameters than member 0: every member must pass the same LossSpec"
        )));
    }
    if members.iter().all(|m| m.rows == 0.0) {
        return Err(Error::Shape(
            "every member holds 0 rows: the batch is empty".into(),
        ));
    }
    Ok(())
}

/// Every member's `values` summed in rank order (the same bits on all), or an `Err` on all
/// when one member's own step failed.
fn sum_over(group: &dyn Collective, values: Result<[f64; 2], &Error>) -> Result<[f64; 2]> {
    let flat = match values {
        Ok([a, b]) => [1.0, a, b],
        Err(_) => [0.0; 3],
    };
    let gathered = gather(group, &flat)?;
    let mut sums = [0.0; 2];
    for (rank, member) in gathered.chunks_exact(3).enumerate() {
        if member[0] != 1.0 {
            return Err(failed_member(rank));
        }
        sums[0] += member[1];
        sums[1] += member[2];
    }
    Ok(sums)
}

/// `group.all_gather(local)`, checked: a `Collective` of our own or the caller's must return
/// one `local`-sized slice per member, at least one.
fn gather(group: &dyn Collective, local: &[f64]) -> Result<Vec<f64>> {
    let gathered = group.all_gather(local)?;
    let size = group.size();
    if size == 0 || gathered.len() != local.len() * size {
        return Err(Error::Collective(format!(
            "all_gather of {} values over {size} members returned {} values",
            local.len(),
            gathered.len()
        )));
    }
    Ok(gathered)
}

fn failed_member(rank: usize) -> Error {
    Error::Collective(format!(
        "member {rank} failed to evaluate its rows (it says why)"
    ))
}

fn pairwise(spec: &LossSpec) -> Error {
    Error::Param(format!(
        "{} relates every pair of rows of the batch (B×B terms): it cannot be split across \
         members; evaluate it where the whole batch is",
        spec.name()
    ))
}

/// FNV-1a: a hash that is the same in every process and build.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
