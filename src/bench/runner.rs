//! Runs one scenario: a preflight, then the scenario script in its own process group, with
//! progress, a deadline and cancellation that kill the whole group and reap the child.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Scenario;
use super::report::{Device, Report};
use super::scripts::ScriptDir;

/// Default limit for one benchmark, preflight included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// How often the runner looks at the cancel flag, the deadline and the child.
const POLL: Duration = Duration::from_millis(50);
/// How long to keep draining stdout/stderr after the child has exited.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
const STDERR_TAIL_LINES: usize = 40;
const STDERR_LINE_MAX: usize = 400;

/// What to run and how.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    pub scenario: Scenario,
    /// The finding code that asked for it, if any (used in report names and titles).
    pub code: Option<String>,
    pub python: PathBuf,
    pub quick: bool,
    /// Scenario parameters (validated again by the script).
    pub params: Map<String, Value>,
    /// Where each parameter came from, e.g. `"code, line 12"`; missing ones are defaults.
    pub sources: BTreeMap<String, String>,
    /// Limit for preflight + scenario together.
    pub timeout: Duration,
}

impl BenchRequest {
    pub fn new(scenario: Scenario, python: impl Into<PathBuf>) -> BenchRequest {
        BenchRequest {
            scenario,
            code: None,
            python: python.into(),
            quick: false,
            params: Map::new(),
            sources: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Which script is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Preflight,
    Scenario,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Preflight => "preflight",
            Stage::Scenario => "scenario",
        })
    }
}

/// One progress update: overall percentage (preflight is the first 5%), the variant being
/// measured, a message, and the pid of the running script (0 before it starts).
#[derive(Clone, Debug)]
pub struct Progress {
    pub stage: Stage,
    pub percent: f64,
    pub variant: Option<String>,
    pub message: String,
    pub pid: u32,
}

/// A cheap, clonable cancel flag shared between the caller and the runner.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the preflight found in the interpreter.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preflight {
    pub python: String,
    pub python_version: String,
    pub versions: BTreeMap<String, String>,
    pub device: Device,
}

/// Why a benchmark did not produce a report. Every message names the interpreter.
#[derive(Debug)]
pub enum BenchError {
    /// The interpreter could not be started at all.
    InterpreterNotFound { python: PathBuf, detail: String },
    /// The interpreter runs but lacks a module (TensorFlow, Keras, NumPy, TensorBoard...).
    MissingModule {
        python: PathBuf,
        module: String,
        detail: String,
    },
    /// The scenario rejected its parameters.
    BadParams { scenario: Scenario, message: String },
    /// The script failed: an exception, a signal, or a nonzero exit.
    Crashed {
        python: PathBuf,
        stage: Stage,
        status: String,
        message: Option<String>,
        stderr_tail: String,
    },
    /// The limit passed; the process group was killed.
    Timeout {
        python: PathBuf,
        stage: Stage,
        limit: Duration,
    },
    /// The caller cancelled; the process group was killed.
    Cancelled { python: PathBuf, stage: Stage },
    /// The script's stdout did not follow the protocol.
    BadOutput {
        python: PathBuf,
        stage: Stage,
        detail: String,
        stderr_tail: String,
    },
    /// A local I/O failure (temp dir, pipes).
    Io { context: String, error: io::Error },
}

impl BenchError {
    /// A short machine-friendly name of the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            BenchError::InterpreterNotFound { .. } => "interpreter_not_found",
            BenchError::MissingModule { .. } => "missing_module",
            BenchError::BadParams { .. } => "bad_params",
            BenchError::Crashed { .. } => "crashed",
            BenchError::Timeout { .. } => "timeout",
            BenchError::Cancelled { .. } => "cancelled",
            BenchError::BadOutput { .. } => "bad_output",
            BenchError::Io { .. } => "io",
        }
    }
}

