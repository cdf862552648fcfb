//! Build script: extracts each rule module's `//!` doc comment so hover and `keras-lsp rule` show it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("src/rules");
    println!("cargo:rerun-if-changed=src/rules");
    let mut entries: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src/rules exists") {
        let path = entry.expect("readable dir entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || stem == "mod" {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("rule module is UTF-8");
        let doc: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| {
                let l = &l[3..];
                l.strip_prefix(' ').unwrap_or(l)
            })
            .collect();
        entries.push((stem.to_string(), doc.join("\n").trim().to_string()));
    }
    entries.sort();
    let mut out =
        String::from("/// Rule docs by module name, extracted from the `//!` comments.\n");
    out.push_str("pub(crate) static RULE_DOCS: &[(&str, &str)] = &[\n");
    for (module, doc) in entries {
        writeln!(out, "    ({module:?}, {doc:?}),").unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("rule_docs.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
