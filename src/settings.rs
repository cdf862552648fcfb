//! User settings: rule selection, per-rule severity and options; from the client and pyproject.toml.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::finding::Severity;

/// Per-rule settings: an optional severity override plus free-form rule options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSettings {
    pub severity: Option<Severity>,
    pub options: Map<String, Value>,
}

/// Effective settings for one analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Code prefixes or rule names to enable; empty means all rules.
    pub select: Vec<String>,
    /// Code prefixes or rule names to disable.
    pub ignore: Vec<String>,
    /// Keyed by rule code (names are normalised to codes when loaded).
    pub rules: HashMap<String, RuleSettings>,
    pub python: Option<String>,
    pub debounce_ms: u64,
    pub bench_timeout_seconds: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            select: Vec::new(),
            ignore: Vec::new(),
            rules: HashMap::new(),
            python: None,
            debounce_ms: 0,
            bench_timeout_seconds: 180,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    select: Option<Vec<String>>,
    #[serde(default, alias = "extend-ignore")]
    ignore: Option<Vec<String>>,
    #[serde(default)]
    rules: Option<Map<String, Value>>,
    #[serde(default)]
    python: Option<String>,
    #[serde(default, alias = "debounceMs")]
    debounce_ms: Option<u64>,
    #[serde(default, alias = "benchTimeoutSeconds")]
    bench_timeout_seconds: Option<u64>,
}

impl Settings {
    /// Builds settings from layers of JSON objects; later layers override earlier ones.
    /// Unknown keys and ill-typed values are reported as warnings, never fatal.
    pub fn from_layers(layers: &[Value]) -> (Settings, Vec<String>) {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();
        for layer in layers {
            let layer = unwrap_namespace(layer);
            if layer.is_null() {
                continue;
            }
            match RawSettings::deserialize(layer) {
                Ok(raw) => settings.merge(raw, &mut warnings),
                Err(err) => warnings.push(format!("invalid keras-lsp settings: {err}")),
            }
        }
        (settings, warnings)
    }

    fn merge(&mut self, raw: RawSettings, warnings: &mut Vec<String>) {
        if let Some(select) = raw.select {
            self.select = select;
        }
        if let Some(ignore) = raw.ignore {
            self.ignore = ignore;
        }
        if let Some(python) = raw.python.filter(|p| !p.is_empty()) {
            self.python = Some(python);
        }
        if let Some(ms) = raw.debounce_ms {
            self.debounce_ms = ms;
        }
        if let Some(s) = raw.bench_timeout_seconds {
            self.bench_timeout_seconds = s;
        }
        for (key, value) in raw.rules.unwrap_or_default() {
            let Some(rule) = crate::rules::lookup(&key) else {
                warnings.push(format!("unknown rule `{key}` in settings"));
                continue;
            };
            let Value::Object(table) = value else {
                warnings.push(format!("settings for `{key}` must be a table"));
                continue;
            };
            let entry = self.rules.entry(rule.code.to_string()).or_default();
            for (option, value) in table {
                if option == "severity" {
                    match value.as_str().and_then(Severity::parse) {
                        Some(sev) => entry.severity = Some(sev),
                        None => warnings.push(format!("invalid severity for `{key}`: {value}")),
                    }
                } else if rule.options.iter().any(|o| o.name == option) {
                    entry.options.insert(option, value);
                } else {
                    warnings.push(format!("unknown option `{option}` for rule `{key}`"));
                }
            }
        }
    }

    /// Whether a rule is enabled by `select`/`ignore` (prefixes of codes, or full names).
    pub fn is_enabled(&self, code: &str, name: &str) -> bool {
        let matches = |sel: &String| {
            sel.eq_ignore_ascii_case("ALL") || code.starts_with(sel.as_str()) || sel == name
        };
        (self.select.is_empty() || self.select.iter().any(matches))
            && !self.ignore.iter().any(matches)
    }

    pub fn severity_override(&self, code: &str) -> Option<Severity> {
        self.rules.get(code).and_then(|r| r.severity)
    }

    /// A rule's integer option, or `default`.
    pub fn int_option(&self, code: &str, option: &str, default: i64) -> i64 {
        self.rules
            .get(code)
            .and_then(|r| r.options.get(option))
            .and_then(Value::as_i64)
            .unwrap_or(default)
    }
}

/// Accepts `{"keras-lsp": {...}}` (VS Code style) as well as the bare object.
fn unwrap_namespace(value: &Value) -> &Value {
    value
        .get("keras-lsp")
        .or_else(|| value.get("keras_lsp"))
        .unwrap_or(value)
}

/// The nearest `pyproject.toml` at or above `start` that has a `[tool.keras-lsp]` table.
pub fn find_pyproject(start: &Path) -> Option<PathBuf> {
    let mut dir = if start.is_dir() {
        Some(start)
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        let candidate = d.join("pyproject.toml");
        if candidate.is_file()
            && std::fs::read_to_string(&candidate).is_ok_and(|t| t.contains("keras-lsp"))
        {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Reads `[tool.keras-lsp]` from a pyproject file as a JSON settings layer.
pub fn read_pyproject(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: invalid TOML: {e}", path.display()))?;
    let table = doc
        .get("tool")
        .and_then(|t| t.get("keras-lsp"))
        .cloned()
        .unwrap_or(toml::Value::Table(Default::default()));
    serde_json::to_value(table).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_layers_win_and_names_map_to_codes() {
        let (s, warnings) = Settings::from_layers(&[
            json!({"select": ["KRS2"], "rules": {"checkpoint-too-frequent": {"min-save-freq": 10}}}),
            json!({"keras-lsp": {"ignore": ["KRS203"], "rules": {"KRS201": {"severity": "error"}}}}),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(s.is_enabled("KRS201", "checkpoint-too-frequent"));
        assert!(!s.is_enabled("KRS203", "tensorboard-heavy-logging"));
        assert!(!s.is_enabled("KRS101", "unscaled-kernel-initializer"));
        assert_eq!(s.int_option("KRS201", "min-save-freq", 100), 10);
        assert_eq!(s.severity_override("KRS201"), Some(Severity::Error));
    }

    #[test]
    fn bad_values_warn_instead_of_failing() {
        let (_, warnings) = Settings::from_layers(&[
            json!({"rules": {"KRS999": {}, "KRS201": {"severity": "loud", "bogus": 1}}}),
        ]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let (_, warnings) = Settings::from_layers(&[json!({"select": 5})]);
        assert_eq!(warnings.len(), 1);
    }
}
