//! Plans: what one call dispatches, with no device in sight. A loss turns a shape, a
//! description of the caller's bound regions ([`IoLayout`]) and the resolved tuning
//! ([`PlanEnv`]) into a [`Plan`]: dispatches over symbolic bindings ([`Slot`]: the caller's
//! regions, named scratch buffers, parameter blocks). The engine (`crate::gpu`) materialises a
//! plan into pipelines and bind groups and records it; tests read plans without an adapter.
//! vello's `Recording` run by its `WgpuEngine` is the model.

use crate::error::{Error, Result};
use crate::kernel::{Kernel, FINISH, WORKGROUP_SIZE};
use crate::strategy::Strategy;
use crate::tensor::{InputDtype, Precision};
use crate::tuning::Tuning;

/// Most workgroups in one grid dimension.
pub const MAX_GROUPS_PER_DIM: u32 = 65535;

/// A caller's region a dispatch binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Io {
    Student,
    Teacher,
    /// One 32-bit label per row.
    Labels,
    /// One f32.
    Loss,
    Grad,
    /// A sparse teacher's ids (N×K u32).
    Ids,
    /// A sparse teacher's log-probabilities (N×K f32).
    Logprobs,
    /// A buffer the library made for the call (DIST's merged shard statistics).
    Extra(u8),
}

/// One binding of a planned dispatch, resolved by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Bytes `[start, start + len)` of a caller's region (`len: None`: the region as bound).
    Io {
        io: Io,
        start: u64,
        len: Option<u64>,
    },
    /// A scratch buffer shared by the calls of a context, by name (its size is in
    /// [`Plan::scratch`]): reuse is safe, wgpu orders the passes that touch it.
    Scratch(&'static str),
    /// Parameter block `i` of [`Plan::params`].
    Params(usize),
}

impl Slot {
    /// A caller's region, whole.
    pub fn io(io: Io) -> Self {
        Self::Io {
            io,
            start: 0,
            len: None,
        }
    }
}

/// One dispatch of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedDispatch {
    pub kernel: Kernel,
    pub threads_per_row: u32,
    /// Group 0's bindings, in binding order.
    pub bindings: Vec<Slot>,
    pub groups: [u32; 3],
}

/// What one call dispatches, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub label: &'static str,
    /// Input and gradient dtypes (the engine picks pipelines with them).
    pub precision: Precision,
    /// Scratch buffers by name, each with the bytes this call needs of it.
    pub scratch: Vec<(&'static str, u64)>,
    /// Parameter blocks (uniforms), in the order the dispatches first bind them.
    pub params: Vec<Vec<u8>>,
    pub dispatches: Vec<PlannedDispatch>,
}

impl Plan {
    pub fn new(label: &'static str, precision: Precision) -> Self {
        Self {
            label,
            precision,
            scratch: Vec::new(),
            params: Vec::new(),
            dispatches: Vec::new(),
        }
    }

    /// The scratch buffer `name`, of at least `bytes`.
    pub fn scratch(&mut self, name: &'static str, bytes: u64) -> Slot {
        match self.scratch.iter_mut().find(|(n, _)| *n == name) {
            Some((_, size)) => *size = (*size).max(bytes),
            None => self.scratch.push((name, bytes)),
        }
        Slot::Scratch(name)
    }

    /// A parameter block holding `value` (blocks with the same bytes are one).
    pub fn params<P: bytemuck::Pod>(&mut self, value: &P) -> Slot {
        let bytes = bytemuck::bytes_of(value);
        if let Some(i) = self.params.iter().position(|p| p == bytes) {
            return Slot::Params(i);
        }
        self.params.push(bytes.to_vec());
        Slot::Params(self.params.len() - 1)
    }

    /// Appends a dispatch.
    pub fn dispatch(
        &mut self,
        kernel: Kernel,
        threads_per_row: u32,
        bindings: Vec<Slot>,
        groups: [u32; 3],
    ) {
        self.dispatches.push(PlannedDispatch {
            kernel,
            threads_per_row,
            bindings,
            groups,
        });
    }

    /// A plan to fill in (`with` names it and appends its dispatches).
    pub fn empty() -> Self {
        Self::new("", Precision::default())
    }

