//! Benchmark reports: the result schema, a text table, a Markdown file and a hand-written SVG bar chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The metric every row of a report is measured in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Metric {
    pub name: String,
    pub unit: String,
}

/// One measured variant: its samples and their median, min and max (null = not finite).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub samples: Vec<Option<f64>>,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The before or after side of the comparison: a row label and its median.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Side {
    pub label: String,
    pub row: String,
    pub median: Option<f64>,
}

/// Where the scenario ran.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct Device {
    pub kind: String,
    #[serde(default)]
    pub gpus: Vec<String>,
    #[serde(default)]
    pub cpu_count: Option<u64>,
    pub description: String,
}

/// A secondary table (per-layer statistics, API checks, ...).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A finished benchmark: the scenario's result event plus what the runner knows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub scenario: String,
    pub title: String,
    pub metric: Metric,
    pub higher_is_better: bool,
    pub rows: Vec<Row>,
    pub before: Side,
    pub after: Side,
    /// after / before, in the metric's own direction.
    pub ratio: Option<f64>,
    /// One line, e.g. "prefetch: 1.8× more steps/s, 412 → 742".
    pub summary: String,
    #[serde(default)]
    pub quick: bool,
    #[serde(default)]
    pub params_used: Map<String, Value>,
    #[serde(default)]
    pub param_sources: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    #[serde(default)]
    pub device: Device,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub details: Vec<Table>,
    /// Named figures for machines (tests, `--json`); null when not finite or not measured.
    #[serde(default)]
    pub figures: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub python: String,
    #[serde(default)]
    pub elapsed_s: f64,
    #[serde(default)]
    pub finished_at_unix: u64,
}

impl Report {
    /// True when the after side beats the before side in the metric's direction.
    pub fn improved(&self) -> Option<bool> {
        let r = self.ratio?;
        Some(if self.higher_is_better {
            r > 1.0
        } else {
            r < 1.0
        })
    }

    /// A figure by name, when present and finite.
    pub fn figure(&self, name: &str) -> Option<f64> {
        self.figures.get(name).copied().flatten()
    }
}

/// Compact number formatting shared by every renderer.
pub(crate) fn num(x: Option<f64>) -> String {
    let Some(x) = x.filter(|x| x.is_finite()) else {
        return "n/a".to_string();
    };
    if x == 0.0 {
        return "0".to_string();
    }
    let ax = x.abs();
    if !(1e-3..1e5).contains(&ax) {
        return format!("{x:.2e}");
    }
    if ax >= 100.0 {
        return format!("{x:.0}");
    }
    let decimals = (2 - ax.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "n/a".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => num(n.as_f64()),
        other => other.to_string(),
    }
}

fn ratio_text(r: &Report) -> String {
    match (r.ratio, r.improved()) {
        (Some(x), Some(better)) => format!(
            "{}× ({})",
            num(Some(x)),
            if better { "better" } else { "not better" }
        ),
        _ => "n/a".into(),
    }
}

fn heading(r: &Report) -> String {
    match &r.code {
        Some(code) => format!("{} ({code})", r.scenario),
        None => r.scenario.clone(),
    }
}

fn param_lines(r: &Report) -> Vec<(String, String, String)> {
    r.params_used
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Null => "—".into(),
                other => other.to_string(),
            };
            let source = r
                .param_sources
                .get(k)
                .cloned()
                .unwrap_or_else(|| "default".into());
            (k.clone(), value, source)
        })
        .collect()
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

fn lpad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{}{s}", " ".repeat(width - n))
    }
}

fn text_table(out: &mut String, columns: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if i == 0 { pad(c, w) } else { lpad(c, w) }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "  {}", line(columns));
    for row in rows {
        let _ = writeln!(out, "  {}", line(row));
    }
}

