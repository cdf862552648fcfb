//! The pure analysis core: text and tree in, findings out. Knows nothing of LSP.

pub mod dataflow;
pub mod imports;
pub mod incremental;
pub mod index;
pub mod layers;
pub mod model;
pub mod policy;
pub mod suppression;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::LazyLock;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Query, QueryCursor, Tree};

use crate::finding::{Edit, Finding, Fix, FixSafety, Severity};
use crate::rules::{self, RuleDef};
use crate::settings::Settings;
use dataflow::Dataflow;
use imports::{Imports, KerasSymbol};
use index::{FileIndex, ScopeIndex};
use policy::PolicySetting;

/// Whether a file can contain Keras code at all; files that mention neither `keras` nor
/// `tensorflow`/`tf` are skipped before parsing.
pub fn mentions_keras(source: &str) -> bool {
    let bytes = source.as_bytes();
    if memfind(bytes, b"keras") || memfind(bytes, b"tensorflow") {
        return true;
    }
    // `tf` as a whole word (e.g. `tf.data`), not inside `pdf` or `tfidf`.
    let mut start = 0;
    while let Some(pos) = find_from(bytes, b"tf", start) {
        let before = pos.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(pos + 2).copied();
        let is_ident = |b: Option<u8>| b.is_some_and(|b| b == b'_' || b.is_ascii_alphanumeric());
        if !is_ident(before) && !is_ident(after) {
            return true;
        }
        start = pos + 2;
    }
    false
}

fn memfind(haystack: &[u8], needle: &[u8]) -> bool {
    find_from(haystack, needle, 0).is_some()
}

fn find_from(haystack: &[u8], needle: &[u8], start: usize) -> Option<usize> {
    haystack
        .get(start..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + start)
}

/// All rule queries compiled once into one query, so a single tree traversal serves every rule.
struct CombinedQuery {
    query: Query,
    /// Rule index for each pattern index.
    pattern_rule: Vec<usize>,
    /// Pattern index of each rule's first pattern (to give rules a local pattern number).
    rule_first_pattern: Vec<usize>,
}

static COMBINED: LazyLock<CombinedQuery> = LazyLock::new(|| {
    let mut source = String::new();
    let mut starts = Vec::new();
    for rule in rules::ALL {
        starts.push(source.len());
        source.push_str(rule.query);
        source.push('\n');
    }
    let query = Query::new(&tree_sitter_python::LANGUAGE.into(), &source)
        .unwrap_or_else(|e| panic!("bundled rule queries must compile: {e}"));
    let pattern_rule: Vec<usize> = (0..query.pattern_count())
        .map(|i| {
            let byte = query.start_byte_for_pattern(i);
            starts.partition_point(|&s| s <= byte) - 1
        })
        .collect();
    let rule_first_pattern = (0..rules::ALL.len())
        .map(|r| {
            pattern_rule
                .iter()
                .position(|&p| p == r)
                .unwrap_or(usize::MAX)
        })
        .collect();
    CombinedQuery {
        query,
        pattern_rule,
        rule_first_pattern,
    }
});

/// Compiles every rule's query (used by tests and at start-up to fail early).
pub fn compile_queries() -> usize {
    COMBINED.query.pattern_count()
}

/// One match of a rule's query, with captures by name.
pub struct RuleMatch<'t> {
    /// Pattern number within the rule's own query file (0-based).
    pub pattern: usize,
    captures: Vec<(&'static str, Node<'t>)>,
}

impl<'t> RuleMatch<'t> {
    /// The first node captured as `@name`.
    pub fn get(&self, name: &str) -> Option<Node<'t>> {
        self.captures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, node)| *node)
    }

    /// Every node captured as `@name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = Node<'t>> + '_ {
        let name = name.to_string();
        self.captures
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, node)| *node)
    }
}

