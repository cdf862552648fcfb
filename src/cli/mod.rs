//! Command-line interface: `server`, `check`, `fix`, `rules`, `rule`, `bench`, and hidden `debug`.

pub mod check;
pub mod files;
pub mod fix;
pub mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::Severity;

#[derive(Parser)]
#[command(
    name = "keras-lsp",
    version,
    about = "Finds Keras/TensorFlow training pitfalls: a language server and a linter."
)]
pub struct Cli {
    /// Accepted for clients that pass it without a subcommand (`keras-lsp --stdio`).
    #[arg(long, hide = true)]
    pub stdio: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the Language Server Protocol on stdin/stdout (the default).
    Server {
        /// Accepted for clients that always pass it (stdio is the only transport).
        #[arg(long)]
        stdio: bool,
    },
    /// Report pitfalls in files and folders (respects .gitignore).
    Check(CheckArgs),
    /// Apply fixes (safe ones unless --unsafe-fixes).
    Fix(FixArgs),
    /// List every rule.
    Rules(RulesArgs),
    /// Print one rule's documentation.
    Rule {
        /// Code (KRS201) or name (checkpoint-too-frequent).
        code: String,
    },
    /// Measure what a fix buys with a bundled micro-benchmark (scenario or finding code).
    Bench(crate::bench::BenchArgs),
    /// Internal tools for benchmarks and debugging.
    #[command(hide = true)]
    Debug {
        #[command(subcommand)]
        command: DebugCommand,
    },
}

#[derive(Subcommand)]
pub enum DebugCommand {
    /// Only parse the files (the raw tree-sitter baseline for `check`).
    ParseOnly { paths: Vec<PathBuf> },
    /// Time incremental re-analysis in-process: single-character insertions at random line
    /// ends of FILE (apply + re-parse, then the rules), with what each update re-ran.
    EditLatency {
        file: PathBuf,
        #[arg(long, default_value_t = 500)]
        edits: usize,
        /// A JSON list of `[line, utf16_column]` insertion points (overrides `--edits`).
        #[arg(long)]
        script: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
    Github,
}

/// Rule selection flags shared by `check` and `fix`.
#[derive(Args, Clone, Default)]
pub struct SelectionArgs {
    /// Only these rules (codes, code prefixes or names), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub select: Option<Vec<String>>,
    /// Skip these rules (codes, code prefixes or names), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Option<Vec<String>>,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Files or folders (default: the current folder).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output_format: OutputFormat,
    /// Report only findings at least this severe.
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Exit 0 even when findings are reported.
    #[arg(long)]
    pub exit_zero: bool,
    /// Print counts per rule instead of each finding.
    #[arg(long)]
    pub statistics: bool,
}

#[derive(Args)]
pub struct FixArgs {
    /// Files or folders (default: the current folder).
    pub paths: Vec<PathBuf>,
    /// Also apply unsafe fixes.
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Show a diff instead of writing files (exit 1 when something would change).
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
}

#[derive(Args)]
pub struct RulesArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the Markdown reference (docs/rules.md).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("unknown severity `{s}` (error, warning, info, hint)"))
}

