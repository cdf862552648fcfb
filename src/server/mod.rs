//! The language server: a thin `LanguageServer` impl whose methods delegate to `handlers`.

pub mod convert;
pub mod handlers;
pub mod output;
pub mod state;
pub mod transport;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

pub use state::State;

/// The server handle tower-lsp-server drives.
pub struct Backend {
    pub client: Client,
    /// The server's own notifications (diagnostics), serialised without tower-lsp-server.
    pub out: output::Outgoing,
    pub state: std::sync::Arc<State>,
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        handlers::lifecycle::initialize(self, params)
    }

    async fn initialized(&self, _: InitializedParams) {
        handlers::lifecycle::initialized(self).await
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        handlers::sync::did_open(self, params).await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        handlers::sync::did_change(self, params).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        handlers::sync::did_save(self, params).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        handlers::sync::did_close(self, params).await
    }

    async fn notebook_did_open(&self, params: DidOpenNotebookDocumentParams) {
        handlers::notebook::did_open(self, params).await
    }

    async fn notebook_did_change(&self, params: DidChangeNotebookDocumentParams) {
        handlers::notebook::did_change(self, params).await
    }

    async fn notebook_did_save(&self, params: DidSaveNotebookDocumentParams) {
        handlers::notebook::did_save(self, params).await
    }

    async fn notebook_did_close(&self, params: DidCloseNotebookDocumentParams) {
        handlers::notebook::did_close(self, params).await
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        handlers::config::did_change_configuration(self, params).await
    }

    async fn diagnostic(
        &self,
        params: DocumentDiagnosticParams,
    ) -> Result<DocumentDiagnosticReportResult> {
        handlers::diagnostics::pull(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        handlers::code_action::code_action(self, params).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        handlers::hover::hover(self, params).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        handlers::command::execute_command(self, params).await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        handlers::bench::code_lens(self, params).await
    }
}

impl Backend {
    /// `keras-lsp/documentState`: the server's view of a document (for tests and bug reports).
    async fn document_state(
        &self,
        params: handlers::debug::DocumentStateParams,
    ) -> Result<serde_json::Value> {
        handlers::debug::document_state(self, params)
    }

    /// `keras-lsp/serverStats`: the server's own latency figures (for the benchmark harness).
    async fn server_stats(
        &self,
        params: Option<handlers::debug::ServerStatsParams>,
    ) -> Result<serde_json::Value> {
        handlers::debug::server_stats(self, params.unwrap_or_default())
    }

    /// `window/workDoneProgress/cancel` (not part of the `LanguageServer` trait).
    async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        handlers::bench::progress_cancel(self, params).await
    }
}

/// Serves LSP on stdin/stdout until the client exits.
pub async fn run_stdio() {
    let stdin = transport::guarded(tokio::io::stdin());
    let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let (stdout, out, writer) = output::start(stdout);
    let (service, socket) = LspService::build(|client| Backend {
        client,
        out,
        state: std::sync::Arc::new(State::default()),
    })
    .custom_method(handlers::debug::DOCUMENT_STATE, Backend::document_state)
    .custom_method(handlers::debug::SERVER_STATS, Backend::server_stats)
    .custom_method(
        handlers::bench::PROGRESS_CANCEL,
        Backend::work_done_progress_cancel,
    )
    .finish();
    Server::new(stdin, stdout, socket).serve(service).await;
    writer.finish();
}
