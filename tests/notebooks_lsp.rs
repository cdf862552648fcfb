//! End-to-end notebook sync over real stdio (LSP 3.17 `notebookDocument/*`): open, incremental cell edits, added/removed/reordered cells, close; findings that depend on other cells, per-cell diagnostics, quick fixes across cells and fix-all.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::lsp::{Client, apply_edits, position};
use serde_json::{Value, json};

const NOTEBOOK: &str = "file:///tmp/keras_lsp_nb/train.ipynb";

/// The codes these tests follow (rules merged later may add others; they are not counted).
const TRACKED: &[&str] = &["KRS403", "KRS502", "KRS503"];

#[derive(Clone)]
struct Cell {
    uri: String,
    markdown: bool,
    text: String,
    version: i64,
}

/// The client's copy of the notebook.
struct Notebook {
    version: i64,
    cells: Vec<Cell>,
}

fn cell_uri(n: usize) -> String {
    format!("vscode-notebook-cell:/tmp/keras_lsp_nb/train.ipynb#C{n}")
}

fn code(n: usize, text: &str) -> Cell {
    Cell {
        uri: cell_uri(n),
        markdown: false,
        text: text.to_string(),
        version: 1,
    }
}

const IMPORTS: &str =
    "import keras\nimport tensorflow as tf\nfrom keras import layers\n%matplotlib inline\n";
const POLICY: &str = "keras.mixed_precision.set_global_policy(\"mixed_float16\")\n";
const MODEL: &str =
    "model = keras.Sequential([\n    layers.Dense(10, activation=\"softmax\"),\n])\n?model.fit\n";
const OPTIMIZER: &str = "opt = keras.optimizers.SGD()\n!nvidia-smi\n";
const STEP: &str = "@tf.function\ndef step(x, y):\n    with tf.GradientTape() as tape:\n        loss = model(x)\n    grads = tape.gradient(loss, model.trainable_variables)\n    opt.apply_gradients(zip(grads, model.trainable_variables))\n";
const DATA: &str = "train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)\n";
const FIT: &str = "%%time\nmodel.fit(train_ds, epochs=1, batch_size=32)\n";

fn notebook() -> Notebook {
    let mut cells = vec![Cell {
        uri: cell_uri(0),
        markdown: true,
        text: "# Mixed precision across cells\n".into(),
        version: 1,
    }];
    for (n, text) in [IMPORTS, POLICY, MODEL, OPTIMIZER, STEP, DATA, FIT]
        .into_iter()
        .enumerate()
    {
        cells.push(code(n + 1, text));
    }
    Notebook { version: 1, cells }
}

fn cell_json(cell: &Cell) -> Value {
    json!({"kind": if cell.markdown { 1 } else { 2 }, "document": cell.uri})
}

fn item_json(cell: &Cell) -> Value {
    json!({"uri": cell.uri, "languageId": if cell.markdown { "markdown" } else { "python" },
           "version": cell.version, "text": cell.text})
}

impl Notebook {
    fn index(&self, uri: &str) -> usize {
        self.cells.iter().position(|c| c.uri == uri).unwrap()
    }

    fn open(&self, client: &mut Client) {
        client.notify(
            "notebookDocument/didOpen",
            json!({
                "notebookDocument": {"uri": NOTEBOOK, "notebookType": "jupyter-notebook", "version": self.version,
                                     "cells": self.cells.iter().map(cell_json).collect::<Vec<_>>()},
                "cellTextDocuments": self.cells.iter().map(item_json).collect::<Vec<_>>(),
            }),
        );
    }

    fn change(&mut self, client: &mut Client, cells: Value) {
        self.version += 1;
        client.notify(
            "notebookDocument/didChange",
            json!({"notebookDocument": {"uri": NOTEBOOK, "version": self.version}, "change": {"cells": cells}}),
        );
    }

    /// Applies LSP text edits to one cell here, and sends them as incremental changes (last
    /// first, so each range is still valid when applied).
    fn edit_cell(&mut self, client: &mut Client, uri: &str, edits: &[Value]) {
        let i = self.index(uri);
        let cell = &mut self.cells[i];
        let mut sorted = edits.to_vec();
        sorted.sort_by_key(|e| {
            std::cmp::Reverse(common::lsp::offset(&cell.text, &e["range"]["start"], false))
        });
        let changes: Vec<Value> = sorted
            .iter()
            .map(|e| json!({"range": e["range"], "text": e["newText"]}))
            .collect();
        cell.text = apply_edits(&cell.text, edits, false);
        cell.version += 1;
        let content =
            json!([{"document": {"uri": uri, "version": cell.version}, "changes": changes}]);
        self.change(client, json!({"textContent": content}));
    }

