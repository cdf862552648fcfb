//! Finding the files to lint (respecting .gitignore) and the settings that apply to each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::SelectionArgs;
use crate::settings::{self, Settings};

/// Python sources and notebooks under `paths`; explicit file paths are always included.
pub fn collect(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        if !path.exists() {
            errors.push(format!("{}: no such file or folder", path.display()));
            continue;
        }
        for entry in ignore::WalkBuilder::new(path).build() {
            match entry {
                Ok(entry) => {
                    let p = entry.path();
                    if entry.file_type().is_some_and(|t| t.is_file()) && is_lintable(p) {
                        files.push(p.to_path_buf());
                    }
                }
                Err(err) => errors.push(err.to_string()),
            }
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

pub fn is_lintable(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("py" | "pyi" | "ipynb")
    )
}

/// Settings built from one pyproject.toml (or none), with the warnings reading it gave.
type ResolvedSettings = (std::sync::Arc<Settings>, Vec<String>);

/// Settings per pyproject.toml, cached; CLI flags layered on top.
pub struct SettingsResolver {
    cli_layer: Value,
    cache: Mutex<HashMap<Option<PathBuf>, ResolvedSettings>>,
}

impl SettingsResolver {
    pub fn new(selection: &SelectionArgs) -> SettingsResolver {
        let mut layer = serde_json::Map::new();
        if let Some(select) = &selection.select {
            layer.insert("select".into(), Value::from(select.clone()));
        }
        if let Some(ignore) = &selection.ignore {
            layer.insert("ignore".into(), Value::from(ignore.clone()));
        }
        SettingsResolver {
            cli_layer: Value::Object(layer),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Settings for one file, plus warnings the first time a config is read.
    pub fn for_file(&self, file: &Path) -> (std::sync::Arc<Settings>, Vec<String>) {
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let pyproject = settings::find_pyproject(&absolute);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, _)) = cache.get(&pyproject) {
            return (s.clone(), Vec::new());
        }
        let mut warnings = Vec::new();
        let file_layer = match &pyproject {
            Some(path) => settings::read_pyproject(path).unwrap_or_else(|e| {
                warnings.push(e);
                Value::Null
            }),
            None => Value::Null,
        };
        let (s, more) = Settings::from_layers(&[file_layer, self.cli_layer.clone()]);
        warnings.extend(more.into_iter().map(|w| match &pyproject {
            Some(p) => format!("{}: {w}", p.display()),
            None => w,
        }));
        let s = std::sync::Arc::new(s);
        cache.insert(pyproject, (s.clone(), warnings.clone()));
        (s, warnings)
    }
}
