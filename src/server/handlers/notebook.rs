//! Notebook documents (LSP 3.17): `notebookDocument/*` sync, code cells analysed as one program, diagnostics per cell URI, and code actions whose edits may span cells.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::code_action::noqa_edit;
use super::lifecycle::{FIX_ALL_KIND, NOTEBOOK_FIX_ALL_KIND};
use crate::document::{Document, TextChange};
use crate::finding::{Finding, FixSafety};
use crate::line_index::LineIndex;
use crate::notebook::{VirtualProgram, analyze_program, fix_cells};
use crate::server::Backend;
use crate::server::convert::{self, PositionMapper, fix_from_data, minimal_edit};
use crate::server::output::Outgoing;
use crate::server::state::{
    AnalysedCell, NotebookCellRef, NotebookFindings, NotebookKey, OpenDocument, OpenNotebook, State,
};

/// The notebook type this server syncs (Jupyter, as VS Code names it).
pub const NOTEBOOK_TYPE: &str = "jupyter-notebook";

/// The `notebookDocumentSync` capability: Jupyter notebooks, Python cells.
pub fn sync_options() -> NotebookDocumentSyncOptions {
    NotebookDocumentSyncOptions {
        notebook_selector: vec![NotebookSelector::ByNotebook {
            notebook: Notebook::String(NOTEBOOK_TYPE.to_string()),
            cells: Some(vec![NotebookCellSelector {
                language: "python".to_string(),
            }]),
        }],
        save: Some(true),
    }
}

fn is_python(language: &str) -> bool {
    matches!(language, "python" | "ipython" | "python3")
}

/// A cell of the notebook's cell array, with its language from its text document (when
/// opened now) or from what the notebook knew of it before (moved cells are not reopened).
fn cell_ref(
    cell: &NotebookCell,
    languages: &HashMap<Uri, String>,
    known: &HashMap<Uri, NotebookCellRef>,
) -> NotebookCellRef {
    let language = languages
        .get(&cell.document)
        .cloned()
        .or_else(|| known.get(&cell.document).map(|c| c.language.clone()))
        .unwrap_or_else(|| "python".to_string());
    NotebookCellRef {
        uri: cell.document.clone(),
        code: cell.kind == NotebookCellKind::CODE,
        language,
    }
}

fn open_cell(state: &State, notebook: &Uri, item: TextDocumentItem) {
    state.documents.insert(
        item.uri.clone(),
        OpenDocument::new(Document::new(item.text, item.version)),
    );
    state.cell_notebook.insert(item.uri, notebook.clone());
}

fn close_cell(state: &State, notebook: &Uri, cell: &Uri) {
    let owned = state
        .cell_notebook
        .get(cell)
        .is_some_and(|n| n.value() == notebook);
    if owned {
        state.cell_notebook.remove(cell);
        state.documents.remove(cell);
    }
}

pub async fn did_open(backend: &Backend, params: DidOpenNotebookDocumentParams) {
    let notebook = params.notebook_document;
    let uri = notebook.uri.clone();
    let state = &backend.state;
    let languages: HashMap<Uri, String> = params
        .cell_text_documents
        .iter()
        .map(|d| (d.uri.clone(), d.language_id.clone()))
        .collect();
    let cells = notebook
        .cells
        .iter()
        .map(|c| cell_ref(c, &languages, &HashMap::new()))
        .collect();
    state.notebooks.insert(
        uri.clone(),
        OpenNotebook {
            version: notebook.version,
            cells,
            ..Default::default()
        },
    );
    for item in params.cell_text_documents {
        open_cell(state, &uri, item);
    }
    publish(&backend.state, &backend.out, &uri, Some(notebook.version)).await;
}

