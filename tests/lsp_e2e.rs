//! End-to-end tests over real stdio against the built binary: lifecycle, both position
//! encodings, push and pull diagnostics, incremental changes, code actions, fix-all, hover.

mod common;

use common::lsp::{Client, apply_edits, position};
use serde_json::{Value, json};

const URI: &str = "file:///tmp/keras_lsp_e2e/train.py";

/// Non-ASCII before the finding on the same line checks column conversion.
const SOURCE: &str = "import keras\n\nnote = \"训练 😀\"; ckpt = keras.callbacks.ModelCheckpoint(\"m.keras\", save_freq=1)\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(optimizer=\"adam\", loss=\"mse\", run_eagerly=True)\n";

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn utf8_caps() -> Value {
    json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}})
}

#[test]
fn lifecycle_and_push_diagnostics_utf16() {
    let mut client = Client::start();
    let init = client.initialize(json!({}), Value::Null);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(init["capabilities"]["textDocumentSync"]["change"], 2);
    assert!(init["capabilities"].get("diagnosticProvider").is_none());
    client.open(URI, SOURCE);
    let diagnostics = client.diagnostics(URI, 1);
    assert_eq!(codes(&diagnostics), ["KRS201", "KRS601"]);
    let d = &diagnostics[0];
    assert_eq!(d["source"], "keras-lsp");
    assert_eq!(d["severity"], 2);
    assert!(
        d["codeDescription"]["href"]
            .as_str()
            .unwrap()
            .ends_with("#krs201-checkpoint-too-frequent")
    );
    let offset = SOURCE.find("save_freq=1").unwrap() + "save_freq=".len();
    assert_eq!(d["range"]["start"], position(SOURCE, offset, false));
    assert_eq!(d["range"]["end"], position(SOURCE, offset + 1, false));
    // Sanity: UTF-16 and UTF-8 columns really differ on this line.
    assert_ne!(
        position(SOURCE, offset, false),
        position(SOURCE, offset, true)
    );
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn utf8_encoding_and_incremental_changes() {
    let mut client = Client::start();
    let init = client.initialize(utf8_caps(), Value::Null);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    client.open(URI, SOURCE);
    let diagnostics = client.diagnostics(URI, 1);
    let offset = SOURCE.find("save_freq=1").unwrap() + "save_freq=".len();
    assert_eq!(
        diagnostics[0]["range"]["start"],
        position(SOURCE, offset, true)
    );

    // Replace `1` by `500` (UTF-8 columns): KRS201 disappears.
    let range =
        json!({"start": position(SOURCE, offset, true), "end": position(SOURCE, offset + 1, true)});
    client.change(URI, 2, json!([{"range": range, "text": "500"}]));
    assert_eq!(codes(&client.diagnostics(URI, 2)), ["KRS601"]);

    // Two changes in one notification, applied in order, the second seeing the first.
    let text = SOURCE.replace("save_freq=1", "save_freq=500");
    let eager = text.find("True").unwrap();
    client.change(
        URI,
        3,
        json!([
            {"range": {"start": position(&text, eager, true), "end": position(&text, eager + 4, true)}, "text": "False"},
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# 🧪 first line\n"},
        ]),
    );
    assert!(client.diagnostics(URI, 3).is_empty());
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    let expected = format!("# 🧪 first line\n{}", text.replacen("True", "False", 1));
    assert_eq!(state["text"], expected);

    // A stale version is ignored.
    client.change(URI, 2, json!([{"text": "garbage"}]));
    let state = client.call("keras-lsp/documentState", json!({"uri": URI}));
    assert_eq!(state["version"], 3);
    assert_eq!(state["text"], expected);

    // Full-document replacement.
    client.change(URI, 4, json!([{"text": SOURCE}]));
    assert_eq!(codes(&client.diagnostics(URI, 4)), ["KRS201", "KRS601"]);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn pull_diagnostics_when_the_client_supports_them() {
    let mut client = Client::start();
    let init = client.initialize(
        json!({"textDocument": {"diagnostic": {"dynamicRegistration": false}}}),
        Value::Null,
    );
    assert_eq!(
        init["capabilities"]["diagnosticProvider"]["identifier"],
        "keras-lsp"
    );
    client.open(URI, SOURCE);
    let report = client.call(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(report["kind"], "full");
    assert_eq!(
        codes(report["items"].as_array().unwrap()),
        ["KRS201", "KRS601"]
    );
    let again = client.call(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}, "previousResultId": report["resultId"]}),
    );
    assert_eq!(again["kind"], "unchanged");
    // No push in pull mode.
    assert!(
        client
            .try_wait_for(
                "textDocument/publishDiagnostics",
                |_| true,
                std::time::Duration::from_millis(300)
            )
            .is_none()
    );
    let unknown = client.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": "file:///nope.py"}}),
    );
    assert!(unknown.get("error").is_some());
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn quick_fix_noqa_and_fix_all() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    client.open(URI, SOURCE);
    let diagnostics = client.diagnostics(URI, 1);
    let ckpt = diagnostics[0].clone();
    let actions = client.call(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": ckpt["range"], "context": {"diagnostics": [ckpt]}}),
    );
    let actions = actions.as_array().unwrap();
    let titles: Vec<&str> = actions
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles[0],
        "Fix KRS201: Save once per epoch (`save_freq=\"epoch\"`)"
    );
    assert_eq!(titles[1], "Disable KRS201 for this line");
    let fixed = apply_edits(
        SOURCE,
        actions[0]["edit"]["changes"][URI].as_array().unwrap(),
        false,
    );
    assert_eq!(fixed, SOURCE.replace("save_freq=1", "save_freq=\"epoch\""));
    let suppressed = apply_edits(
        SOURCE,
        actions[1]["edit"]["changes"][URI].as_array().unwrap(),
        false,
    );
    assert!(
        suppressed.contains("save_freq=1)  # noqa: KRS201\n"),
        "{suppressed}"
    );

    // Apply the quick fix through didChange: the server re-parses and the finding is gone.
    client.change(URI, 2, json!([{"text": fixed}]));
    assert_eq!(codes(&client.diagnostics(URI, 2)), ["KRS601"]);
    // Applying the noqa edit silences the finding.
    client.change(URI, 3, json!([{"text": suppressed}]));
    assert_eq!(codes(&client.diagnostics(URI, 3)), ["KRS601"]);

    // Fix-all applies only safe fixes: both findings here are unsafe, so the text is unchanged
    // and equals what `keras-lsp fix` (safe only) produces.
    client.change(URI, 4, json!([{"text": SOURCE}]));
    client.diagnostics(URI, 4);
    let fix_all = client.call(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
               "context": {"diagnostics": [], "only": ["source.fixAll.keras-lsp"]}}),
    );
    let fix_all = fix_all.as_array().unwrap();
    assert_eq!(fix_all.len(), 1);
    assert_eq!(fix_all[0]["kind"], "source.fixAll.keras-lsp");
    let edits = fix_all[0]["edit"]["changes"][URI]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let after = apply_edits(SOURCE, &edits, false);
    assert_eq!(after, cli_fix(SOURCE));
    assert!(
        after.contains("save_freq=1"),
        "unsafe fixes must not be applied by fix-all"
    );
    assert_eq!(client.shutdown(), Some(0));
}

