//! KRS501 removed-mixed-precision-api: a mixed-precision API that no longer exists in TensorFlow.
//!
//! ## What it does
//! Flags the mixed-precision APIs that today's TensorFlow (2.9 and later, up to 2.21) and Keras 3
//! no longer have, in every Keras spelling (`tf.keras`, `keras`, `tf_keras`, `tf.compat.v1.keras`,
//! `from tensorflow.keras.mixed_precision import experimental as mixed_precision`):
//! - `mixed_precision.set_policy` (it never existed outside `experimental`);
//! - anything under `mixed_precision.experimental` (calls and imports);
//! - `enable_mixed_precision_graph_rewrite` (`tf.train.experimental`, `tf.compat.v1.mixed_precision`);
//! - `Policy(..., loss_scale=...)` and `LossScaleOptimizer(..., loss_scale=...)`.
//!
//! Code inside a version or feature check (`if tf.__version__ < "2.4":`, `if hasattr(...)`,
//! `try: ... except AttributeError:`) is compatibility code and is not reported.
//!
//! ## Why is this bad?
//! The call fails before training starts. `tf.keras.mixed_precision.experimental` "has been
//! removed" in TF 2.9 (the non-experimental symbols exist "since TensorFlow 2.4"); in TF 2.21,
//! `mixed_precision.set_policy` is absent from `tf.keras`, Keras 3.15 and tf_keras alike
//! (AttributeError). `Policy('mixed_float16', loss_scale=...)` raises `TypeError: unexpected
//! keyword argument 'loss_scale'` and `LossScaleOptimizer(opt, loss_scale=...)` raises
//! `ValueError: ... does not support arguments: loss_scale` (verified on TF 2.21 / Keras 3.15).
//! The TF1 graph rewrite is gone from `tf.train.experimental`, and the `tf.compat.v1` one rejects
//! Keras 3 optimizers. See <https://www.tensorflow.org/guide/mixed_precision>.
//!
//! ## Example
//! ```python
//! from tensorflow.keras.mixed_precision import experimental as mixed_precision
//!
//! policy = mixed_precision.Policy("mixed_float16", loss_scale="dynamic")
//! mixed_precision.set_policy(policy)
//! ```
//!
//! ## Use instead
//! ```python
//! from tensorflow.keras import mixed_precision
//!
//! policy = mixed_precision.Policy("mixed_float16")
//! mixed_precision.set_global_policy(policy)
//! ```
//! `compile`/`fit` add dynamic loss scaling by themselves under `mixed_float16`; for
//! `enable_mixed_precision_graph_rewrite(opt)`, set the policy before building the model instead
//! (no automatic fix: the policy must come before the layers are created).
//!
//! ## Fix safety
//! Safe when the rewrite is a pure rename: `set_policy` → `set_global_policy`, dropping
//! `.experimental` (in the call, or in the import together with every use of its names), and
//! dropping `loss_scale="dynamic"`/`"auto"`, which was the default. Unsafe when a fixed
//! `loss_scale=N` is rewritten (to `initial_scale=N` on a `LossScaleOptimizer`, which then adapts
//! the scale, or dropped from a `Policy`) or `loss_scale=None` is dropped, since training then
//! scales the loss differently. No fix for experimental names without a current equivalent
//! (`LossScale`, `DynamicLossScale`, ...) or for the graph rewrite.

use tree_sitter::Node;

use crate::analysis::policy::{self, mixed_precision_member};
use crate::analysis::{Context, RuleMatch, Sink, call, string_value};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS501",
    name: "removed-mixed-precision-api",
    severity: Severity::Error,
    fix: Some(FixSafety::Safe),
    options: &[],
    query: include_str!("../../queries/python/removed-mixed-precision-api.scm"),
    module: "removed_mixed_precision_api",
    scenario: Some("mixed_precision"),
    // Every path it reports resolves through the text to `mixed_precision` or
    // `enable_mixed_precision_graph_rewrite`.
    requires_text: Some("mixed_precision"),
    spelled: Some(spelled_names),
    check,
};

/// Experimental names that have a current equivalent (`set_policy` is renamed).
const MAPPABLE: [&str; 4] = [
    "Policy",
    "LossScaleOptimizer",
    "global_policy",
    "set_policy",
];