    /// The plan named `label`, for `precision`, with `dispatches` appended.
    pub fn with(
        mut self,
        label: &'static str,
        precision: Precision,
        dispatches: Vec<PlannedDispatch>,
    ) -> Self {
        self.label = label;
        self.precision = precision;
        self.dispatches.extend(dispatches);
        self
    }

    /// Appends the finishing dispatch: `finish.wgsl` folds `partials` into the caller's loss.
    pub fn finish(&mut self, uniform: FinishUniform, partials: Slot) {
        let params = self.params(&uniform);
        self.dispatch(
            FINISH,
            WORKGROUP_SIZE,
            vec![params, partials, Slot::io(Io::Loss)],
            [1, 1, 1],
        );
    }

    /// The row pass of a logit loss: `kernel` over each block of rows (one unless the batch
    /// exceeds a binding), bound as (its parameters from `params(first_row, rows, groups_x)`,
    /// the student's and the teacher's rows, the labels when `labels`, `row_loss`, the
    /// gradient's rows or a placeholder).
    #[allow(clippy::too_many_arguments)]
    pub fn logit_rows<P: bytemuck::Pod>(
        &mut self,
        env: &PlanEnv,
        io: &IoLayout,
        kernel: Kernel,
        (rows, cols): (usize, usize),
        labels: bool,
        row_loss: Slot,
        params: impl Fn(usize, usize, u32) -> P,
    ) -> Result<()> {
        let threads_per_row = env.threads_per_row(cols);
        let placeholder = self.scratch("unused gradient", 16);
        for chunk in env.row_blocks(self, io, rows, cols, threads_per_row, params)? {
            let mut bindings = vec![chunk.uniform, chunk.io.student(), chunk.io.teacher()];
            if labels {
                bindings.push(Slot::io(Io::Labels));
            }
            bindings.extend([row_loss, chunk.io.grad_or(placeholder)]);
            self.dispatch(kernel, threads_per_row, bindings, chunk.groups);
        }
        Ok(())
    }

    /// The kernels dispatched, in order.
    pub fn kernels(&self) -> impl Iterator<Item = &Kernel> + '_ {
        self.dispatches.iter().map(|d| &d.kernel)
    }

    /// How many dispatches bind the caller's region `io`.
    pub fn dispatches_binding(&self, io: Io) -> usize {
        self.dispatches
            .iter()
            .filter(|d| {
                d.bindings
                    .iter()
                    .any(|s| matches!(s, Slot::Io { io: bound, .. } if *bound == io))
            })
            .count()
    }
}

/// The finishing dispatch: `finish.wgsl` with parameter block `params` folds `partials` into
/// the caller's loss.
pub fn finish_dispatch(params: Slot, partials: Slot) -> PlannedDispatch {
    PlannedDispatch {
        kernel: FINISH,
        threads_per_row: WORKGROUP_SIZE,
        bindings: vec![params, partials, Slot::io(Io::Loss)],
        groups: [1, 1, 1],
    }
}

/// What a plan may know of the caller's regions: dtypes, offsets (for the quad kernels'
/// alignment) and which optional regions are bound. Device-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoLayout {
    /// How student and teacher are stored.
    pub dtype: InputDtype,
    /// How the gradient is stored (f32 unless a quad kernel writes f16/bf16).
    pub grad_dtype: InputDtype,
    pub student_offset: u64,
    pub teacher_offset: u64,
    /// The gradient's offset, when a gradient is written.
    pub grad_offset: Option<u64>,
    pub labels: bool,
    /// The teacher's row width (trailing axes flattened) where it differs from the student's
    /// (SP, PKT); `None`: the teacher has the student's shape.
    pub teacher_width: Option<usize>,
}

impl IoLayout {
    /// f32 student, teacher and (when `grad`) gradient at offset 0, no labels.
    pub fn f32(grad: bool) -> Self {
        Self {
            dtype: InputDtype::F32,
            grad_dtype: InputDtype::F32,
            student_offset: 0,
            teacher_offset: 0,
            grad_offset: grad.then_some(0),
            labels: false,
            teacher_width: None,
        }
    }

    pub fn has_grad(&self) -> bool {
        self.grad_offset.is_some()
    }

    /// The input and gradient dtypes, for choosing pipelines.
    pub fn precision(&self) -> Precision {
        Precision {
            inputs: self.dtype,
            grad: self.grad_dtype,
        }
    }

