//! Server state: open documents (a `DashMap`), negotiated capabilities and effective settings.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use dashmap::DashMap;
use serde_json::Value;
use tower_lsp_server::ls_types::{Diagnostic, Uri};

use super::convert::{self, PositionMapper};
use super::handlers::notebook;
use crate::analysis::incremental::Engine;
use crate::document::Document;
use crate::finding::Finding;
use crate::line_index::Encoding;
use crate::settings::{self, Settings};

/// An open document plus its findings cache.
pub struct OpenDocument {
    pub doc: Document,
    /// Findings for `doc`'s current text under settings generation `.0`.
    pub findings: Option<(u64, Arc<Vec<Finding>>)>,
    /// The document's analysis state across versions; one analysis at a time holds it, off the
    /// async workers (see [`State::findings`]).
    pub engine: Arc<Mutex<Engine>>,
    /// When an analysis last used the tree (a tick of `State`'s logical clock), for evicting the least recent.
    pub last_used: u64,
}

impl OpenDocument {
    pub fn new(doc: Document) -> OpenDocument {
        OpenDocument {
            doc,
            findings: None,
            engine: Arc::new(Mutex::new(Engine::default())),
            last_used: 0,
        }
    }
}

/// Bytes of tree-sitter tree plus incremental-analysis state per byte of text, measured on the
/// bundled corpus (a 36 KB, 1,000-line file: a 1.45 MB tree and ~0.3 MB of engine state).
const RETAINED_BYTES_PER_TEXT_BYTE: usize = 48;

/// Memory kept for trees and analysis state across all open documents. Beyond it the least
/// recently analysed documents drop both (keeping text and findings); their next edit re-parses
/// from scratch. The most recent document keeps its tree whatever its size.
const RETAINED_BUDGET_BYTES: usize = 24 << 20;

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
    /// The server's own latency: didChange received -> publishDiagnostics sent (ms).
    pub latency: Mutex<Vec<f64>>,
    /// A logical clock for [`OpenDocument::last_used`].
    clock: AtomicU64,
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
            latency: Mutex::new(Vec::new()),
            clock: AtomicU64::new(0),
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

    /// Cached findings for the document's current version, if any (never analyses; notebook
    /// cells are analysed with their notebook, so they always take the blocking path).
    pub fn cached_findings(&self, uri: &Uri) -> Option<(Arc<Vec<Finding>>, i32)> {
        if self.cell_notebook.contains_key(uri) {
            return None;
        }
        let generation = self.settings_generation.load(Ordering::SeqCst);
        let entry = self.documents.get(uri)?;
        match &entry.findings {
            Some((g, findings)) if *g == generation => {
                Some((findings.clone(), entry.doc.version()))
            }
            _ => None,
        }
    }

    /// Findings for an open document, analysed at most once per version and settings.
    /// Blocking (it analyses): call it from `spawn_blocking`, never on an async worker. The map
    /// guard is held only to copy a snapshot in and the result out, never during the analysis.
    pub fn findings(&self, uri: &Uri) -> Option<(Arc<Vec<Finding>>, i32)> {
        if let Some(notebook) = self.notebook_of(uri) {
            return notebook::cell_findings(self, &notebook, uri);
        }
        let engine = self.documents.get(uri)?.engine.clone();
        // One analysis per document at a time, in the order snapshots are taken.
        let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = self.cached_findings(uri) {
            return Some(cached);
        }
        let generation = self.settings_generation.load(Ordering::SeqCst);
        let settings = self.settings();
        let snapshot = {
            let mut entry = self.documents.get_mut(uri)?;
            entry.last_used = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
            entry.doc.take_snapshot()
        };
        let findings = engine.update(
            &snapshot.text,
            &snapshot.forest,
            &snapshot.edits,
            &settings,
            generation,
        );
        if let Some(mut entry) = self.documents.get_mut(uri)
            && entry.doc.version() == snapshot.version
        {
            entry.findings = Some((generation, findings.clone()));
        }
        self.trim_retained(uri);
        Some((findings, snapshot.version))
    }

    /// Drops the trees and analysis state of the least recently analysed documents beyond
    /// [`RETAINED_BUDGET_BYTES`], never `keep`'s. Takes one map guard at a time.
    fn trim_retained(&self, keep: &Uri) {
        let mut held: Vec<(u64, usize, Uri)> = self
            .documents
            .iter()
            .filter(|e| e.doc.has_tree())
            .map(|e| {
                let bytes = e.doc.text().len() * RETAINED_BYTES_PER_TEXT_BYTE;
                (e.last_used, bytes, e.key().clone())
            })
            .collect();
        let total: usize = held.iter().map(|h| h.1).sum();
        if total <= RETAINED_BUDGET_BYTES {
            return;
        }
        held.sort_by_key(|h| std::cmp::Reverse(h.0));
        let mut kept = 0usize;
        let mut evicted = false;
        for (_, bytes, uri) in held {
            if &uri == keep || kept + bytes <= RETAINED_BUDGET_BYTES {
                kept += bytes;
                continue;
            }
            let Some(mut entry) = self.documents.get_mut(&uri) else {
                continue;
            };
            // An analysis in flight holds the engine: leave this document for the next trim.
            let engine = entry.engine.clone();
            let Ok(mut engine) = engine.try_lock() else {
                continue;
            };
            engine.reset();
            entry.doc.evict_tree();
            evicted = true;
        }
        if evicted {
            release_free_memory();
        }
    }

    /// LSP diagnostics for an open document and the version they describe. Blocking, like
    /// [`State::findings`].
    pub fn diagnostics(&self, uri: &Uri) -> Option<(Vec<Diagnostic>, i32)> {
        if let Some(notebook) = self.notebook_of(uri) {
            return notebook::cell_diagnostics(self, &notebook, uri);
        }
        let (findings, version) = self.findings(uri)?;
        let encoding = self.encoding();
        let (text, index) = {
            let entry = self.documents.get(uri)?;
            if entry.doc.version() != version {
                return None;
            }
            (entry.doc.shared_text(), entry.doc.shared_line_index())
        };
        let mapper = PositionMapper {
            text: &text,
            index: &index,
            encoding,
        };
        let diagnostics = findings
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut diagnostic = convert::diagnostic(f, &mapper);
                if f.fix.is_some() {
                    let fix = convert::FindingRef {
                        version,
                        finding: i,
                    };
                    diagnostic.data = Some(fix.to_data());
                }
                diagnostic
            })
            .collect();
        Some((diagnostics, version))
    }

    /// Records one didChange -> publishDiagnostics latency.
    pub fn record_latency(&self, received: Instant) {
        let ms = received.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!("didChange -> publishDiagnostics: {ms:.3} ms");
        let mut samples = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < 1_000_000 {
            samples.push(ms);
        }
    }
}

/// Returns freed heap pages to the system (glibc keeps them otherwise), so evictions show in RSS.
/// The `keras-lsp` binary allocates with mimalloc, which purges freed pages itself (see
/// `src/allocator.rs`); this covers what still goes through glibc, and embedders of the library.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