/// The edits of one fix, with its safety and a description of what it does.
struct Rewrite {
    edits: Vec<Edit>,
    safety: FixSafety,
    actions: Vec<String>,
}

impl Rewrite {
    fn new() -> Rewrite {
        Rewrite {
            edits: Vec::new(),
            safety: FixSafety::Safe,
            actions: Vec::new(),
        }
    }

    fn action(&mut self, action: impl Into<String>) {
        let action = action.into();
        if !self.actions.contains(&action) {
            self.actions.push(action);
        }
    }

    fn title(&self) -> String {
        format!("Use the current API: {}", self.actions.join(", "))
    }
}

/// What every reported call or import spells: `mixed_precision`, or a name an import binds to
/// a path through it (`mp` after `from tensorflow.keras import mixed_precision as mp`). A
/// callee's path is its first name's import binding followed by the attribute names it spells
/// (see `Imports::resolve`), so a path through `mixed_precision` spells one or the other. A
/// star import can bind any name: `None` (every call is matched).
fn spelled_names(ctx: &Context) -> Option<Vec<String>> {
    if ctx.imports.has_star_imports() {
        return None;
    }
    let mut names = vec!["mixed_precision".to_string()];
    names.extend(
        ctx.imports
            .imported_paths()
            .filter(|(name, path)| path.contains("mixed_precision") && !name.is_empty())
            .map(|(name, _)| name.to_string()),
    );
    Some(names)
}

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    if let Some(import) = m.get("import") {
        check_import(ctx, import, sink);
        return;
    }
    if let Some(call_node) = m.get("call") {
        check_call(ctx, call_node, sink);
    }
}

fn check_call(ctx: &Context, call_node: Node, sink: &mut Sink) {
    let Some(callee) = call_node.field("function") else {
        return;
    };
    let Some(path) = policy::resolve(ctx, callee) else {
        return;
    };
    let name = path.rsplit('.').next().unwrap_or("");
    if name == "enable_mixed_precision_graph_rewrite" {
        if !path.starts_with("tensorflow.") || version_guarded(ctx, call_node) {
            return;
        }
        sink.report(
            call_node,
            "`enable_mixed_precision_graph_rewrite` is the removed TF1 graph rewrite (gone from `tf.train.experimental`; the `tf.compat.v1` one rejects Keras 3 optimizers): set a `mixed_float16` policy before building the model",
        );
        return;
    }
    let Some(member) = mixed_precision_member(&path) else {
        return;
    };
    let experimental = member.starts_with("experimental.");
    let member_name = member.rsplit('.').next().unwrap_or(member);
    let loss_scale = loss_scale_argument(ctx, call_node, member_name, experimental);
    let renamed = member_name == "set_policy";
    if !experimental && !renamed && loss_scale.is_none() {
        return;
    }
    if version_guarded(ctx, call_node) {
        return;
    }
    let in_chain = experimental_attribute(ctx, callee);
    let through_binding =
        (experimental && in_chain.is_none()) || (renamed && callee.kind_name() == "identifier");
    let mappable =
        MAPPABLE.contains(&member_name) && !path.starts_with("tensorflow.mixed_precision");
    if through_binding && !renamed && loss_scale.is_none() && mappable {
        // Only the import is wrong; it is reported (and fixed, uses included) on its own.
        return;
    }
    let message = call_message(member_name, experimental, renamed, loss_scale.is_some());
    let fix = if through_binding {
        root_identifier(callee)
            .and_then(|root| binding_statement(ctx, ctx.text(root)))
            .and_then(|stmt| import_rewrite(ctx, stmt))
    } else if mappable {
        Some(call_rewrite(
            ctx,
            call_node,
            member_name,
            in_chain,
            loss_scale,
        ))
    } else {
        None
    };
    let finding = sink.report(call_node, message);
    if let Some(rewrite) = fix.filter(|r| !r.edits.is_empty()) {
        finding.with_fix(rewrite.title(), rewrite.safety, rewrite.edits);
    }
}