/// Applies structure, cell data and cell text changes before the first `.await` (in the order
/// received); a notebook version not newer than the current one is ignored.
pub async fn did_change(backend: &Backend, params: DidChangeNotebookDocumentParams) {
    let uri = params.notebook_document.uri;
    let version = params.notebook_document.version;
    let state = &backend.state;
    let encoding = state.encoding();
    let mut opened = Vec::new();
    let mut closed = Vec::new();
    let mut text_changes = Vec::new();
    {
        let Some(mut entry) = state.notebooks.get_mut(&uri) else {
            tracing::warn!(
                "notebookDocument/didChange for a notebook that is not open: {}",
                uri.as_str()
            );
            return;
        };
        if version <= entry.version {
            tracing::warn!(
                "ignoring stale notebook change to {} (version {version} <= {})",
                uri.as_str(),
                entry.version
            );
            return;
        }
        entry.version = version;
        if let Some(cells) = params.change.cells {
            if let Some(structure) = cells.structure {
                let known: HashMap<Uri, NotebookCellRef> = entry
                    .cells
                    .iter()
                    .map(|c| (c.uri.clone(), c.clone()))
                    .collect();
                opened = structure.did_open.unwrap_or_default();
                let languages: HashMap<Uri, String> = opened
                    .iter()
                    .map(|d| (d.uri.clone(), d.language_id.clone()))
                    .collect();
                let array = structure.array;
                let start = (array.start as usize).min(entry.cells.len());
                let end = start
                    .saturating_add(array.delete_count as usize)
                    .min(entry.cells.len());
                let inserted: Vec<NotebookCellRef> = array
                    .cells
                    .unwrap_or_default()
                    .iter()
                    .map(|c| cell_ref(c, &languages, &known))
                    .collect();
                entry.cells.splice(start..end, inserted);
                closed = structure
                    .did_close
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| d.uri)
                    .filter(|closed| !entry.cells.iter().any(|c| c.uri == *closed))
                    .collect();
            }
            for data in cells.data.unwrap_or_default() {
                if let Some(cell) = entry.cells.iter_mut().find(|c| c.uri == data.document) {
                    cell.code = data.kind == NotebookCellKind::CODE;
                }
            }
            text_changes = cells.text_content.unwrap_or_default();
        }
    }
    for item in opened {
        open_cell(state, &uri, item);
    }
    for cell in &closed {
        close_cell(state, &uri, cell);
    }
    for change in text_changes {
        let cell = change.document.uri;
        let Some(mut entry) = state.documents.get_mut(&cell) else {
            tracing::warn!("change to a cell that is not open: {}", cell.as_str());
            continue;
        };
        let open = entry.value_mut();
        if change.document.version <= open.doc.version() {
            tracing::warn!(
                "ignoring stale change to cell {} (version {} <= {})",
                cell.as_str(),
                change.document.version,
                open.doc.version()
            );
            continue;
        }
        let changes: Vec<TextChange> = change
            .changes
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
        open.doc
            .apply_changes(change.document.version, &changes, encoding);
        open.findings = None;
    }
    schedule(backend, uri, version);
    clear(backend, closed).await;
}

pub async fn did_save(_backend: &Backend, params: DidSaveNotebookDocumentParams) {
    tracing::debug!("notebook saved: {}", params.notebook_document.uri.as_str());
}

pub async fn did_close(backend: &Backend, params: DidCloseNotebookDocumentParams) {
    let uri = params.notebook_document.uri;
    let state = &backend.state;
    let mut cells: Vec<Uri> = state
        .notebooks
        .remove(&uri)
        .map(|(_, nb)| nb.cells.into_iter().map(|c| c.uri).collect())
        .unwrap_or_default();
    for doc in params.cell_text_documents {
        if !cells.contains(&doc.uri) {
            cells.push(doc.uri);
        }
    }
    for cell in &cells {
        close_cell(state, &uri, cell);
    }
    clear(backend, cells).await;
}