fn with_tail(f: &mut fmt::Formatter<'_>, tail: &str) -> fmt::Result {
    if tail.trim().is_empty() {
        Ok(())
    } else {
        write!(f, "\n--- stderr (last lines) ---\n{}", tail.trim_end())
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::InterpreterNotFound { python, detail } => write!(
                f,
                "cannot run the Python interpreter '{}': {detail}. Point the `python` setting \
                 (or --python) at an interpreter that has TensorFlow and Keras, or create one \
                 in the workspace: python3 -m venv .venv && .venv/bin/python -m pip install \
                 tensorflow-cpu keras",
                python.display()
            ),
            BenchError::MissingModule {
                python,
                module,
                detail,
            } => {
                let p = python.display();
                if matches!(module.as_str(), "tensorflow" | "keras" | "numpy") {
                    write!(
                        f,
                        "the interpreter '{p}' cannot import {module} ({detail}). Install \
                         TensorFlow and Keras into THAT interpreter: '{p}' -m pip install \
                         tensorflow-cpu keras (tensorflow instead of tensorflow-cpu for GPU \
                         support), or point the `python` setting (--python) at one that has them"
                    )
                } else {
                    write!(
                        f,
                        "the interpreter '{p}' cannot import {module} ({detail}). Install it \
                         into that interpreter: '{p}' -m pip install {module}"
                    )
                }
            }
            BenchError::BadParams { scenario, message } => {
                write!(
                    f,
                    "benchmark '{scenario}' rejected its parameters: {message}"
                )
            }
            BenchError::Crashed {
                python,
                stage,
                status,
                message,
                stderr_tail,
            } => {
                write!(
                    f,
                    "the benchmark {stage} failed under '{}' ({status})",
                    python.display()
                )?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                if *stage == Stage::Preflight {
                    write!(f, ". Is it Python 3.9 or newer?")?;
                }
                with_tail(f, stderr_tail)
            }
            BenchError::Timeout {
                python,
                stage,
                limit,
            } => write!(
                f,
                "the benchmark timed out after {} s (during the {stage}) under '{}'; its process \
                 group was killed. Raise the limit (--timeout) or use --quick",
                limit.as_secs(),
                python.display()
            ),
            BenchError::Cancelled { python, stage } => write!(
                f,
                "the benchmark was cancelled during the {stage}; the process group of '{}' was killed",
                python.display()
            ),
            BenchError::BadOutput {
                python,
                stage,
                detail,
                stderr_tail,
            } => {
                write!(
                    f,
                    "the benchmark {stage} under '{}' did not follow the JSON-lines protocol: \
                     {detail}. Is it a Python 3 interpreter?",
                    python.display()
                )?;
                with_tail(f, stderr_tail)
            }
            BenchError::Io { context, error } => write!(f, "{context}: {error}"),
        }
    }
}

impl std::error::Error for BenchError {}

