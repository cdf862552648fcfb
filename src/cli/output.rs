//! Output formats for `check`: text, JSON (ruff's shape), SARIF 2.1.0, GitHub workflow annotations.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::finding::{Finding, FixSafety, Severity};
use crate::line_index::{Encoding, LineIndex};
use crate::notebook::{CellFinding, Notebook};
use crate::rules;

/// A 1-based row and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub row: usize,
    pub column: usize,
}

/// A finding placed in a file (and, for notebooks, a cell), ready to print.
#[derive(Debug, Clone)]
pub struct Reported {
    pub filename: String,
    /// 1-based cell number for notebooks.
    pub cell: Option<usize>,
    pub location: Location,
    pub end_location: Location,
    pub finding: Finding,
    /// The fix's edits with their locations, for JSON.
    pub edits: Vec<ReportedEdit>,
}

/// One edit of a finding's fix, placed like the finding.
#[derive(Debug, Clone)]
pub struct ReportedEdit {
    pub location: Location,
    pub end_location: Location,
    pub content: String,
    /// 1-based cell number for notebooks (a fix may add an import to another cell).
    pub cell: Option<usize>,
}

/// Maps a byte offset of `text` to a 1-based location.
pub fn location(text: &str, index: &LineIndex, offset: usize) -> Location {
    let (line, col) = index.position(text, offset, Encoding::Utf32);
    Location {
        row: line as usize + 1,
        column: col as usize + 1,
    }
}

