//! `.npy` input and output for the command line (through the `npyz` crate), with the checks a
//! hostile file needs: the header's claimed size is compared with the file's before anything
//! is allocated, and unsupported dtypes or layouts are named.
//!
//! The library's test suite reads its golden `.npy` fixtures with this module too (it includes
//! this file), so it names everything through `wgpu_distill::`, never `crate::`.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use npyz::{TypeChar, WriterBuilder};

use wgpu_distill::{Error, InputDtype, Result};

fn io_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Io(format!("{}: {what}", path.display()))
}

/// A parsed header, checked against the file's size.
fn open(path: &Path) -> Result<(npyz::NpyFile<BufReader<File>>, Vec<usize>, npyz::TypeStr)> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let npy = npyz::NpyFile::new(BufReader::new(file))
        .map_err(|e| io_err(path, format!("not a valid .npy file ({e})")))?;
    if npy.order() == npyz::Order::Fortran {
        return Err(io_err(
            path,
            "Fortran-ordered arrays are not supported; save it C-ordered",
        ));
    }
    let type_str = match npy.dtype() {
        npyz::DType::Plain(ts) => ts,
        other => {
            return Err(io_err(
                path,
                format!("structured dtype {} is not supported", other.descr()),
            ))
        }
    };
    let shape: Vec<usize> = npy
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| io_err(path, "shape does not fit in memory"))?;
    let item = type_str.num_bytes().unwrap_or(0) as u64;
    let claimed = npy
        .shape()
        .iter()
        .try_fold(item, |acc, &d| acc.checked_mul(d));
    match claimed {
        Some(bytes) if bytes <= file_len => {}
        _ => {
            return Err(io_err(
                path,
                format!(
                    "header claims shape {:?} of {type_str} ({} bytes) but the file holds {file_len} bytes",
                    npy.shape(),
                    claimed.map_or("more than 2^64".to_string(), |b| b.to_string())
                ),
            ))
        }
    }
    Ok((npy, shape, type_str))
}

/// Reads a float tensor: `<f4` as is, `<f2` widened to f32. Returns `(shape, values, dtype)`,
/// `dtype` saying whether the file held f16 (`InputDtype::F16`) or f32.
pub fn read_floats_typed(path: &Path) -> Result<(Vec<usize>, Vec<f32>, InputDtype)> {
    let (npy, shape, ts) = open(path)?;
    let dtype = if ts.size_field() == 2 {
        InputDtype::F16
    } else {
        InputDtype::F32
    };
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>(),
        (TypeChar::Float, 2) => npy
            .into_vec::<half::f16>()
            .map(|v| v.into_iter().map(f32::from).collect()),
        _ => {
            return Err(io_err(
                path,
                format!("dtype {ts} is not supported (expected float32 <f4 or float16 <f2)"),
            ))
        }
    }
    .map_err(|e| io_err(path, format!("reading data: {e}")))?;
    Ok((shape, values, dtype))
}

/// Reads any float tensor (`<f2`, `<f4`, `<f8`) as float64: for reference arrays such as the
/// golden gradients, not for kernel inputs.
pub fn read_f64(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let (npy, shape, ts) = open(path)?;
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 8) => npy.into_vec::<f64>(),
        (TypeChar::Float, 4) => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        (TypeChar::Float, 2) => npy
            .into_vec::<half::f16>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        _ => return Err(io_err(path, format!("dtype {ts} is not a float type"))),
    }
    .map_err(|e| io_err(path, format!("reading data: {e}")))?;
    Ok((shape, values))
}

/// Reads integer labels (`<i8` or `<i4`). Returns `(shape, values)`.
pub fn read_labels(path: &Path) -> Result<(Vec<usize>, Vec<i64>)> {
    let (npy, shape, ts) = open(path)?;
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Int, 8) => npy.into_vec::<i64>(),
        (TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map(|v| v.into_iter().map(i64::from).collect()),
        _ => {
            return Err(io_err(
                path,
                format!("labels dtype {ts} is not supported (expected int64 <i8 or int32 <i4)"),
            ))
        }
    }
    .map_err(|e| io_err(path, format!("reading data: {e}")))?;
    Ok((shape, values))
}

/// Writes little-endian float32 `.npy`.
pub fn write_f32(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    write_values(path, shape, values.iter().copied())
}

/// Writes little-endian float16 `.npy` (`<f2`); `values` are rounded to nearest even (exact
/// when they are already f16 values, as a gradient computed in f16 is).
pub fn write_f16(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    write_values(path, shape, values.iter().map(|&v| half::f16::from_f32(v)))
}

/// Writes `values` as an `.npy` of `shape`, in the element type's default dtype.
fn write_values<T: npyz::AutoSerialize>(
    path: &Path,
    shape: &[usize],
    values: impl Iterator<Item = T>,
) -> Result<()> {
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(BufWriter::new(file))
        .begin_nd()
        .map_err(|e| io_err(path, e))?;
    writer.extend(values).map_err(|e| io_err(path, e))?;
    writer.finish().map_err(|e| io_err(path, e))
}
