//! Conversions at the LSP edge: byte ranges <-> LSP ranges, findings -> diagnostics, fixes -> edits.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::ls_types::{
    CodeDescription, Diagnostic, DiagnosticSeverity, NumberOrString, Position, Range, TextEdit, Uri,
};

use crate::finding::{Finding, Fix, FixSafety, Severity};
use crate::line_index::{Encoding, LineIndex};
use crate::rules;

/// Converts byte offsets of `text` to LSP positions in the negotiated encoding.
pub struct PositionMapper<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
    pub encoding: Encoding,
}

impl PositionMapper<'_> {
    pub fn position(&self, offset: usize) -> Position {
        let (line, character) = self.index.position(self.text, offset, self.encoding);
        Position { line, character }
    }

    pub fn range(&self, range: std::ops::Range<usize>) -> Range {
        Range {
            start: self.position(range.start),
            end: self.position(range.end),
        }
    }

    pub fn offset(&self, position: Position) -> usize {
        self.index
            .offset(self.text, position.line, position.character, self.encoding)
    }
}

/// `Diagnostic.data` of a plain document's diagnostic that has a fix: which finding of which
/// version it is. The code action looks the fix up in that version's findings (the server keeps
/// them), so each publish carries two numbers per fix rather than the fix's edits, which were a
/// third of every keystroke's `publishDiagnostics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    pub version: i32,
    pub finding: usize,
}

impl FindingRef {
    pub fn to_data(self) -> Value {
        serde_json::json!({"version": self.version, "finding": self.finding})
    }

    pub fn from_data(data: Option<&Value>) -> Option<FindingRef> {
        FindingRef::deserialize(data?).ok()
    }
}

/// What a notebook cell's `Diagnostic.data` says of its fix (the edits, which may touch other
/// cells, are carried beside it under `notebook`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixData {
    pub title: String,
    pub safety: FixSafety,
}

/// A notebook cell's `Diagnostic.data` payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagnosticData {
    pub fix: Option<FixData>,
    /// Cell version the fix applies to.
    pub version: i32,
}

pub fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

/// The diagnostic of a finding, without `data` (the caller says how its fix is found again).
pub fn diagnostic(finding: &Finding, mapper: &PositionMapper) -> Diagnostic {
    let href = rule_href(finding.code).map(|href| CodeDescription { href });
    Diagnostic {
        range: mapper.range(finding.range.clone()),
        severity: Some(severity(finding.severity)),
        code: Some(NumberOrString::String(finding.code.to_string())),
        code_description: href,
        source: Some("keras-lsp".to_string()),
        message: finding.message.clone(),
        related_information: None,
        tags: None,
        data: None,
    }
}

/// The LSP edits of a fix.
pub fn text_edits(fix: &Fix, mapper: &PositionMapper) -> Vec<TextEdit> {
    fix.edits
        .iter()
        .map(|e| TextEdit {
            range: mapper.range(e.range.clone()),
            new_text: e.content.clone(),
        })
        .collect()
}

/// The documentation link of a rule, parsed once per process (every diagnostic carries one,
/// and every keystroke converts them all again).
fn rule_href(code: &str) -> Option<Uri> {
    static HREFS: std::sync::LazyLock<Vec<(&'static str, Option<Uri>)>> =
        std::sync::LazyLock::new(|| {
            rules::ALL
                .iter()
                .map(|rule| (rule.code, rule.url().parse::<Uri>().ok()))
                .collect()
        });
    HREFS
        .iter()
        .find(|(known, _)| *known == code)
        .and_then(|(_, href)| href.clone())
}

/// Reads a notebook cell's fix title and safety back out of a diagnostic sent by the client.
pub fn fix_from_data(data: Option<&Value>) -> Option<(FixData, i32)> {
    let data = DiagnosticData::deserialize(data?).ok()?;
    Some((data.fix?, data.version))
}

/// The minimal single edit turning `old` into `new` (common prefix and suffix kept).
pub fn minimal_edit(old: &str, new: &str, mapper: &PositionMapper) -> Option<TextEdit> {
    if old == new {
        return None;
    }
    let prefix = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((i, _), _)| i);
    let max_suffix = (old.len() - prefix).min(new.len() - prefix);
    let suffix = old[prefix..]
        .chars()
        .rev()
        .zip(new[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum::<usize>()
        .min(max_suffix);
    let suffix = {
        // Keep the suffix on a char boundary of both strings.
        let mut s = suffix;
        while s > 0
            && (!old.is_char_boundary(old.len() - s) || !new.is_char_boundary(new.len() - s))
        {
            s -= 1;
        }
        s
    };
    Some(TextEdit {
        range: mapper.range(prefix..old.len() - suffix),
        new_text: new[prefix..new.len() - suffix].to_string(),
    })
}