    /// Replaces the first `from` in a cell by `to` with one incremental change.
    fn replace(&mut self, client: &mut Client, uri: &str, from: &str, to: &str) {
        let text = &self.cells[self.index(uri)].text;
        let start = text.find(from).unwrap();
        let edit = json!({"range": {"start": position(text, start, false), "end": position(text, start + from.len(), false)},
                          "newText": to});
        self.edit_cell(client, uri, &[edit]);
    }
}

fn tracked(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .filter(|c| TRACKED.contains(&c.as_str()))
        .collect()
}

/// Waits for a publication for `uri` whose tracked codes are `codes`.
fn wait_codes(client: &mut Client, uri: &str, codes: &[&str]) -> Value {
    let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    let message = client
        .try_wait_for(
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && tracked(p["diagnostics"].as_array().unwrap()) == codes,
            Duration::from_secs(20),
        )
        .unwrap_or_else(|| panic!("no diagnostics {codes:?} for {uri}"));
    message["params"].clone()
}

fn start(start: &Value) -> (u64, u64) {
    (
        start["line"].as_u64().unwrap(),
        start["character"].as_u64().unwrap(),
    )
}

fn find<'a>(params: &'a Value, code: &str) -> &'a Value {
    params["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap()
}

/// What `keras-lsp fix` (safe fixes) makes of these cells as an `.ipynb`: the code cells' sources.
fn cli_fix(cells: &[Cell]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("keras_lsp_nb_lsp_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nb.ipynb");
    let json_cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            let lines: Vec<&str> = c.text.split_inclusive('\n').collect();
            if c.markdown {
                json!({"cell_type": "markdown", "metadata": {}, "source": lines})
            } else {
                json!({"cell_type": "code", "metadata": {}, "source": lines, "outputs": [], "execution_count": null})
            }
        })
        .collect();
    let nb = json!({"cells": json_cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5});
    std::fs::write(&path, serde_json::to_string_pretty(&nb).unwrap()).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_keras-lsp"))
        .arg("fix")
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let fixed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(Path::new(&dir));
    fixed["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["source"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn notebook_sync_cross_cell_findings_and_fixes() {
    let mut client = Client::start();
    let init = client.initialize(json!({}), Value::Null);
    let sync = &init["capabilities"]["notebookDocumentSync"];
    assert_eq!(sync["notebookSelector"][0]["notebook"], "jupyter-notebook");
    assert_eq!(
        sync["notebookSelector"][0]["cells"][0]["language"],
        "python"
    );
    let kinds = init["capabilities"]["codeActionProvider"]["codeActionKinds"].to_string();
    assert!(
        kinds.contains("notebook.source.fixAll.keras-lsp"),
        "{kinds}"
    );

    // Open: every finding needs other cells (imports in cell 1, the policy in cell 2, the
    // pipeline in cell 6); IPython lines in cells 1, 3, 4 and 7 cause nothing.
    let mut nb = notebook();
    nb.open(&mut client);
    let (c1, c2, c3, c4, c5, c7) = (
        cell_uri(1),
        cell_uri(2),
        cell_uri(3),
        cell_uri(4),
        cell_uri(5),
        cell_uri(7),
    );
    for uri in [&c1, &c2, &c5, &cell_uri(6)] {
        wait_codes(&mut client, uri, &[]);
    }
    let model = wait_codes(&mut client, &c3, &["KRS503"]);
    assert_eq!(model["version"], 1);
    assert_eq!(start(&find(&model, "KRS503")["range"]["start"]), (1, 4));
    let optimizer = wait_codes(&mut client, &c4, &["KRS502"]);
    assert_eq!(start(&find(&optimizer, "KRS502")["range"]["start"]), (0, 6));
    let fit = wait_codes(&mut client, &c7, &["KRS403"]);
    let krs403 = find(&fit, "KRS403");
    assert_eq!(start(&krs403["range"]["start"]), (1, 30));
    assert!(
        krs403["message"]
            .as_str()
            .unwrap()
            .contains("on line 1 of cell 7"),
        "line numbers in messages refer to cells: {}",
        krs403["message"]
    );
    let state = client.call("keras-lsp/documentState", json!({"uri": c3}));
    assert_eq!(state["text"], MODEL);

    // A quick fix whose edits span cells: KRS502 wraps the optimizer (cell 4) and scales the
    // loss in the training step (cell 5).
    let diagnostic = find(&optimizer, "KRS502").clone();
    let actions = client.call(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": c4}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]}}),
    );
    let actions = actions.as_array().unwrap();
    let quick_fix = actions
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Fix KRS502"))
        .unwrap();
    let changes = quick_fix["edit"]["changes"].as_object().unwrap();
    let touched: BTreeSet<&str> = changes.keys().map(String::as_str).collect();
    assert_eq!(touched, BTreeSet::from([c4.as_str(), c5.as_str()]));
    let noqa = actions
        .iter()
        .find(|a| a["title"] == "Disable KRS502 for this line")
        .unwrap();
    let noqa_edits = noqa["edit"]["changes"][&c4].as_array().unwrap();
    assert!(
        apply_edits(OPTIMIZER, noqa_edits, false)
            .starts_with("opt = keras.optimizers.SGD()  # noqa: KRS502\n")
    );
    let (edits4, edits5) = (
        changes[&c4].as_array().unwrap().clone(),
        changes[&c5].as_array().unwrap().clone(),
    );
    nb.edit_cell(&mut client, &c4, &edits4);
    nb.edit_cell(&mut client, &c5, &edits5);
    let fixed = wait_codes(&mut client, &c4, &[]);
    assert_eq!(fixed["version"], 2);
    assert!(
        nb.cells[4]
            .text
            .contains("LossScaleOptimizer(keras.optimizers.SGD())"),
        "{}",
        nb.cells[4].text
    );
    assert!(
        nb.cells[5].text.contains("scale_loss(loss)"),
        "{}",
        nb.cells[5].text
    );
    let state = client.call("keras-lsp/documentState", json!({"uri": c5}));
    assert_eq!(state["text"], nb.cells[5].text.as_str());
    assert_eq!(state["version"], 2);

    // An incremental edit in cell 2 changes cell 3's findings (its version stays 1).
    nb.replace(&mut client, &c2, "mixed_float16", "float32");
    let model = wait_codes(&mut client, &c3, &[]);
    assert_eq!(model["version"], 1);
    nb.replace(&mut client, &c2, "float32", "mixed_float16");
    wait_codes(&mut client, &c3, &["KRS503"]);

    // Remove the imports cell: nothing resolves any more; its diagnostics are cleared.
    let removed = nb.cells.remove(1);
    nb.change(
        &mut client,
        json!({"structure": {"array": {"start": 1, "deleteCount": 1}, "didClose": [{"uri": removed.uri}]}}),
    );
    let cleared = wait_codes(&mut client, &c1, &[]);
    assert!(cleared["version"].is_null());
    wait_codes(&mut client, &c3, &[]);
    wait_codes(&mut client, &c7, &[]);
    assert!(
        client
            .request("keras-lsp/documentState", json!({"uri": c1}))
            .get("error")
            .is_some()
    );

    // Add a new imports cell in its place: the findings come back.
    let imports = code(8, IMPORTS);
    nb.cells.insert(1, imports.clone());
    nb.change(
        &mut client,
        json!({"structure": {"array": {"start": 1, "deleteCount": 0, "cells": [cell_json(&imports)]},
                             "didOpen": [item_json(&imports)]}}),
    );
    wait_codes(&mut client, &c3, &["KRS503"]);
    wait_codes(&mut client, &c7, &["KRS403"]);
    wait_codes(&mut client, &imports.uri, &[]);

    // Reorder (the model cell moves to the top) and edit it in the same change: the finding
    // follows its cell, one line lower.
    let moved = nb.cells.remove(3);
    nb.cells.insert(1, moved);
    let order: Vec<Value> = nb.cells[1..4].iter().map(cell_json).collect();
    nb.cells[1].text.insert(0, '\n');
    nb.cells[1].version += 1;
    nb.change(
        &mut client,
        json!({"structure": {"array": {"start": 1, "deleteCount": 3, "cells": order}},
               "textContent": [{"document": {"uri": c3, "version": 2},
                                "changes": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "\n"}]}]}),
    );
    let model = wait_codes(&mut client, &c3, &["KRS503"]);
    assert_eq!(model["version"], 2);
    assert_eq!(start(&find(&model, "KRS503")["range"]["start"]), (2, 4));
    let hover = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": c3}, "position": {"line": 2, "character": 6}}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("**KRS503"),
        "{hover}"
    );
    let nothing = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": c2}, "position": {"line": 0, "character": 6}}),
    );
    assert!(nothing.is_null());
    let markdown = client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": cell_uri(0)}, "position": {"line": 0, "character": 2}}),
    );
    assert!(markdown.is_null());

    // A stale notebook version is ignored.
    client.notify(
        "notebookDocument/didChange",
        json!({"notebookDocument": {"uri": NOTEBOOK, "version": nb.version},
               "change": {"cells": {"textContent": [{"document": {"uri": c2, "version": 99},
                          "changes": [{"text": "stale = True\n"}]}]}}}),
    );
    let state = client.call("keras-lsp/documentState", json!({"uri": c2}));
    assert_eq!(state["text"], POLICY);

    // Fix-all: for the cell (its own findings) and for the whole notebook, equal to `keras-lsp fix`.
    let fix_all = |client: &mut Client, uri: &str, kind: &str| -> Value {
        let actions = client.call(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                   "context": {"diagnostics": [], "only": [kind]}}),
        );
        let actions = actions.as_array().unwrap();
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert_eq!(actions[0]["kind"], kind);
        actions[0]["edit"]["changes"].clone()
    };
    let cell_changes = fix_all(&mut client, &c7, "source.fixAll.keras-lsp");
    let fit_edits = cell_changes[&c7].as_array().unwrap();
    assert_eq!(
        apply_edits(FIT, fit_edits, false),
        "%%time\nmodel.fit(train_ds, epochs=1)\n"
    );
    let all_changes = fix_all(&mut client, &c3, "notebook.source.fixAll.keras-lsp");
    let mut after = nb.cells.clone();
    for cell in &mut after {
        if let Some(edits) = all_changes.get(&cell.uri) {
            cell.text = apply_edits(&cell.text, edits.as_array().unwrap(), false);
        }
    }
    let expected = cli_fix(&nb.cells);
    let got: Vec<String> = after.iter().map(|c| c.text.clone()).collect();
    assert_eq!(got, expected, "notebook fix-all equals `keras-lsp fix`");
    assert_ne!(
        got,
        nb.cells.iter().map(|c| c.text.clone()).collect::<Vec<_>>()
    );

    // Close: every cell's diagnostics are cleared and its document is gone.
    let code_cells: Vec<String> = nb
        .cells
        .iter()
        .filter(|c| !c.markdown)
        .map(|c| c.uri.clone())
        .collect();
    client.notify(
        "notebookDocument/didSave",
        json!({"notebookDocument": {"uri": NOTEBOOK}}),
    );
    client.notify(
        "notebookDocument/didClose",
        json!({"notebookDocument": {"uri": NOTEBOOK},
               "cellTextDocuments": nb.cells.iter().map(|c| json!({"uri": c.uri})).collect::<Vec<_>>()}),
    );
    for uri in &code_cells {
        let params = client
            .try_wait_for(
                "textDocument/publishDiagnostics",
                |p| p["uri"] == uri.as_str() && p["version"].is_null(),
                Duration::from_secs(20),
            )
            .unwrap_or_else(|| panic!("{uri} not cleared"));
        assert_eq!(params["params"]["diagnostics"], json!([]));
    }
    assert!(
        client
            .request("keras-lsp/documentState", json!({"uri": c3}))
            .get("error")
            .is_some()
    );
    assert_eq!(client.shutdown(), Some(0));
}

