//! Diagnostics: debounced push with the document version, and pull (`textDocument/diagnostic`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::server::Backend;

/// Publishes after the debounce delay, unless a newer version arrived meanwhile.
pub fn schedule(backend: &Backend, uri: Uri, version: i32) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    let delay = backend.state.settings().debounce_ms;
    let client = backend.client.clone();
    let state = backend.state.clone();
    let task = async move {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let current = state.documents.get(&uri).map(|d| d.doc.version());
        if current != Some(version) {
            return; // A newer change will publish.
        }
        if let Some((diagnostics, v)) = state.diagnostics(&uri)
            && v == version
        {
            client.publish_diagnostics(uri, diagnostics, Some(v)).await;
        }
    };
    tokio::spawn(task);
}

/// Publishes now (push mode only).
pub async fn publish(backend: &Backend, uri: Uri) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    if let Some((diagnostics, version)) = backend.state.diagnostics(&uri) {
        backend
            .client
            .publish_diagnostics(uri, diagnostics, Some(version))
            .await;
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

pub fn pull(
    backend: &Backend,
    params: DocumentDiagnosticParams,
) -> Result<DocumentDiagnosticReportResult> {
    let uri = params.text_document.uri;
    let Some((items, version)) = backend.state.diagnostics(&uri) else {
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
