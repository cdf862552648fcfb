//! `keras-lsp fix`: apply fixes in place, or show them as a unified diff.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;

use super::FixArgs;
use super::check::{is_notebook, read_source};
use super::files::{self, SettingsResolver};
use crate::fix::fix_source;
use crate::notebook::Notebook;
use crate::settings::Settings;

/// What fixing one file changes.
pub struct FileFix {
    pub old: String,
    pub new: String,
    pub applied: usize,
    /// A unified diff of the change (per cell for notebooks).
    pub diff: String,
}

fn unified_diff(old: &str, new: &str, name: &str) -> String {
    let mut diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(name, name)
        .to_string();
    // A source without a final newline ends the diff mid-line; keep diffs concatenable.
    if !diff.is_empty() && !diff.ends_with('\n') {
        diff.push('\n');
    }
    diff
}

/// The fixed content of one file, or None when nothing changes.
pub fn fix_path(
    path: &Path,
    settings: &Settings,
    include_unsafe: bool,
) -> Result<Option<FileFix>, String> {
    let text = read_source(path)?;
    let name = path.display().to_string();
    if is_notebook(path) {
        let notebook = Notebook::parse(&text).map_err(|e| format!("{name}: {e}"))?;
        let (changes, applied) = notebook.fixed_sources(settings, include_unsafe);
        if changes.is_empty() {
            return Ok(None);
        }
        let diff = changes
            .iter()
            .map(|(i, new)| {
                let old = &notebook.cells[*i].source;
                unified_diff(old, new, &format!("{name}:cell {}", i + 1))
            })
            .collect();
        let new = notebook.with_sources(&changes);
        return Ok(Some(FileFix {
            old: text,
            new,
            applied,
            diff,
        }));
    }
    let outcome = fix_source(&text, settings, include_unsafe);
    Ok((outcome.text != text).then(|| FileFix {
        diff: unified_diff(&text, &outcome.text, &name),
        old: text,
        new: outcome.text,
        applied: outcome.applied,
    }))
}

pub fn run(args: FixArgs) -> ExitCode {
    let (paths, mut errors) = files::collect(&args.paths);
    let resolver = SettingsResolver::new(&args.selection);
    let results: Vec<_> = paths
        .par_iter()
        .map(|path| {
            let (settings, _) = resolver.for_file(path);
            (path, fix_path(path, &settings, args.unsafe_fixes))
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let (mut files_changed, mut fixes) = (0, 0);
    for (path, result) in results {
        match result {
            Ok(Some(fixed)) => {
                files_changed += 1;
                fixes += fixed.applied;
                if args.diff {
                    let _ = out.write_all(fixed.diff.as_bytes());
                } else if fixed.new != fixed.old
                    && let Err(e) = std::fs::write(path, fixed.new)
                {
                    errors.push(format!("{}: {e}", path.display()));
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    let verb = if args.diff { "Would fix" } else { "Fixed" };
    eprintln!(
        "{verb} {fixes} finding{} in {files_changed} file{}.",
        if fixes == 1 { "" } else { "s" },
        if files_changed == 1 { "" } else { "s" }
    );
    if !errors.is_empty() {
        ExitCode::from(2)
    } else if args.diff && files_changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
