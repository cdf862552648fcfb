//! Benchmarks from the editor over stdio: code lens, runBenchmark with progress, one-at-a-time, cancel, report, lens result.

#[path = "common/bench.rs"]
mod bench_common;
#[path = "common/bench_lsp.rs"]
mod bench_lsp;

use std::time::{Duration, Instant};

use bench_common::{PREFLIGHT_OK, alive, fake_python, read_pid, scratch, test_python};
use bench_lsp::Lsp;
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(180);
/// Waits that should succeed quickly.
const SHORT: Duration = Duration::from_secs(20);

fn caps() -> Value {
    json!({
        "window": {"workDoneProgress": true, "showDocument": {"support": true}},
        "workspace": {"codeLens": {"refreshSupport": true}}
    })
}

fn lenses(c: &mut Lsp, uri: &str) -> Vec<Value> {
    c.call(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    )
    .as_array()
    .cloned()
    .unwrap_or_default()
}

fn lens_titles(c: &mut Lsp, uri: &str) -> Vec<String> {
    lenses(c, uri)
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Every `$/progress` of `token` up to and including its `end`.
fn progress_until_end(c: &mut Lsp, token: &Value) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let m = c.wait("$/progress", |p| p["token"] == *token, LONG);
        let value = m["params"]["value"].clone();
        let end = value["kind"] == "end";
        seen.push(value);
        if end {
            return seen;
        }
    }
}

