//! keras-lsp entry point: parse the command line and dispatch (serves LSP on stdio by default).

use std::process::ExitCode;

use clap::Parser;
use keras_lsp::cli::{self, Cli, Command, DebugCommand};

mod allocator;

fn main() -> ExitCode {
    allocator::purge_at_once();
    allocator::install_for_parser();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KERAS_LSP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Server { stdio: true });
    if matches!(
        command,
        Command::Server { .. } | Command::Check(_) | Command::Fix(_)
    ) {
        keras_lsp::analysis::compile_queries_in_background();
    }
    match command {
        Command::Server { .. } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(keras_lsp::server::run_stdio());
            // The stdin reader may still be parked in a blocking read: do not wait for it.
            runtime.shutdown_background();
            ExitCode::SUCCESS
        }
        Command::Check(args) => cli::check::run(args),
        Command::Fix(args) => cli::fix::run(args),
        Command::Rules(args) => cli::rules(args),
        Command::Rule { code } => cli::rule(&code),
        Command::Bench(args) => keras_lsp::bench::run_cli(args),
        Command::Debug { command } => match command {
            DebugCommand::ParseOnly { paths } => cli::debug_parse_only(&paths),
            DebugCommand::EditLatency {
                file,
                edits,
                script,
            } => cli::debug_edit_latency(&file, edits, script.as_deref()),
        },
    }
}
