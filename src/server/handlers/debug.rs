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
        "tree_has_error": doc.tree().root_node().has_error(),
    }))
}