fn call_message(member: &str, experimental: bool, renamed: bool, loss_scale: bool) -> String {
    if experimental {
        let mut message = String::from(
            "`mixed_precision.experimental` was removed in TF 2.9: this call raises AttributeError",
        );
        if renamed {
            message.push_str("; `set_policy` is now `set_global_policy`");
        }
        if loss_scale {
            message.push_str("; `loss_scale` is no longer an argument");
        }
        return message;
    }
    if renamed {
        return "`mixed_precision.set_policy` does not exist (only `experimental.set_policy` did, until TF 2.9): AttributeError; it is `set_global_policy`".to_string();
    }
    let raises = if member == "Policy" {
        "TypeError"
    } else {
        "ValueError in Keras 3, TypeError in tf_keras"
    };
    format!(
        "`{member}(..., loss_scale=...)` raises today ({raises}): `loss_scale` only existed in the removed experimental API"
    )
}

/// The `loss_scale` argument of `Policy`/`LossScaleOptimizer` (keyword, or second positional
/// argument of the experimental classes).
fn loss_scale_argument<'t>(
    ctx: &Context,
    call_node: Node<'t>,
    member: &str,
    experimental: bool,
) -> Option<Node<'t>> {
    if !matches!(member, "Policy" | "LossScaleOptimizer") {
        return None;
    }
    if let Some(keyword) = call::keyword_argument(ctx.source, call_node, "loss_scale") {
        return Some(keyword);
    }
    if experimental {
        return call::positional(call_node, 1);
    }
    None
}

/// Removes or rewrites a `loss_scale` argument; `loss_scale="dynamic"` was the default.
fn rewrite_loss_scale(ctx: &Context, argument: Node, member: &str, rewrite: &mut Rewrite) {
    let value = if argument.kind_name() == "keyword_argument" {
        argument.field("value").unwrap_or(argument)
    } else {
        argument
    };
    let default = string_value(ctx.source, value).is_some_and(|v| matches!(v, "dynamic" | "auto"));
    let numeric = matches!(value.kind_name(), "integer" | "float" | "binary_operator");
    if member == "LossScaleOptimizer" && numeric {
        let text = ctx.text(value);
        rewrite.edits.push(Edit::replace(
            argument.byte_range(),
            format!("initial_scale={text}"),
        ));
        rewrite.safety = FixSafety::Unsafe;
        rewrite.action(format!(
            "`initial_scale={text}` (a dynamic scale starting there)"
        ));
        return;
    }
    rewrite
        .edits
        .push(call::remove_argument(ctx.source, argument));
    if !default {
        rewrite.safety = FixSafety::Unsafe;
    }
    rewrite.action("drop `loss_scale`");
}

/// The fix for a call spelled with its full path (`tf.keras.mixed_precision.experimental.X`).
fn call_rewrite(
    ctx: &Context,
    call_node: Node,
    member: &str,
    experimental: Option<Node>,
    loss_scale: Option<Node>,
) -> Rewrite {
    let mut rewrite = Rewrite::new();
    if let Some(attribute) = experimental
        && let Some(object) = attribute.field("object")
    {
        rewrite
            .edits
            .push(Edit::delete(object.end_byte()..attribute.end_byte()));
        rewrite.action("drop `.experimental`");
    }
    if member == "set_policy"
        && let Some(callee) = call_node.field("function")
        && let Some(attribute) = callee.field("attribute")
    {
        rewrite
            .edits
            .push(Edit::replace(attribute.byte_range(), "set_global_policy"));
        rewrite.action("`set_global_policy`");
    }
    if let Some(argument) = loss_scale {
        rewrite_loss_scale(ctx, argument, member, &mut rewrite);
    }
    rewrite
}

/// The `experimental` attribute node in a callee chain (`a.mixed_precision.experimental`).
fn experimental_attribute<'t>(ctx: &Context, callee: Node<'t>) -> Option<Node<'t>> {
    let mut current = callee;
    for _ in 0..32 {
        if current.kind_name() != "attribute" {
            return None;
        }
        let object = current.field("object")?;
        if object.kind_name() == "attribute"
            && object
                .field("attribute")
                .is_some_and(|a| ctx.text(a) == "experimental")
        {
            return Some(object);
        }
        current = object;
    }
    None
}

