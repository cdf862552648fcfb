//! KRS303 shuffle-after-batch: a tf.data pipeline is shuffled after it was batched.
//!
//! ## What it does
//! Flags `.shuffle(...)` on a tf.data pipeline when a `batch` (or `padded_batch`,
//! `ragged_batch`, `sparse_batch`, `bucket_by_sequence_length`, `rebatch`) comes earlier in the
//! pipeline with no `unbatch()` (nor `flat_map`/`interleave`/`window`, which may regroup
//! elements) between them. The pipeline is followed through reassignments, parenthesised chains
//! and helper functions. Not reported when the examples were already shuffled before batching
//! (a second, batch-level shuffle is then deliberate), nor when the pipeline is batched again
//! after the shuffle (the first `batch` built the examples: character sequences, windows).
//!
//! ## Why is this bad?
//! Dataset methods have "no concept of examples vs. batches" (`tf.data.Dataset.prefetch` docs):
//! after `batch`, each element is a whole batch, so `shuffle` reorders batches and the same
//! examples stay together in every epoch. Training sees far less randomness than intended: no
//! example-level shuffling at all, which can slow or bias convergence, notably when the data is
//! sorted by label. The [tf.data guide](https://www.tensorflow.org/guide/data#randomly_shuffling_input_data)
//! shuffles before batching.
//!
//! ## Example
//! ```python
//! ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).shuffle(1000)
//! ```
//!
//! ## Use instead
//! ```python
//! ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32)
//! ```
//!
//! ## Fix safety
//! Unsafe: it changes which examples are batched together (that is the point), so results
//! change. Offered only when the `batch` directly precedes the `shuffle`, in one expression or
//! in consecutive assignments of one block where nothing else reads the batched value; the two
//! calls swap places, keeping the layout. A `shuffle` buffer counted in batches now counts
//! examples: consider raising it.

use std::ops::Range;

use tree_sitter::Node;

use crate::analysis::dataflow::{
    BATCHING, Dataflow, Step, ValueId, in_one_block, statement_of, unparenthesized,
};
use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{Edit, FixSafety, Severity};
use crate::forest::Forest;
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS303",
    name: "shuffle-after-batch",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/shuffle-after-batch.scm"),
    module: "shuffle_after_batch",
    scenario: Some("pipeline"),
    requires_text: None,
    spelled: None,
    check,
};

/// Steps that may turn batches back into examples (or regroup them).
const REGROUP: &[&str] = &["unbatch", "flat_map", "interleave", "window"];

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    if m.get("module").is_none() {
        return;
    }
    let flow = ctx.dataflow();
    for (_, step) in flow.steps() {
        if step.method(ctx.source) == "shuffle" {
            check_shuffle(ctx, flow, sink, &step);
        }
    }
}

fn check_shuffle(ctx: &Context, flow: &Dataflow, sink: &mut Sink, step: &Step) {
    for &value in flow.values_of_call(step.call) {
        let Some((shuffle, batch, adjacent)) = batch_before(ctx, flow, value) else {
            continue;
        };
        let method = batch.method(ctx.source);
        let finding = sink.report_range(
            shuffle.method_node.start_byte()..shuffle.call.end_byte(),
            format!(
                "`shuffle` after `{method}` shuffles whole batches: the same examples stay together every epoch; shuffle before batching"
            ),
        );
        if adjacent && let Some(edits) = swap(ctx, &batch, &shuffle) {
            finding.with_fix(
                format!("Move `shuffle` before `{method}`"),
                FixSafety::Unsafe,
                edits,
            );
        }
        return;
    }
}