    /// Whether the quad kernels can read these regions: rows of a multiple of 4 elements (so
    /// every row and every chunk starts on a quad) and inputs and gradient at offsets that are
    /// multiples of a quad's size.
    pub fn quads_allowed(&self, cols: usize) -> bool {
        let quad = self.dtype.bytes_for(4);
        let grad_quad = self.grad_dtype.bytes_for(4);
        cols.is_multiple_of(4)
            && self.student_offset.is_multiple_of(quad)
            && self.teacher_offset.is_multiple_of(quad)
            && self.grad_offset.is_none_or(|g| g.is_multiple_of(grad_quad))
    }

    /// The gradient region, or `placeholder` when no gradient is written (the kernels never
    /// touch it then).
    pub fn grad_or(&self, placeholder: Slot) -> Slot {
        if self.has_grad() {
            Slot::io(Io::Grad)
        } else {
            placeholder
        }
    }

    /// The labels region, or `placeholder` when none are bound.
    pub fn labels_or(&self, placeholder: Slot) -> Slot {
        if self.labels {
            Slot::io(Io::Labels)
        } else {
            placeholder
        }
    }
}

/// Rows `[first, first + rows)` of a B×`cols` call: student, teacher and gradient narrowed to
/// those rows (offsets stay aligned: see [`PlanEnv::row_chunks`]); labels and loss stay whole
/// (the kernels index them by batch row).
#[derive(Clone, Copy, Debug)]
pub struct ChunkIo {
    pub layout: IoLayout,
    pub first: usize,
    pub rows: usize,
    pub cols: usize,
}

impl ChunkIo {
    fn narrowed(&self, io: Io, dtype: InputDtype) -> Slot {
        let (first, count) = (self.first * self.cols, self.rows * self.cols);
        Slot::Io {
            io,
            start: dtype.bytes_for(first),
            len: Some(dtype.bytes_for(count)),
        }
    }

    pub fn student(&self) -> Slot {
        self.narrowed(Io::Student, self.layout.dtype)
    }

    pub fn teacher(&self) -> Slot {
        self.narrowed(Io::Teacher, self.layout.dtype)
    }

    /// The gradient's rows, or `placeholder` when no gradient is written.
    pub fn grad_or(&self, placeholder: Slot) -> Slot {
        if self.layout.has_grad() {
            self.narrowed(Io::Grad, self.layout.grad_dtype)
        } else {
            placeholder
        }
    }
}

/// One block of rows of a row kernel: its narrowed regions, its grid and its parameters.
#[derive(Clone, Copy, Debug)]
pub struct RowChunk {
    pub io: ChunkIo,
    pub groups: [u32; 3],
    pub uniform: Slot,
}

/// What a plan may know of the device: the strategy in force, the adapter class's tuning and
/// the binding limits. Device-free: a test builds one for any adapter it likes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanEnv {
    pub strategy: Strategy,
    pub tuning: Tuning,
    /// `max_storage_buffer_binding_size`.
    pub max_binding: u64,
    /// `min_storage_buffer_offset_alignment`.
    pub offset_alignment: u64,
}

impl PlanEnv {
    /// The defaults of `tuning` under a default strategy and wgpu's default limits.
    pub fn new(tuning: Tuning) -> Self {
        let limits = wgpu::Limits::default();
        Self::with_limits(Strategy::default(), tuning, &limits)
    }

    pub fn with_limits(strategy: Strategy, tuning: Tuning, limits: &wgpu::Limits) -> Self {
        Self {
            strategy,
            tuning,
            max_binding: limits.max_storage_buffer_binding_size,
            offset_alignment: u64::from(limits.min_storage_buffer_offset_alignment),
        }
    }

    /// Lanes per row at C = `cols`: the forced count, else the tuning's.
    pub fn threads_per_row(&self, cols: usize) -> u32 {
        self.strategy
            .threads_per_row
            .unwrap_or_else(|| self.tuning.threads_per_row(cols))
    }

    /// Whether a row of `cols` classes, spread over `lanes` lanes, is held in registers
    /// (`per_lane` elements a lane at most).
    pub fn holds_rows(&self, cols: usize, lanes: u32, per_lane: u32) -> bool {
        self.strategy.holds_rows(cols, lanes, per_lane)
    }

