//! Benchmarks from the editor: "Measure: KRSxxx" code lenses, `keras-lsp.runBenchmark` with
//! cancellable work-done progress, one run at a time per workspace, a summary message, the result
//! on the lens until the document changes, and the Markdown report offered with showDocument.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::request::WorkDoneProgressCreate;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Bounded, Cancellable, Client, OngoingProgress};

use crate::bench::{
    BenchError, BenchRequest, CancelToken, Report, params_from_source, resolve_python,
    scenario_for_code, write_report,
};
use crate::server::Backend;
use crate::server::convert::PositionMapper;

/// Runs the benchmark of a finding: arguments `uri, code, range[, {"quick": bool}]`.
pub const RUN_BENCHMARK_COMMAND: &str = "keras-lsp.runBenchmark";
/// Cancels the running benchmark (for clients without a progress cancel button).
pub const CANCEL_BENCHMARK_COMMAND: &str = "keras-lsp.cancelBenchmark";
/// The client's "cancel" on a work-done progress.
pub const PROGRESS_CANCEL: &str = "window/workDoneProgress/cancel";

/// The benchmark currently running in this workspace.
struct Running {
    code: String,
    uri: Uri,
    line: u32,
    token: ProgressToken,
    cancel: CancelToken,
}

/// A finished measurement, shown on its lens while the document keeps `version`.
#[derive(Clone)]
struct LensResult {
    version: i32,
    code: String,
    line: u32,
    title: String,
}

/// Benchmark state shared by the handlers of one server (= one workspace).
#[derive(Default)]
pub struct BenchState {
    running: Mutex<Option<Running>>,
    results: Mutex<HashMap<Uri, Vec<LensResult>>>,
    next_token: AtomicU64,
    work_done_progress: AtomicBool,
    show_document: AtomicBool,
    code_lens_refresh: AtomicBool,
}