fn root_identifier(node: Node) -> Option<Node> {
    let mut current = node;
    for _ in 0..32 {
        match current.kind_name() {
            "identifier" => return Some(current),
            "attribute" => current = current.field("object")?,
            _ => return None,
        }
    }
    None
}

fn check_import(ctx: &Context, stmt: Node, sink: &mut Sink) {
    let problems = import_problems(ctx, stmt);
    if problems.is_empty() || version_guarded(ctx, stmt) {
        return;
    }
    let fix = import_rewrite(ctx, stmt).filter(|r| !r.edits.is_empty());
    for (node, message) in problems {
        let finding = sink.report(node, message);
        if let Some(rewrite) = &fix {
            finding.with_fix(rewrite.title(), rewrite.safety, rewrite.edits.clone());
        }
    }
}

/// The imported names of a statement: (the imported dotted name, its alias).
fn imported_names<'t>(stmt: Node<'t>) -> Vec<(Node<'t>, Option<Node<'t>>)> {
    let mut cursor = stmt.walk();
    stmt.children_by_field_name("name", &mut cursor)
        .filter_map(|name| match name.kind_name() {
            "dotted_name" => Some((name, None)),
            "aliased_import" => Some((name.field("name")?, name.field("alias"))),
            _ => None,
        })
        .collect()
}

/// `from` module of an import, compat-normalised, when it is a TensorFlow/Keras module.
fn from_module(ctx: &Context, stmt: Node) -> Option<String> {
    let module = stmt.field("module_name")?;
    if module.kind_name() != "dotted_name" {
        return None;
    }
    let text: String = ctx.text(module).split_whitespace().collect();
    let text = ["tensorflow.compat.v1.", "tensorflow.compat.v2."]
        .iter()
        .find_map(|p| text.strip_prefix(p).map(|r| format!("tensorflow.{r}")))
        .unwrap_or(text);
    let root = text.split('.').next().unwrap_or("");
    matches!(root, "tensorflow" | "keras" | "tf_keras").then_some(text)
}

fn import_problems<'t>(ctx: &Context, stmt: Node<'t>) -> Vec<(Node<'t>, String)> {
    let mut problems = Vec::new();
    if stmt.kind_name() == "import_statement" {
        for (name, _) in imported_names(stmt) {
            let text = ctx.text(name);
            if text.contains("mixed_precision.experimental") {
                problems.push((
                    name,
                    format!(
                        "`{text}` was removed in TF 2.9: this import raises ModuleNotFoundError"
                    ),
                ));
            }
        }
        return problems;
    }
    let Some(module) = from_module(ctx, stmt) else {
        return problems;
    };
    if module.contains(".mixed_precision.experimental") {
        if let Some(node) = stmt.field("module_name") {
            problems.push((
                node,
                format!("`{module}` was removed in TF 2.9: this import raises ModuleNotFoundError"),
            ));
        }
        return problems;
    }
    if !module.ends_with(".mixed_precision") {
        return problems;
    }
    for (name, _) in imported_names(stmt) {
        match ctx.text(name) {
            "experimental" => problems.push((
                name,
                "`mixed_precision.experimental` was removed in TF 2.9: this import raises ImportError"
                    .to_string(),
            )),
            "set_policy" => problems.push((
                name,
                "`mixed_precision.set_policy` does not exist (only `experimental.set_policy` did): this import raises ImportError; it is `set_global_policy`"
                    .to_string(),
            )),
            _ => {}
        }
    }
    problems
}

/// The import statement that binds `name` (the last one in the file, as Python would).
fn binding_statement<'t>(ctx: &Context<'t>, name: &str) -> Option<Node<'t>> {
    ctx.import_statements()
        .into_iter()
        .filter(|stmt| {
            imported_names(*stmt).iter().any(|(imported, alias)| {
                let bound = match alias {
                    Some(alias) => ctx.text(*alias),
                    None if stmt.kind_name() == "import_statement" => {
                        ctx.text(*imported).split('.').next().unwrap_or("")
                    }
                    None => ctx.text(*imported),
                };
                bound == name
            })
        })
        .last()
}

