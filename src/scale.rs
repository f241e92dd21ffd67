//! A gradient scaled in place by a factor that lives on the device: the chain rule's last step
//! when a framework's backward hands the loss's upstream gradient as a device tensor (burn,
//! `wgpu-distill-burn`). Reading the factor on the host would wait for the GPU; multiplying by
//! it as a separate tensor op reads and writes the whole gradient once more. This pass reads it
//! on the device, and when it is exactly 1 (a loss differentiated directly) it touches nothing.
//!
//! Shaders: `shaders/scale.wgsl`, `shaders/scale_quads.wgsl`.

use crate::error::{Error, Result};
use crate::gpu::{BoundIo, GpuContext};
use crate::kernel::{SCALE, SCALE_QUADS, WORKGROUP_SIZE};
use crate::plan::{flat_grid, Io, Plan, Slot};
use crate::tensor::BufferRegion;

impl GpuContext {
    /// Records into `encoder`: each of the `count` f32 values at `values` multiplied by the f32
    /// at `factor`, in place. A factor of exactly 1 leaves the values bitwise as they are, for
    /// the cost of one dispatch that reads nothing else. `factor` may lie in the same buffer as
    /// `values` (it is first copied to a buffer of the context's own, so its buffer needs
    /// COPY_SRC and a 4-byte aligned offset); `values` needs STORAGE, an offset that is a
    /// multiple of `min_storage_buffer_offset_alignment`, and one binding's size.
    pub fn record_scale(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        values: BufferRegion<'_>,
        count: usize,
        factor: BufferRegion<'_>,
    ) -> Result<()> {
        self.check_health()?;
        if count == 0 {
            return Ok(());
        }
        let bytes = (count as u64)
            .checked_mul(4)
            .ok_or_else(|| Error::Limit(format!("{count} values do not fit one binding")))?;
        let binding = values.binding(&self.device().limits(), "values", bytes, false)?;
        if !factor.buffer.usage().contains(wgpu::BufferUsages::COPY_SRC) {
            return Err(Error::Buffer(format!(
                "factor buffer lacks COPY_SRC usage (has {:?})",
                factor.buffer.usage()
            )));
        }
        if !factor.offset.is_multiple_of(4)
            || factor.offset > factor.buffer.size().saturating_sub(4)
        {
            return Err(Error::Buffer(format!(
                "factor offset {} is not a 4-byte aligned f32 inside its {}-byte buffer",
                factor.offset,
                factor.buffer.size()
            )));
        }
        let quads = count.is_multiple_of(4) && values.offset.is_multiple_of(16);
        let (kernel, units) = if quads {
            (SCALE_QUADS, count / 4)
        } else {
            (SCALE, count)
        };
        let groups = flat_grid(units, "the scale pass")?;
        let mut plan = Plan::new("scale", Default::default());
        let params = plan.params(&[units as u32, groups[0], 0, 0]);
        let slot = plan.scratch("scale.factor", 16);
        plan.dispatch(
            kernel,
            WORKGROUP_SIZE,
            vec![params, slot, Slot::io(Io::Extra(0))],
            groups,
        );
        // Copied in the encoder, so that calls recorded one after another each read their own.
        let factor_copy = self.scratch("scale.factor", 16);
        encoder.copy_buffer_to_buffer(factor.buffer, factor.offset, &factor_copy, 0, 4);
        let mut io = BoundIo::whole(&factor_copy, &factor_copy, &factor_copy, None);
        io.extra.push(binding);
        self.record_plan(encoder, None, || Ok(plan), &io, "scale")
            .map(|_| ())
    }
}
