//! `workspace/didChangeConfiguration`: new client settings, then fresh diagnostics.

use tower_lsp_server::ls_types::*;

use super::diagnostics;
use crate::server::Backend;

pub async fn did_change_configuration(backend: &Backend, params: DidChangeConfigurationParams) {
    let settings = if params.settings.is_null() {
        None
    } else {
        Some(params.settings)
    };
    reload(backend, settings).await;
}

/// Re-reads pyproject.toml, merges `client` settings if given, and refreshes diagnostics.
pub async fn reload(backend: &Backend, client: Option<serde_json::Value>) {
    let warnings = backend.state.update_config(client);
    for warning in warnings {
        backend
            .client
            .show_message(MessageType::WARNING, format!("keras-lsp: {warning}"))
            .await;
    }
    diagnostics::refresh_all(backend).await;
}
