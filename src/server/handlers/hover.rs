//! Hover: the rule's docs on a finding, or on a `KRSnnn` code inside a `# noqa` comment.

use crate::syntax::NodeExt;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::rules;
use crate::server::Backend;
use crate::server::convert::PositionMapper;

pub async fn hover(backend: &Backend, params: HoverParams) -> Result<Option<Hover>> {
    let uri = params.text_document_position_params.text_document.uri;
    let position = params.text_document_position_params.position;
    let encoding = backend.state.encoding();
    let mut codes: Vec<&'static str> = Vec::new();
    let mut range = None;
    {
        let Some(entry) = backend.state.documents.get(&uri) else {
            return Ok(None);
        };
        let doc = &entry.doc;
        let mapper = PositionMapper {
            text: doc.text(),
            index: doc.line_index(),
            encoding,
        };
        let offset = mapper.offset(position);
        if let Some((code, span)) = code_in_comment(doc, offset) {
            codes.push(code);
            range = Some(mapper.range(span));
        }
    }
    if codes.is_empty() {
        let Some((findings, _)) = super::diagnostics::findings(&backend.state, &uri).await else {
            return Ok(None);
        };
        let Some(entry) = backend.state.documents.get(&uri) else {
            return Ok(None);
        };
        let doc = &entry.doc;
        let mapper = PositionMapper {
            text: doc.text(),
            index: doc.line_index(),
            encoding,
        };
        let offset = mapper.offset(position);
        for finding in findings
            .iter()
            .filter(|f| f.range.start <= offset && offset <= f.range.end)
        {
            if !codes.contains(&finding.code) {
                codes.push(finding.code);
            }
            range.get_or_insert_with(|| mapper.range(finding.range.clone()));
        }
    }
    if codes.is_empty() {
        return Ok(None);
    }
    let value = codes
        .iter()
        .filter_map(|c| rules::lookup(c))
        .map(|rule| {
            format!(
                "**{} {}**\n\n{}\n\n[Rule reference]({})",
                rule.code,
                rule.name,
                body(rule.doc()),
                rule.url()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n---\n\n");
    Ok(Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range,
    }))
}

/// The docs without their first (summary) line, which the hover title already shows.
fn body(doc: &str) -> &str {
    doc.split_once('\n')
        .map_or(doc, |(_, rest)| rest.trim_start())
}

/// A `KRSnnn` token under the cursor inside a comment.
fn code_in_comment(
    doc: &crate::document::Document,
    offset: usize,
) -> Option<(&'static str, std::ops::Range<usize>)> {
    let text = doc.text();
    let forest = doc.forest();
    let node = forest.descendant_for_byte_range(offset, offset)?;
    if node.kind_name() != "comment" {
        return None;
    }
    let comment = &text[node.byte_range()];
    let rel = offset - node.start_byte();
    let bytes = comment.as_bytes();
    let mut start = rel.min(bytes.len());
    while start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
        start -= 1;
    }
    let mut end = rel.min(bytes.len());
    while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        end += 1;
    }
    let token = &comment[start..end];
    let rule = rules::lookup(token)?;
    Some((
        rule.code,
        node.start_byte() + start..node.start_byte() + end,
    ))
}
