//! One place per loss for its name, its parameters and their defaults, and its kernels (an
//! [`Entry`] in its folder): the command line, the benchmark's presets and the tests build
//! losses from them by name, and `crate::shaders::ALL_KERNELS` gathers the kernels.

use crate::error::{Error, Result};
use crate::kernel::Kernel;

/// What a loss folder registers: its name, its parameters, its kernels and how its
/// parameters are built from named values. `register_losses!` (`src/losses/mod.rs`) turns
/// each into a [`crate::losses::Registration`] with one line.
pub struct Entry<P> {
    /// The command-line name.
    pub name: &'static str,
    /// Its parameters by name, as the command line spells them (`hard-weight`).
    pub params: &'static [&'static str],
    /// Its kernels (validated by `tests/suite/shaders.rs`).
    pub kernels: &'static [Kernel],
    /// The parameters from named values, each missing one at its default.
    pub build: fn(&ParamValues) -> Result<P>,
}

/// One parameter's value: a number, or text (`ickd`'s denominator).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Number(f64),
    /// A switch (`weighted`, `standardize`).
    Flag(bool),
    Text(String),
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        Self::Flag(v)
    }
}

/// A list of numbers, held as the text the command line gives (`2,3,4`).
impl From<&[f64]> for ParamValue {
    fn from(v: &[f64]) -> Self {
        let text: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        Self::Text(text.join(","))
    }
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

/// Named parameter values (`temperature`, `hard-weight`, …; `_` and `-` are the same).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamValues {
    values: Vec<(String, ParamValue)>,
}

impl ParamValues {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same values with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl Into<ParamValue>) {
        let name = name.replace('_', "-");
        let value = value.into();
        match self.values.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.values.push((name, value)),
        }
    }

    /// The names given.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.values.iter().map(|(n, _)| n.as_str())
    }

    fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The number `name`, if given (text that is not a number is an `Error::Param`).
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(ParamValue::Number(v)) => Ok(Some(*v)),
            Some(ParamValue::Flag(_)) => Err(Error::Param(format!(
                "parameter '{name}' must be a number, not true or false"
            ))),
            Some(ParamValue::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
                Error::Param(format!("parameter '{name}' must be a number, got '{t}'"))
            }),
        }
    }

    /// The number `name`, or `default`.
    pub fn number_or(&self, name: &str, default: f64) -> Result<f64> {
        Ok(self.number(name)?.unwrap_or(default))
    }

    /// The switch `name`, if given: `true`/`false` (as a flag or as text).
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(ParamValue::Flag(v)) => Ok(Some(*v)),
            Some(ParamValue::Text(t)) => match t.trim() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(Error::Param(format!(
                    "parameter '{name}' must be true or false, got '{t}'"
                ))),
            },
            Some(ParamValue::Number(v)) => Err(Error::Param(format!(
                "parameter '{name}' must be true or false, got {v}"
            ))),
        }
    }

    /// The list of numbers `name`, if given: text separated by commas (`2,3,4`, as the
    /// command line's `--temperatures`) or one number.
    pub fn numbers(&self, name: &str) -> Result<Option<Vec<f64>>> {
        match self.get(name) {
            None => Ok(None),
            Some(ParamValue::Number(v)) => Ok(Some(vec![*v])),
            Some(ParamValue::Flag(_)) => Err(Error::Param(format!(
                "parameter '{name}' must be a list of numbers, not true or false"
            ))),
            Some(ParamValue::Text(t)) if t.trim().is_empty() => Ok(Some(vec![])),
            Some(ParamValue::Text(t)) => t
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Some)
                .map_err(|_| {
                    Error::Param(format!(
                        "parameter '{name}' must be numbers separated by commas, got '{t}'"
                    ))
                }),
        }
    }

    /// The text `name`, if given as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(ParamValue::Text(t)) => Some(t),
            _ => None,
        }
    }
}
