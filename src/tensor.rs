//! Shapes and buffer regions: the host-side checks every call passes before it touches the GPU.

use std::num::NonZeroU64;

use crate::context::GpuContext;
use crate::error::{Error, Result};

/// A B×C logit matrix (rows are samples or tokens, columns are classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogitShape {
    pub rows: usize,
    pub cols: usize,
}

impl LogitShape {
    /// Checks a rank-2, non-empty shape.
    pub fn from_dims(dims: &[usize]) -> Result<Self> {
        match dims {
            [rows, cols] if *rows > 0 && *cols > 0 => Ok(Self {
                rows: *rows,
                cols: *cols,
            }),
            [_, _] => Err(Error::Shape(format!(
                "empty logits {dims:?}: B and C must be >= 1"
            ))),
            _ => Err(Error::Shape(format!(
                "logits must have rank 2 (B×C), got rank {} {dims:?}",
                dims.len()
            ))),
        }
    }

    pub fn elements(&self) -> usize {
        self.rows * self.cols
    }
}

/// Element count of `dims`, failing on overflow.
pub fn element_count(dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Limit(format!("shape {dims:?} overflows the address space")))
}

/// Checks that a host slice holds exactly the elements its shape says.
pub fn check_len(name: &str, len: usize, dims: &[usize]) -> Result<()> {
    let want = element_count(dims)?;
    if len != want {
        return Err(Error::Shape(format!(
            "{name} holds {len} elements but the shape {dims:?} needs {want}"
        )));
    }
    Ok(())
}

/// A place in a caller's buffer: the buffer and a byte offset into it.
#[derive(Clone, Copy, Debug)]
pub struct BufferRegion<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
}

impl<'a> BufferRegion<'a> {
    /// The start of `buffer`.
    pub fn new(buffer: &'a wgpu::Buffer) -> Self {
        Self { buffer, offset: 0 }
    }

    /// `buffer` from byte `offset` on (a multiple of `min_storage_buffer_offset_alignment`).
    pub fn at(buffer: &'a wgpu::Buffer, offset: u64) -> Self {
        Self { buffer, offset }
    }

    /// Checks usage, alignment, size and the binding limit; returns the binding of `bytes`.
    pub(crate) fn binding(
        &self,
        ctx: &GpuContext,
        name: &str,
        bytes: u64,
    ) -> Result<wgpu::BufferBinding<'a>> {
        check_binding_size(ctx, name, bytes)?;
        let limits = ctx.device().limits();
        if !self.buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(Error::Buffer(format!(
                "{name} buffer lacks STORAGE usage (has {:?})",
                self.buffer.usage()
            )));
        }
        let align = u64::from(limits.min_storage_buffer_offset_alignment);
        if !self.offset.is_multiple_of(align) {
            return Err(Error::Buffer(format!(
                "{name} offset {} is not a multiple of min_storage_buffer_offset_alignment {align}",
                self.offset
            )));
        }
        let end = self.offset.checked_add(bytes);
        if end.is_none_or(|end| end > self.buffer.size()) {
            return Err(Error::Buffer(format!(
                "{name} buffer too small: {bytes} bytes needed from offset {} but it holds {}",
                self.offset,
                self.buffer.size()
            )));
        }
        Ok(wgpu::BufferBinding {
            buffer: self.buffer,
            offset: self.offset,
            size: NonZeroU64::new(bytes),
        })
    }
}

/// Fails when one binding of `bytes` exceeds the device's `max_storage_buffer_binding_size`.
pub(crate) fn check_binding_size(ctx: &GpuContext, name: &str, bytes: u64) -> Result<()> {
    let max = ctx.device().limits().max_storage_buffer_binding_size;
    if bytes > max {
        return Err(Error::Limit(format!(
            "{name} needs a {bytes}-byte binding; this device's max_storage_buffer_binding_size is {max}"
        )));
    }
    if bytes == 0 {
        return Err(Error::Shape(format!("{name} is empty")));
    }
    Ok(())
}
