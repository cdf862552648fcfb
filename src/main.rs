//! keras-lsp command-line entry point.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keras-lsp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure what a fix buys with a bundled micro-benchmark
    Bench(keras_lsp::bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Bench(args) => keras_lsp::bench::run_cli(args),
    }
}