/// Clears the diagnostics of cells that left the notebook (push mode).
async fn clear(backend: &Backend, cells: Vec<Uri>) {
    if backend.state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    for cell in cells {
        backend.out.publish_diagnostics(cell, Vec::new(), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Findings and diagnostics
// ---------------------------------------------------------------------------------------------

/// The notebook's findings, analysed at most once per settings generation and cell versions.
/// Map guards are held only while copying.
fn notebook_findings(state: &State, notebook: &Uri) -> Option<Arc<NotebookFindings>> {
    let generation = state.settings_generation.load(Ordering::SeqCst);
    let refs: Vec<NotebookCellRef> = state.notebooks.get(notebook)?.cells.clone();
    let analysed: Vec<(usize, &NotebookCellRef)> = refs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.code && is_python(&c.language))
        .collect();
    let versions: Vec<(Uri, i32)> = analysed
        .iter()
        .filter_map(|(_, c)| {
            let version = state.documents.get(&c.uri)?.doc.version();
            Some((c.uri.clone(), version))
        })
        .collect();
    let key: NotebookKey = (generation, versions);
    if let Some(entry) = state.notebooks.get(notebook)
        && let Some((cached_key, findings)) = &entry.findings
        && *cached_key == key
    {
        return Some(findings.clone());
    }
    let cells: Vec<AnalysedCell> = analysed
        .iter()
        .filter_map(|(position, c)| {
            let entry = state.documents.get(&c.uri)?;
            Some(AnalysedCell {
                uri: c.uri.clone(),
                version: entry.doc.version(),
                text: entry.doc.text().to_string(),
                position: *position,
            })
        })
        .collect();
    // A cell changed while copying: use what was copied, under the key it matches.
    let key: NotebookKey = (
        generation,
        cells.iter().map(|c| (c.uri.clone(), c.version)).collect(),
    );
    let program = VirtualProgram::build(cells.iter().map(|c| (c.position, c.text.as_str())));
    let findings = analyze_program(&program, &state.settings());
    let result = Arc::new(NotebookFindings { cells, findings });
    if let Some(mut entry) = state.notebooks.get_mut(notebook) {
        entry.findings = Some((key, result.clone()));
    }
    Some(result)
}

/// The analysed cell with this URI: its index in `found.cells`.
fn analysed_index(found: &NotebookFindings, cell: &Uri) -> Option<usize> {
    found.cells.iter().position(|c| c.uri == *cell)
}

/// The index in `found.cells` of the cell at a notebook position.
fn index_of_position(found: &NotebookFindings, position: usize) -> Option<usize> {
    found.cells.iter().position(|c| c.position == position)
}

/// Findings of one cell (ranges relative to the cell), for hover and the like.
pub fn cell_findings(
    state: &State,
    notebook: &Uri,
    cell: &Uri,
) -> Option<(Arc<Vec<Finding>>, i32)> {
    let found = notebook_findings(state, notebook)?;
    let Some(index) = analysed_index(&found, cell) else {
        // A markup or non-Python cell: nothing to report.
        let version = state.documents.get(cell)?.doc.version();
        return Some((Arc::new(Vec::new()), version));
    };
    let position = found.cells[index].position;
    let findings = found
        .findings
        .iter()
        .filter(|f| f.cell == position)
        .map(|f| f.finding.clone())
        .collect();
    Some((Arc::new(findings), found.cells[index].version))
}

/// Diagnostics of one cell and the cell version they describe.
pub fn cell_diagnostics(
    state: &State,
    notebook: &Uri,
    cell: &Uri,
) -> Option<(Vec<Diagnostic>, i32)> {
    let found = notebook_findings(state, notebook)?;
    let Some(index) = analysed_index(&found, cell) else {
        let version = state.documents.get(cell)?.doc.version();
        return Some((Vec::new(), version));
    };
    let mut indexes = HashMap::new();
    let diagnostics = diagnostics_of(state, notebook, &found, index, &mut indexes);
    Some((diagnostics, found.cells[index].version))
}

/// Every analysed cell's diagnostics: (cell uri, cell version, diagnostics).
fn notebook_diagnostics(state: &State, notebook: &Uri) -> Option<Vec<(Uri, i32, Vec<Diagnostic>)>> {
    let found = notebook_findings(state, notebook)?;
    let mut indexes = HashMap::new();
    Some(
        (0..found.cells.len())
            .map(|i| {
                let diagnostics = diagnostics_of(state, notebook, &found, i, &mut indexes);
                (
                    found.cells[i].uri.clone(),
                    found.cells[i].version,
                    diagnostics,
                )
            })
            .collect(),
    )
}

/// Where a notebook fix's edits go: the edits per cell document, at the versions they apply to.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NotebookFixData {
    notebook: Uri,
    changes: Vec<CellChanges>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CellChanges {
    uri: Uri,
    version: i32,
    edits: Vec<TextEdit>,
}

/// Diagnostics of the analysed cell `index`; `indexes` caches line indexes by analysed index.
fn diagnostics_of(
    state: &State,
    notebook: &Uri,
    found: &NotebookFindings,
    index: usize,
    indexes: &mut HashMap<usize, LineIndex>,
) -> Vec<Diagnostic> {
    let encoding = state.encoding();
    let position = found.cells[index].position;
    let own: Vec<_> = found
        .findings
        .iter()
        .filter(|f| f.cell == position)
        .collect();
    let touched = own
        .iter()
        .flat_map(|f| f.fix.iter().flat_map(|fix| fix.edits.iter()))
        .filter_map(|e| index_of_position(found, e.cell));
    for i in std::iter::once(index).chain(touched) {
        indexes
            .entry(i)
            .or_insert_with(|| LineIndex::new(&found.cells[i].text));
    }
    let mapper = |i: usize| PositionMapper {
        text: &found.cells[i].text,
        index: &indexes[&i],
        encoding,
    };
    let version = found.cells[index].version;
    own.iter()
        .map(|f| {
            let mut diagnostic = convert::diagnostic(&f.finding, &mapper(index));
            let fix_data = f.finding.fix.as_ref().map(|fix| convert::FixData {
                title: fix.title.clone(),
                safety: fix.safety,
            });
            diagnostic.data = serde_json::to_value(convert::DiagnosticData {
                fix: fix_data,
                version,
            })
            .ok();
            let Some(fix) = &f.fix else {
                return diagnostic;
            };
            let mut changes: Vec<CellChanges> = Vec::new();
            for edit in &fix.edits {
                let Some(i) = index_of_position(found, edit.cell) else {
                    continue;
                };
                let cell = &found.cells[i];
                let text_edit = TextEdit {
                    range: mapper(i).range(edit.edit.range.clone()),
                    new_text: edit.edit.content.clone(),
                };
                match changes.iter_mut().find(|c| c.uri == cell.uri) {
                    Some(c) => c.edits.push(text_edit),
                    None => changes.push(CellChanges {
                        uri: cell.uri.clone(),
                        version: cell.version,
                        edits: vec![text_edit],
                    }),
                }
            }
            let data = NotebookFixData {
                notebook: notebook.clone(),
                changes,
            };
            if let Some(serde_json::Value::Object(map)) = diagnostic.data.as_mut()
                && let Ok(value) = serde_json::to_value(data)
            {
                map.insert("notebook".to_string(), value);
            }
            diagnostic
        })
        .collect()
}

/// Publishes after the debounce delay unless the notebook changed meanwhile; in pull mode,
/// asks the client to re-pull (a change in one cell can change another cell's findings).
pub fn schedule(backend: &Backend, notebook: Uri, version: i32) {
    let state = backend.state.clone();
    let client = backend.client.clone();
    let out = backend.out.clone();
    if state.pull_diagnostics.load(Ordering::SeqCst) {
        if state.refresh_support.load(Ordering::SeqCst) {
            tokio::spawn(async move {
                let _ = client.workspace_diagnostic_refresh().await;
            });
        }
        return;
    }
    let delay = state.settings().debounce_ms;
    tokio::spawn(async move {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let current = state.notebooks.get(&notebook).map(|n| n.version);
        if current != Some(version) {
            return; // A newer change will publish.
        }
        publish(&state, &out, &notebook, Some(version)).await;
    });
}

/// Publishes (push mode) each cell whose version or diagnostics changed since the last
/// publication, and clears cells that are no longer analysed; nothing when the notebook is no
/// longer at `version` (a newer change publishes).
pub async fn publish(state: &Arc<State>, out: &Outgoing, notebook: &Uri, version: Option<i32>) {
    if state.pull_diagnostics.load(Ordering::SeqCst) {
        return;
    }
    // Analysing the notebook is blocking work: the blocking pool, not an async worker.
    let (shared, uri) = (state.clone(), notebook.clone());
    let all = tokio::task::spawn_blocking(move || notebook_diagnostics(&shared, &uri))
        .await
        .ok()
        .flatten();
    let Some(all) = all else {
        return;
    };
    let mut send: Vec<(Uri, Vec<Diagnostic>, Option<i32>)> = Vec::new();
    {
        let Some(mut entry) = state.notebooks.get_mut(notebook) else {
            return;
        };
        if version.is_some_and(|v| v != entry.version) {
            return;
        }
        let gone: Vec<Uri> = entry
            .published
            .keys()
            .filter(|u| !all.iter().any(|(c, _, _)| c == *u))
            .cloned()
            .collect();
        for uri in gone {
            entry.published.remove(&uri);
            send.push((uri, Vec::new(), None));
        }
        for (uri, version, diagnostics) in all {
            let unchanged = entry
                .published
                .get(&uri)
                .is_some_and(|(v, d)| *v == version && *d == diagnostics);
            if !unchanged {
                entry
                    .published
                    .insert(uri.clone(), (version, diagnostics.clone()));
                send.push((uri, diagnostics, Some(version)));
            }
        }
    }
    for (uri, diagnostics, version) in send {
        out.publish_diagnostics(uri, diagnostics, version);
    }
}

// ---------------------------------------------------------------------------------------------
// Code actions
// ---------------------------------------------------------------------------------------------

/// Code actions on a notebook cell: quick fixes whose edits may touch other cells (an added
/// import goes to the imports cell), "Disable for this line", fix-all for the cell
/// (`source.fixAll.keras-lsp`) and for the whole notebook (`notebook.source.fixAll.keras-lsp`).
pub fn code_action(
    state: &State,
    params: CodeActionParams,
    notebook: &Uri,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri;
    let encoding = state.encoding();
    let only = params.context.only.clone();
    let wants = |kind: &str| {
        only.as_ref()
            .is_none_or(|o| o.iter().any(|k| kind.starts_with(k.as_str())))
    };
    let Some(doc) = state.documents.get(&uri).map(|d| d.doc.clone()) else {
        return Ok(None);
    };
    let mapper = PositionMapper {
        text: doc.text(),
        index: doc.line_index(),
        encoding,
    };
    let mut actions = Vec::new();
    if wants(CodeActionKind::QUICKFIX.as_str()) {
        for diagnostic in &params.context.diagnostics {
            if diagnostic.source.as_deref() != Some("keras-lsp") {
                continue;
            }
            let Some(NumberOrString::String(code)) = &diagnostic.code else {
                continue;
            };
            if let Some((fix, _)) = fix_from_data(diagnostic.data.as_ref())
                && let Some(changes) = current_changes(state, notebook, diagnostic)
            {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("Fix {code}: {}", fix.title),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(changes),
                        ..Default::default()
                    }),
                    is_preferred: Some(fix.safety == FixSafety::Safe),
                    ..Default::default()
                }));
            }
            if let Some(edit) = noqa_edit(&doc, &mapper, diagnostic.range.start, code) {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("Disable {code} for this line"),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }));
            }
        }
    }
    let requested = |kind: &str, family: &str| {
        only.as_ref().is_some_and(|o| {
            o.iter().any(|k| {
                kind.starts_with(k.as_str())
                    && k.as_str().starts_with(family)
                    && k.as_str() != CodeActionKind::QUICKFIX.as_str()
            })
        })
    };
    let has_safe_fix =
        params.context.diagnostics.iter().any(|d| {
            fix_from_data(d.data.as_ref()).is_some_and(|(f, _)| f.safety == FixSafety::Safe)
        });
    let cell_fix_all = requested(FIX_ALL_KIND, "source");
    if cell_fix_all || (only.is_none() && has_safe_fix) {
        let changes = fix_all_changes(state, notebook, Some(&uri));
        if cell_fix_all || !changes.is_empty() {
            actions.push(fix_all_action(
                "Fix all safe keras-lsp findings",
                FIX_ALL_KIND,
                changes,
            ));
        }
    }
    if requested(NOTEBOOK_FIX_ALL_KIND, "notebook") {
        let changes = fix_all_changes(state, notebook, None);
        actions.push(fix_all_action(
            "Fix all safe keras-lsp findings in the notebook",
            NOTEBOOK_FIX_ALL_KIND,
            changes,
        ));
    }
    Ok(Some(actions))
}

