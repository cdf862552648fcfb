//! Data-driven rule tests: every rule has a query, docs and fixtures; fixtures produce exactly the
//! annotated findings, match their snapshot, and fix to the `.fixed.py` golden (idempotently).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keras_lsp::analysis::{analyze, compile_queries};
use keras_lsp::document::parse;
use keras_lsp::fix::{error_count, fix_source};
use keras_lsp::line_index::{Encoding, LineIndex};
use keras_lsp::rules::{ALL, RuleDef, reference_markdown};
use keras_lsp::settings::Settings;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn only(rule: &RuleDef) -> Settings {
    Settings::from_layers(&[serde_json::json!({"select": [rule.code]})]).0
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it instead.
fn golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()))?;
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        return Err(format!("{} differs:\n{diff}", path.display()));
    }
    Ok(())
}

/// Lines (1-based) annotated `# expect: CODE`.
fn expected_lines(source: &str, code: &str) -> BTreeSet<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            line.split("# expect:")
                .nth(1)
                .is_some_and(|rest| rest.split(',').any(|c| c.trim().starts_with(code)))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn check_rule(rule: &RuleDef) -> Result<(), String> {
    let dir = fixtures();
    let path = dir.join(format!("{}.py", rule.code));
    let source = read(&path);
    let settings = only(rule);
    let tree = parse(&source);
    let findings = analyze(&source, &tree, &settings);
    let index = LineIndex::new(&source);
    let found: BTreeSet<usize> = findings
        .iter()
        .map(|f| index.line_of(f.range.start) + 1)
        .collect();
    let expected = expected_lines(&source, rule.code);
    if expected.is_empty() {
        return Err(format!(
            "{}: no `# expect: {}` lines",
            path.display(),
            rule.code
        ));
    }
    let noisy: Vec<_> = found.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    if !noisy.is_empty() || !missing.is_empty() {
        return Err(format!(
            "{}: noisy (reported, not expected) lines {noisy:?}; missing lines {missing:?}",
            path.display()
        ));
    }
    let mut snapshot = String::new();
    for f in &findings {
        let (l1, c1) = index.position(&source, f.range.start, Encoding::Utf32);
        let (l2, c2) = index.position(&source, f.range.end, Encoding::Utf32);
        snapshot.push_str(&format!(
            "{}:{}-{}:{} {} {} {}\n",
            l1 + 1,
            c1 + 1,
            l2 + 1,
            c2 + 1,
            f.code,
            f.severity.as_str(),
            f.message
        ));
        if let Some(fix) = &f.fix {
            snapshot.push_str(&format!(
                "    fix ({}): {}\n",
                fix.safety.as_str(),
                fix.title
            ));
        }
    }
    golden(&dir.join(format!("{}.snap", rule.code)), &snapshot)?;
    if rule.fix.is_some() {
        let fixed = fix_source(&source, &settings, true).text;
        if error_count(&fixed) > error_count(&source) {
            return Err(format!(
                "{}: the fix introduced syntax errors",
                path.display()
            ));
        }
        golden(&dir.join(format!("{}.fixed.py", rule.code)), &fixed)?;
        let again = fix_source(&fixed, &settings, true).text;
        if again != fixed {
            return Err(format!("{}: fixing is not idempotent", path.display()));
        }
    }
    Ok(())
}

#[test]
fn fixtures_match_annotations_snapshots_and_goldens() {
    let failures: Vec<String> = ALL.iter().filter_map(|r| check_rule(r).err()).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_rule_has_query_docs_and_fixtures() {
    assert!(compile_queries() >= ALL.len());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut codes = BTreeSet::new();
    for rule in ALL {
        if !codes.insert(rule.code) {
            problems.push(format!("duplicate code {}", rule.code));
        }
        let valid_code = rule.code.len() == 6
            && rule.code.starts_with("KRS")
            && rule.code[3..].chars().all(|c| c.is_ascii_digit());
        if !valid_code {
            problems.push(format!("{}: code must be KRS + 3 digits", rule.code));
        }
        if !rule
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(format!(
                "{}: name `{}` must be kebab-case",
                rule.code, rule.name
            ));
        }
        let query = root.join(format!("queries/python/{}.scm", rule.name));
        match std::fs::read_to_string(&query) {
            Ok(text) if text == rule.query => {}
            Ok(_) => problems.push(format!(
                "{}: RULE.query is not {}",
                rule.code,
                query.display()
            )),
            Err(_) => problems.push(format!("{}: missing {}", rule.code, query.display())),
        }
        if rule.module != rule.name.replace('-', "_") {
            problems.push(format!(
                "{}: module must be named after the rule",
                rule.code
            ));
        }
        let doc = rule.doc();
        if !doc.starts_with(&format!("{} {}:", rule.code, rule.name)) {
            problems.push(format!(
                "{}: docs must start with `{} {}: <summary>`",
                rule.code, rule.code, rule.name
            ));
        }
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
            "## Fix safety",
        ] {
            if !doc.contains(section) {
                problems.push(format!("{}: docs lack `{section}`", rule.code));
            }
        }
        let fixture = root.join(format!("tests/fixtures/{}.py", rule.code));
        if !fixture.exists() {
            problems.push(format!("{}: missing {}", rule.code, fixture.display()));
        }
        let fixed = root.join(format!("tests/fixtures/{}.fixed.py", rule.code));
        if rule.fix.is_some() != fixed.exists() {
            problems.push(format!(
                "{}: {} must exist exactly when the rule has a fix",
                rule.code,
                fixed.display()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn rules_reference_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    if let Err(e) = golden(&path, &reference_markdown()) {
        panic!("docs/rules.md is stale; run `cargo run -- rules --markdown > docs/rules.md`\n{e}");
    }
}