const TRAIN: &str = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(optimizer=\"adam\", loss=\"mse\", run_eagerly=True)\nmodel.fit(x, y, batch_size=32)\n";

#[test]
fn code_lens_runs_a_real_benchmark_with_progress_and_report() {
    let python = test_python();
    let dir = scratch("lsp");
    let file = dir.join("train.py");
    std::fs::write(&file, TRAIN).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Lsp::start();
    c.answers
        .push(("window/showDocument".into(), json!({"success": true})));
    let init = c.initialize(caps(), json!({"python": python}));
    assert_eq!(
        init["capabilities"]["codeLensProvider"]["resolveProvider"],
        false
    );
    let commands = init["capabilities"]["executeCommandProvider"]["commands"].to_string();
    assert!(commands.contains("keras-lsp.runBenchmark"), "{commands}");
    c.open(&uri, TRAIN);

    let all = lenses(&mut c, &uri);
    let lens = all
        .iter()
        .find(|l| l["command"]["title"] == "Measure: KRS601")
        .unwrap_or_else(|| panic!("no Measure lens in {all:?}"))
        .clone();
    assert_eq!(lens["range"]["start"]["line"], 3);
    assert_eq!(lens["command"]["command"], "keras-lsp.runBenchmark");
    let mut args = lens["command"]["arguments"].as_array().unwrap().clone();
    assert_eq!(args[0], json!(uri));
    assert_eq!(args[1], "KRS601");
    args.push(json!({"quick": true}));

    let started = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": args}),
    );
    assert_eq!(started["started"], true, "{started}");
    assert_eq!(started["scenario"], "eager");
    let token = started["token"].clone();

    // The server keeps answering while the benchmark runs, and shows it on the lens.
    let t0 = Instant::now();
    let titles = lens_titles(&mut c, &uri);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(
        titles.contains(&"Measuring KRS601…".to_string()),
        "{titles:?}"
    );
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 50}}),
    );
    assert!(hover.get("error").is_none(), "{hover}");

    // One at a time: a second request says so.
    let again = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": args}),
    );
    assert_eq!(again["started"], false, "{again}");
    c.wait(
        "window/showMessage",
        |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("already running"))
        },
        LONG,
    );

    c.wait(
        "window/workDoneProgress/create",
        |p| p["token"] == token,
        LONG,
    );
    let events = progress_until_end(&mut c, &token);
    assert_eq!(events[0]["kind"], "begin", "{events:?}");
    assert_eq!(events[0]["cancellable"], true);
    let reports: Vec<&Value> = events.iter().filter(|e| e["kind"] == "report").collect();
    assert!(
        reports
            .iter()
            .any(|r| r["percentage"].as_u64().is_some_and(|p| p > 5)
                && r["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("before:"))),
        "a report naming the variant: {events:?}"
    );
    let summary = c.wait(
        "window/showMessage",
        |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("KRS601") && m.contains("steps/s"))
        },
        LONG,
    );
    let message = summary["params"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("compiled"), "{message}");

    let shown = c.wait("window/showDocument", |_| true, LONG);
    let report_uri = shown["params"]["uri"].as_str().unwrap().to_string();
    assert!(report_uri.ends_with("-KRS601.md"), "{report_uri}");
    let report_path = report_uri.strip_prefix("file://").unwrap();
    let md = std::fs::read_to_string(report_path).unwrap();
    assert!(md.contains("run_eagerly=True"), "{md}");
    assert!(
        std::path::Path::new(report_path)
            .with_extension("svg")
            .is_file()
    );
    assert!(report_path.contains("/.keras-lsp/bench/"));

    // The lens shows the result until the document changes.
    let titles = lens_titles(&mut c, &uri);
    assert!(
        titles.iter().any(|t| t.starts_with("KRS601 measured:")),
        "{titles:?}"
    );
    c.replace_text(&uri, 2, &format!("{TRAIN}\n"));
    let titles = lens_titles(&mut c, &uri);
    assert!(
        titles.contains(&"Measure: KRS601".to_string()),
        "{titles:?}"
    );
    c.shutdown();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn progress_cancel_kills_the_benchmark_and_frees_the_slot() {
    let dir = scratch("lspcancel");
    let py = fake_python(
        &dir,
        &format!(
            "{PREFLIGHT_OK}\necho $$ > \"$(dirname \"$0\")/child\"\nsleep 300 &\necho $! > \"$(dirname \"$0\")/grandchild\"\necho '{{\"event\":\"progress\",\"percent\":20,\"variant\":\"before\",\"message\":\"round 1/5\"}}'\nwait"
        ),
    );
    let file = dir.join("train.py");
    std::fs::write(&file, TRAIN).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Lsp::start();
    c.initialize(caps(), json!({"python": py}));
    c.open(&uri, TRAIN);
    let args = json!([uri, "KRS601", {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 10}}]);
    let started = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": args}),
    );
    let token = started["token"].clone();
    c.wait(
        "$/progress",
        |p| p["token"] == token && p["value"]["kind"] == "report",
        SHORT,
    );
    let child = read_pid(&dir.join("child"), Duration::from_secs(10));
    let grandchild = read_pid(&dir.join("grandchild"), Duration::from_secs(10));
    c.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let events = progress_until_end(&mut c, &token);
    let end = events.last().unwrap();
    assert!(
        end["message"].as_str().unwrap().contains("cancelled"),
        "{end}"
    );
    c.wait(
        "window/showMessage",
        |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("cancelled"))
        },
        SHORT,
    );
    assert!(
        !alive(child, Duration::from_secs(3)),
        "child {child} survived"
    );
    assert!(
        !alive(grandchild, Duration::from_secs(3)),
        "grandchild {grandchild} survived"
    );

    // The slot is free again; the cancel command stops the next run.
    let again = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": args}),
    );
    assert_eq!(again["started"], true, "{again}");
    let token = again["token"].clone();
    c.wait(
        "$/progress",
        |p| p["token"] == token && p["value"]["kind"] == "report",
        SHORT,
    );
    let cancelled = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.cancelBenchmark", "arguments": []}),
    );
    assert_eq!(cancelled["cancelled"], true);
    let events = progress_until_end(&mut c, &token);
    assert!(
        events.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    c.shutdown();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_interpreter_is_reported_to_the_user() {
    let dir = scratch("lspmissing");
    let file = dir.join("train.py");
    std::fs::write(&file, TRAIN).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Lsp::start();
    c.initialize(caps(), json!({"python": "/nonexistent/bin/python"}));
    c.open(&uri, TRAIN);
    let started = c.call(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": [uri, "KRS601"]}),
    );
    assert_eq!(started["started"], true);
    let m = c.wait(
        "window/showMessage",
        |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("/nonexistent/bin/python"))
        },
        SHORT,
    );
    assert_eq!(m["params"]["type"], 1, "an error message: {m}");
    let unknown = c.request(
        "workspace/executeCommand",
        json!({"command": "keras-lsp.runBenchmark", "arguments": [uri, "KRS999"]}),
    );
    assert!(unknown.get("error").is_some(), "{unknown}");
    c.shutdown();
    std::fs::remove_dir_all(dir).unwrap();
}
