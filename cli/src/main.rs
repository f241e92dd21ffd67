//! The `wgpu-distill` command line: `info`, `eval`, `bench`, and, with no arguments, a
//! self-check that evaluates every loss on the GPU and with the float64 reference.

mod bench;
mod eval;
mod info;
mod json;
mod loss_flags;
mod npy;
mod plot;
mod selfcheck;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wgpu_distill::{BackendChoice, Error};

use crate::bench::{bench, BenchArgs};
use crate::eval::{eval, EvalArgs};
use crate::info::info;
use crate::plot::{plot, PlotArgs};
use crate::selfcheck::self_check;

#[derive(Parser)]
#[command(
    name = "wgpu-distill",
    version,
    about = "Knowledge-distillation losses and their gradients on the GPU (wgpu)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List adapters, the chosen backend, its features and limits.
    Info {
        #[arg(long, default_value = "auto")]
        backend: String,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a loss (and its gradient) on .npy inputs.
    Eval(Box<EvalArgs>),
    /// Time each loss against the adapter's memory roofline, measured in the same run.
    Bench(BenchArgs),
    /// Chart the roofline fractions of earlier `bench --json` output as an SVG file.
    Plot(PlotArgs),
}

fn main() -> ExitCode {
    // Never a backtrace: whatever escapes is reported as one line.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!(
            "wgpu-distill: internal error: {}",
            msg.lines().next().unwrap_or("")
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(e.kind(), DisplayHelp | DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            // clap's message spans lines (then usage): keep the message, on one line.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "wgpu-distill: {}",
                message.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => self_check(),
        Some(Command::Info { backend, json }) => info(&backend, json),
        Some(Command::Eval(args)) => eval(&args),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::Plot(args)) => plot(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "wgpu-distill: {}",
                e.to_string().lines().next().unwrap_or("")
            );
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn parse_backend(name: &str) -> Result<BackendChoice, Error> {
    name.parse()
}