/// Everything a rule may ask about the file being analysed. File-level facts are computed on
/// first use and kept for the rest of the analysis: rules ask these instead of walking the file.
pub struct Context<'a> {
    pub source: &'a str,
    pub tree: &'a Tree,
    pub imports: Imports,
    pub settings: &'a Settings,
    dataflow: OnceCell<Dataflow<'a>>,
    index: OnceCell<FileIndex<'a>>,
    scopes: RefCell<HashMap<(usize, bool), Rc<ScopeIndex<'a>>>>,
    policy: OnceCell<Vec<PolicySetting<'a>>>,
    quote: OnceCell<char>,
    newline: OnceCell<&'static str>,
    legacy_keras: OnceCell<bool>,
}

impl<'a> Context<'a> {
    pub fn new(source: &'a str, tree: &'a Tree, settings: &'a Settings) -> Context<'a> {
        Context {
            source,
            tree,
            imports: Imports::collect(source, tree),
            settings,
            dataflow: OnceCell::new(),
            index: OnceCell::new(),
            scopes: RefCell::new(HashMap::new()),
            policy: OnceCell::new(),
            quote: OnceCell::new(),
            newline: OnceCell::new(),
            legacy_keras: OnceCell::new(),
        }
    }

    /// Whole-file lookups (calls, definitions, identifiers by name), built on first use.
    pub fn file_index(&self) -> &FileIndex<'a> {
        self.index
            .get_or_init(|| FileIndex::build(self.source, self.tree.root_node()))
    }

    /// The indexed nodes of a scope (see [`index::scope_nodes`]), built once per scope.
    pub fn scope(&self, scope: Node<'a>, enter_functions: bool) -> Rc<ScopeIndex<'a>> {
        let key = (scope.id(), enter_functions);
        if let Some(found) = self.scopes.borrow().get(&key) {
            return found.clone();
        }
        let built = Rc::new(ScopeIndex::build(self.source, scope, enter_functions));
        self.scopes.borrow_mut().insert(key, built.clone());
        built
    }

    /// Every call that sets a mixed global dtype policy (see [`policy::policy_settings`]).
    pub fn policy_settings(&self) -> &[PolicySetting<'a>] {
        self.policy.get_or_init(|| policy::collect_settings(self))
    }

    /// The file's line break: `\r\n` when it has any, else `\n`.
    pub fn newline(&self) -> &'static str {
        self.newline.get_or_init(|| {
            if self.source.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            }
        })
    }

    /// Whether the file opts into Keras 2 (`TF_USE_LEGACY_KERAS=1`).
    pub fn uses_legacy_keras(&self) -> bool {
        *self
            .legacy_keras
            .get_or_init(|| policy::uses_legacy_keras(self.source))
    }

    pub fn text(&self, node: Node) -> &'a str {
        imports::text(self.source, node)
    }

    /// The canonical dotted path of a name or attribute chain, when it comes from an import.
    pub fn resolve(&self, node: Node) -> Option<String> {
        self.imports.resolve(self.source, node)
    }

    /// The Keras symbol a name or attribute chain refers to, if any.
    pub fn keras(&self, node: Node) -> Option<KerasSymbol> {
        self.imports.keras_symbol(self.source, node)
    }

    /// The Keras symbol a call's callee refers to (`layers.Dense(...)` -> `layers.Dense`).
    pub fn keras_callee(&self, call: Node) -> Option<KerasSymbol> {
        self.keras(call.child_by_field_name("function")?)
    }

    /// tf.data pipelines of this file, computed on first use.
    pub fn dataflow(&self) -> &Dataflow<'a> {
        self.dataflow
            .get_or_init(|| dataflow::build(self.source, self.tree.root_node(), &self.imports))
    }

    /// An integer option of a rule, from settings or its default.
    pub fn int_option(&self, rule: &RuleDef, option: &str) -> i64 {
        let default = rule
            .options
            .iter()
            .find(|o| o.name == option)
            .map_or(0, |o| o.default);
        self.settings.int_option(rule.code, option, default)
    }

    /// `value` as a Python string literal, quoted like the strings of the statement around
    /// `near` (else the file's dominant quote style).
    pub fn string_literal_near(&self, near: Node, value: &str) -> String {
        // The closest string wins: search `near`, then each enclosing node up to the statement.
        let mut scope = Some(near);
        while let Some(node) = scope {
            if let Some(quote) = self.first_string_quote(node) {
                return format!("{quote}{value}{quote}");
            }
            if matches!(
                node.parent().map(|p| p.kind()),
                Some("module" | "block") | None
            ) {
                break;
            }
            scope = node.parent();
        }
        self.string_literal(value)
    }

    /// The quote character of the first plain string literal inside `node`.
    fn first_string_quote(&self, node: Node) -> Option<char> {
        let mut stack = vec![node];
        let mut visited = 0;
        while let Some(n) = stack.pop() {
            visited += 1;
            if visited > 10_000 {
                return None;
            }
            if n.kind() == "string" {
                let quote = self
                    .text(n)
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic());
                if let Some(q) = quote.chars().next().filter(|q| *q == '\'' || *q == '"') {
                    return Some(q);
                }
            }
            let mut cursor = n.walk();
            let children: Vec<Node> = n.named_children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        None
    }

    /// `value` as a Python string literal in the file's dominant quote style.
    pub fn string_literal(&self, value: &str) -> String {
        let quote = *self.quote.get_or_init(|| {
            let single = self.source.bytes().filter(|&b| b == b'\'').count();
            let double = self.source.bytes().filter(|&b| b == b'"').count();
            if single > double { '\'' } else { '"' }
        });
        format!("{quote}{value}{quote}")
    }

    /// An edit that adds `statement` (e.g. `import tensorflow as tf`) where imports belong.
    pub fn add_import_edit(&self, statement: &str) -> Edit {
        let (offset, after_import) = self.imports.import_insertion_offset();
        let newline = self.newline();
        if after_import {
            Edit::insert(offset, format!("{newline}{statement}"))
        } else {
            Edit::insert(offset, format!("{statement}{newline}"))
        }
    }

    /// An expression naming `path` with the file's own bindings, plus an import edit when none
    /// exists. `import_module` is the `import X as Y` that provides `fallback_root`.
    pub fn expr_or_import(
        &self,
        path: &str,
        import_statement: &str,
        bound_name: &str,
        rest: &str,
    ) -> (String, Option<Edit>) {
        if let Some(expr) = self.imports.expr_for(path) {
            return (expr, None);
        }
        let expr = if rest.is_empty() {
            bound_name.to_string()
        } else {
            format!("{bound_name}.{rest}")
        };
        if self.imports.is_bound(bound_name) {
            // The name is taken by something else; fall back to the fully qualified import.
            return (expr, None);
        }
        (expr, Some(self.add_import_edit(import_statement)))
    }
}

