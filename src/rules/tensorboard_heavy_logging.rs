//! KRS203 tensorboard-heavy-logging: `TensorBoard` computes histograms, images, embeddings or traces often.
//!
//! ## What it does
//! Flags options of `keras.callbacks.TensorBoard` (any Keras spelling) that do heavy work:
//! - `histogram_freq` or `embeddings_freq` of 1 to 9 (epochs);
//! - `write_images=True` together with such a `histogram_freq` (Keras only writes the weight
//!   images when it writes the histograms, so on its own the flag costs nothing);
//! - `write_grads=True`, an option of TF1 Keras;
//! - a non-zero `profile_batch` (`5`, `(10, 20)`, `"10,20"`); `profile_batch=0` is the default
//!   and turns profiling off.
//!
//! ## Why is this bad?
//! - Histograms (and images) of every weight are computed and written at the end of every
//!   `histogram_freq`-th epoch; `embeddings_freq` saves all the model weights to a checkpoint
//!   every `embeddings_freq`-th epoch (`_log_weights` / `_log_embeddings` in
//!   `keras/src/callbacks/tensorboard.py`). Measured on a 2-core CPU with 100-step epochs,
//!   `histogram_freq=1, write_images=True` ran at 0.51–0.61× the throughput of no callbacks
//!   (0.82–0.84× for a plain `TensorBoard`). Every 10 epochs or more, the cost is amortised.
//! - `profile_batch` runs the profiler over those batches ("Profile the batch(es) to sample
//!   compute characteristics"; "By default, profiling is disabled"): `profile_batch=(10, 20)`
//!   measured 0.70–0.72×. Useful while investigating, a one-off cost to drop afterwards.
//! - `write_grads` does nothing: tf_keras logs "`write_grads` will be ignored in TensorFlow 2.0"
//!   and Keras 3's `TensorBoard` has no such parameter (a `TypeError`).
//!
//! ## Example
//! ```python
//! tensorboard = keras.callbacks.TensorBoard(
//!     log_dir="logs", histogram_freq=1, write_images=True, profile_batch=(10, 20)
//! )
//! ```
//!
//! ## Use instead
//! ```python
//! tensorboard = keras.callbacks.TensorBoard(log_dir="logs", histogram_freq=10)
//! ```
//!
//! ## Fix safety
//! Unsafe: the fix raises `histogram_freq`/`embeddings_freq` to 10 and removes `write_images`,
//! `write_grads` and `profile_batch`, which changes what is written to the log directory.

use tree_sitter::Node;

use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::rules::checkpoint_too_frequent::parse_int;
use crate::rules::tensorboard_per_batch_logging::string_value;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS203",
    name: "tensorboard-heavy-logging",
    severity: Severity::Hint,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/tensorboard-heavy-logging.scm"),
    module: "tensorboard_heavy_logging",
    scenario: Some("callbacks"),
    requires_text: None,
    spelled: None,
    check,
};

/// Epoch frequencies at or above this are amortised enough; the fix raises smaller ones to it.
const MIN_EPOCH_FREQ: i64 = 10;

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(call), Some(argument), Some(value)) =
        (m.get("call"), m.get("argument"), m.get("value"))
    else {
        return;
    };
    let Some(name) = argument.field("name") else {
        return;
    };
    let Some(symbol) = ctx.keras_callee(call) else {
        return;
    };
    if !symbol.is("callbacks", "TensorBoard") {
        return;
    }
    match ctx.text(name) {
        option @ ("histogram_freq" | "embeddings_freq") => {
            let Some(freq) = small_epoch_freq(ctx, value) else {
                return;
            };
            let every = if freq == 1 {
                "every epoch".to_string()
            } else {
                format!("every {freq} epochs")
            };
            let message = if option == "histogram_freq" {
                format!(
                    "`TensorBoard` writes a histogram of every weight {every}; histograms and \
                     images every epoch measured 0.51–0.61× throughput with 100-step epochs"
                )
            } else {
                format!(
                    "`TensorBoard` saves all the model weights for the embedding projector {every}"
                )
            };
            sink.report(argument, message).with_fix(
                format!("Log every {MIN_EPOCH_FREQ} epochs (`{option}={MIN_EPOCH_FREQ}`)"),
                FixSafety::Unsafe,
                vec![Edit::replace(
                    value.byte_range(),
                    MIN_EPOCH_FREQ.to_string(),
                )],
            );
        }
        "write_images" => {
            if value.kind_name() != "true" {
                return;
            }
            // Images are only written with the histograms (`_log_weights`).
            let Some(histograms) = call::keyword(ctx.source, call, "histogram_freq") else {
                return;
            };
            if small_epoch_freq(ctx, histograms).is_none() {
                return;
            }
            report_removal(
                ctx,
                sink,
                argument,
                "`write_images=True` renders every weight as an image with each histogram; histograms and images every epoch measured 0.51–0.61× throughput",
            );
        }
        "write_grads" => {
            if value.kind_name() != "true" {
                return;
            }
            report_removal(
                ctx,
                sink,
                argument,
                "`write_grads` is a TF1 option: tf_keras ignores it with a warning and Keras 3's `TensorBoard` rejects it",
            );
        }
        "profile_batch" => {
            let Some(batches) = profiled_batches(ctx, value) else {
                return;
            };
            report_removal(
                ctx,
                sink,
                argument,
                &format!(
                    "`TensorBoard` profiles {batches}; profiling batches 10–20 measured 0.70–0.72× throughput (drop it once the profile is taken)"
                ),
            );
        }
        _ => {}
    }
}

fn report_removal(ctx: &Context, sink: &mut Sink, argument: Node, message: &str) {
    let title = format!("Remove `{}`", ctx.text(argument));
    sink.report(argument, message).with_fix(
        title,
        FixSafety::Unsafe,
        vec![call::remove_argument(ctx.source, argument)],
    );
}

/// An integer literal frequency between 1 and `MIN_EPOCH_FREQ - 1`.
fn small_epoch_freq(ctx: &Context, value: Node) -> Option<i64> {
    if value.kind_name() != "integer" {
        return None;
    }
    parse_int(ctx.text(value)).filter(|f| (1..MIN_EPOCH_FREQ).contains(f))
}

/// Describes the batches a literal `profile_batch` profiles, `None` when it is off (`0`, `(0, 0)`,
/// `"0"`), invalid (negative) or not a literal.
fn profiled_batches(ctx: &Context, value: Node) -> Option<String> {
    let numbers: Vec<i64> = match value.kind_name() {
        "integer" => vec![parse_int(ctx.text(value))?],
        "tuple" | "list" => {
            let mut cursor = value.walk();
            let items: Vec<Node> = value.named_children(&mut cursor).collect();
            items
                .iter()
                .map(|item| {
                    (item.kind_name() == "integer")
                        .then(|| parse_int(ctx.text(*item)))
                        .flatten()
                })
                .collect::<Option<Vec<i64>>>()?
        }
        "string" => string_value(ctx.source, value)?
            .split(',')
            .map(|part| part.trim().parse().ok())
            .collect::<Option<Vec<i64>>>()?,
        _ => return None,
    };
    match numbers.as_slice() {
        [0] | [0, 0] => None,
        [n] | [n, _] if *n > 0 && numbers.iter().all(|m| m == n) => Some(format!("batch {n}")),
        [a, b] if *a >= 0 && b >= a => Some(format!("batches {a}–{b}")),
        _ => None,
    }
}