    /// Whether a kernel that gains from held rows holds them: the row fits (`per_lane`
    /// elements a lane at most) and the strategy does not turn held rows off (`None` holds
    /// them, unlike `holds_rows`).
    pub fn may_hold_rows(&self, cols: usize, lanes: u32, per_lane: u32) -> bool {
        self.strategy.cached_rows != Some(false) && cols <= (lanes * per_lane) as usize
    }

    /// Whether a B×`cols` call on `io` uses the quad kernels.
    pub fn quads(&self, cols: usize, io: &IoLayout) -> bool {
        self.strategy.quads != Some(false) && io.quads_allowed(cols)
    }

    /// Row blocks `(first row, rows)` for a B×C logit loss: one block when it fits in one
    /// binding, else blocks as large as a binding allows, each starting at an offset aligned to
    /// `min_storage_buffer_offset_alignment` for the inputs (`dtype`) and the gradient.
    pub fn row_chunks(
        &self,
        rows: usize,
        cols: usize,
        dtype: InputDtype,
    ) -> Result<Vec<(usize, usize)>> {
        // The f32 gradient is the widest binding; kernels index a binding with u32 words.
        let max = self.max_binding.min(u64::from(u32::MAX) / 4 * 4);
        let row_bytes = cols as u64 * 4;
        let fit = (max / row_bytes) as usize;
        if self.strategy.chunk_rows.is_none() && fit >= rows {
            return Ok(vec![(0, rows)]);
        }
        let align = self.offset_alignment.max(4);
        let input_row_bytes = dtype.bytes_for(cols);
        // Rows per chunk: a multiple of `step` keeps every offset aligned.
        let step_for = |bytes: u64| (align / gcd(bytes, align)) as usize;
        // A 16-bit gradient's rows (cols * 2 bytes) stay aligned as well.
        let step = lcm(
            lcm(step_for(input_row_bytes), step_for(row_bytes)),
            step_for(cols as u64 * 2),
        );
        let want = self.strategy.chunk_rows.unwrap_or(fit).min(fit);
        let chunk = (want / step).max(1) * step;
        if chunk > fit {
            return Err(Error::Limit(format!(
                "a row of C = {cols} ({row_bytes} bytes, in chunks of {step} rows for alignment) \
                 exceeds max_storage_buffer_binding_size {max}"
            )));
        }
        Ok((0..rows)
            .step_by(chunk)
            .map(|s| (s, chunk.min(rows - s)))
            .collect())
    }

    /// The row blocks of a B×`cols` logit call, each with the parameter block
    /// `params(first_row, rows, groups_x)` makes for it (added to `plan`).
    pub fn row_blocks<P: bytemuck::Pod>(
        &self,
        plan: &mut Plan,
        io: &IoLayout,
        rows: usize,
        cols: usize,
        threads_per_row: u32,
        params: impl Fn(usize, usize, u32) -> P,
    ) -> Result<Vec<RowChunk>> {
        self.row_chunks(rows, cols, io.dtype)?
            .into_iter()
            .map(|(first, len)| {
                let groups = row_grid(len, threads_per_row)?;
                Ok(RowChunk {
                    io: ChunkIo {
                        layout: *io,
                        first,
                        rows: len,
                        cols,
                    },
                    groups,
                    uniform: plan.params(&params(first, len, groups[0])),
                })
            })
            .collect()
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a as u64, b as u64) as usize * b
}

/// A 2D grid of workgroups covering `count` workgroups (x first, then y), as `segment_row`
/// in `lib/reduce.wgsl` expects.
pub fn grid_2d(count: usize, what: &str) -> Result<[u32; 3]> {
    let count = count.max(1);
    let x = count.min(MAX_GROUPS_PER_DIM as usize);
    let y = count.div_ceil(x);
    if y > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "{what} needs {count} workgroups, more than 65535 x 65535"
        )));
    }
    Ok([x as u32, y as u32, 1])
}

/// Grid for a row kernel: `rows` rows, `threads_per_row` lanes each.
pub fn row_grid(rows: usize, threads_per_row: u32) -> Result<[u32; 3]> {
    let rows_per_group = (WORKGROUP_SIZE / threads_per_row) as usize;
    grid_2d(rows.div_ceil(rows_per_group), "the row pass")
}