/// Runs `rules`.
pub fn rules(args: RulesArgs) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let text = if args.markdown {
        crate::rules::reference_markdown()
    } else if args.json {
        let rules: Vec<_> = crate::rules::ALL
            .iter()
            .map(|r| {
                serde_json::json!({
                    "code": r.code, "name": r.name, "severity": r.severity,
                    "fix": r.fix, "summary": r.summary(), "url": r.url(),
                    "options": r.options.iter().map(|o| serde_json::json!({"name": o.name, "default": o.default, "description": o.description})).collect::<Vec<_>>(),
                    "scenario": r.scenario,
                })
            })
            .collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&rules).unwrap_or_default()
        )
    } else {
        let mut s = String::new();
        for r in crate::rules::ALL {
            let fix = match r.fix {
                Some(crate::finding::FixSafety::Safe) => "fix",
                Some(crate::finding::FixSafety::Unsafe) => "unsafe fix",
                None => "",
            };
            let summary = r.summary().split_once(": ").map_or(r.summary(), |(_, s)| s);
            s.push_str(&format!(
                "{:<7} {:<36} {:<8} {:<11} {}\n",
                r.code,
                r.name,
                r.severity.as_str(),
                fix,
                summary
            ));
        }
        s
    };
    if out.write_all(text.as_bytes()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// Runs `rule CODE`.
pub fn rule(code: &str) -> ExitCode {
    use std::io::Write;
    let Some(rule) = crate::rules::lookup(code) else {
        eprintln!("error: unknown rule `{code}` (see `keras-lsp rules`)");
        return ExitCode::from(2);
    };
    let text = format!(
        "# {} {}\n\n{}\n\nDefault severity: {}. Fix: {}.\n{}\n",
        rule.code,
        rule.name,
        rule.doc(),
        rule.severity.as_str(),
        rule.fix.map_or("none", |f| f.as_str()),
        rule.url()
    );
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// `debug edit-latency`: the server's per-keystroke work without the protocol: each edit is
/// applied and re-parsed (the tree-sitter floor), then analysed incrementally. The edits are
/// single-character insertions at line ends: from `script` (a JSON list of `[line, utf16_column]`,
/// e.g. the latency harness's own script) or else `edits` pseudo-random ones.
pub fn debug_edit_latency(file: &Path, edits: usize, script: Option<&Path>) -> ExitCode {
    use crate::analysis::incremental::Engine;
    use crate::document::{Document, TextChange};
    use crate::line_index::Encoding;
    use std::time::Instant;
    let Ok(text) = check::read_source(file) else {
        eprintln!("cannot read {}", file.display());
        return ExitCode::from(2);
    };
    let positions: Option<Vec<(u32, u32)>> = match script {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(positions) => Some(positions),
            Err(e) => {
                eprintln!("cannot read the edit script {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let count = positions.as_ref().map_or(edits, Vec::len);
    let settings = crate::settings::Settings::default();
    // The server compiles the queries in the background from its start (see `main`), so the
    // first analysis timed here does not include that either.
    crate::analysis::compile_queries();
    let started = Instant::now();
    let mut doc = Document::new(text, 1);
    let mut engine = Engine::default();
    let snapshot = doc.take_snapshot();
    let parsed = started.elapsed();
    engine.update(
        &snapshot.text,
        &snapshot.forest,
        &snapshot.edits,
        &settings,
        0,
    );
    let first = started.elapsed();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut parse_ms, mut rules_ms, mut reruns, mut fulls, mut module_reruns) =
        (Vec::new(), Vec::new(), 0usize, 0usize, 0usize);
    // Of the incremental updates only: units whose text changed, units re-run, dataflow builds.
    let (mut dirty_units, mut rerun_units, mut dataflow_builds) = (Vec::new(), Vec::new(), 0usize);
    let mut dataflow_changes = 0usize;
    // Rules time of the incremental updates that built the dataflow, and of those that did not.
    let (mut rules_ms_built, mut rules_ms_unbuilt) = (Vec::new(), Vec::new());
    // Of the dataflow builds: function scopes analysed, and reused as inert from the last build.
    let (mut scopes_analysed, mut scopes_reused) = (Vec::new(), Vec::new());
    let (mut statements_analysed, mut statements_reused) = (Vec::new(), Vec::new());
    let mut trees_walked = Vec::new();
    for step in 0..count {
        let (line, column) = match &positions {
            Some(positions) => positions[step],
            None => {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let lines = doc.line_index().line_count().saturating_sub(1).max(1);
                let line = (seed % lines as u64) as u32;
                let start = doc.line_index().line_start(line as usize);
                let end = doc.line_index().line_end(doc.text(), line as usize);
                (line, doc.text()[start..end].encode_utf16().count() as u32)
            }
        };
        let change = TextChange {
            range: Some(((line, column), (line, column))),
            text: "x".into(),
        };
        let t0 = Instant::now();
        doc.apply_changes(step as i32 + 2, &[change], Encoding::Utf16);
        let t1 = Instant::now();
        let snapshot = doc.take_snapshot();
        engine.update(
            &snapshot.text,
            &snapshot.forest,
            &snapshot.edits,
            &settings,
            0,
        );
        let t2 = Instant::now();
        parse_ms.push((t1 - t0).as_secs_f64() * 1000.0);
        rules_ms.push((t2 - t1).as_secs_f64() * 1000.0);
        reruns += engine.stats.rerun;
        fulls += usize::from(engine.stats.full);
        if !engine.stats.full {
            module_reruns += engine.stats.module_rerun;
            dirty_units.push(engine.stats.dirty as f64);
            rerun_units.push(engine.stats.rerun as f64);
            dataflow_builds += usize::from(engine.stats.dataflow_built);
            dataflow_changes += usize::from(engine.stats.dataflow_changed);
            let rules = (t2 - t1).as_secs_f64() * 1000.0;
            match engine.stats.dataflow_built {
                true => rules_ms_built.push(rules),
                false => rules_ms_unbuilt.push(rules),
            }
            if engine.stats.dataflow_built {
                scopes_analysed.push(engine.stats.scopes_analysed as f64);
                scopes_reused.push(engine.stats.scopes_reused as f64);
                statements_analysed.push(engine.stats.statements_analysed as f64);
                statements_reused.push(engine.stats.statements_reused as f64);
                trees_walked.push(engine.stats.trees_walked as f64);
            }
        }
    }
    let report = serde_json::json!({
        "edits": count,
        "first_parse_ms": parsed.as_secs_f64() * 1000.0,
        "first_analysis_ms": (first - parsed).as_secs_f64() * 1000.0,
        "apply_and_parse_ms": percentiles(&mut parse_ms),
        "rules_ms": percentiles(&mut rules_ms),
        "units_rerun_per_edit": reruns as f64 / count.max(1) as f64,
        "full_reanalyses": fulls,
        "module_pattern_reruns": module_reruns,
        "incremental_updates": {
            "dirty_units": percentiles(&mut dirty_units),
            "rerun_units": percentiles(&mut rerun_units),
            "dataflow_builds": dataflow_builds,
            "dataflow_changes": dataflow_changes,
            "rules_ms_with_dataflow_build": percentiles(&mut rules_ms_built),
            "rules_ms_without_dataflow_build": percentiles(&mut rules_ms_unbuilt),
            "dataflow_scopes_analysed": percentiles(&mut scopes_analysed),
            "dataflow_scopes_reused": percentiles(&mut scopes_reused),
            "dataflow_module_statements_analysed": percentiles(&mut statements_analysed),
            "dataflow_module_statements_reused": percentiles(&mut statements_reused),
            "dataflow_trees_walked_for_definitions": percentiles(&mut trees_walked),
        },
    });
    // A debugging aid: the report goes to stdout like `check --output-format json`.
    #[allow(clippy::print_stdout)]
    {
        println!("{report:#}");
    }
    ExitCode::SUCCESS
}

/// p50/p99/max of samples (nulls when there are none).
fn percentiles(samples: &mut [f64]) -> serde_json::Value {
    if samples.is_empty() {
        return serde_json::json!({"p50": null, "p99": null, "max": null});
    }
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    serde_json::json!({"p50": at(0.5), "p99": at(0.99), "max": at(1.0)})
}

/// `debug parse-only`: parses every file like `check` would (same walk, same parallelism),
/// without running rules; the raw tree-sitter baseline for the throughput benchmark.
pub fn debug_parse_only(paths: &[PathBuf]) -> ExitCode {
    use rayon::prelude::*;
    let (files, errors) = files::collect(paths);
    let nodes: usize = files
        .par_iter()
        .filter_map(|p| check::read_source(p).ok())
        .map(|text| {
            crate::forest::parse_whole(&text)
                .root_node()
                .descendant_count()
        })
        .sum();
    eprintln!("parsed {} files ({nodes} nodes)", files.len());
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
