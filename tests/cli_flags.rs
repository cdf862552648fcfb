//! CLI flags and formats for CI: exit codes, `--exit-zero`, `--select`/`--ignore`, `--statistics`, GitHub annotations, SARIF 2.1.0's required fields, and the commands in docs/ci.md and .pre-commit-hooks.yaml.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const NOTEBOOK: &str = "tests/notebooks/03_mixed_precision_across_cells.ipynb";

/// A plain script with one KRS201 finding (line 3) and one KRS601 finding (line 4).
const SCRIPT: &str = "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nckpt = keras.callbacks.ModelCheckpoint(\"c.keras\", save_freq=1)\nmodel.compile(optimizer=\"adam\", loss=\"mse\", run_eagerly=True)\nmodel.fit(x, y, callbacks=[ckpt])\n";

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keras-lsp"))
        .args(args)
        .args(paths)
        .output()
        .expect("keras-lsp runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A temp folder holding `train.py` (SCRIPT), `clean.py` and a copy of the notebook.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keras_lsp_cli_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("train.py"), SCRIPT).unwrap();
    std::fs::write(
        dir.join("clean.py"),
        "import keras\nprint(keras.__version__)\n",
    )
    .unwrap();
    std::fs::copy(NOTEBOOK, dir.join("mp.ipynb")).unwrap();
    dir
}

