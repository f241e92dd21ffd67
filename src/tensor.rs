//! Shapes and buffer regions: the host-side checks every call passes before it touches the GPU.

use std::num::NonZeroU64;

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

/// Little-endian f32 values from read-back bytes (any alignment; a trailing partial word is
/// ignored).
pub(crate) fn f32s_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
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

    /// Checks usage, alignment, size and (unless the caller binds it in chunks) the binding
    /// limit; returns the binding of `bytes`.
    pub(crate) fn binding(
        &self,
        limits: &wgpu::Limits,
        name: &str,
        bytes: u64,
        chunked: bool,
    ) -> Result<wgpu::BufferBinding<'a>> {
        if chunked {
            if bytes == 0 {
                return Err(Error::Shape(format!("{name} is empty")));
            }
        } else {
            check_binding_size(limits, name, bytes)?;
        }
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
pub(crate) fn check_binding_size(limits: &wgpu::Limits, name: &str, bytes: u64) -> Result<()> {
    let max = limits.max_storage_buffer_binding_size;
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

/// How the student and teacher inputs are stored on the GPU. Kernels accumulate in float32
/// whatever the input; the gradient is float32 unless `Precision::grad` says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputDtype {
    #[default]
    F32,
    /// IEEE half precision, two per 32-bit word (decoded with `unpack2x16float`).
    F16,
    /// bfloat16 (the high half of a float32), two per 32-bit word.
    Bf16,
}

impl InputDtype {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
        }
    }

    /// Bytes of `n` elements as the kernels bind them (16-bit inputs padded to whole words).
    pub fn bytes_for(self, n: usize) -> u64 {
        match self {
            Self::F32 => n as u64 * 4,
            Self::F16 | Self::Bf16 => (n as u64).div_ceil(2) * 4,
        }
    }

    /// `values` encoded for upload (round to nearest even for the 16-bit types).
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        let halves: Vec<u16> = match self {
            Self::F32 => return bytemuck::cast_slice(values).to_vec(),
            Self::F16 => values
                .iter()
                .map(|&x| half::f16::from_f32(x).to_bits())
                .collect(),
            Self::Bf16 => values
                .iter()
                .map(|&x| half::bf16::from_f32(x).to_bits())
                .collect(),
        };
        let mut bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        bytes.resize(self.bytes_for(values.len()) as usize, 0);
        bytes
    }

    /// The first `n` values of `bytes` (little-endian, stored in this dtype) as f32, exactly.
    pub fn decode(self, bytes: &[u8], n: usize) -> Vec<f32> {
        match self {
            Self::F32 => f32s_from_le(bytes).into_iter().take(n).collect(),
            Self::F16 | Self::Bf16 => bytes
                .chunks_exact(2)
                .take(n)
                .map(|h| {
                    let bits = u16::from_le_bytes([h[0], h[1]]);
                    match self {
                        Self::F16 => half::f16::from_bits(bits).to_f32(),
                        _ => half::bf16::from_bits(bits).to_f32(),
                    }
                })
                .collect(),
        }
    }

    /// The float32 values the kernels see for `values` stored in this dtype.
    pub fn round_trip(self, values: &[f32]) -> Vec<f32> {
        match self {
            Self::F32 => values.to_vec(),
            Self::F16 => values
                .iter()
                .map(|&x| half::f16::from_f32(x).to_f32())
                .collect(),
            Self::Bf16 => values
                .iter()
                .map(|&x| half::bf16::from_f32(x).to_f32())
                .collect(),
        }
    }
}

impl std::str::FromStr for InputDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" | "float32" => Ok(Self::F32),
            "f16" | "float16" | "half" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            other => Err(Error::Param(format!(
                "unknown dtype '{other}' (expected f32, f16 or bf16)"
            ))),
        }
    }
}

/// How one call's buffers store their values: the student and teacher inputs, and the
/// gradient. The gradient is f32 by default; KL, DIST and DKD also write it as f16 or bf16
/// (rounded to nearest even from the f32 value) through their quad kernels, so C must be a
/// multiple of 4 and the gradient region 8-byte aligned. Accumulation is f32 throughout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Precision {
    pub inputs: InputDtype,
    pub grad: InputDtype,
}

impl From<InputDtype> for Precision {
    /// `dtype` inputs, f32 gradient.
    fn from(inputs: InputDtype) -> Self {
        Self {
            inputs,
            grad: InputDtype::F32,
        }
    }
}