/// Places findings of one plain source file.
pub fn place(filename: &str, text: &str, findings: Vec<Finding>) -> Vec<Reported> {
    let index = LineIndex::new(text);
    findings
        .into_iter()
        .map(|finding| {
            let edits = finding
                .fix
                .as_ref()
                .map(|fix| {
                    fix.edits
                        .iter()
                        .map(|e| ReportedEdit {
                            location: location(text, &index, e.range.start),
                            end_location: location(text, &index, e.range.end),
                            content: e.content.clone(),
                            cell: None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            Reported {
                filename: filename.to_string(),
                cell: None,
                location: location(text, &index, finding.range.start),
                end_location: location(text, &index, finding.range.end),
                finding,
                edits,
            }
        })
        .collect()
}

/// Places findings of a notebook: rows and columns count inside each finding's cell.
pub fn place_notebook(
    filename: &str,
    notebook: &Notebook,
    findings: Vec<CellFinding>,
) -> Vec<Reported> {
    let mut indexes: HashMap<usize, LineIndex> = HashMap::new();
    let mut locate = |cell: usize, offset: usize| {
        let text = notebook.cells.get(cell).map_or("", |c| c.source.as_str());
        let index = indexes.entry(cell).or_insert_with(|| LineIndex::new(text));
        location(text, index, offset)
    };
    findings
        .into_iter()
        .map(|cf| {
            let edits = cf
                .fix
                .iter()
                .flat_map(|fix| &fix.edits)
                .map(|e| ReportedEdit {
                    location: locate(e.cell, e.edit.range.start),
                    end_location: locate(e.cell, e.edit.range.end),
                    content: e.edit.content.clone(),
                    cell: Some(e.cell + 1),
                })
                .collect();
            Reported {
                filename: filename.to_string(),
                cell: Some(cf.cell + 1),
                location: locate(cf.cell, cf.finding.range.start),
                end_location: locate(cf.cell, cf.finding.range.end),
                finding: cf.finding,
                edits,
            }
        })
        .collect()
}

fn prefix(r: &Reported) -> String {
    match r.cell {
        Some(cell) => format!(
            "{}:cell {cell}:{}:{}",
            r.filename, r.location.row, r.location.column
        ),
        None => format!("{}:{}:{}", r.filename, r.location.row, r.location.column),
    }
}

pub fn text(reported: &[Reported]) -> String {
    let mut out = String::new();
    let (mut safe, mut unsafe_) = (0, 0);
    for r in reported {
        let marker = match r.finding.fix.as_ref().map(|f| f.safety) {
            Some(FixSafety::Safe) => {
                safe += 1;
                " [*]"
            }
            Some(FixSafety::Unsafe) => {
                unsafe_ += 1;
                ""
            }
            None => "",
        };
        let _ = writeln!(
            out,
            "{}: {} [{}] {}{marker}",
            prefix(r),
            r.finding.code,
            r.finding.severity.as_str(),
            r.finding.message
        );
    }
    let n = reported.len();
    if n == 0 {
        out.push_str("All checks passed!\n");
    } else {
        let _ = write!(out, "Found {n} finding{}.", if n == 1 { "" } else { "s" });
        if safe > 0 {
            let _ = write!(out, " [*] {safe} fixable with `keras-lsp fix`.");
        }
        if unsafe_ > 0 {
            let _ = write!(out, " {unsafe_} more with `keras-lsp fix --unsafe-fixes`.");
        }
        out.push('\n');
    }
    out
}

pub fn statistics(reported: &[Reported]) -> String {
    let mut counts: BTreeMap<&str, (usize, &str, bool)> = BTreeMap::new();
    for r in reported {
        let entry = counts
            .entry(r.finding.code)
            .or_insert((0, r.finding.name, false));
        entry.0 += 1;
        entry.2 |= r
            .finding
            .fix
            .as_ref()
            .is_some_and(|f| f.safety == FixSafety::Safe);
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let mut out = String::new();
    for (code, (count, name, fixable)) in rows {
        let _ = writeln!(
            out,
            "{count:>5}\t{code}\t{}{name}",
            if fixable { "[*] " } else { "" }
        );
    }
    out
}

fn location_json(l: Location) -> Value {
    json!({"row": l.row, "column": l.column})
}

pub fn json(reported: &[Reported]) -> String {
    let items: Vec<Value> = reported
        .iter()
        .map(|r| {
            let fix = r.finding.fix.as_ref().map(|fix| {
                json!({
                    "applicability": fix.safety,
                    "message": fix.title,
                    "edits": r.edits.iter().map(|e| {
                        let mut edit = json!({
                            "content": e.content,
                            "location": location_json(e.location),
                            "end_location": location_json(e.end_location),
                        });
                        if let Some(cell) = e.cell {
                            edit["cell"] = json!(cell);
                        }
                        edit
                    }).collect::<Vec<_>>(),
                })
            });
            let mut obj = json!({
                "code": r.finding.code,
                "name": r.finding.name,
                "message": r.finding.message,
                "filename": r.filename,
                "location": location_json(r.location),
                "end_location": location_json(r.end_location),
                "fix": fix,
                "severity": r.finding.severity,
                "url": rules::lookup(r.finding.code).map(|rule| rule.url()),
            });
            if let Some(cell) = r.cell {
                obj["cell"] = json!(cell);
            }
            obj
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Hint => "note",
    }
}

pub fn sarif(reported: &[Reported]) -> String {
    let rules_json: Vec<Value> = rules::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary()},
                "fullDescription": {"text": rule.doc()},
                "helpUri": rule.url(),
                "defaultConfiguration": {"level": sarif_level(rule.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = reported
        .iter()
        .map(|r| {
            let rule_index = rules::ALL.iter().position(|x| x.code == r.finding.code);
            let mut result = json!({
                "ruleId": r.finding.code,
                "level": sarif_level(r.finding.severity),
                "message": {"text": r.finding.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": r.filename.replace('\\', "/")},
                        "region": {
                            "startLine": r.location.row,
                            "startColumn": r.location.column,
                            "endLine": r.end_location.row,
                            "endColumn": r.end_location.column,
                        }
                    }
                }],
            });
            if let Some(i) = rule_index {
                result["ruleIndex"] = json!(i);
            }
            if let Some(cell) = r.cell {
                result["properties"] = json!({"cell": cell});
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keras-lsp",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": rules::DOCS_URL,
                "rules": rules_json,
            }},
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// Escapes a GitHub workflow command value (`%`, CR, LF; plus `:` and `,` in properties).
fn gh_escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

pub fn github(reported: &[Reported]) -> String {
    let mut out = String::new();
    for r in reported {
        let level = match r.finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info | Severity::Hint => "notice",
        };
        let title = match r.cell {
            Some(cell) => format!("{} {} (cell {cell})", r.finding.code, r.finding.name),
            None => format!("{} {}", r.finding.code, r.finding.name),
        };
        let _ = writeln!(
            out,
            "::{level} title={},file={},line={},col={},endLine={},endColumn={}::{}",
            gh_escape(&title, true),
            gh_escape(&r.filename, true),
            r.location.row,
            r.location.column,
            r.end_location.row,
            r.end_location.column,
            gh_escape(&format!("{}: {}", r.finding.code, r.finding.message), false)
        );
    }
    out
}
