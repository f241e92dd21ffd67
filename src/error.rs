//! Typed errors: every failure the library can report, each with a message that names the
//! problem (which tensor, which shape, which limit).

use thiserror::Error;

/// Everything that can go wrong in `wgpu-distill`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Ranks or dimensions that do not fit the loss (student and teacher differ, wrong rank,
    /// a zero-size axis, a label count that is not B).
    #[error("shape error: {0}")]
    Shape(String),
    /// A parameter out of its domain (temperature not finite or <= 0, label outside [0, C)).
    #[error("parameter error: {0}")]
    Param(String),
    /// A caller buffer that cannot be used as given (too small, no STORAGE usage, misaligned).
    #[error("buffer error: {0}")]
    Buffer(String),
    /// A shape or buffer beyond what the device allows.
    #[error("device limit exceeded: {0}")]
    Limit(String),
    /// No adapter, no device, a lost device, a failed mapping, a timed-out wait.
    #[error("device error: {0}")]
    Device(String),
    /// A wgpu validation or out-of-memory error captured by an error scope.
    #[error("wgpu validation error: {0}")]
    Validation(String),
    /// A member of a distributed group (`crate::distributed`) rejected its inputs, disagreed
    /// with the others, left, or its transport failed: every member gets one.
    #[error("collective error: {0}")]
    Collective(String),
    /// Reading or writing a file (the command line's .npy files).
    #[error("{0}")]
    Io(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
