//! `check`/`fix` on the Jupyter notebooks of `tests/notebooks/`: findings per cell against EXPECTED.md (for the rules present), and fixes that leave everything but the changed cells' sources byte-identical.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keras_lsp::rules::ALL;
use serde_json::Value;

const DIR: &str = "tests/notebooks";

fn keras_lsp(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keras-lsp"))
        .args(args)
        .args(paths)
        .output()
        .expect("keras-lsp runs")
}

fn notebooks() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the notebook fixtures are missing");
    files
}

/// One expected finding: (cell, code, row, severity).
type Expected = (usize, String, usize, String);

/// The SHOULD findings of each notebook in EXPECTED.md, and its stated total.
fn expectations(text: &str) -> BTreeMap<String, (Vec<Expected>, usize)> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            current = title
                .split_whitespace()
                .next()
                .filter(|f| f.ends_with(".ipynb"))
                .map(str::to_string);
            if let Some(name) = &current {
                out.insert(name.clone(), (Vec::new(), usize::MAX));
            }
            continue;
        }
        let Some(name) = &current else { continue };
        let entry = out.get_mut(name).unwrap();
        if let Some(total) = line.strip_prefix("**Total: ") {
            let n: String = total.chars().take_while(char::is_ascii_digit).collect();
            entry.1 = n.parse().unwrap();
            continue;
        }
        // `| 5 | 4 `c4e71a58` | SHOULD: **KRS302** row 7 (hint†, ...). MUST NOT: ... |`
        let columns: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(cell) = columns.get(1).and_then(|c| c.parse::<usize>().ok()) else {
            continue;
        };
        let expected = columns[3..].join("|");
        let Some(should) = expected.split("SHOULD:").nth(1) else {
            continue;
        };
        let should = should.split("MUST NOT:").next().unwrap();
        for part in should.split("**").collect::<Vec<_>>().windows(2) {
            let (code, rest) = (part[0], part[1]);
            if !(code.len() == 6 && code.starts_with("KRS")) {
                continue;
            }
            let rest = rest.trim_start();
            let rows = rest
                .strip_prefix("rows ")
                .or_else(|| rest.strip_prefix("row "))
                .unwrap_or_else(|| panic!("{name} cell {cell}: no row after {code}"));
            let (rows, after) = rows.split_once('(').unwrap();
            let severity: String = after
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            for row in rows.split(|c: char| c == ',' || c.is_whitespace()) {
                if let Ok(row) = row.parse::<usize>() {
                    entry
                        .0
                        .push((cell, code.to_string(), row, severity.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn expectations_parser_reads_every_should_entry() {
    let text = std::fs::read_to_string(format!("{DIR}/EXPECTED.md")).unwrap();
    let all = expectations(&text);
    assert_eq!(all.len(), notebooks().len(), "one section per notebook");
    for (name, (expected, total)) in &all {
        assert_eq!(
            expected.len(),
            *total,
            "{name}: parsed entries vs stated total"
        );
    }
    let nb04 = &all["04_fixes_need_imports.ipynb"].0;
    assert!(nb04.contains(&(5, "KRS101".into(), 8, "info".into())));
    assert!(nb04.contains(&(4, "KRS302".into(), 6, "hint".into())));
}

/// (cell, code, row, severity) of every finding `check` reports for a notebook.
fn findings(path: &Path) -> Vec<Expected> {
    let out = keras_lsp(&["check", "--output-format", "json"], &[path]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found: Vec<Expected> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cell"].as_u64().expect("notebook findings have a cell") as usize,
                f["code"].as_str().unwrap().to_string(),
                f["location"]["row"].as_u64().unwrap() as usize,
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Findings must equal EXPECTED.md's SHOULD entries of the rules this build has (rules merged
/// later are checked as soon as they exist); nothing else may be reported.
#[test]
fn notebook_findings_match_expected_md() {
    let text = std::fs::read_to_string(format!("{DIR}/EXPECTED.md")).unwrap();
    let all = expectations(&text);
    let present: BTreeSet<&str> = ALL.iter().map(|r| r.code).collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in notebooks() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let mut expected: Vec<Expected> = all[name]
            .0
            .iter()
            .filter(|(_, code, _, _)| present.contains(code.as_str()))
            .cloned()
            .collect();
        expected.sort();
        checked += expected.len();
        let found = findings(&path);
        if found != expected {
            failures.push(format!(
                "{name}\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 2, "no expectation was checkable");
}

#[test]
fn text_output_names_the_cell() {
    let path = Path::new(DIR).join("03_mixed_precision_across_cells.ipynb");
    let out = keras_lsp(&["check"], &[&path]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let prefix = format!("{}:cell 5:7:5: KRS503 [warning] ", path.display());
    assert!(stdout.lines().any(|l| l.starts_with(&prefix)), "{stdout}");
}

/// Byte spans of every `"source"` value in notebook JSON (an independent scanner).
fn source_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("\"source\":") {
        let mut i = from + pos + "\"source\":".len();
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let (mut depth, mut in_string) = (0i32, false);
        loop {
            let b = bytes[i];
            i += 1;
            if in_string {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'[' => depth += 1,
                    b']' => depth -= 1,
                    _ => {}
                }
            }
            if depth == 0 && !in_string {
                break;
            }
        }
        spans.push(start..i);
        from = i;
    }
    spans
}

/// The text outside the `source` values.
fn outside_sources(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut pos = 0;
    for span in source_spans(text) {
        parts.push(&text[pos..span.start]);
        pos = span.end;
    }
    parts.push(&text[pos..]);
    parts
}

fn without_sources(mut notebook: Value) -> Value {
    for cell in notebook["cells"].as_array_mut().unwrap() {
        cell.as_object_mut().unwrap().remove("source");
    }
    notebook
}

fn cell_sources(notebook: &Value) -> Vec<String> {
    notebook["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match &c["source"] {
            Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap()).collect(),
            other => other.as_str().unwrap().to_string(),
        })
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keras_lsp_nb_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cells (1-based) a fix may touch: those with a fixable finding and those its edits name.
fn fixable_cells(path: &Path, include_unsafe: bool) -> BTreeSet<usize> {
    let out = keras_lsp(&["check", "--output-format", "json"], &[path]);
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut cells = BTreeSet::new();
    for f in items.as_array().unwrap() {
        let fix = &f["fix"];
        if fix.is_null() || (!include_unsafe && fix["applicability"] != "safe") {
            continue;
        }
        cells.insert(f["cell"].as_u64().unwrap() as usize);
        for edit in fix["edits"].as_array().unwrap() {
            cells.insert(edit["cell"].as_u64().expect("notebook edits have a cell") as usize);
        }
    }
    cells
}

fn check_fix_preserves_layout(include_unsafe: bool) {
    let dir = temp_dir(if include_unsafe { "unsafe" } else { "safe" });
    let mut changed_any = false;
    for original in notebooks() {
        let path = dir.join(original.file_name().unwrap());
        std::fs::copy(&original, &path).unwrap();
        let allowed = fixable_cells(&path, include_unsafe);
        let before = std::fs::read_to_string(&path).unwrap();
        let mut args = vec!["fix"];
        if include_unsafe {
            args.push("--unsafe-fixes");
        }
        let out = keras_lsp(&args, &[&path]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        // Byte-identical outside the sources, and parsed equal without them.
        assert_eq!(outside_sources(&before), outside_sources(&after), "{name}");
        let (old, new): (Value, Value) = (
            serde_json::from_str(&before).unwrap(),
            serde_json::from_str(&after).expect("fixed notebook is valid JSON"),
        );
        assert_eq!(
            without_sources(old.clone()),
            without_sources(new.clone()),
            "{name}"
        );
        // Unchanged cells keep their exact bytes; changed cells are ones the fixes name.
        let (old_sources, new_sources) = (cell_sources(&old), cell_sources(&new));
        let (old_spans, new_spans) = (source_spans(&before), source_spans(&after));
        let mut changed = BTreeSet::new();
        for i in 0..old_sources.len() {
            if old_sources[i] == new_sources[i] {
                assert_eq!(
                    &before[old_spans[i].clone()],
                    &after[new_spans[i].clone()],
                    "{name} cell {}",
                    i + 1
                );
            } else {
                changed.insert(i + 1);
                // nbformat's layout: one JSON string per line, each line but the last ends in \n.
                let lines = new["cells"][i]["source"].as_array().unwrap();
                for line in &lines[..lines.len() - 1] {
                    assert!(
                        line.as_str().unwrap().ends_with('\n'),
                        "{name} cell {}",
                        i + 1
                    );
                }
            }
        }
        assert!(
            changed.is_subset(&allowed),
            "{name}: changed {changed:?}, fixable {allowed:?}"
        );
        assert_eq!(changed.is_empty(), before == after, "{name}");
        changed_any |= !changed.is_empty();
        // A second run changes nothing.
        let again = keras_lsp(&args, &[&path]);
        assert_eq!(again.status.code(), Some(0));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            after,
            "{name}: not idempotent"
        );
    }
    if include_unsafe {
        assert!(changed_any, "no notebook was fixed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fix_changes_only_cell_sources_with_unsafe_fixes() {
    check_fix_preserves_layout(true);
}

#[test]
fn fix_changes_only_cell_sources_with_safe_fixes() {
    check_fix_preserves_layout(false);
}

/// Fixes that span cells land in the right cells: 03's KRS502 fix wraps the optimizer in cell 6
/// and scales the loss in cell 7; KRS503 adds `dtype="float32"` in cell 5.
#[test]
fn cross_cell_fix_lands_in_each_cell() {
    let dir = temp_dir("cross");
    let path = dir.join("03.ipynb");
    std::fs::copy(
        Path::new(DIR).join("03_mixed_precision_across_cells.ipynb"),
        &path,
    )
    .unwrap();
    let diff = keras_lsp(&["fix", "--unsafe-fixes", "--diff"], &[&path]);
    assert_eq!(
        diff.status.code(),
        Some(1),
        "--diff exits 1 when something would change"
    );
    let diff = String::from_utf8(diff.stdout).unwrap();
    for cell in [5, 6, 7] {
        assert!(
            diff.contains(&format!("+++ {}:cell {cell}\n", path.display())),
            "{diff}"
        );
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(Path::new(DIR).join("03_mixed_precision_across_cells.ipynb")).unwrap(),
        "--diff must not write"
    );
    keras_lsp(&["fix", "--unsafe-fixes"], &[&path]);
    let sources =
        cell_sources(&serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
    assert!(sources[4].contains("layers.Dense(10, activation=\"softmax\", dtype=\"float32\")"));
    assert!(sources[5].contains("LossScaleOptimizer(keras.optimizers.SGD("));
    assert!(sources[6].contains("optimizer.scale_loss(loss)"));
    assert_eq!(keras_lsp(&["check"], &[&path]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a notebook in nbformat's layout (indent 1, sorted keys, source as lines).
fn write_notebook(path: &Path, cells: &[(&str, &str)]) {
    let cells: Vec<Value> = cells
        .iter()
        .map(|(kind, source)| {
            let lines: Vec<&str> = source.split_inclusive('\n').collect();
            let mut cell = serde_json::json!({"cell_type": kind, "metadata": {}, "source": lines});
            if *kind == "code" {
                cell["execution_count"] = Value::Null;
                cell["outputs"] = serde_json::json!([]);
            }
            cell
        })
        .collect();
    let nb =
        serde_json::json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5});
    std::fs::write(path, serde_json::to_string_pretty(&nb).unwrap() + "\n").unwrap();
}

/// An import added by a fix goes to the first code cell that has imports, not a later one.
#[test]
fn added_import_goes_to_the_first_cell_with_imports() {
    let dir = temp_dir("imports");
    let path = dir.join("imports.ipynb");
    write_notebook(
        &path,
        &[
            ("markdown", "# Mixed precision with from-imports only"),
            ("code", "!pip install -q keras"),
            (
                "code",
                "from keras.optimizers import SGD\nfrom keras import layers, Sequential\nimport tensorflow as tf",
            ),
            (
                "code",
                "import numpy as np\nfrom keras.mixed_precision import set_global_policy\nset_global_policy(\"mixed_float16\")",
            ),
            (
                "code",
                "model = Sequential([layers.Dense(10)])\nopt = SGD()",
            ),
            (
                "code",
                "%%time\n@tf.function\ndef step(x, y):\n    with tf.GradientTape() as tape:\n        loss = model(x)\n    grads = tape.gradient(loss, model.trainable_variables)\n    opt.apply_gradients(zip(grads, model.trainable_variables))",
            ),
        ],
    );
    let found = findings(&path);
    assert_eq!(found, [(5, "KRS502".to_string(), 2, "warning".to_string())]);
    assert_eq!(
        keras_lsp(&["fix", "--unsafe-fixes"], &[&path])
            .status
            .code(),
        Some(0)
    );
    let sources =
        cell_sources(&serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
    assert!(
        sources[1] == "!pip install -q keras",
        "no import in the pip cell"
    );
    assert_eq!(
        sources[3].matches("import").count(),
        2,
        "the later imports cell is untouched"
    );
    let added: Vec<&str> = sources[2].lines().skip(3).collect();
    assert_eq!(
        added.len(),
        1,
        "one import added to cell 3: {:?}",
        sources[2]
    );
    assert!(added[0].starts_with("from keras") || added[0].starts_with("import keras"));
    assert!(
        sources[4].contains("LossScaleOptimizer(SGD())"),
        "{}",
        sources[4]
    );
    assert!(
        sources[5].starts_with("%%time\n"),
        "the cell magic stays first"
    );
    assert_eq!(keras_lsp(&["check"], &[&path]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// IPython syntax in any position never produces a finding or breaks analysis of the rest.
#[test]
fn ipython_syntax_is_masked_not_reported() {
    let dir = temp_dir("magics");
    let path = dir.join("magics.ipynb");
    let model = "keras.mixed_precision.set_global_policy(\"mixed_float16\")\nmodel = keras.Sequential([keras.layers.Dense(10, activation=\"softmax\")])";
    write_notebook(
        &path,
        &[
            (
                "code",
                "%load_ext tensorboard\n!pip install keras \\\n    tensorflow\nimport keras\nfiles = !ls\n?keras\nkeras.Model.fit??",
            ),
            (
                "code",
                "%%writefile script.py\nimport keras\nkeras.callbacks.ModelCheckpoint(\"c\", save_freq=1)\n",
            ),
            ("code", "%%bash\nfor f in *; do echo $f; done\n"),
            (
                "code",
                "for i in range(2):\n    !echo {i}\n%time x = [i for i in range(3)]",
            ),
            ("code", model),
        ],
    );
    // Only the real finding, in the last cell: the %%writefile body is not analysed.
    assert_eq!(
        findings(&path),
        [(5, "KRS503".to_string(), 2, "warning".to_string())]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn walks_folders_for_notebooks() {
    let out = keras_lsp(&["check", "--output-format", "json"], &[Path::new(DIR)]);
    assert_eq!(out.status.code(), Some(1));
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: BTreeSet<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("03_mixed_precision_across_cells.ipynb"))
    );
}

#[test]
fn bad_notebooks_are_clear_errors_not_panics() {
    let dir = temp_dir("bad");
    let cases = [
        ("invalid.ipynb", "{\"cells\": [", "invalid JSON"),
        (
            "v3.ipynb",
            "{\"nbformat\": 3, \"nbformat_minor\": 0, \"worksheets\": [], \"metadata\": {}}",
            "nbformat 3",
        ),
        (
            "nocells.ipynb",
            "{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}}",
            "missing `cells`",
        ),
        (
            "nosource.ipynb",
            "{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\", \"metadata\": {}}]}",
            "cell 1 has no `source`",
        ),
        (
            "badsource.ipynb",
            "{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\", \"source\": 3}]}",
            "neither a string nor a list",
        ),
        (
            "nul.ipynb",
            "{\"nbformat\": 4, \"cells\": [\u{0}]}",
            "invalid JSON",
        ),
    ];
    for (file, text, message) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        for command in ["check", "fix"] {
            let out = keras_lsp(&[command], &[&path]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {file}: {stderr}");
            assert!(
                stderr.contains(file) && stderr.contains(message),
                "{command} {file}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "fix must not touch {file}"
        );
    }
    // The good notebooks next to a bad one are still checked.
    std::fs::copy(
        Path::new(DIR).join("03_mixed_precision_across_cells.ipynb"),
        dir.join("good.ipynb"),
    )
    .unwrap();
    let out = keras_lsp(&["check", "--output-format", "json"], &[&dir]);
    assert_eq!(out.status.code(), Some(2));
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
