//! Corpus test: runs every rule over the hand-written training scripts in `tests/corpus/` and
//! compares the findings with the SHOULD/MAY lists in `tests/corpus/EXPECTED.md` (no crash, no
//! noisy finding, no missing finding), and keeps the per-rule counts the README quotes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keras_lsp::analysis::analyze;
use keras_lsp::document::parse;
use keras_lsp::line_index::LineIndex;
use keras_lsp::rules::ALL;
use keras_lsp::settings::Settings;

/// `KRS101:31,32` entries of one segment of an EXPECTED.md bullet.
fn entries(segment: &str) -> BTreeSet<(String, usize)> {
    let mut out = BTreeSet::new();
    let bytes = segment.as_bytes();
    let mut i = 0;
    while let Some(pos) = segment[i..].find("KRS") {
        let start = i + pos;
        let code = &segment[start..(start + 6).min(segment.len())];
        i = start + 3;
        if code.len() != 6
            || !code[3..].chars().all(|c| c.is_ascii_digit())
            || bytes.get(start + 6) != Some(&b':')
        {
            continue;
        }
        let rest = &segment[start + 7..];
        let list: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect();
        for line in list.split(',').filter(|s| !s.is_empty()) {
            out.insert((code.to_string(), line.parse().unwrap()));
        }
    }
    out
}

type Expectations = BTreeMap<String, (BTreeSet<(String, usize)>, BTreeSet<(String, usize)>)>;

fn expectations(text: &str) -> Expectations {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- **") else {
            continue;
        };
        let Some((file, body)) = rest.split_once("**") else {
            continue;
        };
        let segment = |label: &str| -> String {
            let Some(start) = body.find(label) else {
                return String::new();
            };
            let after = &body[start + label.len()..];
            let end = ["SHOULD:", "MUST NOT:", "MAY:"]
                .iter()
                .filter_map(|l| after.find(l))
                .min()
                .unwrap_or(after.len());
            after[..end].to_string()
        };
        out.insert(
            file.to_string(),
            (entries(&segment("SHOULD:")), entries(&segment("MAY:"))),
        );
    }
    out
}

#[test]
fn corpus_findings_match_expected_md() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = expectations(&std::fs::read_to_string(dir.join("EXPECTED.md")).unwrap());
    let known: BTreeSet<&str> = ALL.iter().map(|r| r.code).collect();
    let settings = Settings::default();
    let mut problems = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("py") {
            continue;
        }
        files += 1;
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let tree = parse(&source);
        let findings = analyze(&source, &tree, &settings);
        let index = LineIndex::new(&source);
        let found: BTreeSet<(String, usize)> = findings
            .iter()
            .map(|f| (f.code.to_string(), index.line_of(f.range.start) + 1))
            .collect();
        for f in &findings {
            *counts.entry(f.code).or_default() += 1;
        }
        let Some((should, may)) = expected.get(&name) else {
            problems.push(format!("{name}: no entry in EXPECTED.md"));
            continue;
        };
        // Only rules that exist are checked, so the corpus can describe rules still being written.
        let should: BTreeSet<_> = should
            .iter()
            .filter(|(c, _)| known.contains(c.as_str()))
            .cloned()
            .collect();
        let noisy: Vec<_> = found
            .difference(&should)
            .filter(|f| !may.contains(*f))
            .collect();
        let missing: Vec<_> = should.difference(&found).collect();
        if !noisy.is_empty() {
            problems.push(format!("{name}: noisy {noisy:?}"));
        }
        if !missing.is_empty() {
            problems.push(format!("{name}: missing {missing:?}"));
        }
    }
    assert!(files >= 20, "corpus too small: {files} files");
    eprintln!("per-rule counts over {files} corpus files: {counts:?}");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn expectations_parser_reads_the_conventions() {
    let e = expectations(
        "- **a.py** (style). SHOULD: KRS101:31,32 (warning); KRS201:7 (x). MUST NOT: L3 KRS301:9. MAY: KRS202:35.\n",
    );
    let (should, may) = &e["a.py"];
    assert_eq!(should.len(), 3);
    assert!(should.contains(&("KRS101".to_string(), 32)));
    assert!(!should.contains(&("KRS301".to_string(), 9)));
    assert_eq!(may.len(), 1);
}