/// Argument helpers for call nodes.
pub mod call {
    use tree_sitter::Node;

    use super::imports::text;
    use crate::finding::Edit;

    /// The value of keyword argument `name`.
    pub fn keyword<'t>(source: &str, call: Node<'t>, name: &str) -> Option<Node<'t>> {
        keyword_argument(source, call, name).and_then(|kw| kw.child_by_field_name("value"))
    }

    /// The whole `name=value` node.
    pub fn keyword_argument<'t>(source: &str, call: Node<'t>, name: &str) -> Option<Node<'t>> {
        let args = call.child_by_field_name("arguments")?;
        let mut cursor = args.walk();
        args.named_children(&mut cursor).find(|a| {
            a.kind() == "keyword_argument"
                && a.child_by_field_name("name")
                    .is_some_and(|n| text(source, n) == name)
        })
    }

    /// The `index`-th positional argument.
    pub fn positional<'t>(call: Node<'t>, index: usize) -> Option<Node<'t>> {
        let args = call.child_by_field_name("arguments")?;
        let mut cursor = args.walk();
        args.named_children(&mut cursor)
            .filter(|a| {
                !matches!(
                    a.kind(),
                    "keyword_argument" | "comment" | "list_splat" | "dictionary_splat"
                )
            })
            .nth(index)
    }

    /// Positional argument `index`, else keyword `name`.
    pub fn argument<'t>(
        source: &str,
        call: Node<'t>,
        index: usize,
        name: &str,
    ) -> Option<Node<'t>> {
        positional(call, index).or_else(|| keyword(source, call, name))
    }

    /// Deletes an argument together with the comma that separates it from its neighbour.
    pub fn remove_argument(source: &str, arg: Node) -> Edit {
        if let Some(edit) = remove_argument_line(source, arg) {
            return edit;
        }
        let Some(args) = arg.parent() else {
            return Edit::delete(arg.byte_range());
        };
        let mut cursor = args.walk();
        let siblings: Vec<Node> = args
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect();
        let index = siblings.iter().position(|n| n.id() == arg.id());
        match index {
            Some(i) if i > 0 => {
                // Remove from the end of the previous argument (takes its comma).
                Edit::delete(siblings[i - 1].end_byte()..arg.end_byte())
            }
            Some(0) if siblings.len() > 1 => {
                Edit::delete(arg.start_byte()..siblings[1].start_byte())
            }
            _ => {
                // The only argument: also drop a trailing comma.
                let mut end = arg.end_byte();
                let rest = &source[end..args.end_byte()];
                if let Some(comma) = rest.find(',')
                    && rest[..comma].trim().is_empty()
                {
                    end += comma + 1;
                }
                Edit::delete(arg.start_byte()..end)
            }
        }
    }

    /// When an argument sits alone on its line(s) (`    x=1,  # note`), deletes those lines.
    fn remove_argument_line(source: &str, arg: Node) -> Option<Edit> {
        let line_start = source[..arg.start_byte()].rfind('\n').map_or(0, |i| i + 1);
        if !source[line_start..arg.start_byte()].trim().is_empty() {
            return None;
        }
        let rest = &source[arg.end_byte()..];
        let line_end = rest
            .find('\n')
            .map_or(source.len(), |i| arg.end_byte() + i + 1);
        let tail = source[arg.end_byte()..line_end].trim();
        let tail = tail.strip_prefix(',').unwrap_or(tail).trim();
        if !(tail.is_empty() || tail.starts_with('#')) {
            return None;
        }
        // Keep the call valid: the argument list must still have something before the line.
        Some(Edit::delete(line_start..line_end))
    }

    /// Adds `text` (e.g. `num_parallel_calls=tf.data.AUTOTUNE`) as the last argument.
    pub fn append_argument(source: &str, call: Node, new_arg: &str) -> Option<Edit> {
        let args = call.child_by_field_name("arguments")?;
        let close = args.end_byte().checked_sub(1)?;
        let mut cursor = args.walk();
        let last = args
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .last();
        let Some(last) = last else {
            return Some(Edit::insert(close, new_arg.to_string()));
        };
        let between = &source[last.end_byte()..close];
        if between.trim_start().starts_with(',') {
            // Trailing comma: keep the user's layout, add after the comma.
            let comma = last.end_byte() + between.find(',')? + 1;
            let multiline = between.contains('\n');
            if multiline {
                // After the comma and any comment that ends its line.
                let indent = line_indent(source, last.start_byte());
                let mut line_end =
                    comma + source[comma..].find('\n').unwrap_or(source.len() - comma);
                if line_end > comma && source.as_bytes()[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                let newline = if source[line_end..].starts_with("\r\n") {
                    "\r\n"
                } else {
                    "\n"
                };
                return Some(Edit::insert(
                    line_end,
                    format!("{newline}{indent}{new_arg},"),
                ));
            }
            return Some(Edit::insert(comma, format!(" {new_arg}")));
        }
        Some(Edit::insert(last.end_byte(), format!(", {new_arg}")))
    }

    /// The leading whitespace of the line containing `offset`.
    pub fn line_indent(source: &str, offset: usize) -> &str {
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = &source[line_start..];
        let end = line
            .find(|c: char| c != ' ' && c != '\t')
            .unwrap_or(line.len());
        &line[..end]
    }
}