/// Records what the client supports (called from `initialize`).
pub fn client_capabilities(state: &BenchState, caps: &ClientCapabilities) {
    let window = caps.window.as_ref();
    state.work_done_progress.store(
        window.and_then(|w| w.work_done_progress).unwrap_or(false),
        Ordering::SeqCst,
    );
    state.show_document.store(
        window
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|s| s.support),
        Ordering::SeqCst,
    );
    state.code_lens_refresh.store(
        caps.workspace
            .as_ref()
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            .unwrap_or(false),
        Ordering::SeqCst,
    );
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `textDocument/codeLens`: one lens per (line, code) of findings that have a scenario.
pub async fn code_lens(backend: &Backend, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
    let uri = params.text_document.uri;
    let Some((findings, version)) = super::diagnostics::findings(&backend.state, &uri).await else {
        return Ok(None);
    };
    let encoding = backend.state.encoding();
    let Some(doc) = backend.state.documents.get(&uri).map(|d| d.doc.clone()) else {
        return Ok(None);
    };
    if doc.version() != version {
        return Ok(None);
    }
    let mapper = PositionMapper {
        text: doc.text(),
        index: doc.line_index(),
        encoding,
    };
    let bench = &backend.state.bench;
    let results: Vec<LensResult> = lock(&bench.results)
        .get(&uri)
        .map(|r| r.iter().filter(|r| r.version == version).cloned().collect())
        .unwrap_or_default();
    let running = lock(&bench.running)
        .as_ref()
        .filter(|r| r.uri == uri)
        .map(|r| (r.code.clone(), r.line));
    let mut lenses: Vec<CodeLens> = Vec::new();
    for finding in findings.iter() {
        if scenario_for_code(finding.code).is_none() {
            continue;
        }
        let range = mapper.range(finding.range.clone());
        let line = range.start.line;
        let dup = lenses.iter().any(|l| {
            l.range.start.line == line
                && l.command
                    .as_ref()
                    .and_then(|c| c.arguments.as_ref())
                    .and_then(|a| a.get(1))
                    == Some(&json!(finding.code))
        });
        if dup {
            continue;
        }
        let title = if running.as_ref() == Some(&(finding.code.to_string(), line)) {
            format!("Measuring {}…", finding.code)
        } else if let Some(r) = results
            .iter()
            .find(|r| r.code == finding.code && r.line == line)
        {
            r.title.clone()
        } else {
            format!("Measure: {}", finding.code)
        };
        lenses.push(CodeLens {
            range: Range {
                start: range.start,
                end: range.start,
            },
            command: Some(Command {
                title,
                command: RUN_BENCHMARK_COMMAND.to_string(),
                arguments: Some(vec![
                    json!(uri.as_str()),
                    json!(finding.code),
                    serde_json::to_value(range).unwrap_or(Value::Null),
                ]),
            }),
            data: None,
        });
    }
    Ok(Some(lenses))
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// `keras-lsp.runBenchmark`: starts the run in the background and answers at once.
pub async fn run_benchmark(
    backend: &Backend,
    arguments: Vec<Value>,
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let uri = super::command::uri_argument(&arguments)?;
    let code = arguments
        .get(1)
        .and_then(Value::as_str)
        .map(|c| c.trim().to_ascii_uppercase())
        .ok_or_else(|| Error::invalid_params("expected a finding code as the second argument"))?;
    let Some(scenario) = scenario_for_code(&code) else {
        return Err(Error::invalid_params(format!(
            "{code} has no benchmark scenario"
        )));
    };
    let range: Option<Range> = arguments
        .get(2)
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let line = range.map_or(0, |r| r.start.line);
    let quick = arguments
        .get(3)
        .and_then(|o| o.get("quick"))
        .and_then(Value::as_bool)
        .unwrap_or(false);

    // The text the parameters are read from: the open document, else the file on disk.
    let path = uri.to_file_path().map(|p| p.into_owned());
    let (text, version) = match backend.state.documents.get(&uri) {
        Some(d) => (d.doc.text().to_string(), Some(d.doc.version())),
        None => match path.as_deref().map(std::fs::read_to_string) {
            Some(Ok(t)) => (t, None),
            _ => {
                return Err(Error::invalid_params(format!(
                    "cannot read {}",
                    uri.as_str()
                )));
            }
        },
    };
    let settings = backend.state.settings();
    let root = backend
        .state
        .root
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let report_dir = root.clone().or_else(|| {
        path.as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    });
    let mut request = BenchRequest::new(
        scenario,
        resolve_python(settings.python.as_deref(), root.as_deref()),
    );
    request.code = Some(code.clone());
    request.quick = quick;
    request.timeout = Duration::from_secs(settings.bench_timeout_seconds.max(1));
    let file_name = path.as_deref().and_then(Path::file_name).map_or_else(
        || "document".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (params, sources) = params_from_source(&code, &text, line as usize + 1);
    request.params = params;
    request.sources = sources
        .into_iter()
        .map(|(k, s)| (k, format!("{file_name}: {s}")))
        .collect();

    let bench = &backend.state.bench;
    let created_by_client = client_token.is_some();
    let token = client_token.unwrap_or_else(|| {
        let n = bench.next_token.fetch_add(1, Ordering::SeqCst);
        ProgressToken::String(format!("keras-lsp/bench/{n}"))
    });
    let cancel = CancelToken::new();
    let busy = {
        let mut running = lock(&bench.running);
        match running.as_ref() {
            Some(r) => Some(format!(
                "keras-lsp: a benchmark is already running ({} in {}); cancel it or wait for it to finish",
                r.code,
                r.uri.as_str().rsplit('/').next().unwrap_or("")
            )),
            None => {
                *running = Some(Running {
                    code: code.clone(),
                    uri: uri.clone(),
                    line,
                    token: token.clone(),
                    cancel: cancel.clone(),
                });
                None
            }
        }
    };
    if let Some(message) = busy {
        backend
            .client
            .show_message(MessageType::WARNING, message.clone())
            .await;
        return Ok(Some(
            json!({"started": false, "reason": "busy", "message": message}),
        ));
    }
    let job = Job {
        client: backend.client.clone(),
        state: backend.state.clone(),
        request,
        token: token.clone(),
        created_by_client,
        cancel,
        uri,
        version,
        line,
        report_dir,
    };
    tokio::spawn(job.run());
    Ok(Some(json!({
        "started": true,
        "scenario": scenario.name(),
        "token": token,
    })))
}

/// Cancels the running benchmark whose progress token is `token` (any, when `None`).
pub fn cancel(backend: &Backend, token: Option<&ProgressToken>) -> bool {
    let running = lock(&backend.state.bench.running);
    match running.as_ref() {
        Some(r) if token.is_none_or(|t| *t == r.token) => {
            r.cancel.cancel();
            true
        }
        _ => false,
    }
}

/// `window/workDoneProgress/cancel` from the client.
pub async fn progress_cancel(backend: &Backend, params: WorkDoneProgressCancelParams) {
    if cancel(backend, Some(&params.token)) {
        tracing::info!("benchmark cancelled by the client");
    }
}

/// `keras-lsp.cancelBenchmark`.
pub fn cancel_command(backend: &Backend) -> Result<Option<Value>> {
    Ok(Some(json!({"cancelled": cancel(backend, None)})))
}

/// One benchmark run in the background.
struct Job {
    client: Client,
    state: Arc<crate::server::State>,
    request: BenchRequest,
    token: ProgressToken,
    created_by_client: bool,
    cancel: CancelToken,
    uri: Uri,
    version: Option<i32>,
    line: u32,
    report_dir: Option<PathBuf>,
}

impl Job {
    async fn run(self) {
        let bench = &self.state.bench;
        let code = self.request.code.clone().unwrap_or_default();
        let mut progress_ok = self.created_by_client;
        if !progress_ok && bench.work_done_progress.load(Ordering::SeqCst) {
            progress_ok = self
                .client
                .send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams {
                    token: self.token.clone(),
                })
                .await
                .is_ok();
        }
        let progress = if progress_ok {
            Some(
                self.client
                    .progress(self.token.clone(), format!("Measuring {code}"))
                    .with_percentage(0)
                    .with_cancel_button()
                    .with_message(format!(
                        "{} with {}",
                        self.request.scenario,
                        self.request.python.display()
                    ))
                    .begin()
                    .await,
            )
        } else {
            None
        };
        self.refresh_lenses().await;

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let request = self.request.clone();
        let cancel = self.cancel.clone();
        let worker = tokio::task::spawn_blocking(move || {
            crate::bench::run(&request, |p| drop(tx.send(p.clone())), &cancel)
        });
        let mut last_pct = u32::MAX;
        let mut last_msg = String::new();
        while let Some(p) = rx.recv().await {
            let pct = p.percent.round().clamp(0.0, 100.0) as u32;
            let msg = match &p.variant {
                Some(v) => format!("{v}: {}", p.message),
                None => p.message.clone(),
            };
            if let Some(progress) = &progress
                && (pct != last_pct || msg != last_msg)
            {
                progress.report_with_message(msg.clone(), pct, None).await;
            }
            last_pct = pct;
            last_msg = msg;
        }
        let outcome = match worker.await {
            Ok(r) => r,
            Err(e) => Err(BenchError::Io {
                context: "the benchmark worker panicked".into(),
                error: std::io::Error::other(e.to_string()),
            }),
        };
        *lock(&bench.running) = None;
        match outcome {
            Ok(report) => self.succeeded(&code, report, progress).await,
            Err(e) => {
                let cancelled = matches!(e, BenchError::Cancelled { .. });
                let short = if cancelled {
                    format!("{code}: benchmark cancelled")
                } else {
                    format!("{code}: benchmark failed")
                };
                if let Some(p) = progress {
                    p.finish_with_message(short.clone()).await;
                }
                let (kind, message) = if cancelled {
                    (MessageType::INFO, format!("keras-lsp: {short}; {e}"))
                } else {
                    (MessageType::ERROR, format!("keras-lsp: {short}: {e}"))
                };
                self.client.show_message(kind, message).await;
                self.refresh_lenses().await;
            }
        }
    }

    async fn succeeded(
        &self,
        code: &str,
        report: Report,
        progress: Option<OngoingProgress<Bounded, Cancellable>>,
    ) {
        let written = self
            .report_dir
            .as_deref()
            .map(|dir| write_report(dir, &report));
        if let Some(version) = self.version {
            let mut results = lock(&self.state.bench.results);
            let list = results.entry(self.uri.clone()).or_default();
            list.retain(|r| !(r.code == code && r.line == self.line));
            list.push(LensResult {
                version,
                code: code.to_string(),
                line: self.line,
                title: clip(&format!("{code} measured: {}", report.summary), 120),
            });
        }
        if let Some(p) = progress {
            p.finish_with_message(clip(&report.summary, 100)).await;
        }
        let mut message = format!("keras-lsp {code}: {}", report.summary);
        let report_uri = match &written {
            Some(Ok(path)) => {
                message.push_str(&format!(" (report: {})", path.display()));
                Uri::from_file_path(path)
            }
            Some(Err(e)) => {
                message.push_str(&format!(" (could not write the report: {e})"));
                None
            }
            None => None,
        };
        self.client.show_message(MessageType::INFO, message).await;
        if let Some(uri) = report_uri
            && self.state.bench.show_document.load(Ordering::SeqCst)
        {
            let shown = self
                .client
                .show_document(ShowDocumentParams {
                    uri,
                    external: Some(false),
                    take_focus: Some(false),
                    selection: None,
                })
                .await;
            if let Err(e) = shown {
                tracing::debug!("showDocument failed: {e}");
            }
        }
        self.refresh_lenses().await;
    }

    async fn refresh_lenses(&self) {
        if self.state.bench.code_lens_refresh.load(Ordering::SeqCst)
            && let Err(e) = self.client.code_lens_refresh().await
        {
            tracing::debug!("codeLens refresh failed: {e}");
        }
    }
}
