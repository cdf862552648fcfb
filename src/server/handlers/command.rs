//! `workspace/executeCommand`: `keras-lsp.fixAll` applies every safe fix through `workspace/applyEdit`;
//! `keras-lsp.runBenchmark` / `keras-lsp.cancelBenchmark` are handled in `bench`.

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use super::bench;
use super::code_action::{fix_all_edit, workspace_edit};
use crate::server::Backend;
use crate::server::convert::PositionMapper;

pub const FIX_ALL_COMMAND: &str = "keras-lsp.fixAll";

/// Commands this server executes.
pub const COMMANDS: &[&str] = &[
    FIX_ALL_COMMAND,
    bench::RUN_BENCHMARK_COMMAND,
    bench::CANCEL_BENCHMARK_COMMAND,
];

pub async fn execute_command(
    backend: &Backend,
    params: ExecuteCommandParams,
) -> Result<Option<LSPAny>> {
    match params.command.as_str() {
        FIX_ALL_COMMAND => fix_all(backend, params.arguments).await,
        bench::RUN_BENCHMARK_COMMAND => {
            let token = params.work_done_progress_params.work_done_token;
            bench::run_benchmark(backend, params.arguments, token).await
        }
        bench::CANCEL_BENCHMARK_COMMAND => bench::cancel_command(backend),
        other => Err(Error::invalid_params(format!("unknown command: {other}"))),
    }
}

/// Reads a document URI from the first argument (`"file:///..."` or `{"uri": ...}`).
pub fn uri_argument(arguments: &[LSPAny]) -> Result<Uri> {
    let first = arguments
        .first()
        .ok_or_else(|| Error::invalid_params("expected a document URI argument"))?;
    let raw = first
        .as_str()
        .or_else(|| first.get("uri").and_then(|u| u.as_str()))
        .ok_or_else(|| Error::invalid_params("expected a document URI argument"))?;
    raw.parse::<Uri>()
        .map_err(|_| Error::invalid_params(format!("invalid URI: {raw}")))
}

async fn fix_all(backend: &Backend, arguments: Vec<LSPAny>) -> Result<Option<LSPAny>> {
    let uri = uri_argument(&arguments)?;
    let encoding = backend.state.encoding();
    let Some(doc) = backend.state.documents.get(&uri).map(|d| d.doc.clone()) else {
        return Err(Error::invalid_params(format!(
            "document is not open: {}",
            uri.as_str()
        )));
    };
    // Fixing analyses the document to a fixed point: on the blocking pool.
    let state = backend.state.clone();
    let edit = tokio::task::spawn_blocking(move || {
        let mapper = PositionMapper {
            text: doc.text(),
            index: doc.line_index(),
            encoding,
        };
        fix_all_edit(&state, &doc, &mapper)
    })
    .await
    .ok()
    .flatten();
    let Some(edit) = edit else {
        return Ok(Some(serde_json::json!({"applied": false})));
    };
    let response = backend
        .client
        .apply_edit(workspace_edit(&uri, vec![edit]))
        .await
        .map_err(|e| Error::invalid_params(format!("client refused the edit: {e}")))?;
    Ok(Some(serde_json::json!({"applied": response.applied})))
}
