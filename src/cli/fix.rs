//! `keras-lsp fix`: apply fixes in place, or show them as a unified diff.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;

use super::FixArgs;
use super::check::read_source;
use super::files::{self, SettingsResolver};
use crate::fix::fix_source;
use crate::settings::Settings;

/// New content for one file, or None when nothing changes.
pub fn fix_path(
    path: &Path,
    settings: &Settings,
    include_unsafe: bool,
) -> Result<Option<(String, String, usize)>, String> {
    let text = read_source(path)?;
    let outcome = fix_source(&text, settings, include_unsafe);
    Ok((outcome.text != text).then_some((text, outcome.text, outcome.applied)))
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
            Ok(Some((old, new, applied))) => {
                files_changed += 1;
                fixes += applied;
                if args.diff {
                    let name = path.display().to_string();
                    let diff = similar::TextDiff::from_lines(&old, &new);
                    let text = diff.unified_diff().header(&name, &name).to_string();
                    let _ = out.write_all(text.as_bytes());
                } else if let Err(e) = std::fs::write(path, new) {
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