/// Pull diagnostics: a cell's report changes when another cell changes (the result id follows
/// the notebook), and the server asks the client to re-pull.
#[test]
fn notebook_pull_diagnostics_follow_other_cells() {
    let mut client = Client::start();
    client.initialize(
        json!({"textDocument": {"diagnostic": {"dynamicRegistration": false}},
               "workspace": {"diagnostics": {"refreshSupport": true}}}),
        Value::Null,
    );
    let mut nb = Notebook {
        version: 1,
        cells: vec![code(1, IMPORTS), code(2, POLICY), code(3, MODEL)],
    };
    nb.open(&mut client);
    let (c2, c3) = (cell_uri(2), cell_uri(3));
    let pull = |client: &mut Client, previous: &Value| {
        client.call(
            "textDocument/diagnostic",
            json!({"textDocument": {"uri": c3}, "previousResultId": previous}),
        )
    };
    let report = pull(&mut client, &Value::Null);
    assert_eq!(report["kind"], "full");
    assert_eq!(tracked(report["items"].as_array().unwrap()), ["KRS503"]);
    let again = pull(&mut client, &report["resultId"]);
    assert_eq!(again["kind"], "unchanged");
    nb.replace(&mut client, &c2, "mixed_float16", "float32");
    client.wait_for("workspace/diagnostic/refresh", |_| true);
    let changed = pull(&mut client, &report["resultId"]);
    assert_eq!(
        changed["kind"], "full",
        "cell 3 did not change, its findings did"
    );
    assert_eq!(
        tracked(changed["items"].as_array().unwrap()),
        Vec::<String>::new()
    );
    assert!(
        client
            .try_wait_for(
                "textDocument/publishDiagnostics",
                |_| true,
                Duration::from_millis(300)
            )
            .is_none(),
        "no push in pull mode"
    );
    assert_eq!(client.shutdown(), Some(0));
}
