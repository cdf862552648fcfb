//! `keras-lsp/documentState`: returns the server's text and version of a document, so tests and
//! bug reports can compare it with the client's.

use serde::Deserialize;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::Uri;

use crate::server::Backend;

pub const DOCUMENT_STATE: &str = "keras-lsp/documentState";

#[derive(Deserialize)]
pub struct DocumentStateParams {
    pub uri: Uri,
}

pub fn document_state(backend: &Backend, params: DocumentStateParams) -> Result<serde_json::Value> {
    let Some(entry) = backend.state.documents.get(&params.uri) else {
        return Err(Error::invalid_params(format!(
            "document is not open: {}",
            params.uri.as_str()
        )));
    };
    let doc = &entry.doc;
    Ok(serde_json::json!({
        "version": doc.version(),
        "text": doc.text(),
        "tree_has_error": doc.forest().has_error(),
        "tree_held": doc.has_tree(),
    }))
}

/// `keras-lsp/serverStats`: the server's own didChange -> publishDiagnostics latency (ms), as
/// measured inside the process (the benchmark harness compares it with what the client saw).
pub const SERVER_STATS: &str = "keras-lsp/serverStats";

#[derive(Deserialize, Default)]
pub struct ServerStatsParams {
    /// Forget the samples after answering.
    #[serde(default)]
    pub reset: bool,
}

pub fn server_stats(backend: &Backend, params: ServerStatsParams) -> Result<serde_json::Value> {
    let mut samples = backend
        .state
        .latency
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut sorted = samples.clone();
    if params.reset {
        samples.clear();
    }
    drop(samples);
    sorted.sort_by(f64::total_cmp);
    let pick = |p: f64| -> Option<f64> {
        let last = sorted.len().checked_sub(1)?;
        sorted
            .get(((p / 100.0) * last as f64).round() as usize)
            .copied()
    };
    let mean = (!sorted.is_empty()).then(|| sorted.iter().sum::<f64>() / sorted.len() as f64);
    Ok(serde_json::json!({
        "change_to_publish_ms": {
            "count": sorted.len(),
            "p50": pick(50.0),
            "p99": pick(99.0),
            "max": sorted.last(),
            "mean": mean,
        },
        "rss_kib": rss_kib(),
    }))
}

/// Resident set size of this process (Linux), in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
