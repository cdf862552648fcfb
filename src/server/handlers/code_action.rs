//! Code actions: a quick fix per finding (the finding `Diagnostic.data` names), "Disable for this
//! line" (`# noqa: CODE`), and `source.fixAll.keras-lsp` (every safe fix).

use crate::syntax::NodeExt;
use std::collections::HashMap;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::lifecycle::FIX_ALL_KIND;
use crate::analysis::suppression::{Directive, parse_directive};
use crate::document::Document;
use crate::finding::FixSafety;
use crate::fix::fix_source;
use crate::server::convert::{FindingRef, PositionMapper, minimal_edit, text_edits};
use crate::server::{Backend, State};

/// Runs on the blocking pool: fix-all analyses the document (repeatedly, to a fixed point).
pub async fn code_action(
    backend: &Backend,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let state = backend.state.clone();
    if let Some(notebook) = state.notebook_of(&params.text_document.uri) {
        return tokio::task::spawn_blocking(move || {
            super::notebook::code_action(&state, params, &notebook)
        })
        .await
        .unwrap_or(Ok(None));
    }
    tokio::task::spawn_blocking(move || code_action_blocking(&state, params))
        .await
        .unwrap_or(Ok(None))
}

fn code_action_blocking(
    state: &State,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri;
    let encoding = state.encoding();
    let only = params.context.only.clone();
    let wants = |kind: &str| {
        only.as_ref()
            .is_none_or(|o| o.iter().any(|k| kind.starts_with(k.as_str())))
    };
    // Copy what we need, then release the map guard before any further work.
    let Some(doc) = state.documents.get(&uri).map(|d| d.doc.clone()) else {
        return Ok(None);
    };
    let mapper = PositionMapper {
        text: doc.text(),
        index: doc.line_index(),
        encoding,
    };
    // The findings the diagnostics' fixes refer to: the current version's (cached after the
    // publish that sent them; analysed again only if the document's state was dropped).
    let findings = state
        .findings(&uri)
        .filter(|(_, version)| *version == doc.version())
        .map(|(findings, _)| findings)
        .unwrap_or_default();
    let fix_of = |diagnostic: &Diagnostic, code: &str| {
        let at = FindingRef::from_data(diagnostic.data.as_ref())?;
        let finding = findings.get(at.finding)?;
        (at.version == doc.version() && finding.code == code)
            .then_some(finding.fix.as_ref())
            .flatten()
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
            if let Some(fix) = fix_of(diagnostic, code) {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("Fix {code}: {}", fix.title),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    edit: Some(workspace_edit(&uri, text_edits(fix, &mapper))),
                    is_preferred: Some(fix.safety == FixSafety::Safe),
                    ..Default::default()
                }));
            }
            if let Some(edit) = noqa_edit(&doc, &mapper, diagnostic.range.start, code) {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("Disable {code} for this line"),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    edit: Some(workspace_edit(&uri, vec![edit])),
                    ..Default::default()
                }));
            }
        }
    }
    let explicit_fix_all = only.as_ref().is_some_and(|o| {
        o.iter().any(|k| {
            FIX_ALL_KIND.starts_with(k.as_str()) && k.as_str() != CodeActionKind::QUICKFIX.as_str()
        })
    });
    let has_safe_fix = params.context.diagnostics.iter().any(|d| match &d.code {
        Some(NumberOrString::String(code)) => {
            fix_of(d, code).is_some_and(|f| f.safety == FixSafety::Safe)
        }
        _ => false,
    });
    if explicit_fix_all || (only.is_none() && has_safe_fix) {
        let edit = fix_all_edit(state, &doc, &mapper);
        if explicit_fix_all || edit.is_some() {
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: "Fix all safe keras-lsp findings".to_string(),
                kind: Some(CodeActionKind::new(FIX_ALL_KIND)),
                edit: Some(workspace_edit(&uri, edit.into_iter().collect())),
                ..Default::default()
            }));
        }
    }
    Ok(Some(actions))
}

/// The edit that applies every safe fix to the document (None when nothing changes).
pub fn fix_all_edit(state: &State, doc: &Document, mapper: &PositionMapper) -> Option<TextEdit> {
    let settings = state.settings();
    let outcome = fix_source(doc.text(), &settings, false);
    minimal_edit(doc.text(), &outcome.text, mapper)
}

pub fn workspace_edit(uri: &Uri, edits: Vec<TextEdit>) -> WorkspaceEdit {
    WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        ..Default::default()
    }
}

/// Adds `# noqa: CODE` to the finding's line, or the code to an existing `# noqa: ...`.
pub(super) fn noqa_edit(
    doc: &Document,
    mapper: &PositionMapper,
    at: Position,
    code: &str,
) -> Option<TextEdit> {
    let text = doc.text();
    let index = doc.line_index();
    let line = at.line as usize;
    if line >= index.line_count() {
        return None;
    }
    let start = index.line_start(line);
    let end = index.line_end(text, line);
    let line_text = &text[start..end];
    let forest = doc.forest();
    // An existing suppression comment on the line.
    if let Some(hash) = line_text.rfind('#') {
        let comment = forest.descendant_for_byte_range(start + hash, start + hash + 1);
        if let Some(comment) = comment.filter(|c| c.kind_name() == "comment") {
            let comment_text = &text[comment.byte_range()];
            match parse_directive(comment_text) {
                Some(Directive::All) => return None,
                Some(Directive::Codes(codes)) => {
                    if codes.iter().any(|c| code.starts_with(c.as_str())) {
                        return None;
                    }
                    let lower = comment_text.to_ascii_lowercase();
                    if let Some(pos) = lower.find("noqa:") {
                        let after = &comment_text[pos + 5..];
                        let list_len = after
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == ',' || c == ' '))
                            .unwrap_or(after.len());
                        let list_end =
                            comment.start_byte() + pos + 5 + after[..list_len].trim_end().len();
                        return Some(TextEdit {
                            range: mapper.range(list_end..list_end),
                            new_text: format!(", {code}"),
                        });
                    }
                }
                None => {}
            }
        }
    }
    // Do not append a comment inside a multi-line string.
    let last = forest.descendant_for_byte_range(end.saturating_sub(1), end)?;
    if matches!(last.kind_name(), "string_content" | "string") && last.end_byte() > end {
        return None;
    }
    Some(TextEdit {
        range: mapper.range(end..end),
        new_text: format!("  # noqa: {code}"),
    })
}
