//! The `keras-lsp bench` command: resolve target, parameters and interpreter, run, print a table or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::runner::{BenchRequest, CancelToken, Progress, run};
use super::{
    Scenario, params_from_source, parse_target, render_text, resolve_python, write_report,
};

/// Arguments of `keras-lsp bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Scenario (init, callbacks, pipeline, batch, mixed_precision, predict_loop, eager) or a
    /// finding code such as KRS301
    pub target: String,
    /// Python file to read parameters from statically (it is never imported or executed)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// 1-based line of the finding in --file (default 1)
    #[arg(long, value_name = "N", requires = "file")]
    pub line: Option<usize>,
    /// Interpreter with TensorFlow and Keras [default: $VIRTUAL_ENV/bin/python, ./.venv/bin/python, python3]
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// Short run: each scenario well under 30 s
    #[arg(long)]
    pub quick: bool,
    /// Print the raw figures as JSON on stdout instead of the table
    #[arg(long)]
    pub json: bool,
    /// Limit in seconds for the preflight and the scenario together
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    pub timeout: u64,
    /// Set a scenario parameter, e.g. --param save_freq=5 (value is JSON, else a string); repeatable
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Also write the Markdown report and SVG chart under DIR/.keras-lsp/bench/
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Ctrl-C / SIGTERM / SIGHUP cancel the run (the child runs in its own process group, so
/// it would not see a terminal's SIGINT); the runner then kills the group.
fn cancel_on_signals(token: CancelToken, done: Arc<AtomicBool>) {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    thread::spawn(move || {
        while !done.load(Ordering::SeqCst) {
            if SIGNALLED.load(Ordering::SeqCst) {
                token.cancel();
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
}

fn err_line(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "keras-lsp bench: {msg}");
}

fn usage(msg: &str) -> ExitCode {
    err_line(&format!("error: {msg}"));
    ExitCode::from(EXIT_USAGE)
}

fn parse_param(spec: &str) -> Option<(String, Value)> {
    let (name, raw) = spec.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    Some((name.to_string(), value))
}

/// Run `keras-lsp bench`: 0 = report printed, 1 = the benchmark failed, 2 = usage error,
/// 130 = interrupted.
pub fn run_cli(args: BenchArgs) -> ExitCode {
    let Some((scenario, code)) = parse_target(&args.target) else {
        let names: Vec<String> = Scenario::ALL
            .iter()
            .map(|s| format!("{} ({})", s.name(), s.codes().join(", ")))
            .collect();
        return usage(&format!(
            "unknown target '{}'; expected a scenario or a finding code: {}",
            args.target,
            names.join("; ")
        ));
    };
    if args.timeout == 0 {
        return usage("--timeout must be at least 1 second");
    }
    let cwd = std::env::current_dir().ok();
    let python = resolve_python(args.python.as_deref(), cwd.as_deref());
    let mut request = BenchRequest::new(scenario, python);
    request.code = code;
    request.quick = args.quick;
    request.timeout = Duration::from_secs(args.timeout);

    if let Some(file) = &args.file {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return usage(&format!("cannot read {}: {e}", file.display())),
        };
        let line = args.line.unwrap_or(1);
        let (params, sources) = params_from_source(&args.target, &text, line);
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for (k, v) in params {
            request.params.insert(k, v);
        }
        for (k, s) in sources {
            request.sources.insert(k, format!("{name}: {s}"));
        }
    }
    for spec in &args.params {
        let Some((name, value)) = parse_param(spec) else {
            return usage(&format!("--param expects NAME=VALUE, got '{spec}'"));
        };
        request.params.insert(name.clone(), value);
        request.sources.insert(name, "--param".into());
    }

    let token = CancelToken::new();
    let done = Arc::new(AtomicBool::new(false));
    cancel_on_signals(token.clone(), done.clone());
    let mut last = String::new();
    let result = run(
        &request,
        |p: &Progress| {
            let line = format!(
                "[{:>3.0}%] {}{}",
                p.percent,
                p.variant
                    .as_deref()
                    .map(|v| format!("{v}: "))
                    .unwrap_or_default(),
                p.message
            );
            if line != last {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
                last = line;
            }
        },
        &token,
    );
    done.store(true, Ordering::SeqCst);

    let mut stdout = std::io::stdout().lock();
    match result {
        Ok(report) => {
            if let Some(dir) = &args.report {
                match write_report(dir, &report) {
                    Ok(path) => err_line(&format!("report written to {}", path.display())),
                    Err(e) => {
                        err_line(&format!("error: cannot write the report: {e}"));
                        return ExitCode::from(EXIT_FAILED);
                    }
                }
            }
            let text = if args.json {
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
            } else {
                render_text(&report)
            };
            if stdout.write_all(text.as_bytes()).is_err() {
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            err_line(&format!("error: {e}"));
            if args.json {
                let doc = json!({"error": {"kind": e.kind(), "message": e.to_string()}});
                let _ = writeln!(stdout, "{doc}");
            }
            if e.kind() == "cancelled" && SIGNALLED.load(Ordering::SeqCst) {
                ExitCode::from(EXIT_INTERRUPTED)
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_as_json_or_string() {
        assert_eq!(
            parse_param("save_freq=5"),
            Some(("save_freq".into(), json!(5)))
        );
        assert_eq!(
            parse_param("steps=[\"map\",\"batch\"]"),
            Some(("steps".into(), json!(["map", "batch"])))
        );
        assert_eq!(
            parse_param("activation=relu"),
            Some(("activation".into(), json!("relu")))
        );
        assert_eq!(parse_param("noequals"), None);
        assert_eq!(parse_param("=3"), None);
    }
}