/// Run the preflight and then the scenario; returns the parsed report.
pub fn run(
    request: &BenchRequest,
    mut on_progress: impl FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<Report, BenchError> {
    let started = Instant::now();
    let deadline = started + request.timeout;
    let python = absolutize(&request.python);
    let dir = ScriptDir::create().map_err(|error| BenchError::Io {
        context: "cannot write the benchmark scripts to a temporary directory".into(),
        error,
    })?;
    let ctx = Ctx {
        python: &python,
        dir: &dir,
        deadline,
        limit: request.timeout,
        cancel,
    };

    on_progress(&Progress {
        stage: Stage::Preflight,
        percent: 0.0,
        variant: None,
        message: format!(
            "checking {}: importing TensorFlow and Keras",
            python.display()
        ),
        pid: 0,
    });
    let pre = preflight_with(&ctx, &mut on_progress)?;
    let versions = &pre.versions;
    on_progress(&Progress {
        stage: Stage::Preflight,
        percent: 5.0,
        variant: None,
        message: format!(
            "TensorFlow {}, Keras {}, {}",
            versions.get("tensorflow").map_or("?", String::as_str),
            versions.get("keras").map_or("?", String::as_str),
            pre.device.description
        ),
        pid: 0,
    });

    let payload = json!({
        "quick": request.quick,
        "params": request.params,
        "sources": request.sources,
    });
    let script = format!("{}.py", request.scenario.name());
    let exit = run_script(
        &ctx,
        &script,
        Stage::Scenario,
        payload.to_string().as_bytes(),
        &mut |event, pid| {
            let raw = event.get("percent").and_then(Value::as_f64).unwrap_or(0.0);
            on_progress(&Progress {
                stage: Stage::Scenario,
                percent: 5.0 + 0.95 * raw.clamp(0.0, 100.0),
                variant: event
                    .get("variant")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                message: event
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                pid,
            });
        },
    )?;
    let value = classify(exit, Stage::Scenario, &python, request.scenario, "result")?;
    let mut report: Report = serde_json::from_value(value).map_err(|e| BenchError::BadOutput {
        python: python.clone(),
        stage: Stage::Scenario,
        detail: format!("the result event does not match the report schema: {e}"),
        stderr_tail: String::new(),
    })?;
    report.code = request.code.clone();
    report.python = python.display().to_string();
    report.elapsed_s = started.elapsed().as_secs_f64();
    report.finished_at_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(report)
}

/// Only the preflight: versions and devices of an interpreter.
pub fn preflight(
    python: &Path,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Preflight, BenchError> {
    let python = absolutize(python);
    let dir = ScriptDir::create().map_err(|error| BenchError::Io {
        context: "cannot write the benchmark scripts to a temporary directory".into(),
        error,
    })?;
    let ctx = Ctx {
        python: &python,
        dir: &dir,
        deadline: Instant::now() + timeout,
        limit: timeout,
        cancel,
    };
    preflight_with(&ctx, &mut |_| {})
}

struct Ctx<'a> {
    python: &'a Path,
    dir: &'a ScriptDir,
    deadline: Instant,
    limit: Duration,
    cancel: &'a CancelToken,
}

fn preflight_with(
    ctx: &Ctx<'_>,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Preflight, BenchError> {
    let exit = run_script(
        ctx,
        "preflight.py",
        Stage::Preflight,
        b"{}",
        &mut |_, pid| {
            on_progress(&Progress {
                stage: Stage::Preflight,
                percent: 1.0,
                variant: None,
                message: "preflight running".into(),
                pid,
            })
        },
    )?;
    let value = classify(
        exit,
        Stage::Preflight,
        ctx.python,
        Scenario::Init,
        "preflight",
    )?;
    serde_json::from_value(value).map_err(|e| BenchError::BadOutput {
        python: ctx.python.to_path_buf(),
        stage: Stage::Preflight,
        detail: format!("unexpected preflight answer: {e}"),
        stderr_tail: String::new(),
    })
}

/// A relative interpreter path with a directory part is resolved against our working
/// directory (the child runs elsewhere); bare names are left for the `PATH` lookup.
fn absolutize(python: &Path) -> PathBuf {
    if python.is_relative()
        && python.components().count() > 1
        && let Ok(cwd) = std::env::current_dir()
    {
        return cwd.join(python);
    }
    python.to_path_buf()
}

/// Everything a finished script left behind.
struct ScriptExit {
    status: ExitStatus,
    final_event: Option<Value>,
    error_event: Option<Value>,
    bad_lines: Vec<String>,
    stderr_tail: String,
}

enum Msg {
    Line(String),
    Eof,
}

#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: &str) {
        let mut line = line.trim_end().to_string();
        if line.len() > STDERR_LINE_MAX {
            let mut cut = STDERR_LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        if self.lines.len() == STDERR_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

fn spawn_reader<R: Read + Send + 'static>(pipe: R, tx: mpsc::Sender<Msg>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if tx.send(Msg::Line(line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Msg::Eof);
    });
}

fn spawn_stderr(pipe: impl Read + Send + 'static, tail: Arc<Mutex<Tail>>, done: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    tracing::debug!(target: "keras_lsp::bench", "python: {}", line.trim_end());
                    if let Ok(mut t) = tail.lock() {
                        t.push(&line);
                    }
                }
            }
        }
        done.store(true, Ordering::SeqCst);
    });
}