/// The plain-text table the CLI prints.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.title);
    let _ = writeln!(
        out,
        "scenario {}{}, {:.1} s",
        heading(r),
        if r.quick { ", quick mode" } else { "" },
        r.elapsed_s
    );
    let _ = writeln!(
        out,
        "metric: {} [{}], {} is better\n",
        r.metric.name,
        r.metric.unit,
        if r.higher_is_better {
            "higher"
        } else {
            "lower"
        }
    );
    let cols: Vec<String> = ["variant", "median", "min", "max", "n"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            vec![
                row.label.clone(),
                num(row.median),
                num(row.min),
                num(row.max),
                row.samples.len().to_string(),
            ]
        })
        .collect();
    text_table(&mut out, &cols, &rows);
    let _ = writeln!(out, "\nafter/before: {}", ratio_text(r));
    let _ = writeln!(out, "{}", r.summary);
    for t in &r.details {
        let _ = writeln!(out, "\n{}:", t.title);
        let rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|row| row.iter().map(cell).collect())
            .collect();
        text_table(&mut out, &t.columns, &rows);
    }
    let _ = writeln!(out, "\nparameters:");
    let params = param_lines(r);
    let w = params.iter().map(|p| p.0.len()).max().unwrap_or(0);
    for (k, v, s) in params {
        let _ = writeln!(out, "  {} = {v}  ({s})", pad(&k, w));
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in &r.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    let _ = writeln!(out, "\nenvironment: {}", environment(r));
    out
}