/// The shuffle step, the batch step before it, and whether the batch directly precedes it.
fn batch_before<'t>(
    ctx: &Context,
    flow: &Dataflow<'t>,
    value: ValueId,
) -> Option<(Step<'t>, Step<'t>, bool)> {
    let chain = flow.chain(value);
    let (shuffle, earlier) = chain.split_last()?;
    let mut batch = None;
    for (index, step) in earlier.iter().enumerate().rev() {
        let method = step.method(ctx.source);
        if REGROUP.contains(&method) || is_apply_unbatch(ctx, step) {
            break;
        }
        if batch.is_none() && BATCHING.contains(&method) {
            batch = Some(index);
            continue;
        }
        // An example-level shuffle before the batch: the batch-level one is deliberate.
        if batch.is_some() && method == "shuffle" {
            return None;
        }
    }
    let index = batch?;
    // Batched again later: the first batch built the examples (sequences, windows).
    if flow.later_step(
        value,
        |s| BATCHING.contains(&s.method(ctx.source)),
        |s| REGROUP.contains(&s.method(ctx.source)) || is_apply_unbatch(ctx, s),
    ) {
        return None;
    }
    Some((*shuffle, earlier[index], index + 1 == earlier.len()))
}

/// `apply(tf.data.experimental.unbatch())`.
fn is_apply_unbatch(ctx: &Context, step: &Step) -> bool {
    step.method(ctx.source) == "apply"
        && step
            .arguments()
            .and_then(|a| a.named_child(0))
            .filter(|a| a.kind_name() == "call")
            .and_then(|a| a.field("function"))
            .and_then(|f| ctx.resolve(f))
            .is_some_and(|p| p.ends_with(".unbatch"))
}

/// Swaps the `.batch(...)` and `.shuffle(...)` texts when nothing else can observe the batched
/// value: one expression, or `ds = ds.batch(...)` followed in the same block by the statement
/// that shuffles `ds`, with no other mention of `ds` between them.
fn swap(ctx: &Context, batch: &Step, shuffle: &Step) -> Option<Vec<Edit>> {
    let receiver = unparenthesized(shuffle.receiver()?);
    if receiver.id() != batch.call.id() {
        if receiver.kind_name() != "identifier" || !in_one_block(ctx.forest, &[*batch, *shuffle]) {
            return None;
        }
        let name = ctx.text(receiver);
        let assignment = batch.call.parent().map(|p| {
            if p.kind_name() == "parenthesized_expression" {
                p.parent().unwrap_or(p)
            } else {
                p
            }
        })?;
        let left = assignment.field("left")?;
        let right = assignment.field("right")?;
        if assignment.kind_name() != "assignment"
            || unparenthesized(right).id() != batch.call.id()
            || ctx.text(left) != name
        {
            return None;
        }
        let batch_statement = statement_of(ctx.forest, batch.call);
        let shuffle_statement = statement_of(ctx.forest, shuffle.call);
        if batch_statement.end_byte() > shuffle_statement.start_byte() {
            return None;
        }
        let between = batch_statement.end_byte()..shuffle_statement.start_byte();
        // The statements in between decide the fix: a dependency of this finding.
        ctx.depends_on_range(batch_statement.start_byte()..shuffle_statement.end_byte());
        let arguments = shuffle.arguments()?.byte_range();
        if mentions(ctx.forest, between, ctx.source, name)
            || mentions(ctx.forest, arguments, ctx.source, name)
        {
            return None;
        }
    }
    let batch_text = ctx.source.get(batch.core())?;
    let shuffle_text = ctx.source.get(shuffle.core())?;
    Some(vec![
        Edit::replace(batch.core(), shuffle_text),
        Edit::replace(shuffle.core(), batch_text),
    ])
}

/// Whether an identifier `name` occurs inside `range`.
fn mentions(forest: &Forest, range: Range<usize>, source: &str, name: &str) -> bool {
    let mut stack: Vec<Node> = forest.roots_in(range.clone()).collect();
    while let Some(node) = stack.pop() {
        if node.end_byte() <= range.start || node.start_byte() >= range.end {
            continue;
        }
        if node.kind_name() == "identifier"
            && node.start_byte() >= range.start
            && node.end_byte() <= range.end
            && source.get(node.byte_range()) == Some(name)
        {
            return true;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    false
}
