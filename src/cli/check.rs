//! `keras-lsp check`: lint files in parallel and print findings in the chosen format.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;

use super::files::{self, SettingsResolver};
use super::output::{self, Reported};
use super::{CheckArgs, OutputFormat};
use crate::analysis::{analyze, mentions_keras};
use crate::document::parse;
use crate::notebook::Notebook;
use crate::settings::Settings;

/// Findings of one file, or why it could not be read.
type FileResult = Result<Vec<Reported>, String>;

/// Reads a source file as UTF-8, with a clear message otherwise.
pub fn read_source(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not valid UTF-8 (invalid byte at offset {}); keras-lsp reads UTF-8 Python source",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Lints one Python source text.
pub fn lint_python(filename: &str, text: &str, settings: &Settings) -> Vec<Reported> {
    if !mentions_keras(text) {
        return Vec::new();
    }
    let tree = parse(text);
    output::place(filename, text, analyze(text, &tree, settings))
}

/// Lints one Jupyter notebook (its code cells as one program).
pub fn lint_notebook(
    filename: &str,
    text: &str,
    settings: &Settings,
) -> Result<Vec<Reported>, String> {
    let notebook = Notebook::parse(text).map_err(|e| format!("{filename}: {e}"))?;
    Ok(output::place_notebook(
        filename,
        &notebook,
        notebook.analyze(settings),
    ))
}

/// Whether a path is a Jupyter notebook.
pub fn is_notebook(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ipynb"))
}

/// Lints one file of any supported kind.
pub fn lint_path(path: &Path, settings: &Settings) -> Result<Vec<Reported>, String> {
    let text = read_source(path)?;
    let filename = path.display().to_string();
    if is_notebook(path) {
        return lint_notebook(&filename, &text, settings);
    }
    Ok(lint_python(&filename, &text, settings))
}

pub fn run(args: CheckArgs) -> ExitCode {
    let (paths, mut errors) = files::collect(&args.paths);
    let resolver = SettingsResolver::new(&args.selection);
    let results: Vec<(FileResult, Vec<String>)> = paths
        .par_iter()
        .map(|path| {
            let (settings, warnings) = resolver.for_file(path);
            (lint_path(path, &settings), warnings)
        })
        .collect();
    let mut reported = Vec::new();
    for (result, warnings) in results {
        for w in warnings {
            eprintln!("warning: {w}");
        }
        match result {
            Ok(r) => reported.extend(r),
            Err(e) => errors.push(e),
        }
    }
    if let Some(min) = args.min_severity {
        reported.retain(|r| r.finding.severity <= min);
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    let text = if args.statistics {
        output::statistics(&reported)
    } else {
        match args.output_format {
            OutputFormat::Text => output::text(&reported),
            OutputFormat::Json => output::json(&reported),
            OutputFormat::Sarif => output::sarif(&reported),
            OutputFormat::Github => output::github(&reported),
        }
    };
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return ExitCode::from(2);
    }
    if !errors.is_empty() {
        ExitCode::from(2)
    } else if !reported.is_empty() && !args.exit_zero {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