/// Collects findings for the rule being run.
pub struct Sink<'o> {
    rule: &'static RuleDef,
    out: &'o mut Vec<Finding>,
}

impl Sink<'_> {
    /// Reports a finding at `node` with the rule's default severity.
    pub fn report(&mut self, node: Node, message: impl Into<String>) -> &mut Finding {
        self.report_range(node.byte_range(), message)
    }

    pub fn report_range(
        &mut self,
        range: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.out.push(Finding {
            code: self.rule.code,
            name: self.rule.name,
            message: message.into(),
            range,
            severity: self.rule.severity,
            fix: None,
        });
        self.out.last_mut().expect("just pushed")
    }

    pub fn rule(&self) -> &'static RuleDef {
        self.rule
    }
}

impl Finding {
    pub fn with_fix(
        &mut self,
        title: impl Into<String>,
        safety: FixSafety,
        edits: Vec<Edit>,
    ) -> &mut Finding {
        self.fix = Some(Fix::new(title, safety, edits));
        self
    }

    pub fn with_severity(&mut self, severity: Severity) -> &mut Finding {
        self.severity = severity;
        self
    }
}

/// Analyses one Python file. The tree must be a parse of `source`.
pub fn analyze(source: &str, tree: &Tree, settings: &Settings) -> Vec<Finding> {
    if !mentions_keras(source) || suppression::ignores_file(source, tree) {
        return Vec::new();
    }
    let ctx = Context::new(source, tree, settings);
    let combined = &*COMBINED;
    let enabled: Vec<bool> = rules::ALL
        .iter()
        .map(|r| settings.is_enabled(r.code, r.name))
        .collect();
    if !enabled.iter().any(|&e| e) {
        return Vec::new();
    }
    let names = combined.query.capture_names();
    let mut findings = Vec::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&combined.query, ctx.tree.root_node(), source.as_bytes());
    while let Some(m) = matches.next() {
        let rule_index = combined.pattern_rule[m.pattern_index];
        if !enabled[rule_index] {
            continue;
        }
        let rule = &rules::ALL[rule_index];
        let rule_match = RuleMatch {
            pattern: m.pattern_index - combined.rule_first_pattern[rule_index],
            captures: m
                .captures()
                .iter()
                .map(|c| (names[c.index as usize], c.node))
                .collect(),
        };
        let mut sink = Sink {
            rule,
            out: &mut findings,
        };
        (rule.check)(&ctx, &rule_match, &mut sink);
    }
    finish(source, tree, settings, findings)
}

