//! KRS305 cache-after-shuffle: a tf.data pipeline is cached after it was shuffled.
//!
//! ## What it does
//! Flags `.cache()` (in memory or to a file) on a tf.data pipeline when a `.shuffle(...)` comes
//! earlier in the pipeline, since the previous `cache`. The pipeline is followed through
//! reassignments, parenthesised chains and helper functions. Not reported for a shuffle with
//! `reshuffle_each_iteration=False` (its order is fixed on purpose), when a `take` sits between
//! them (a subset chosen once, cached on purpose), or when the pipeline is shuffled again after
//! the cache on its way to every consumer (each epoch still gets a new order).
//!
//! ## Why is this bad?
//! `cache` stores the elements in the order the first epoch produced them and replays that
//! stream afterwards, so everything before it runs once: the shuffle's "reshuffle each
//! iteration" never happens again and every epoch sees the same order (and, after a `batch`,
//! the same batches). The [tf.data performance guide](https://www.tensorflow.org/guide/data_performance#caching)
//! caches first and shuffles after; the canonical order is
//! `.map(load).cache().shuffle(N).batch(B).prefetch(AUTOTUNE)`.
//!
//! ## Example
//! ```python
//! ds = ds.shuffle(10_000).batch(64).cache()
//! ```
//!
//! ## Use instead
//! ```python
//! ds = ds.cache().shuffle(10_000).batch(64)
//! ```
//!
//! ## Fix safety
//! Unsafe: later epochs see a new order, so training results change. Offered when the `shuffle`
//! and the `cache` sit in one expression or in statements of one block (not across a helper
//! function or a branch); `cache(...)` moves, arguments and layout kept, to just before the
//! shuffle.

use crate::analysis::dataflow::{
    Input, Step, ValueId, earliest_since, in_one_block, move_step_before,
};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS305",
    name: "cache-after-shuffle",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/cache-after-shuffle.scm"),
    module: "cache_after_shuffle",
    scenario: None,
    requires_text: None,
    spelled: None,
    check,
};

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    if m.get("module").is_none() {
        return;
    }
    for (_, step) in ctx.dataflow().steps() {
        if step.method(ctx.source) == "cache" {
            check_cache(ctx, sink, &step);
        }
    }
}

fn check_cache(ctx: &Context, sink: &mut Sink, step: &Step) {
    let node = step.call;
    let flow = ctx.dataflow();
    for &value in flow.values_of_call(node) {
        let chain = flow.chain(value);
        // A `take` between them caches a subset chosen once, deliberately.
        let Some(index) = earliest_since(&chain, ctx.source, &["cache", "take"], |step| {
            step.method(ctx.source) == "shuffle"
                && call::keyword(ctx.source, step.call, "reshuffle_each_iteration")
                    .is_none_or(|v| v.kind_name() != "false")
        }) else {
            continue;
        };
        if reshuffled_after(ctx, value) {
            continue;
        }
        let (shuffle, cache) = (chain[index], chain[chain.len() - 1]);
        let finding = sink.report_range(
            cache.method_node.start_byte()..cache.call.end_byte(),
            "`cache` after `shuffle` stores the first epoch's order: every later epoch replays it unshuffled; cache before shuffling",
        );
        if in_one_block(ctx.forest, &chain[index..]) {
            finding.with_fix(
                "Move `cache` before `shuffle`",
                FixSafety::Unsafe,
                move_step_before(ctx.source, &shuffle, &cache),
            );
        }
        return;
    }
}

/// Whether the cached pipeline is shuffled again on its way to every consumer (or, with no
/// consumer in this file, on some later step): each epoch then still gets a new order.
fn reshuffled_after(ctx: &Context, cached: ValueId) -> bool {
    let flow = ctx.dataflow();
    let is_shuffle = |s: &Step| s.method(ctx.source) == "shuffle";
    let mut consumed = false;
    for consumer in flow.consumers() {
        let Input::Pipeline(id) = consumer.input else {
            continue;
        };
        let Some(steps) = flow.steps_between(cached, id) else {
            continue;
        };
        consumed = true;
        if !steps.iter().any(is_shuffle) {
            return false;
        }
    }
    consumed || flow.later_step(cached, is_shuffle, |_| false)
}
