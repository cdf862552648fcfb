//! Diagnostics: debounced push with the document version, and pull (`textDocument/diagnostic`).
//! Analyses run on tokio's blocking pool, so the async workers keep answering requests.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::finding::Finding;
use crate::server::{Backend, State};

/// Findings of the document's current version, analysed on the blocking pool when not cached.
pub async fn findings(state: &Arc<State>, uri: &Uri) -> Option<(Arc<Vec<Finding>>, i32)> {
    if let Some(cached) = state.cached_findings(uri) {
        return Some(cached);
    }
    let (state, uri) = (state.clone(), uri.clone());
    tokio::task::spawn_blocking(move || state.findings(&uri))
        .await
        .ok()
        .flatten()
}

/// Diagnostics of the document's current version, computed on the blocking pool.
pub async fn diagnostics(state: &Arc<State>, uri: &Uri) -> Option<(Vec<Diagnostic>, i32)> {
    let (state, uri) = (state.clone(), uri.clone());
    tokio::task::spawn_blocking(move || state.diagnostics(&uri))
        .await
        .ok()
        .flatten()
}

/// Publishes after the debounce delay (none by default), unless a newer version arrived
/// meanwhile. `received` is when the change arrived, for the server's own latency figures.
pub fn schedule(backend: &Backend, uri: Uri, version: i32, received: Instant) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    let delay = backend.state.settings().debounce_ms;
    let out = backend.out.clone();
    let state = backend.state.clone();
    let task = async move {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let current = state.documents.get(&uri).map(|d| d.doc.version());
        if current != Some(version) {
            return; // A newer change will publish.
        }
        if let Some((diagnostics, v)) = diagnostics(&state, &uri).await
            && v == version
        {
            out.publish_diagnostics(uri, diagnostics, Some(v));
            state.record_latency(received);
        }
    };
    tokio::spawn(task);
}

/// Publishes now (push mode only).
pub async fn publish(backend: &Backend, uri: Uri) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    if let Some((diagnostics, version)) = diagnostics(&backend.state, &uri).await {
        backend
            .out
            .publish_diagnostics(uri, diagnostics, Some(version));
    }
}

/// Re-publishes (push) or asks the client to re-pull, after settings changed.
pub async fn refresh_all(backend: &Backend) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        if backend.state.refresh_support.load(Ordering::SeqCst) {
            let _ = backend.client.workspace_diagnostic_refresh().await;
        }
        return;
    }
    let uris: Vec<Uri> = backend
        .state
        .documents
        .iter()
        .map(|e| e.key().clone())
        .collect();
    for uri in uris {
        publish(backend, uri).await;
    }
}

pub async fn pull(
    backend: &Backend,
    params: DocumentDiagnosticParams,
) -> Result<DocumentDiagnosticReportResult> {
    let uri = params.text_document.uri;
    let Some((items, version)) = diagnostics(&backend.state, &uri).await else {
        return Err(Error::invalid_params(format!(
            "document is not open: {}",
            uri.as_str()
        )));
    };
    let generation = backend.state.settings_generation.load(Ordering::SeqCst);
    // A notebook cell's findings also change with the other cells: add the notebook's version.
    let notebook = backend
        .state
        .notebook_of(&uri)
        .and_then(|n| {
            backend
                .state
                .notebooks
                .get(&n)
                .map(|n| format!(":{}", n.version))
        })
        .unwrap_or_default();
    let result_id = format!("{version}:{generation}{notebook}");
    if params.previous_result_id.as_deref() == Some(result_id.as_str()) {
        return Ok(DocumentDiagnosticReportResult::Report(
            DocumentDiagnosticReport::Unchanged(RelatedUnchangedDocumentDiagnosticReport {
                related_documents: None,
                unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport {
                    result_id,
                },
            }),
        ));
    }
    Ok(DocumentDiagnosticReportResult::Report(
        DocumentDiagnosticReport::Full(RelatedFullDocumentDiagnosticReport {
            related_documents: None,
            full_document_diagnostic_report: FullDocumentDiagnosticReport {
                result_id: Some(result_id),
                items,
            },
        }),
    ))
}