/// SIGKILL the child's whole process group. Only called while the child is not yet reaped,
/// so its pid (= the group id) cannot have been reused.
fn kill_group(child: &Child) {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: kill(2) with a negative pid signals the process group; no memory is touched.
    let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if rc != 0 {
        tracing::debug!(
            "kill(-{pgid}, SIGKILL): {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Has the child exited? Checked with WNOWAIT so it stays a zombie (keeping its pid and
/// process-group id reserved) until we have killed the group and reaped it.
fn exited_nowait(child: &Child) -> bool {
    // SAFETY: waitid fills a zeroed siginfo_t owned by this frame.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
        );
        rc == 0 && info.si_pid() != 0
    }
}

/// Kill the group (stray grandchildren included) and reap the child.
fn finish(child: &mut Child, python: &Path, stage: Stage) -> Result<ExitStatus, BenchError> {
    kill_group(child);
    child.wait().map_err(|error| BenchError::Io {
        context: format!("waiting for the {stage} of '{}'", python.display()),
        error,
    })
}

fn run_script(
    ctx: &Ctx<'_>,
    script: &str,
    stage: Stage,
    payload: &[u8],
    on_progress: &mut dyn FnMut(&Value, u32),
) -> Result<ScriptExit, BenchError> {
    let python = ctx.python;
    if ctx.cancel.is_cancelled() {
        return Err(BenchError::Cancelled {
            python: python.to_path_buf(),
            stage,
        });
    }
    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(ctx.dir.script(script))
        .current_dir(ctx.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("TF_CPP_MIN_LOG_LEVEL", "2")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child if
    // the spawning thread dies, so an aborted server cannot leave a benchmark running.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| BenchError::InterpreterNotFound {
        python: python.to_path_buf(),
        detail: match e.kind() {
            io::ErrorKind::NotFound => "no such file or command".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied (not executable?)".to_string(),
            _ => e.to_string(),
        },
    })?;
    let pid = child.id();
    tracing::debug!("started {stage} {script} as pid {pid} (own process group)");

    if let Some(mut stdin) = child.stdin.take()
        && let Err(e) = stdin.write_all(payload)
    {
        tracing::debug!("writing parameters to pid {pid}: {e}");
    }
    let (tx, rx) = mpsc::channel();
    spawn_reader(child.stdout.take().expect("stdout is piped"), tx);
    let tail = Arc::new(Mutex::new(Tail::default()));
    let stderr_done = Arc::new(AtomicBool::new(false));
    spawn_stderr(
        child.stderr.take().expect("stderr is piped"),
        tail.clone(),
        stderr_done.clone(),
    );

    let mut final_event = None;
    let mut error_event = None;
    let mut bad_lines = Vec::new();
    let mut stdout_open = true;
    let mut exited_at: Option<Instant> = None;
    let mut handle = |line: String| {
        if line.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => match v.get("event").and_then(Value::as_str) {
                Some("progress") => on_progress(&v, pid),
                Some("result") | Some("preflight") => final_event = Some(v),
                Some("error") => error_event = Some(v),
                _ => {
                    if bad_lines.len() < 5 {
                        bad_lines.push(line)
                    }
                }
            },
            Err(_) => {
                if bad_lines.len() < 5 {
                    bad_lines.push(line)
                }
            }
        }
    };

    loop {
        if ctx.cancel.is_cancelled() {
            finish(&mut child, python, stage)?;
            return Err(BenchError::Cancelled {
                python: python.to_path_buf(),
                stage,
            });
        }
        let now = Instant::now();
        if now >= ctx.deadline {
            finish(&mut child, python, stage)?;
            return Err(BenchError::Timeout {
                python: python.to_path_buf(),
                stage,
                limit: ctx.limit,
            });
        }
        if stdout_open {
            match rx.recv_timeout(POLL.min(ctx.deadline - now)) {
                Ok(Msg::Line(line)) => {
                    handle(line);
                    continue;
                }
                Ok(Msg::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => stdout_open = false,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        } else {
            thread::sleep(POLL.min(ctx.deadline - now));
        }
        if exited_at.is_none() && exited_nowait(&child) {
            exited_at = Some(Instant::now());
        }
        if let Some(t) = exited_at {
            // The child is gone; give the pipes a moment to drain, then wrap up.
            let drained = !stdout_open && stderr_done.load(Ordering::SeqCst);
            if drained || t.elapsed() >= DRAIN_GRACE {
                break;
            }
        }
    }
    let status = finish(&mut child, python, stage)?;
    let stderr_tail = tail.lock().map(|t| t.text()).unwrap_or_default();
    Ok(ScriptExit {
        status,
        final_event,
        error_event,
        bad_lines,
        stderr_tail,
    })
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    match status.signal() {
        Some(9) => "killed by SIGKILL; out of memory?".to_string(),
        Some(11) => "segmentation fault (SIGSEGV)".to_string(),
        Some(6) => "aborted (SIGABRT)".to_string(),
        Some(sig) => format!("killed by signal {sig}"),
        None => "unknown status".to_string(),
    }
}

/// Turn a finished script into its final event or the matching error.
fn classify(
    exit: ScriptExit,
    stage: Stage,
    python: &Path,
    scenario: Scenario,
    want: &str,
) -> Result<Value, BenchError> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(err) = &exit.error_event {
        let message = text(err, "message").unwrap_or_else(|| "unknown error".into());
        return Err(match text(err, "kind").as_deref() {
            Some("missing_module") => BenchError::MissingModule {
                python: python.to_path_buf(),
                module: text(err, "module").unwrap_or_else(|| "tensorflow".into()),
                detail: message,
            },
            Some("bad_params") => BenchError::BadParams { scenario, message },
            _ => BenchError::Crashed {
                python: python.to_path_buf(),
                stage,
                status: describe_status(exit.status),
                message: Some(message),
                stderr_tail: exit.stderr_tail,
            },
        });
    }
    if !exit.status.success() {
        return Err(BenchError::Crashed {
            python: python.to_path_buf(),
            stage,
            status: describe_status(exit.status),
            message: None,
            stderr_tail: exit.stderr_tail,
        });
    }
    match exit.final_event {
        Some(v) if v.get("event").and_then(Value::as_str) == Some(want) => Ok(v),
        _ => Err(BenchError::BadOutput {
            python: python.to_path_buf(),
            stage,
            detail: match exit.bad_lines.first() {
                Some(line) => format!("unexpected line on stdout: {}", clip(line, 200)),
                None => format!("it exited without a '{want}' event"),
            },
            stderr_tail: exit.stderr_tail,
        }),
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in interpreter: a shell script that ignores the script path it is given.
    fn fake_python(body: &str) -> (PathBuf, PathBuf) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "klsp-runner-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("python");
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        (path, dir)
    }

    /// Running (not gone, not a zombie awaiting a reaper), checked for up to 2 s.
    fn alive(pid: i32) -> bool {
        for _ in 0..40 {
            match fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return false,
                Ok(stat) => {
                    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                    if state.starts_with('Z') || state.starts_with('X') {
                        return false;
                    }
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        true
    }

    const PREFLIGHT_OK: &str = r#"case "$2" in *preflight.py) echo '{"event":"preflight","python":"fake","python_version":"3.11","versions":{"tensorflow":"2.21.0","keras":"3.15.1"},"device":{"kind":"CPU","gpus":[],"cpu_count":2,"description":"CPU only"}}'; exit 0;; esac"#;

    #[test]
    fn missing_interpreter_is_named() {
        let req = BenchRequest::new(Scenario::Init, "/nonexistent/bin/python");
        let err = run(&req, |_| {}, &CancelToken::new()).unwrap_err();
        assert_eq!(err.kind(), "interpreter_not_found");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/bin/python"), "{msg}");
        assert!(msg.contains("pip install tensorflow-cpu keras"), "{msg}");
    }

    #[test]
    fn missing_module_event_maps_to_install_hint() {
        let (py, dir) = fake_python(
            r#"echo '{"event":"error","kind":"missing_module","module":"tensorflow","message":"No module named tensorflow"}'; exit 3"#,
        );
        let err = run(
            &BenchRequest::new(Scenario::Init, &py),
            |_| {},
            &CancelToken::new(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), "missing_module", "{msg}");
        assert!(msg.contains(&py.display().to_string()), "{msg}");
        assert!(msg.contains("-m pip install tensorflow-cpu keras"), "{msg}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn non_protocol_output_is_bad_output() {
        let (py, dir) = fake_python(&format!("{PREFLIGHT_OK}\necho hello; exit 0"));
        let err = run(
            &BenchRequest::new(Scenario::Eager, &py),
            |_| {},
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "bad_output");
        assert!(err.to_string().contains("hello"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn crash_reports_status_and_stderr_tail() {
        let (py, dir) = fake_python(&format!(
            "{PREFLIGHT_OK}\necho 'Traceback: boom' >&2; exit 7"
        ));
        let err = run(
            &BenchRequest::new(Scenario::Eager, &py),
            |_| {},
            &CancelToken::new(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), "crashed");
        assert!(
            msg.contains("exit code 7") && msg.contains("Traceback: boom"),
            "{msg}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn timeout_kills_the_group() {
        let (py, dir) = fake_python(&format!(
            "{PREFLIGHT_OK}\nsleep 30 &\necho $! > \"$(dirname \"$0\")/grandchild\"\nwait"
        ));
        let mut req = BenchRequest::new(Scenario::Eager, &py);
        req.timeout = Duration::from_millis(1500);
        let t0 = Instant::now();
        let err = run(&req, |_| {}, &CancelToken::new()).unwrap_err();
        assert_eq!(err.kind(), "timeout", "{err}");
        assert!(t0.elapsed() < Duration::from_secs(10));
        let gc: i32 = fs::read_to_string(dir.join("grandchild"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(gc), "grandchild {gc} survived the timeout");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tail_keeps_last_lines_and_clips_long_ones() {
        let mut t = Tail::default();
        for i in 0..100 {
            t.push(&format!("line {i}\n"));
        }
        t.push(&"é".repeat(STDERR_LINE_MAX));
        let text = t.text();
        assert!(!text.contains("line 10\n"));
        assert!(text.contains("line 99"));
        assert_eq!(text.lines().count(), STDERR_TAIL_LINES);
        assert!(text.ends_with('…'));
    }
}
