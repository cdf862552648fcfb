//! Server state: open documents (a `DashMap`), negotiated capabilities and effective settings.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use serde_json::Value;
use tower_lsp_server::ls_types::{Diagnostic, Uri};

use super::convert::{self, PositionMapper};
use super::handlers::notebook;
use crate::analysis::analyze;
use crate::document::Document;
use crate::finding::Finding;
use crate::line_index::Encoding;
use crate::settings::{self, Settings};

/// An open document plus its findings cache.
pub struct OpenDocument {
    pub doc: Document,
    /// Findings for `doc`'s current text under settings generation `.0`.
    pub findings: Option<(u64, Arc<Vec<Finding>>)>,
}

/// One cell of an open notebook (its text document lives in `State::documents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookCellRef {
    pub uri: Uri,
    /// A code cell (as opposed to markup).
    pub code: bool,
    /// The cell document's language (`python` cells are analysed).
    pub language: String,
}

/// An open notebook: its cells in order and the findings of its code cells as one program.
#[derive(Default)]
pub struct OpenNotebook {
    pub version: i32,
    pub cells: Vec<NotebookCellRef>,
    /// Findings keyed by settings generation and the (uri, version) of each analysed cell.
    pub findings: Option<(NotebookKey, Arc<NotebookFindings>)>,
    /// What was last published per cell (version, diagnostics), to publish only changes.
    pub published: std::collections::HashMap<Uri, (i32, Vec<Diagnostic>)>,
}

/// What a notebook's cached findings were computed from.
pub type NotebookKey = (u64, Vec<(Uri, i32)>);

/// Findings of a notebook's code cells, analysed as one program.
pub struct NotebookFindings {
    /// The analysed cells in order.
    pub cells: Vec<AnalysedCell>,
    /// Each finding's `cell` is the cell's position in the notebook.
    pub findings: Vec<crate::notebook::CellFinding>,
}

/// A code cell as it was analysed.
pub struct AnalysedCell {
    pub uri: Uri,
    pub version: i32,
    pub text: String,
    /// Position in the notebook's cell list.
    pub position: usize,
}

/// Settings sources, kept so either can change independently.
#[derive(Default)]
pub struct Config {
    pub client: Value,
    pub pyproject: Value,
    pub effective: Arc<Settings>,
    pub warnings: Vec<String>,
}

/// Everything the handlers share.
pub struct State {
    pub documents: DashMap<Uri, OpenDocument>,
    /// Open notebooks by notebook URI.
    pub notebooks: DashMap<Uri, OpenNotebook>,
    /// The notebook each open cell document belongs to.
    pub cell_notebook: DashMap<Uri, Uri>,
    pub config: RwLock<Config>,
    /// Bumped whenever settings change, invalidating cached findings.
    pub settings_generation: AtomicU64,
    encoding: RwLock<Encoding>,
    pub pull_diagnostics: AtomicBool,
    pub refresh_support: AtomicBool,
    pub root: RwLock<Option<PathBuf>>,
    /// Benchmarks started from the editor (one at a time).
    pub bench: super::handlers::bench::BenchState,
}

impl Default for State {
    fn default() -> State {
        State {
            documents: DashMap::new(),
            notebooks: DashMap::new(),
            cell_notebook: DashMap::new(),
            config: RwLock::new(Config::default()),
            settings_generation: AtomicU64::new(0),
            encoding: RwLock::new(Encoding::Utf16),
            pull_diagnostics: AtomicBool::new(false),
            refresh_support: AtomicBool::new(false),
            root: RwLock::new(None),
            bench: Default::default(),
        }
    }
}

impl State {
    pub fn encoding(&self) -> Encoding {
        *self.encoding.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_encoding(&self, encoding: Encoding) {
        *self.encoding.write().unwrap_or_else(|e| e.into_inner()) = encoding;
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .effective
            .clone()
    }

    /// Recomputes effective settings from the stored layers; returns the warnings.
    pub fn update_config(&self, client: Option<Value>) -> Vec<String> {
        let mut config = self.config.write().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = client {
            config.client = client;
        }
        let mut warnings = Vec::new();
        let root = self.root.read().unwrap_or_else(|e| e.into_inner()).clone();
        config.pyproject = match root.as_deref().and_then(settings::find_pyproject) {
            Some(path) => settings::read_pyproject(&path).unwrap_or_else(|e| {
                warnings.push(e);
                Value::Null
            }),
            None => Value::Null,
        };
        let (effective, more) =
            Settings::from_layers(&[config.pyproject.clone(), config.client.clone()]);
        warnings.extend(more);
        config.effective = Arc::new(effective);
        config.warnings.clone_from(&warnings);
        self.settings_generation.fetch_add(1, Ordering::SeqCst);
        warnings
    }

    /// The notebook a cell document belongs to.
    pub fn notebook_of(&self, cell: &Uri) -> Option<Uri> {
        self.cell_notebook.get(cell).map(|n| n.value().clone())
    }

    /// Findings for an open document, analysed at most once per version and settings.
    /// The map guard is held only for this synchronous computation.
    pub fn findings(&self, uri: &Uri) -> Option<(Arc<Vec<Finding>>, i32)> {
        if let Some(notebook) = self.notebook_of(uri) {
            return notebook::cell_findings(self, &notebook, uri);
        }
        let generation = self.settings_generation.load(Ordering::SeqCst);
        let settings = self.settings();
        let mut entry = self.documents.get_mut(uri)?;
        let open = entry.value_mut();
        if let Some((g, findings)) = &open.findings
            && *g == generation
        {
            return Some((findings.clone(), open.doc.version()));
        }
        let findings = Arc::new(analyze(open.doc.text(), open.doc.tree(), &settings));
        open.findings = Some((generation, findings.clone()));
        Some((findings, open.doc.version()))
    }

    /// LSP diagnostics for an open document and the version they describe.
    pub fn diagnostics(&self, uri: &Uri) -> Option<(Vec<Diagnostic>, i32)> {
        if let Some(notebook) = self.notebook_of(uri) {
            return notebook::cell_diagnostics(self, &notebook, uri);
        }
        let (findings, version) = self.findings(uri)?;
        let encoding = self.encoding();
        let entry = self.documents.get(uri)?;
        let doc = &entry.doc;
        if doc.version() != version {
            return None;
        }
        let mapper = PositionMapper {
            text: doc.text(),
            index: doc.line_index(),
            encoding,
        };
        let diagnostics = findings
            .iter()
            .map(|f| convert::diagnostic(f, &mapper, version))
            .collect();
        Some((diagnostics, version))
    }
}