fn environment(r: &Report) -> String {
    let v = |k: &str| r.versions.get(k).map_or("?", String::as_str);
    format!(
        "Python {} ({}), TensorFlow {}, Keras {}; {}",
        v("python"),
        r.python,
        v("tensorflow"),
        v("keras"),
        r.device.description
    )
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `YYYY-MM-DD HH:MM:SS` and `YYYYMMDDTHHMMSSZ` for a UNIX time, in UTC.
fn utc(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

/// The Markdown report; `chart` is the SVG file name to link, if any.
pub fn render_markdown(r: &Report, chart: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — {}\n", r.title, heading(r));
    let _ = writeln!(out, "**{}**\n", md_escape(&r.summary));
    let (when, _) = utc(r.finished_at_unix);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| scenario | `{}` |", heading(r));
    let _ = writeln!(
        out,
        "| metric | {} [{}], {} is better |",
        md_escape(&r.metric.name),
        md_escape(&r.metric.unit),
        if r.higher_is_better {
            "higher"
        } else {
            "lower"
        }
    );
    let _ = writeln!(
        out,
        "| before → after | {} → {} |",
        num(r.before.median),
        num(r.after.median)
    );
    let _ = writeln!(out, "| after/before | {} |", ratio_text(r));
    let _ = writeln!(
        out,
        "| mode | {} ({:.1} s) |",
        if r.quick { "quick" } else { "full" },
        r.elapsed_s
    );
    let _ = writeln!(out, "| finished | {when} UTC |\n");
    if let Some(svg) = chart {
        let _ = writeln!(out, "![{}]({svg})\n", md_escape(&r.title));
    }
    let _ = writeln!(out, "## Measurements\n");
    let _ = writeln!(
        out,
        "| variant | median | min | max | samples |\n|---|---:|---:|---:|---|"
    );
    for row in &r.rows {
        let samples: Vec<String> = row.samples.iter().map(|s| num(*s)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md_escape(&row.label),
            num(row.median),
            num(row.min),
            num(row.max),
            samples.join(", ")
        );
    }
    for t in &r.details {
        let _ = writeln!(out, "\n## {}\n", md_escape(&t.title));
        let cols: Vec<String> = t.columns.iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(out, "| {} |", cols.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(cols.len()));
        for row in &t.rows {
            let cells: Vec<String> = row.iter().map(|v| md_escape(&cell(v))).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    let _ = writeln!(
        out,
        "\n## Parameters\n\n| parameter | value | source |\n|---|---|---|"
    );
    for (k, v, s) in param_lines(r) {
        let _ = writeln!(out, "| `{k}` | {} | {} |", md_escape(&v), md_escape(&s));
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {}", md_escape(n));
        }
    }
    let _ = writeln!(out, "\n## Environment\n\n- {}", md_escape(&environment(r)));
    if let Some(p) = r.versions.get("platform") {
        let _ = writeln!(out, "- platform: {}", md_escape(p));
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// A horizontal bar chart of the row medians with min–max whiskers, as standalone SVG.
pub fn render_svg(r: &Report) -> String {
    const W: f64 = 820.0;
    const LABEL_W: f64 = 340.0;
    const BAR_W: f64 = 380.0;
    const TOP: f64 = 64.0;
    const ROW_H: f64 = 34.0;
    let n = r.rows.len().max(1) as f64;
    let h = TOP + n * ROW_H + 44.0;
    let max = r
        .rows
        .iter()
        .flat_map(|row| [row.median, row.max])
        .flatten()
        .filter(|x| x.is_finite())
        .fold(0.0_f64, f64::max);
    let scale = |x: f64| {
        if max > 0.0 {
            (x.max(0.0) / max) * BAR_W
        } else {
            0.0
        }
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="12" y="22" font-size="15" font-weight="bold" fill="#212529">{}</text>"##,
        xml(&clip(&format!("{} — {}", r.title, heading(r)), 100))
    );
    let _ = writeln!(
        s,
        r##"<text x="12" y="42" fill="#495057">{} [{}], {} is better; bars = median, whiskers = min–max</text>"##,
        xml(&r.metric.name),
        xml(&r.metric.unit),
        if r.higher_is_better {
            "higher"
        } else {
            "lower"
        }
    );
    for (i, row) in r.rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW_H;
        let color = match row.variant.as_deref() {
            Some("before") => "#d9822b",
            Some("after") => "#2f9e44",
            _ => "#868e96",
        };
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#212529">{}</text>"##,
            LABEL_W - 8.0,
            y + 15.0,
            xml(&clip(&row.label, 52))
        );
        let x0 = LABEL_W;
        let mut end = x0;
        if let Some(m) = row.median.filter(|m| m.is_finite()) {
            let w = scale(m).max(1.0);
            end = x0 + w;
            let _ = writeln!(
                s,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{w:.1}" height="20" fill="{color}"/>"#,
                y + 1.0
            );
        }
        if let (Some(lo), Some(hi)) = (row.min, row.max)
            && lo.is_finite()
            && hi.is_finite()
        {
            let (a, b) = (x0 + scale(lo), x0 + scale(hi));
            let cy = y + 11.0;
            let _ = writeln!(
                s,
                r##"<path d="M{a:.1} {cy:.1}H{b:.1}M{a:.1} {:.1}V{:.1}M{b:.1} {:.1}V{:.1}" stroke="#212529" stroke-width="1.2" fill="none"/>"##,
                cy - 5.0,
                cy + 5.0,
                cy - 5.0,
                cy + 5.0
            );
            end = end.max(b);
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" fill="#212529">{}</text>"##,
            end + 6.0,
            y + 15.0,
            xml(&num(row.median))
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="12" y="{:.1}" fill="#495057">{}</text>"##,
        h - 16.0,
        xml(&clip(&r.summary, 130))
    );
    s.push_str("</svg>\n");
    s
}

fn safe_stem(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write `<dir>/.keras-lsp/bench/<UTC time>-<code or scenario>.md` and the `.svg` chart
/// beside it (linked from the Markdown). Returns the Markdown path.
pub fn write_report(dir: &Path, report: &Report) -> io::Result<PathBuf> {
    let out = dir.join(".keras-lsp").join("bench");
    fs::create_dir_all(&out)?;
    let secs = if report.finished_at_unix > 0 {
        report.finished_at_unix
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let (_, stamp) = utc(secs);
    let name = safe_stem(report.code.as_deref().unwrap_or(&report.scenario));
    let mut stem = format!("{stamp}-{name}");
    let mut n = 2;
    while out.join(format!("{stem}.md")).exists() || out.join(format!("{stem}.svg")).exists() {
        stem = format!("{stamp}-{name}-{n}");
        n += 1;
    }
    let svg_name = format!("{stem}.svg");
    fs::write(out.join(&svg_name), render_svg(report))?;
    let md = out.join(format!("{stem}.md"));
    fs::write(&md, render_markdown(report, Some(&svg_name)))?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn sample() -> Report {
        serde_json::from_value(json!({
            "event": "result", "scenario": "callbacks", "title": "Callback overhead",
            "metric": {"name": "training steps/s", "unit": "steps/s"}, "higher_is_better": true,
            "rows": [
                {"label": "no callbacks", "samples": [400.0, 420.0], "median": 410.0, "min": 400.0, "max": 420.0},
                {"label": "before: ModelCheckpoint(save_freq=1)", "variant": "before", "samples": [37.0, null], "median": 37.0, "min": 37.0, "max": 37.0},
                {"label": "after: <epoch> & | pipe", "variant": "after", "samples": [405.0], "median": 405.0, "min": 405.0, "max": 405.0}
            ],
            "before": {"label": "b", "row": "before: ModelCheckpoint(save_freq=1)", "median": 37.0},
            "after": {"label": "a", "row": "after: <epoch> & | pipe", "median": 405.0},
            "ratio": 10.95, "summary": "11× more steps/s, 37 → 405", "quick": true,
            "params_used": {"save_freq": 1, "callback": "checkpoint"},
            "param_sources": {"save_freq": "code, line 12"},
            "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1"},
            "device": {"kind": "CPU", "gpus": [], "cpu_count": 2, "description": "CPU only (2 cores)"},
            "notes": ["a note"], "details": [{"title": "T", "columns": ["a", "b"], "rows": [[1.5e-9, "x"]]}],
            "figures": {"x": 1.0, "y": null}
        }))
        .unwrap()
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(Some(0.0)), "0");
        assert_eq!(num(Some(0.6934)), "0.693");
        assert_eq!(num(Some(3.0)), "3");
        assert_eq!(num(Some(37.14)), "37.1");
        assert_eq!(num(Some(412.4)), "412");
        assert_eq!(num(Some(1.7e-8)), "1.70e-8");
        assert_eq!(num(Some(2.5e5)), "2.50e5");
        assert_eq!(num(Some(f64::NAN)), "n/a");
        assert_eq!(num(None), "n/a");
    }

    #[test]
    fn utc_dates_are_right() {
        assert_eq!(utc(0).0, "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400).0, "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_719_532).1, "20261126T185852Z");
    }

    #[test]
    fn text_has_rows_ratio_params_and_sources() {
        let t = render_text(&sample());
        assert!(t.contains("before: ModelCheckpoint(save_freq=1)"));
        assert!(t.contains("after/before: 10.9× (better)"), "{t}");
        assert!(t.contains("save_freq = 1  (code, line 12)"), "{t}");
        assert!(t.contains("callback  = checkpoint  (default)"), "{t}");
        assert!(t.contains("1.50e-9"));
        assert_eq!(sample().figure("x"), Some(1.0));
        assert_eq!(sample().figure("y"), None);
    }

    #[test]
    fn markdown_escapes_pipes_and_links_chart() {
        let md = render_markdown(&sample(), Some("c.svg"));
        assert!(md.contains("![Callback overhead](c.svg)"));
        assert!(md.contains("after: <epoch> & \\| pipe"));
        assert!(md.contains("| `save_freq` | 1 | code, line 12 |"));
    }

    #[test]
    fn svg_is_escaped_and_has_one_bar_per_finite_row() {
        let svg = render_svg(&sample());
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("&lt;epoch&gt; &amp; | pipe"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains("#d9822b") && svg.contains("#2f9e44"));
    }

    #[test]
    fn write_report_creates_md_and_svg_without_clobbering() {
        let dir = std::env::temp_dir().join(format!("klsp-report-{}", std::process::id()));
        let mut r = sample();
        r.code = Some("KRS201".into());
        r.finished_at_unix = 1_795_719_532;
        let a = write_report(&dir, &r).unwrap();
        let b = write_report(&dir, &r).unwrap();
        assert_ne!(a, b);
        assert!(
            a.ends_with(".keras-lsp/bench/20261126T185852Z-KRS201.md"),
            "{a:?}"
        );
        assert!(a.with_extension("svg").is_file());
        let md = fs::read_to_string(&a).unwrap();
        assert!(md.contains("(20261126T185852Z-KRS201.svg)"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