/// Rewrites an import of removed names to the current module, with every use of what it binds.
/// `None` when some name has no current equivalent.
fn import_rewrite(ctx: &Context, stmt: Node) -> Option<Rewrite> {
    let mut rewrite = Rewrite::new();
    if stmt.kind_name() == "import_statement" {
        for (name, alias) in imported_names(stmt) {
            let text = ctx.text(name);
            if !text.contains("mixed_precision.experimental") {
                continue;
            }
            let current = text.strip_suffix(".experimental")?;
            if current.ends_with("tensorflow.mixed_precision") {
                return None;
            }
            rewrite
                .edits
                .push(Edit::replace(name.byte_range(), current));
            rewrite.action("drop `.experimental`");
            if let Some(alias) = alias {
                rewrite_module_uses(ctx, ctx.text(alias), &mut rewrite)?;
            }
        }
        return Some(rewrite);
    }
    let module = from_module(ctx, stmt)?;
    if module.starts_with("tensorflow.mixed_precision") {
        return None;
    }
    let module_node = stmt.field("module_name")?;
    let names = imported_names(stmt);
    if names.is_empty() {
        return None; // `import *`
    }
    if module.ends_with(".mixed_precision.experimental") {
        let current = ctx.text(module_node).strip_suffix(".experimental")?;
        rewrite
            .edits
            .push(Edit::replace(module_node.byte_range(), current));
        rewrite.action("drop `.experimental`");
        for (name, alias) in names {
            let imported = ctx.text(name);
            if !MAPPABLE.contains(&imported) {
                return None;
            }
            rename_imported(ctx, name, alias, &mut rewrite);
            let local = alias.map_or(imported, |a| ctx.text(a));
            rewrite_direct_uses(ctx, local, imported, &mut rewrite);
        }
        return Some(rewrite);
    }
    if !module.ends_with(".mixed_precision") {
        return None;
    }
    if let Some((_, alias)) = names.iter().find(|(n, _)| ctx.text(*n) == "experimental") {
        if names.len() != 1 {
            return None;
        }
        let parent = ctx.text(module_node).strip_suffix(".mixed_precision")?;
        let local = alias.map_or("experimental", |a| ctx.text(a));
        let statement = if local == "mixed_precision" {
            format!("from {parent} import mixed_precision")
        } else {
            format!("from {parent} import mixed_precision as {local}")
        };
        rewrite
            .edits
            .push(Edit::replace(stmt.byte_range(), statement));
        rewrite.action("drop `.experimental`");
        rewrite_module_uses(ctx, local, &mut rewrite)?;
        return Some(rewrite);
    }
    for (name, alias) in names {
        if ctx.text(name) == "set_policy" {
            rename_imported(ctx, name, alias, &mut rewrite);
        }
    }
    Some(rewrite)
}

/// `set_policy` in an import becomes `set_global_policy`, and so do its uses when not aliased.
fn rename_imported(ctx: &Context, name: Node, alias: Option<Node>, rewrite: &mut Rewrite) {
    if ctx.text(name) != "set_policy" {
        return;
    }
    rewrite
        .edits
        .push(Edit::replace(name.byte_range(), "set_global_policy"));
    rewrite.action("`set_global_policy`");
    if alias.is_some() {
        return;
    }
    for node in ctx.identifiers("set_policy") {
        if is_reference(node) {
            rewrite
                .edits
                .push(Edit::replace(node.byte_range(), "set_global_policy"));
        }
    }
}

/// Calls of a name imported from the experimental module: drop their `loss_scale`.
fn rewrite_direct_uses(ctx: &Context, local: &str, imported: &str, rewrite: &mut Rewrite) {
    if !matches!(imported, "Policy" | "LossScaleOptimizer") {
        return;
    }
    for node in ctx.calls_of(local) {
        if let Some(argument) = loss_scale_argument(ctx, node, imported, true) {
            rewrite_loss_scale(ctx, argument, imported, rewrite);
        }
    }
}