/// Applies severity overrides, drops duplicates and suppressed findings, sorts by position.
fn finish(
    source: &str,
    tree: &Tree,
    settings: &Settings,
    mut findings: Vec<Finding>,
) -> Vec<Finding> {
    for finding in &mut findings {
        if let Some(sev) = settings.severity_override(finding.code) {
            finding.severity = sev;
        }
    }
    findings.sort_by(|a, b| {
        (a.range.start, a.range.end, a.code).cmp(&(b.range.start, b.range.end, b.code))
    });
    findings.dedup_by(|a, b| a.code == b.code && a.range == b.range);
    let suppressions = suppression::Suppressions::new(source, tree);
    findings.retain(|f| !suppressions.is_suppressed(source, f));
    findings
}

/// Every node under `root` (itself included) in document order; iterative, no recursion.
pub fn descendants<'t>(root: Node<'t>) -> impl Iterator<Item = Node<'t>> {
    let mut cursor = root.walk();
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let node = cursor.node();
        if cursor.goto_first_child() {
            return Some(node);
        }
        loop {
            if cursor.goto_next_sibling() {
                return Some(node);
            }
            if !cursor.goto_parent() {
                done = true;
                return Some(node);
            }
        }
    })
}

/// The value of a plain Python string literal (`'a'`, `"a"`, `r"a"`, triple quotes); `None` for
/// f-strings, byte strings and anything that is not a single string literal.
pub fn string_value<'s>(source: &'s str, node: Node) -> Option<&'s str> {
    if node.kind() != "string" {
        return None;
    }
    let text = imports::text(source, node);
    let body = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let prefix = &text[..text.len() - body.len()];
    if prefix.chars().any(|c| matches!(c, 'f' | 'F' | 'b' | 'B')) {
        return None;
    }
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = body
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return Some(inner);
        }
    }
    None
}
