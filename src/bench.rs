//! The benchmark harness behind `wgpu-distill bench` and `benches/`: GPU time from timestamp
//! queries (median after warm-up), host wall time and encode time per call, the least bytes a
//! loss must move, and a roofline kernel measured in the same run on the same adapter.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::{BoundIo, GpuContext};
use crate::kernel::{ROOFLINE, ROOFLINE_QUADS, WORKGROUP_SIZE};
use crate::losses::{LossBindings, LossSpec, SparseBindings, TokenOptions};
use crate::plan::{ChunkIo, Plan};
use crate::tensor::{BufferRegion, InputDtype};

/// What one benchmark measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Forward,
    ForwardGrad,
}

impl Pass {
    pub fn name(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::ForwardGrad => "forward+grad",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "forward" => Ok(Self::Forward),
            "forward+grad" | "grad" => Ok(Self::ForwardGrad),
            other => Err(Error::Param(format!(
                "unknown pass '{other}' (expected forward or forward+grad)"
            ))),
        }
    }

    fn wants_grad(self) -> bool {
        self == Self::ForwardGrad
    }
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub loss: &'static str,
    pub shape: [usize; 2],
    pub dtype: &'static str,
    pub pass: Pass,
    /// Median GPU time of the loss (timestamps), or the median wall time without them.
    pub gpu_ms: f64,
    pub roofline_ms: f64,
    pub wall_ms: f64,
    /// Median CPU µs of `record` in the timed runs: each right after the previous run's
    /// result, so with whatever the GPU's work left in the CPU's caches (on a CPU adapter, the
    /// whole computation).
    pub encode_us: f64,
    /// Median CPU µs of `record` repeated back to back without submitting (warm caches):
    /// what a call costs in a loop that records several losses per step.
    pub encode_warm_us: f64,
    pub bytes: u64,
    pub gbps: f64,
    pub roofline_fraction: f64,
    pub dispatches: usize,
    pub timestamps: bool,
    /// With `BenchOptions::per_dispatch`: each dispatch's kernel and median GPU ms, in order.
    pub dispatch_ms: Vec<(&'static str, f64)>,
    /// How many times the loss's path reads each input element (DIST; `None` for the others):
    /// the roofline moves each input once, so this bounds the fraction a memory-bound adapter
    /// can reach.
    pub input_reads: Option<u32>,
}

/// How `run_one` measures.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Untimed rounds before the timed ones.
    pub warmup: usize,
    /// Timed rounds (the median is reported).
    pub iters: usize,
    /// Also time each dispatch alone (timestamps around a pass per dispatch), where the
    /// adapter has TIMESTAMP_QUERY. Separate runs: the main figures are not affected.
    pub per_dispatch: bool,
    /// Run the roofline kernel beside the loss (the default). Off, only the loss runs and the
    /// roofline figures are NaN (null in JSON): `scripts/lavapipe-instructions.sh` counts the
    /// instructions of the loss alone that way.
    pub roofline: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 3,
            iters: 15,
            per_dispatch: false,
            roofline: true,
        }
    }
}