/// Uses `<module>.<name>` of a module alias that pointed at `mixed_precision.experimental`.
/// `None` when a used name has no current equivalent.
fn rewrite_module_uses(ctx: &Context, module: &str, rewrite: &mut Rewrite) -> Option<()> {
    for node in ctx.attributes_of(module) {
        let Some(attribute) = node.field("attribute") else {
            continue;
        };
        let name = ctx.text(attribute);
        if !MAPPABLE.contains(&name) {
            return None;
        }
        if name == "set_policy" {
            rewrite
                .edits
                .push(Edit::replace(attribute.byte_range(), "set_global_policy"));
            rewrite.action("`set_global_policy`");
        }
        let call_node = node
            .parent()
            .filter(|p| p.kind_name() == "call" && p.field("function") == Some(node));
        if let Some(call_node) = call_node
            && let Some(argument) = loss_scale_argument(ctx, call_node, name, true)
        {
            rewrite_loss_scale(ctx, argument, name, rewrite);
        }
    }
    Some(())
}

/// Whether an identifier reads a variable (not an attribute name, keyword or import name).
fn is_reference(node: Node) -> bool {
    let Some(parent) = node.parent() else {
        return true;
    };
    match parent.kind_name() {
        "attribute" => parent.field("object") == Some(node),
        "keyword_argument" => parent.field("name") != Some(node),
        "function_definition" | "class_definition" => parent.field("name") != Some(node),
        "dotted_name" | "aliased_import" | "import_statement" | "import_from_statement" => false,
        _ => true,
    }
}

/// Whether `node` sits in code that checks the TF version or a feature first: an `if` on a
/// version or `hasattr`, or a `try` that handles AttributeError/ImportError.
fn version_guarded(ctx: &Context, node: Node) -> bool {
    let mut current = node;
    while let Some(parent) = current.parent() {
        let condition = match parent.kind_name() {
            "if_statement" | "elif_clause" => parent.field("condition"),
            "conditional_expression" => parent.named_child(1),
            _ => None,
        };
        if let Some(condition) = condition {
            let text = ctx.text(condition).to_ascii_lowercase();
            if text.contains("version") || text.contains("hasattr") {
                return true;
            }
        }
        if parent.kind_name() == "try_statement" && handles_missing_api(ctx, parent) {
            return true;
        }
        current = parent;
    }
    false
}

fn handles_missing_api(ctx: &Context, try_statement: Node) -> bool {
    let mut cursor = try_statement.walk();
    try_statement
        .named_children(&mut cursor)
        .filter(|c| c.kind_name() == "except_clause")
        .any(|clause| {
            let text = ctx.text(clause);
            let header = text.split(':').next().unwrap_or("");
            header.trim() == "except"
                || [
                    "AttributeError",
                    "ImportError",
                    "ModuleNotFoundError",
                    "Exception",
                ]
                .iter()
                .any(|e| header.contains(e))
        })
}

#[cfg(test)]
mod tests {
    use crate::fix::fix_source;
    use crate::settings::Settings;

    fn fixed(src: &str) -> String {
        let settings = Settings::from_layers(&[serde_json::json!({"select": ["KRS501"]})]).0;
        fix_source(src, &settings, false).text
    }

    #[test]
    fn the_old_guide_becomes_the_current_api() {
        let src = "import tensorflow as tf\nfrom tensorflow.keras.mixed_precision import experimental as mixed_precision\n\npolicy = mixed_precision.Policy('mixed_float16')\nmixed_precision.set_policy(policy)\nopt = mixed_precision.LossScaleOptimizer(tf.keras.optimizers.Adam(), loss_scale='dynamic')\nprint(mixed_precision.global_policy())\n";
        let expected = "import tensorflow as tf\nfrom tensorflow.keras import mixed_precision\n\npolicy = mixed_precision.Policy('mixed_float16')\nmixed_precision.set_global_policy(policy)\nopt = mixed_precision.LossScaleOptimizer(tf.keras.optimizers.Adam())\nprint(mixed_precision.global_policy())\n";
        assert_eq!(fixed(src), expected);
    }

    #[test]
    fn names_without_a_current_equivalent_block_the_import_fix() {
        let src = "from tensorflow.keras.mixed_precision import experimental as mp\nscale = mp.DynamicLossScale()\nmp.set_policy('mixed_float16')\n";
        assert_eq!(fixed(src), src);
    }
}
