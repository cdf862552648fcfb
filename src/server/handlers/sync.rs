//! Document sync: open, incremental change (applied in order, stale versions ignored), save, close.

use tower_lsp_server::ls_types::*;

use super::diagnostics;
use crate::document::{Document, TextChange};
use crate::server::Backend;
use crate::server::state::OpenDocument;

pub async fn did_open(backend: &Backend, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    let version = doc.version;
    backend.state.documents.insert(
        doc.uri.clone(),
        OpenDocument::new(Document::new(doc.text, version)),
    );
    diagnostics::publish(backend, doc.uri).await;
}

/// Applies the changes before the first `.await`, so notifications are applied in the order
/// they were received even though the transport runs handlers concurrently.
pub async fn did_change(backend: &Backend, params: DidChangeTextDocumentParams) {
    let received = std::time::Instant::now();
    let uri = params.text_document.uri;
    let version = params.text_document.version;
    let encoding = backend.state.encoding();
    let applied = {
        let Some(mut entry) = backend.state.documents.get_mut(&uri) else {
            tracing::warn!(
                "didChange for a document that is not open: {}",
                uri.as_str()
            );
            return;
        };
        let open = entry.value_mut();
        if version <= open.doc.version() {
            tracing::warn!(
                "ignoring stale change to {} (version {version} <= {})",
                uri.as_str(),
                open.doc.version()
            );
            false
        } else {
            let changes: Vec<TextChange> = params
                .content_changes
                .into_iter()
                .map(|c| TextChange {
                    range: c.range.map(|r| {
                        (
                            (r.start.line, r.start.character),
                            (r.end.line, r.end.character),
                        )
                    }),
                    text: c.text,
                })
                .collect();
            open.doc.apply_changes(version, &changes, encoding);
            open.findings = None;
            true
        }
    };
    if applied {
        diagnostics::schedule(backend, uri, version, received);
    }
}

pub async fn did_save(backend: &Backend, params: DidSaveTextDocumentParams) {
    if params
        .text_document
        .uri
        .as_str()
        .ends_with("pyproject.toml")
    {
        super::config::reload(backend, None).await;
    }
}

pub async fn did_close(backend: &Backend, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    backend.state.documents.remove(&uri);
    if !backend
        .state
        .pull_diagnostics
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        backend.out.publish_diagnostics(uri, Vec::new(), None);
    }
}
