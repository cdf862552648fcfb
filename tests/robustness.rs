//! Bad input and load over real stdio: bursts of changes, huge and deeply nested files, positions
//! past the end, changes to unopened documents, junk on the wire, invalid UTF-8 on disk.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::lsp::{Client, apply_edits, position};
use serde_json::{Value, json};

const URI: &str = "file:///tmp/keras_lsp_robust/train.py";

/// Tiny deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn char_boundary_at_or_before(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn burst_of_1000_changes_ends_with_the_clients_text() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    let mut text =
        String::from("import keras\nckpt = keras.callbacks.ModelCheckpoint('m', save_freq=1)\n");
    client.open(URI, &text);
    let mut rng = Rng(7);
    let pieces = [
        "x",
        "é",
        "😀",
        "\n",
        "中",
        " ",
        "(",
        "keras.layers.Dense(3)\n",
    ];
    for version in 2..=1001 {
        let start = char_boundary_at_or_before(&text, rng.below(text.len() + 1));
        let end = char_boundary_at_or_before(&text, (start + rng.below(4)).min(text.len()));
        let new = if rng.below(3) == 0 {
            ""
        } else {
            pieces[rng.below(pieces.len())]
        };
        let range =
            json!({"start": position(&text, start, false), "end": position(&text, end, false)});
        // Mirror what a client does.
        text = apply_edits(&text, &[json!({"range": range, "newText": new})], false);
        client.change(URI, version, json!([{"range": range, "text": new}]));
    }
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    assert_eq!(state["version"], 1001);
    assert_eq!(state["text"].as_str().unwrap(), text);
    // The last version is published.
    client.diagnostics(URI, 1001);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn huge_and_deeply_nested_documents_do_not_crash_or_hang() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    // ~10 MB of Keras code with one finding at the very end.
    let block =
        "import keras\nmodel = keras.Sequential([keras.layers.Dense(64, activation='relu')])\n";
    let mut huge = block.repeat(10_000_000 / block.len());
    huge.push_str("cb = keras.callbacks.ModelCheckpoint('m', save_freq=1)\n");
    let started = Instant::now();
    client.open("file:///tmp/huge.py", &huge);
    let message = client.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == "file:///tmp/huge.py"
    });
    let diagnostics = message["params"]["diagnostics"].as_array().unwrap();
    assert!(diagnostics.iter().any(|d| d["code"] == "KRS201"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "10 MB took {:?}",
        started.elapsed()
    );

    let deep = format!(
        "import tensorflow as tf\nx = {}1{}\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    client.open("file:///tmp/deep.py", &deep);
    client.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == "file:///tmp/deep.py"
    });
    let deep_calls = format!(
        "import tensorflow as tf\nds = tf.data.Dataset.range(3){}\nmodel.fit(ds)\n",
        ".map(f)".repeat(5000)
    );
    client.open("file:///tmp/deep2.py", &deep_calls);
    client.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == "file:///tmp/deep2.py"
    });
    assert!(client.is_alive());
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn invalid_positions_unopened_documents_and_junk_are_survived() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    let text = "import keras\nx = 1\n";
    client.open(URI, text);
    client.diagnostics(URI, 1);
    // A range far past the end is clamped to the end of the document.
    client.change(URI, 2, json!([{"range": {"start": {"line": 999, "character": 5}, "end": {"line": 1000, "character": 0}}, "text": "y = 2\n"}]));
    client.diagnostics(URI, 2);
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    assert_eq!(state["text"], "import keras\nx = 1\ny = 2\n");
    // A column past the end of a line clamps to the line end; inside a surrogate pair it snaps.
    client.change(URI, 3, json!([{"range": {"start": {"line": 1, "character": 400}, "end": {"line": 1, "character": 400}}, "text": "0"}]));
    client.diagnostics(URI, 3);
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    assert_eq!(state["text"], "import keras\nx = 10\ny = 2\n");
    // A change for a document that was never opened is ignored.
    client.change(
        "file:///never/opened.py",
        5,
        json!([{"text": "import keras"}]),
    );
    // Requests about unknown documents answer without crashing.
    let hover = client.call("textDocument/hover", json!({"textDocument": {"uri": "file:///never/opened.py"}, "position": {"line": 0, "character": 0}}));
    assert!(hover.is_null());
    let actions = client.call(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": "file:///never/opened.py"}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}),
    );
    assert!(actions.is_null());
    // Junk on the wire (invalid JSON, a header-less line, a bad length) is dropped and logged;
    // the server keeps serving.
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    client.send_raw(b"garbage line\r\n\r\n");
    client.send_raw(b"Content-Length: abc\r\n\r\n");
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    assert_eq!(state["version"], 3);
    assert_eq!(client.shutdown(), Some(0));
}

fn keras_lsp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keras-lsp"))
        .args(args)
        .output()
        .expect("binary runs")
}

#[test]
fn cli_reports_invalid_utf8_and_missing_paths_clearly() {
    let dir = std::env::temp_dir().join(format!("keras_lsp_bad_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.py");
    std::fs::write(&bad, b"import keras\nx = '\xff\xfe'\n").unwrap();
    let good = dir.join("good.py");
    std::fs::write(
        &good,
        "import keras\ncb = keras.callbacks.ModelCheckpoint('m', save_freq=1)\n",
    )
    .unwrap();
    let out = keras_lsp(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.py: not valid UTF-8 (invalid byte at offset 18)"),
        "{stderr}"
    );
    // The readable file is still checked.
    assert!(String::from_utf8_lossy(&out.stdout).contains("good.py:2:"));
    let missing = keras_lsp(&["check", "/definitely/not/here"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file or folder"));
    let usage = keras_lsp(&["check", "--output-format", "yaml"]);
    assert_eq!(usage.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