/// Grid for one invocation per element of `count` (indexed by `flat_index` in
/// `lib/reduce.wgsl`).
pub fn flat_grid(count: usize, what: &str) -> Result<[u32; 3]> {
    grid_2d(count.div_ceil(WORKGROUP_SIZE as usize), what)
}

/// Grid dimension for one lane per column.
pub fn column_groups(cols: usize) -> Result<u32> {
    let groups = cols.div_ceil(WORKGROUP_SIZE as usize);
    if groups > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "C = {cols} needs {groups} workgroups of columns, more than 65535"
        )));
    }
    Ok(groups as u32)
}

/// Fails when one binding of `bytes` exceeds `max_storage_buffer_binding_size`.
pub fn check_binding(env: &PlanEnv, name: &str, bytes: u64) -> Result<()> {
    if bytes > env.max_binding {
        return Err(Error::Limit(format!(
            "{name} needs a {bytes}-byte binding; this device's max_storage_buffer_binding_size is {}",
            env.max_binding
        )));
    }
    if bytes == 0 {
        return Err(Error::Shape(format!("{name} is empty")));
    }
    Ok(())
}

/// Parameters of `finish.wgsl`: loss = Σ_i scale_i · sum(block i) over three consecutive
/// blocks of partial sums.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FinishUniform {
    pub n0: u32,
    pub n1: u32,
    pub n2: u32,
    /// 1: block 2 goes to the loss region's second f32 instead of into the loss.
    pub second: u32,
    pub scale0: f32,
    pub scale1: f32,
    pub scale2: f32,
    pub _pad2: f32,
}

impl FinishUniform {
    /// `loss = scale · sum(partials[0 .. n])`.
    pub fn single(n: usize, scale: f64) -> Self {
        Self::pair(n, scale, 0, 0.0)
    }

    /// `loss = scale0 · sum(first n0) + scale1 · sum(next n1)`.
    pub fn pair(n0: usize, scale0: f64, n1: usize, scale1: f64) -> Self {
        Self::triple([(n0, scale0), (n1, scale1), (0, 0.0)])
    }

    /// `loss = scale0 · sum(first n0)`, and `scale1 · sum(next n1)` as a second output in the
    /// loss region's second f32 (kl's ∂L/∂T).
    pub fn with_second(n0: usize, scale0: f64, n1: usize, scale1: f64) -> Self {
        Self {
            second: 1,
            ..Self::triple([(n0, scale0), (0, 0.0), (n1, scale1)])
        }
    }

    /// `loss = Σ_i scale_i · sum(block i)` over three consecutive blocks `(n_i, scale_i)`.
    pub fn triple(blocks: [(usize, f64); 3]) -> Self {
        Self {
            n0: blocks[0].0 as u32,
            n1: blocks[1].0 as u32,
            n2: blocks[2].0 as u32,
            second: 0,
            scale0: blocks[0].1 as f32,
            scale1: blocks[1].1 as f32,
            scale2: blocks[2].1 as f32,
            _pad2: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuning::AdapterClass;

    #[test]
    fn chunks_keep_offsets_aligned_and_cover_every_row() {
        let mut env = PlanEnv::new(*Tuning::for_class(AdapterClass::Gpu));
        env.strategy.chunk_rows = Some(5);
        env.offset_alignment = 256;
        let chunks = env.row_chunks(100, 10, InputDtype::F16).unwrap();
        let mut next = 0;
        for (first, rows) in &chunks {
            assert_eq!(*first, next);
            assert_eq!((first * 10 * 2) % 256, 0, "f16 input offset aligned");
            assert_eq!((first * 10 * 4) % 256, 0, "f32 gradient offset aligned");
            next += rows;
        }
        assert_eq!(next, 100);
    }

    #[test]
    fn parameter_blocks_and_scratch_are_shared_within_a_plan() {
        let mut plan = Plan::new("test", Precision::default());
        let a = plan.params(&FinishUniform::single(4, 1.0));
        let b = plan.params(&FinishUniform::single(4, 1.0));
        assert_eq!(a, b);
        assert_eq!(plan.params.len(), 1);
        plan.scratch("s", 16);
        plan.scratch("s", 64);
        assert_eq!(plan.scratch, vec![("s", 64)]);
    }
}
