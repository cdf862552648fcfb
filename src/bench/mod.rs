//! Bundled micro-benchmarks: scenario registry, the Python runner, reports and the `bench` CLI.
//!
//! The scenarios are Python scripts under `bench/`, embedded with `include_str!` and run with the
//! user's interpreter in their own process group. Parameters go to the script as JSON on stdin;
//! the script answers with JSON lines (progress events, then one result or error).

mod cli;
mod params;
mod python;
mod report;
mod runner;
mod scripts;

use std::fmt;
use std::str::FromStr;

pub use cli::{BenchArgs, run_cli};
pub use params::params_from_source;
pub use python::resolve_python;
pub use report::{
    Device, Metric, Report, Row, Side, Table, render_markdown, render_svg, render_text,
    write_report,
};
pub use runner::{
    BenchError, BenchRequest, CancelToken, DEFAULT_TIMEOUT, Preflight, Progress, Stage, preflight,
    run,
};

/// One bundled benchmark scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Weight initialization at depth (KRS101–104).
    Init,
    /// Callback overhead (KRS201–203).
    Callbacks,
    /// tf.data pipeline throughput (KRS301–304).
    Pipeline,
    /// Batch size memory and throughput (KRS401).
    Batch,
    /// float16 gradient underflow and loss scaling (KRS501–503).
    MixedPrecision,
    /// Per-sample predict in a loop (KRS402).
    PredictLoop,
    /// run_eagerly=True vs compiled (KRS601).
    Eager,
}

impl Scenario {
    /// Every scenario, in the order of the table.
    pub const ALL: [Scenario; 7] = [
        Scenario::Init,
        Scenario::Callbacks,
        Scenario::Pipeline,
        Scenario::Batch,
        Scenario::MixedPrecision,
        Scenario::PredictLoop,
        Scenario::Eager,
    ];

    /// The scenario's name, which is also its script's stem (`bench/<name>.py`).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Init => "init",
            Scenario::Callbacks => "callbacks",
            Scenario::Pipeline => "pipeline",
            Scenario::Batch => "batch",
            Scenario::MixedPrecision => "mixed_precision",
            Scenario::PredictLoop => "predict_loop",
            Scenario::Eager => "eager",
        }
    }

    /// The finding codes this scenario measures.
    pub fn codes(self) -> &'static [&'static str] {
        match self {
            Scenario::Init => &["KRS101", "KRS102", "KRS103", "KRS104"],
            Scenario::Callbacks => &["KRS201", "KRS202", "KRS203"],
            Scenario::Pipeline => &["KRS301", "KRS302", "KRS303", "KRS304"],
            Scenario::Batch => &["KRS401"],
            Scenario::MixedPrecision => &["KRS501", "KRS502", "KRS503"],
            Scenario::PredictLoop => &["KRS402"],
            Scenario::Eager => &["KRS601"],
        }
    }

    /// One line saying what the scenario shows.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Init => {
                "per-layer activation std, gradient norm and loss after N steps: current initializer vs the fix"
            }
            Scenario::Callbacks => {
                "training steps/s with the callback settings vs the fix, plus a CSVLogger row"
            }
            Scenario::Pipeline => {
                "steps/s and input-bound share with and without prefetch / num_parallel_calls"
            }
            Scenario::Batch => "throughput and peak memory per batch size, largest size that fits",
            Scenario::MixedPrecision => {
                "share of float16 gradients that underflow to 0 without vs with loss scaling"
            }
            Scenario::PredictLoop => {
                "per-sample predict vs model(x, training=False) vs one batched predict"
            }
            Scenario::Eager => "run_eagerly=True vs compiled training steps/s",
        }
    }

    /// Parse a scenario name; `-` and `_` are interchangeable and case is ignored.
    pub fn from_name(name: &str) -> Option<Scenario> {
        let norm = name.trim().to_ascii_lowercase().replace('-', "_");
        Scenario::ALL.into_iter().find(|s| s.name() == norm)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
            format!(
                "unknown scenario '{s}'; expected one of {}",
                names.join(", ")
            )
        })
    }
}

/// The scenario that measures a finding code (`"KRS301"`, case-insensitive), if any. A rule in
/// the registry decides for its own code (its `scenario` field, which may be none); codes without
/// a rule yet fall back to the scenarios' own code lists.
pub fn scenario_for_code(code: &str) -> Option<Scenario> {
    if let Some(rule) = crate::rules::lookup(code.trim()) {
        return rule.scenario.and_then(Scenario::from_name);
    }
    let code = code.trim().to_ascii_uppercase();
    Scenario::ALL
        .into_iter()
        .find(|s| s.codes().contains(&code.as_str()))
}

/// Resolve a CLI target: a scenario name or a finding code. Returns the scenario and the
/// normalized code when the target was a code.
pub fn parse_target(target: &str) -> Option<(Scenario, Option<String>)> {
    if let Some(s) = Scenario::from_name(target) {
        return Some((s, None));
    }
    let scenario = scenario_for_code(target)?;
    let code = crate::rules::lookup(target.trim()).map_or_else(
        || target.trim().to_ascii_uppercase(),
        |r| r.code.to_string(),
    );
    Some((scenario, Some(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_scenarios() {
        assert_eq!(scenario_for_code("KRS101"), Some(Scenario::Init));
        assert_eq!(scenario_for_code("krs104"), Some(Scenario::Init));
        assert_eq!(scenario_for_code("KRS203"), Some(Scenario::Callbacks));
        assert_eq!(scenario_for_code("KRS304"), Some(Scenario::Pipeline));
        assert_eq!(scenario_for_code("KRS401"), Some(Scenario::Batch));
        assert_eq!(scenario_for_code("KRS402"), Some(Scenario::PredictLoop));
        assert_eq!(scenario_for_code("KRS502"), Some(Scenario::MixedPrecision));
        assert_eq!(scenario_for_code("KRS601"), Some(Scenario::Eager));
        assert_eq!(scenario_for_code("KRS105"), None);
        assert_eq!(scenario_for_code("KRS999"), None);
        // Registered rules decide for themselves, by code or by name.
        for rule in crate::rules::ALL {
            assert_eq!(
                scenario_for_code(rule.code),
                rule.scenario.and_then(Scenario::from_name),
                "{}",
                rule.code
            );
        }
        assert_eq!(
            parse_target("checkpoint-too-frequent"),
            Some((Scenario::Callbacks, Some("KRS201".to_string())))
        );
        assert_eq!(scenario_for_code(""), None);
    }

    #[test]
    fn names_parse_with_either_separator() {
        assert_eq!(
            "mixed-precision".parse::<Scenario>(),
            Ok(Scenario::MixedPrecision)
        );
        assert_eq!(
            Scenario::from_name("PREDICT_LOOP"),
            Some(Scenario::PredictLoop)
        );
        assert!(
            "nope"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("expected one of")
        );
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn targets_accept_codes_and_names() {
        assert_eq!(parse_target("pipeline"), Some((Scenario::Pipeline, None)));
        assert_eq!(
            parse_target("krs301"),
            Some((Scenario::Pipeline, Some("KRS301".to_string())))
        );
        assert_eq!(parse_target("bogus"), None);
    }
}