fn fix_all_action(
    title: &str,
    kind: &'static str,
    changes: HashMap<Uri, Vec<TextEdit>>,
) -> CodeActionOrCommand {
    CodeActionOrCommand::CodeAction(CodeAction {
        title: title.to_string(),
        kind: Some(CodeActionKind::new(kind)),
        edit: Some(WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The quick fix's edits per cell, when every cell it edits is still at the version the
/// diagnostic was computed for.
fn current_changes(
    state: &State,
    notebook: &Uri,
    diagnostic: &Diagnostic,
) -> Option<HashMap<Uri, Vec<TextEdit>>> {
    let data = diagnostic.data.as_ref()?.get("notebook")?.clone();
    let data: NotebookFixData = serde_json::from_value(data).ok()?;
    if data.notebook != *notebook {
        return None;
    }
    let mut changes = HashMap::new();
    for cell in data.changes {
        let version = state.documents.get(&cell.uri)?.doc.version();
        if version != cell.version {
            return None;
        }
        changes.insert(cell.uri, cell.edits);
    }
    Some(changes)
}

/// One minimal edit per cell that applying every safe fix changes; `cell` restricts the fixes
/// to findings in that cell (their edits may still add an import to the imports cell).
fn fix_all_changes(
    state: &State,
    notebook: &Uri,
    cell: Option<&Uri>,
) -> HashMap<Uri, Vec<TextEdit>> {
    let mut changes = HashMap::new();
    let Some(found) = notebook_findings(state, notebook) else {
        return changes;
    };
    let only = match cell {
        Some(cell) => match analysed_index(&found, cell) {
            Some(i) => Some(found.cells[i].position),
            None => return changes,
        },
        None => None,
    };
    let sources: Vec<(usize, String)> = found
        .cells
        .iter()
        .map(|c| (c.position, c.text.clone()))
        .collect();
    let (fixed, _) = fix_cells(&sources, &state.settings(), false, only);
    let encoding = state.encoding();
    for (cell, new) in found.cells.iter().zip(fixed) {
        let index = LineIndex::new(&cell.text);
        let mapper = PositionMapper {
            text: &cell.text,
            index: &index,
            encoding,
        };
        if let Some(edit) = minimal_edit(&cell.text, &new, &mapper) {
            changes.insert(cell.uri.clone(), vec![edit]);
        }
    }
    changes
}