fn codes(out: &Output) -> Vec<String> {
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn exit_codes_and_exit_zero() {
    let dir = workspace("exit");
    assert_eq!(
        run(&["check"], &[&dir.join("clean.py")]).status.code(),
        Some(0)
    );
    assert_eq!(run(&["check"], &[&dir]).status.code(), Some(1));
    assert_eq!(
        run(&["check"], &[&dir.join("mp.ipynb")]).status.code(),
        Some(1)
    );
    let zero = run(&["check", "--exit-zero"], &[&dir]);
    assert_eq!(zero.status.code(), Some(0));
    assert!(
        stdout(&zero).contains("KRS201"),
        "--exit-zero still reports"
    );
    assert_eq!(
        run(&["check"], &[&dir.join("missing.py")]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["check", "--exit-zero"], &[&dir.join("missing.py")])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["check", "--no-such-flag"], &[&dir]).status.code(),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn select_and_ignore_by_code_prefix_and_name() {
    let dir = workspace("select");
    let json = ["check", "--output-format", "json"];
    let all = codes(&run(&json, &[&dir]));
    assert_eq!(all, ["KRS503", "KRS502", "KRS201", "KRS601"]);
    let with = |flags: &[&str]| {
        let mut args = json.to_vec();
        args.extend_from_slice(flags);
        codes(&run(&args, &[&dir]))
    };
    assert_eq!(with(&["--select", "KRS503"]), ["KRS503"]);
    assert_eq!(with(&["--select", "KRS5"]), ["KRS503", "KRS502"]);
    assert_eq!(
        with(&["--select", "checkpoint-too-frequent,KRS601"]),
        ["KRS201", "KRS601"]
    );
    assert_eq!(
        with(&["--ignore", "KRS5,run-eagerly-in-training"]),
        ["KRS201"]
    );
    assert_eq!(
        with(&["--select", "KRS2", "--ignore", "KRS201"]),
        Vec::<String>::new()
    );
    let none = run(
        &["check", "--select", "KRS201", "--ignore", "KRS201"],
        &[&dir],
    );
    assert_eq!(none.status.code(), Some(0));
    assert_eq!(stdout(&none), "All checks passed!\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn statistics_count_per_rule() {
    let dir = workspace("stats");
    std::fs::write(dir.join("more.py"), SCRIPT).unwrap();
    let out = run(&["check", "--statistics"], &[&dir]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(rows[0][0].trim(), "2");
    assert_eq!(rows[0][1], "KRS201");
    assert_eq!(rows[1][0].trim(), "2");
    assert_eq!(rows[1][1], "KRS601");
    assert_eq!((rows[2][0].trim(), rows[2][1]), ("1", "KRS502"));
    assert_eq!((rows[3][0].trim(), rows[3][1]), ("1", "KRS503"));
    assert!(rows[3][2].ends_with("float16-output-layer"));
    let zero = run(&["check", "--statistics", "--exit-zero"], &[&dir]);
    assert_eq!(zero.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `::level title=...,file=...,line=N,col=N,endLine=N,endColumn=N::message`, parsed.
fn annotation(line: &str) -> (String, Vec<(String, String)>, String) {
    let rest = line.strip_prefix("::").expect("workflow command");
    let (head, message) = rest.split_once("::").expect("message part");
    let (level, props) = head.split_once(' ').expect("properties");
    let props = props
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    (level.to_string(), props, message.to_string())
}

#[test]
fn github_annotations() {
    let dir = workspace("github");
    let out = run(&["check", "--output-format", "github"], &[&dir]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for line in &lines {
        let (level, props, message) = annotation(line);
        assert!(
            ["error", "warning", "notice"].contains(&level.as_str()),
            "{line}"
        );
        let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["title", "file", "line", "col", "endLine", "endColumn"],
            "{line}"
        );
        for (k, v) in &props[2..] {
            assert!(v.parse::<u32>().is_ok_and(|n| n >= 1), "{k}={v}");
        }
        assert!(message.starts_with("KRS"), "{line}");
        assert!(!message.contains('\n'));
    }
    let (level, props, message) = annotation(lines[0]);
    assert_eq!(level, "warning");
    assert_eq!(props[0].1, "KRS503 float16-output-layer (cell 5)");
    assert!(props[1].1.ends_with("mp.ipynb"));
    assert_eq!((props[2].1.as_str(), props[3].1.as_str()), ("7", "5"));
    assert!(message.starts_with("KRS503: under `mixed_float16`"));
    let (_, props, _) = annotation(lines[2]);
    assert!(props[1].1.ends_with("train.py"));
    assert_eq!(props[2].1, "3");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks what the SARIF 2.1.0 schema requires of the parts keras-lsp writes.
fn assert_valid_sarif(doc: &Value) {
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif"));
    let runs = doc["runs"].as_array().expect("runs is an array");
    assert!(!runs.is_empty());
    for run in runs {
        let driver = &run["tool"]["driver"];
        assert!(
            driver["name"].as_str().is_some_and(|n| !n.is_empty()),
            "tool.driver.name"
        );
        let rules = driver["rules"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for rule in rules {
            assert!(rule["id"].is_string(), "reportingDescriptor.id");
            for key in ["shortDescription", "fullDescription"] {
                if !rule[key].is_null() {
                    assert!(rule[key]["text"].is_string(), "{key}.text");
                }
            }
            let level = &rule["defaultConfiguration"]["level"];
            assert!(
                level.is_null()
                    || ["none", "note", "warning", "error"].contains(&level.as_str().unwrap())
            );
        }
        for result in run["results"].as_array().expect("results") {
            let message = &result["message"];
            assert!(
                message["text"].is_string() || message["id"].is_string(),
                "result.message"
            );
            if let Some(level) = result.get("level") {
                assert!(["none", "note", "warning", "error"].contains(&level.as_str().unwrap()));
            }
            if let Some(index) = result.get("ruleIndex") {
                let index = index.as_i64().unwrap();
                assert!(index >= 0);
                assert_eq!(
                    rules[index as usize]["id"], result["ruleId"],
                    "ruleIndex points at ruleId"
                );
            }
            for location in result["locations"].as_array().expect("locations") {
                let physical = &location["physicalLocation"];
                assert!(physical["artifactLocation"]["uri"].is_string());
                let region = &physical["region"];
                let get = |k: &str| region[k].as_i64().unwrap();
                assert!(get("startLine") >= 1 && get("startColumn") >= 1);
                assert!(get("endLine") >= get("startLine") && get("endColumn") >= 1);
            }
            if let Some(properties) = result.get("properties") {
                assert!(properties.is_object());
            }
        }
    }
}

#[test]
fn sarif_has_the_schemas_required_fields() {
    let dir = workspace("sarif");
    let out = run(&["check", "--output-format", "sarif"], &[&dir]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_valid_sarif(&doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let notebook = results.iter().find(|r| r["ruleId"] == "KRS503").unwrap();
    assert_eq!(notebook["properties"]["cell"], 5);
    assert!(
        notebook["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("mp.ipynb")
    );
    // No findings: still a valid log with an empty results array.
    let clean = run(
        &["check", "--output-format", "sarif"],
        &[&dir.join("clean.py")],
    );
    assert_eq!(clean.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
    // The validator itself rejects what the schema rejects.
    let mut broken = doc.clone();
    broken["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(std::panic::catch_unwind(|| assert_valid_sarif(&broken)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `keras-lsp ...` command in docs/ci.md and .pre-commit-hooks.yaml runs with those flags
/// (exit 0 or 1, never a usage error) against a folder with findings.
#[test]
fn documented_ci_commands_run() {
    let dir = workspace("docs");
    let docs = std::fs::read_to_string("docs/ci.md").unwrap();
    let hooks = std::fs::read_to_string(".pre-commit-hooks.yaml").unwrap();
    let mut commands: Vec<String> = docs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: keras-lsp "))
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 2, "docs/ci.md has the workflow steps");
    assert!(
        commands
            .iter()
            .any(|c| c.contains("--output-format github"))
    );
    assert!(commands.iter().any(|c| c.contains("--output-format sarif")));
    assert!(docs.contains("github/codeql-action/upload-sarif"));
    let entries: Vec<String> = hooks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("entry: keras-lsp "))
        .map(str::to_string)
        .collect();
    assert!(entries.contains(&"check".to_string()), "{hooks}");
    assert!(hooks.contains("- id: keras-lsp\n"));
    assert!(hooks.contains("types_or: [python, jupyter]"));
    commands.extend(entries.iter().filter(|e| *e == "check").cloned());
    for command in commands {
        let command = command.split('>').next().unwrap();
        let args: Vec<&str> = command.split_whitespace().filter(|a| *a != ".").collect();
        let out = run(&args, &[&dir]);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "`keras-lsp {command}`: {code:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if command.contains("sarif") {
            assert_valid_sarif(&serde_json::from_slice(&out.stdout).unwrap());
            assert_eq!(
                code,
                Some(0),
                "the SARIF step uses --exit-zero so the upload runs"
            );
        }
        if command.contains("github") {
            assert!(stdout(&out).starts_with("::"));
            assert_eq!(
                code,
                Some(1),
                "the annotation step fails the job on findings"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
