//! `initialize` / `initialized`: capability negotiation (position encoding, pull diagnostics).

use std::sync::atomic::Ordering;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::line_index::Encoding;
use crate::server::Backend;

/// Code action kind of "apply every safe fix".
pub const FIX_ALL_KIND: &str = "source.fixAll.keras-lsp";

/// Code action kind of "apply every safe fix in the whole notebook".
pub const NOTEBOOK_FIX_ALL_KIND: &str = "notebook.source.fixAll.keras-lsp";

pub fn initialize(backend: &Backend, params: InitializeParams) -> Result<InitializeResult> {
    let state = &backend.state;
    let caps = &params.capabilities;
    let offers_utf8 = caps
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|encs| encs.contains(&PositionEncodingKind::UTF8));
    let (encoding, kind) = if offers_utf8 {
        (Encoding::Utf8, PositionEncodingKind::UTF8)
    } else {
        (Encoding::Utf16, PositionEncodingKind::UTF16)
    };
    state.set_encoding(encoding);
    let text_caps = caps.text_document.as_ref();
    let pull = text_caps.and_then(|t| t.diagnostic.as_ref()).is_some();
    state.pull_diagnostics.store(pull, Ordering::SeqCst);
    let refresh = caps
        .workspace
        .as_ref()
        .and_then(|w| w.diagnostics.as_ref())
        .and_then(|d| d.refresh_support)
        .unwrap_or(false);
    state.refresh_support.store(refresh, Ordering::SeqCst);
    super::bench::client_capabilities(&state.bench, caps);

    let root = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .and_then(|f| f.uri.to_file_path().map(|p| p.into_owned()));
    #[allow(deprecated)]
    let root = root.or_else(|| {
        params
            .root_uri
            .as_ref()
            .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
    });
    *state.root.write().unwrap_or_else(|e| e.into_inner()) = root;
    let warnings = state.update_config(params.initialization_options.clone());
    for warning in warnings {
        tracing::warn!("{warning}");
    }

    let diagnostic_provider = pull.then(|| {
        DiagnosticServerCapabilities::Options(DiagnosticOptions {
            identifier: Some("keras-lsp".to_string()),
            inter_file_dependencies: false,
            workspace_diagnostics: false,
            work_done_progress_options: Default::default(),
        })
    });
    Ok(InitializeResult {
        server_info: Some(ServerInfo {
            name: "keras-lsp".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        capabilities: ServerCapabilities {
            position_encoding: Some(kind),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![
                    CodeActionKind::QUICKFIX,
                    CodeActionKind::new(FIX_ALL_KIND),
                    CodeActionKind::SOURCE_FIX_ALL,
                    CodeActionKind::new(NOTEBOOK_FIX_ALL_KIND),
                ]),
                resolve_provider: Some(false),
                work_done_progress_options: Default::default(),
            })),
            notebook_document_sync: Some(OneOf::Left(super::notebook::sync_options())),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            code_lens_provider: Some(CodeLensOptions {
                resolve_provider: Some(false),
            }),
            diagnostic_provider,
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: crate::server::handlers::command::COMMANDS
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                work_done_progress_options: Default::default(),
            }),
            ..Default::default()
        },
        offset_encoding: None,
    })
}

pub async fn initialized(backend: &Backend) {
    let warnings = backend
        .state
        .config
        .read()
        .map(|c| c.warnings.clone())
        .unwrap_or_default();
    for warning in warnings {
        backend
            .client
            .show_message(MessageType::WARNING, format!("keras-lsp: {warning}"))
            .await;
    }
}