/// What `keras-lsp fix` (safe fixes) makes of `text`.
pub fn cli_fix(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("keras_lsp_fix_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("train.py");
    std::fs::write(&file, text).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_keras-lsp"))
        .args(["fix"])
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn hover_shows_rule_docs_on_findings_and_noqa_codes() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    let text = format!("{SOURCE}x = 1  # noqa: KRS601\n");
    client.open(URI, &text);
    let diagnostics = client.diagnostics(URI, 1);
    let hover = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": URI}, "position": diagnostics[0]["range"]["start"]}),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.starts_with("**KRS201 checkpoint-too-frequent**"),
        "{value}"
    );
    for section in [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
        "## Fix safety",
    ] {
        assert!(value.contains(section), "{section} missing");
    }
    let noqa = text.rfind("KRS601").unwrap() + 2;
    let hover = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": URI}, "position": position(&text, noqa, false)}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("**KRS601 run-eagerly-in-training**")
    );
    let nothing = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": URI}, "position": {"line": 0, "character": 1}}),
    );
    assert!(nothing.is_null());
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn settings_from_initialization_options_and_did_change_configuration() {
    let mut client = Client::start();
    client.initialize(
        json!({}),
        json!({"ignore": ["KRS601"], "rules": {"KRS201": {"severity": "error"}}}),
    );
    client.open(URI, SOURCE);
    let diagnostics = client.diagnostics(URI, 1);
    assert_eq!(codes(&diagnostics), ["KRS201"]);
    assert_eq!(diagnostics[0]["severity"], 1);
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"keras-lsp": {"rules": {"checkpoint-too-frequent": {"min-save-freq": 1}}}}}),
    );
    // Re-published for the same version with the new settings: save_freq=1 is no longer below 1.
    let message = client.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == URI);
    let diagnostics = message["params"]["diagnostics"].as_array().unwrap();
    assert_eq!(codes(diagnostics), ["KRS601"]);
    // A bad setting is reported to the user, not fatal.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"rules": {"KRS999": {}}}}),
    );
    let shown = client.wait_for("window/showMessage", |_| true);
    assert!(
        shown["params"]["message"]
            .as_str()
            .unwrap()
            .contains("KRS999")
    );
    assert_eq!(client.shutdown(), Some(0));
}

/// Past the memory budget the least recently analysed documents drop their trees; editing one
/// re-parses it and its diagnostics are those of the edited text.
#[test]
fn evicted_documents_come_back_on_edit() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    let filler = "# filler line to make the document large\n".repeat(1_600);
    let text = format!("{SOURCE}{filler}");
    let uris: Vec<String> = (0..16)
        .map(|i| format!("file:///tmp/keras_lsp_e2e/doc{i}.py"))
        .collect();
    for uri in &uris {
        client.open(uri, &text);
        assert_eq!(codes(&client.diagnostics(uri, 1)), ["KRS201", "KRS601"]);
    }
    let held = |client: &mut Client, uri: &str| {
        client.call("keras-lsp/documentState", json!({"uri": uri}))["tree_held"]
            .as_bool()
            .unwrap()
    };
    assert!(
        !held(&mut client, &uris[0]),
        "the oldest document keeps its tree"
    );
    assert!(held(&mut client, &uris[15]));
    // Replace `1` by `500` in the evicted document: KRS201 disappears.
    let offset = SOURCE.find("save_freq=1").unwrap() + "save_freq=".len();
    let range = json!({"start": position(SOURCE, offset, false), "end": position(SOURCE, offset + 1, false)});
    client.change(&uris[0], 2, json!([{"range": range, "text": "500"}]));
    assert_eq!(codes(&client.diagnostics(&uris[0], 2)), ["KRS601"]);
    assert!(held(&mut client, &uris[0]));
    let state = client.call("keras-lsp/documentState", json!({"uri": &uris[0]}));
    assert_eq!(state["text"], text.replace("save_freq=1", "save_freq=500"));
    assert_eq!(client.shutdown(), Some(0));
}