/// Least bytes a loss must move: each input read once; the (f32) gradient written once.
pub fn minimum_bytes(rows: usize, cols: usize, dtype: InputDtype, pass: Pass) -> u64 {
    let inputs = 2 * dtype.bytes_for(rows * cols);
    inputs
        + if pass.wants_grad() {
            (rows * cols) as u64 * 4
        } else {
            0
        }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Timestamps around whatever `record` puts in an encoder, when the device allows them.
struct Timer {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    staging: wgpu::Buffer,
    period_ns: f64,
}

impl Timer {
    fn new(ctx: &GpuContext) -> Option<Self> {
        let needed =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        if !ctx.device().features().contains(needed) {
            return None;
        }
        let device = ctx.device();
        Some(Self {
            queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("bench timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bench resolve"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bench timestamps staging"),
                size: 16,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            period_ns: f64::from(ctx.queue().get_timestamp_period()),
        })
    }
}

/// One timed run of `record`: (GPU ms from timestamps, or wall ms without them; wall ms from
/// encoding to the result; µs spent encoding).
fn sample(
    ctx: &GpuContext,
    timer: Option<&Timer>,
    record: &mut impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<[f64; 3]> {
    let start = Instant::now();
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    if let Some(t) = timer {
        encoder.write_timestamp(&t.queries, 0);
    }
    let encode_start = Instant::now();
    record(&mut encoder)?;
    let encode_us = encode_start.elapsed().as_secs_f64() * 1e6;
    if let Some(t) = timer {
        encoder.write_timestamp(&t.queries, 1);
        encoder.resolve_query_set(&t.queries, 0..2, &t.resolve, 0);
        encoder.copy_buffer_to_buffer(&t.resolve, 0, &t.staging, 0, 16);
    }
    let index = ctx.queue().submit([encoder.finish()]);
    let ticks = match timer {
        Some(t) => {
            let bytes = ctx.read_back(&t.staging, index)?;
            let word =
                |k: usize| u64::from_le_bytes(bytes[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
            Some(word(1).saturating_sub(word(0)) as f64 * t.period_ns / 1e6)
        }
        None => {
            ctx.device()
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(index),
                    timeout: None,
                })
                .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
            None
        }
    };
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    Ok([ticks.unwrap_or(wall_ms), wall_ms, encode_us])
}

/// Median µs of `record` into encoders that are dropped, never submitted, 31 times back to back.
fn encode_back_to_back(
    ctx: &GpuContext,
    record: &mut impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<f64> {
    let mut times = Vec::with_capacity(31);
    for _ in 0..31 {
        let mut encoder = ctx.device().create_command_encoder(&Default::default());
        let start = Instant::now();
        record(&mut encoder)?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(&mut times))
}

/// Records `record` `runs` times with the per-dispatch timer armed; returns each dispatch's
/// kernel and median GPU ms (empty without TIMESTAMP_QUERY).
fn time_dispatches(
    ctx: &GpuContext,
    runs: usize,
    mut record: impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<Vec<(&'static str, f64)>> {
    const CAPACITY: u32 = 64;
    let period_ns = f64::from(ctx.queue().get_timestamp_period());
    let mut kernels = vec![];
    let mut samples: Vec<Vec<f64>> = vec![];
    for _ in 0..runs {
        if !ctx.arm_dispatch_timer(CAPACITY) {
            return Ok(vec![]);
        }
        let mut encoder = ctx.device().create_command_encoder(&Default::default());
        let recorded = record(&mut encoder);
        let timer = ctx.take_dispatch_timer();
        recorded?;
        let Some(timer) = timer else {
            return Ok(vec![]);
        };
        let queries = 2 * timer.kernels.len() as u32;
        if queries == 0 {
            return Ok(vec![]);
        }
        let size = u64::from(queries) * 8;
        let (resolve, staging) = ctx.scoped("per-dispatch timestamps", || {
            let buffer = |usage| {
                ctx.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("per-dispatch timestamps"),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            };
            Ok((
                buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
                buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
            ))
        })?;
        encoder.resolve_query_set(&timer.queries, 0..queries, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, size);
        let index = ctx.queue().submit([encoder.finish()]);
        let bytes = ctx.read_back(&staging, index)?;
        let ticks: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
            .collect();
        samples.resize(timer.kernels.len(), vec![]);
        for (k, pair) in ticks.chunks_exact(2).enumerate() {
            samples[k].push(pair[1].saturating_sub(pair[0]) as f64 * period_ns / 1e6);
        }
        kernels = timer.kernels;
    }
    Ok(kernels
        .into_iter()
        .zip(samples.iter_mut())
        .map(|(kernel, times)| (kernel, median(times)))
        .collect())
}

/// Medians of each column of `samples`.
fn medians(samples: &[[f64; 3]]) -> [f64; 3] {
    let column = |k: usize| median(&mut samples.iter().map(|s| s[k]).collect::<Vec<_>>());
    [column(0), column(1), column(2)]
}

/// Times `loss` and `roofline` alternately (`warmup` untimed rounds, then `iters` timed ones),
/// so that both see the same state of the machine; returns the medians of each.
fn measure_pair(
    ctx: &GpuContext,
    timer: Option<&Timer>,
    warmup: usize,
    iters: usize,
    with_roofline: bool,
    mut loss: impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
    mut roofline: impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<([f64; 3], [f64; 3])> {
    let (mut a, mut b) = (vec![], vec![]);
    for i in 0..warmup + iters {
        let x = sample(ctx, timer, &mut loss)?;
        let y = match with_roofline {
            true => sample(ctx, timer, &mut roofline)?,
            false => [f64::NAN; 3],
        };
        if i >= warmup {
            a.push(x);
            b.push(y);
        }
    }
    Ok((medians(&a), medians(&b)))
}

/// Synthetic B×C logits for the benchmark, made once per shape and reused across losses,
/// dtypes and passes.
pub struct BenchInputs {
    pub rows: usize,
    pub cols: usize,
    pub student: Vec<f32>,
    pub teacher: Vec<f32>,
    /// A sparse top-k teacher: `kl` runs against it instead of `teacher`.
    pub sparse: Option<BenchSparse>,
}

/// The benchmark's sparse teacher: `k` ids per row (the teacher's top k) and their log-probs.
pub struct BenchSparse {
    pub k: usize,
    pub ids: Vec<i64>,
    pub logprobs: Vec<f32>,
}

impl BenchInputs {
    pub fn synthetic(rows: usize, cols: usize) -> Self {
        let (student, teacher) = crate::synthetic::logit_pair(7, rows, cols, 3.0);
        Self {
            rows,
            cols,
            student,
            teacher,
            sparse: None,
        }
    }

    /// A copy of these logits with a sparse teacher of `k` ids per row.
    pub fn sparse_copy(&self, k: usize) -> Self {
        Self {
            rows: self.rows,
            cols: self.cols,
            student: self.student.clone(),
            teacher: self.teacher.clone(),
            sparse: None,
        }
        .with_sparse_teacher(k)
    }

    /// The same logits with a sparse teacher: each row's `k` largest teacher logits (at most
    /// C) and their full-vocabulary log-probabilities.
    pub fn with_sparse_teacher(mut self, k: usize) -> Self {
        let k = k.clamp(1, self.cols);
        let mut ids = Vec::with_capacity(self.rows * k);
        let mut logprobs = Vec::with_capacity(self.rows * k);
        for row in self.teacher.chunks_exact(self.cols) {
            let max = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
            let lse = max
                + row
                    .iter()
                    .map(|&x| (f64::from(x) - max).exp())
                    .sum::<f64>()
                    .ln();
            let mut order: Vec<usize> = (0..self.cols).collect();
            order.select_nth_unstable_by(k - 1, |&a, &b| row[b].total_cmp(&row[a]));
            for &c in &order[..k] {
                ids.push(c as i64);
                logprobs.push((f64::from(row[c]) - lse) as f32);
            }
        }
        self.sparse = Some(BenchSparse { k, ids, logprobs });
        self
    }
}

/// The loss's name in results: `+ls`, `+ctkd`, `+softcap` for kl's LS, CTKD and soft-capping
/// options; `+hard` where its
/// hard-label term is on; `kl+soft` for KL through the token skeleton (labels read, options
/// set) without it.
pub fn bench_name(spec: &LossSpec) -> &'static str {
    let hard = spec.token_options().is_some_and(|o| o.wants_hard_term());
    match (spec, hard) {
        (LossSpec::Kl(p), _) if p.options.standardize && p.options.temperature_grad => "kl+ls+ctkd",
        (LossSpec::Kl(p), _) if p.options.standardize => "kl+ls",
        (LossSpec::Kl(p), _) if p.options.temperature_grad => "kl+ctkd",
        (LossSpec::Kl(p), _) if p.options.softcap.is_some() => "kl+softcap",
        (LossSpec::Kl(_), true) => "kl+hard",
        (LossSpec::Kl(p), false) if p.options != TokenOptions::default() => "kl+soft",
        (LossSpec::Jsd(_), true) => "jsd+hard",
        (LossSpec::Tvd(_), true) => "tvd+hard",
        (LossSpec::Dist(p), _) if p.hard_weight != 0.0 => "dist+hard",
        (LossSpec::Dkd(p), _) if p.standardize => "dkd+ls",
        (LossSpec::Ttm(p), _) if p.standardize => "ttm+ls",
        (LossSpec::Mlkd(p), _) if p.cc_weight == 0.0 && p.bc_weight == 0.0 => "mlkd+kd-only",
        (LossSpec::Mlkd(p), _) if p.standardize => "mlkd+ls",
        (other, _) => other.name(),
    }
}

/// Whether the benchmark gives the loss labels: where it needs them, and for the token losses
/// run as in training (jsd, tvd, kl with options; nothing is masked). Plain kl runs without,
/// as Hinton KD does.
fn bench_labels(spec: &LossSpec) -> bool {
    spec.needs_labels()
        || match spec {
            LossSpec::Jsd(_) | LossSpec::Tvd(_) | LossSpec::Skl(_) | LossSpec::Srkl(_) => true,
            LossSpec::Kl(p) => {
                let o = p.options;
                o != TokenOptions::default() && !o.standardize && !o.temperature_grad
            }
            _ => false,
        }
}

/// Benchmarks one loss, dtype and pass on `ctx`, with the roofline beside it.
pub fn run_one(
    ctx: &GpuContext,
    spec: &LossSpec,
    data: &BenchInputs,
    dtype: InputDtype,
    pass: Pass,
    options: &BenchOptions,
) -> Result<BenchResult> {
    let (rows, cols) = (data.rows, data.cols);
    let elements = rows * cols;
    let bytes = elements as u64 * 4;
    let max_buffer = ctx.device().limits().max_buffer_size;
    if bytes > max_buffer {
        return Err(Error::Limit(format!(
            "{rows}x{cols} needs {bytes}-byte buffers; max_buffer_size is {max_buffer}"
        )));
    }
    let (student, teacher) = (&data.student, &data.teacher);
    let device = ctx.device();
    let (inputs_s, inputs_t, outputs, grad) = ctx.scoped("benchmark buffers", || {
        let upload = |data: &[f32]| ctx.upload("bench input", &dtype.encode(data));
        let storage = |size: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bench output"),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        Ok((
            upload(student)?,
            upload(teacher)?,
            storage(256),
            storage(bytes),
        ))
    })?;
    let sparse = match (&data.sparse, spec) {
        (Some(_), LossSpec::Kl(_)) if dtype != InputDtype::F32 && cols % 4 != 0 => {
            // The bench skips what a shape or dtype does not allow (`Error::Limit`).
            return Err(Error::Limit(format!(
                "a sparse teacher takes {} logits with V a multiple of 4, not {cols}",
                dtype.name()
            )));
        }
        (Some(sparse), LossSpec::Kl(params)) => {
            let ids: Vec<u32> = sparse.ids.iter().map(|&i| i as u32).collect();
            Some((
                params,
                sparse.k,
                ctx.upload("bench ids", bytemuck::cast_slice(&ids))?,
                ctx.upload("bench log-probs", bytemuck::cast_slice(&sparse.logprobs))?,
            ))
        }
        (Some(_), other) => {
            return Err(Error::Param(format!(
                "a sparse teacher applies to kl, not {}",
                other.name()
            )))
        }
        (None, _) => None,
    };
    // Labels: row r's target is r mod C.
    let labels: Vec<u32> = (0..rows).map(|r| (r % cols) as u32).collect();
    let labels = bench_labels(spec)
        .then(|| ctx.upload("bench labels", bytemuck::cast_slice(&labels)))
        .transpose()?;
    let timer = Timer::new(ctx);
    let want_grad = pass.wants_grad();
    let mut dispatches = 0;
    // The roofline, in the same row chunks as the losses when a batch exceeds one binding.
    let unused_loss = ctx.scratch("unused loss", 16);
    let mut whole_io = BoundIo::whole(&inputs_s, &inputs_t, &unused_loss, Some(&grad));
    whole_io.dtype = dtype;
    let layout = whole_io.layout();
    let mut roofline = Plan::new("roofline", dtype.into());
    for (start, len) in ctx.plan_env().row_chunks(rows, cols, dtype)? {
        let n = len * cols;
        // The quad form (four elements per load) wherever the chunk allows it: the roofline
        // is the fastest copy-like kernel, whatever the loss kernels use.
        let quads = n % 4 == 0 && (start * cols) % 4 == 0;
        let (kernel, units) = if quads {
            (ROOFLINE_QUADS, n / 4)
        } else {
            (ROOFLINE, n)
        };
        let params = roofline.params(&[units as u32, u32::from(want_grad), 0, 0]);
        let groups = units.div_ceil(WORKGROUP_SIZE as usize * 4).clamp(1, 65535) as u32;
        let chunk = ChunkIo {
            layout,
            first: start,
            rows: len,
            cols,
        };
        roofline.dispatch(
            kernel,
            WORKGROUP_SIZE,
            vec![
                params,
                chunk.student(),
                chunk.teacher(),
                chunk.grad_or(params),
            ],
            [groups, 1, 1],
        );
    }
    let mut record_loss = |enc: &mut wgpu::CommandEncoder| {
        if let Some((params, k, ids, logprobs)) = &sparse {
            dispatches = ctx.record_sparse_counted(
                enc,
                params,
                &[rows, cols],
                &SparseBindings {
                    student: BufferRegion::new(&inputs_s),
                    ids: BufferRegion::new(ids),
                    logprobs: BufferRegion::new(logprobs),
                    k: *k,
                    tail: false,
                    labels: labels.as_ref().map(BufferRegion::new),
                    loss: BufferRegion::new(&outputs),
                    grad: want_grad.then(|| BufferRegion::new(&grad)),
                },
                dtype,
            )?;
            return Ok(());
        }
        dispatches = ctx.record_counted(
            enc,
            spec,
            (&[rows, cols], &[rows, cols]),
            &LossBindings {
                student: BufferRegion::new(&inputs_s),
                teacher: BufferRegion::new(&inputs_t),
                labels: labels.as_ref().map(BufferRegion::new),
                loss: BufferRegion::new(&outputs),
                grad: want_grad.then(|| BufferRegion::new(&grad)),
            },
            dtype.into(),
        )?;
        Ok(())
    };
    let ([gpu_ms, wall_ms, encode_us], [roofline_ms, _, _]) = measure_pair(
        ctx,
        timer.as_ref(),
        options.warmup,
        options.iters.max(1),
        options.roofline,
        &mut record_loss,
        |enc| {
            ctx.record_plan(enc, None, || Ok(roofline.clone()), &whole_io, "roofline")
                .map(|_| ())
        },
    )?;
    let encode_warm_us = encode_back_to_back(ctx, &mut record_loss)?;
    let dispatch_ms = if options.per_dispatch {
        time_dispatches(ctx, options.iters.clamp(1, 7), &mut record_loss)?
    } else {
        vec![]
    };
    // The next shape gets new buffers: the bind-group cache must not keep these alive.
    let mut transient = vec![&inputs_s, &inputs_t, &outputs, &grad];
    transient.extend(labels.as_ref());
    if let Some((_, _, ids, logprobs)) = &sparse {
        transient.extend([ids, logprobs]);
    }
    ctx.forget_bind_groups_of(&transient);
    // The roofline moves two dense inputs (and the gradient); a sparse teacher moves its
    // N·K ids and log-probs instead of the dense teacher: the fraction compares bandwidths.
    let roofline_bytes = minimum_bytes(rows, cols, dtype, pass);
    // With the student over the ids (and no hard term) it reads only the student's N·K
    // logits at the ids; the gradient is still written whole.
    let over_ids = spec
        .token_options()
        .is_some_and(|o| o.student_over_ids && !o.wants_hard_term());
    let ids_bytes = data.sparse.as_ref().map_or(0, |s| (rows * s.k) as u64 * 8);
    let min_bytes = match &data.sparse {
        Some(s) if sparse.is_some() && over_ids => {
            let inputs = 2 * dtype.bytes_for(rows * cols);
            roofline_bytes - inputs + dtype.bytes_for(rows * s.k) + ids_bytes
        }
        Some(_) if sparse.is_some() => roofline_bytes - dtype.bytes_for(rows * cols) + ids_bytes,
        _ => roofline_bytes,
    };
    Ok(BenchResult {
        loss: match (sparse.is_some(), over_ids) {
            (true, true) => "kl sparse over ids",
            (true, false) => "kl sparse",
            _ => bench_name(spec),
        },
        shape: [rows, cols],
        dtype: dtype.name(),
        pass,
        gpu_ms,
        roofline_ms,
        wall_ms,
        encode_us,
        encode_warm_us,
        bytes: min_bytes,
        gbps: min_bytes as f64 / (gpu_ms * 1e6),
        roofline_fraction: (min_bytes as f64 / gpu_ms) / (roofline_bytes as f64 / roofline_ms),
        dispatches,
        timestamps: timer.is_some(),
        dispatch_ms,
        input_reads: matches!(spec, LossSpec::Dist(_))
            .then(|| ctx.dist_input_reads(cols, want_grad)),
    })
}
