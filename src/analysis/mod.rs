//! The pure analysis core: text and trees in, findings out. Knows nothing of LSP.

pub mod dataflow;
pub mod imports;
pub mod incremental;
pub mod index;
pub mod layers;
pub mod model;
pub mod needles;
pub mod occurrences;
pub mod policy;
pub mod suppression;
pub mod units;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::LazyLock;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Query, QueryCursor};

use crate::forest::Forest;

use crate::finding::{Edit, Finding, Fix, FixSafety, Severity};
use crate::rules::{self, RuleDef};
use crate::settings::Settings;
use crate::syntax::NodeExt;
use dataflow::{Consumer, Dataflow};
use imports::{Imports, KerasSymbol};
use index::ScopeIndex;
use policy::PolicySetting;
use units::{Key, KeyIndex, Read, Scope, UnitIndex};

/// Whether a file can contain Keras code at all; files that mention neither `keras` nor
/// `tensorflow`/`tf` are skipped before parsing.
pub fn mentions_keras(source: &str) -> bool {
    let bytes = source.as_bytes();
    if source.contains("keras") || source.contains("tensorflow") {
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

fn find_from(haystack: &[u8], needle: &[u8], start: usize) -> Option<usize> {
    haystack
        .get(start..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + start)
}

/// The rules' queries, compiled once into two queries, so a single tree traversal serves many
/// rules: `near` holds the rules whose every pattern has needles (see [`needles`]), run only
/// around the places where the text holds one of them; `broad` holds the others (and the
/// module patterns), run over whole trees, and for a rule with `requires_text` only in files
/// that contain it.
///
/// Patterns are numbered globally: the rules in [`rules::ALL`] order, each rule's patterns in the
/// order of its query file.
struct RuleQueries {
    near: PatternGroup,
    broad: PatternGroup,
    /// Every needle of the near rules (each once).
    needles: Option<aho_corasick::AhoCorasick>,
    /// For each needle (by its pattern id in `needles`): where the roots of its matches can be.
    needle_sites: Vec<NeedleSite>,
    /// Rule index for each (global) pattern.
    pattern_rule: Vec<usize>,
    /// Global number of each rule's first pattern (to give rules a local pattern number).
    rule_first_pattern: Vec<usize>,
    /// Per rule: its patterns are in `near`.
    rule_is_near: Vec<bool>,
    /// Per rule: it has patterns other than module patterns.
    rule_in_trees: Vec<bool>,
    /// Patterns rooted at the module node (`(module) @module`): matched once per file, not
    /// within a statement; `Some(capture)` when the pattern is exactly `(module) @capture`.
    module_pattern: Vec<Option<Option<usize>>>,
    /// Where each global pattern is: in `near` or not, and its number there.
    place: Vec<(bool, usize)>,
}

/// Where, from an occurrence of a needle in the text, the near patterns it stands for can have
/// their root: a pattern compares a node that spans the occurrence (exactly, for `#eq?`) and is
/// some levels below the root.
#[derive(Debug, Clone)]
struct NeedleSite {
    /// Some pattern compares a node with exactly this text, at most this many levels below
    /// the pattern's root.
    exact_depth: Option<usize>,
    /// Some pattern compares a node that only contains it (a regex): its root can be any
    /// ancestor of the occurrence.
    contained: bool,
    /// The kinds those patterns' roots have (`None`: any).
    root_kinds: Option<Vec<String>>,
}

impl Default for NeedleSite {
    fn default() -> NeedleSite {
        NeedleSite {
            exact_depth: None,
            contained: false,
            root_kinds: Some(Vec::new()),
        }
    }
}

impl NeedleSite {
    /// Whether a pattern this needle stands for can have its root at `node`.
    fn may_root_at(&self, node: Node) -> bool {
        self.root_kinds
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| k == node.kind_name()))
    }
}

/// Some rules' patterns as one compiled query.
struct PatternGroup {
    query: Option<Query>,
    /// The global number of each of the query's patterns.
    global: Vec<usize>,
}

impl PatternGroup {
    fn capture_names(&self) -> &[&str] {
        self.query.as_ref().map_or(&[], |q| q.capture_names())
    }
}

/// Whether every pattern of a rule's query has needles.
fn rule_has_needles(rule: &RuleDef) -> bool {
    let needles = needles::pattern_needles(rule.query);
    !needles.is_empty() && needles.iter().all(Option::is_some)
}

/// A compiled query of some rules, with its source and, for each pattern, (rule index, the
/// pattern's number in its rule's query).
type CompiledGroup = (Option<Query>, String, Vec<(usize, usize)>);

/// Compiles the concatenated queries of `rules` (indexes).
fn compile_group(rules: &[usize]) -> CompiledGroup {
    let mut source = String::new();
    let mut starts = Vec::new();
    for &r in rules {
        starts.push(source.len());
        source.push_str(rules::ALL[r].query);
        source.push('\n');
    }
    if rules.is_empty() {
        return (None, source, Vec::new());
    }
    let query = Query::new(&tree_sitter_python::LANGUAGE.into(), &source)
        .unwrap_or_else(|e| panic!("bundled rule queries must compile: {e}"));
    // (rule, the pattern's number in its rule) for each pattern of the query.
    let mut seen = vec![0usize; rules::ALL.len()];
    let owners = (0..query.pattern_count())
        .map(|i| {
            let byte = query.start_byte_for_pattern(i);
            let rule = rules[starts.partition_point(|&s| s <= byte) - 1];
            seen[rule] += 1;
            (rule, seen[rule] - 1)
        })
        .collect();
    (Some(query), source, owners)
}

static QUERIES: LazyLock<RuleQueries> = LazyLock::new(|| {
    let near_rules: Vec<usize> = (0..rules::ALL.len())
        .filter(|&r| rule_has_needles(&rules::ALL[r]))
        .collect();
    let broad_rules: Vec<usize> = (0..rules::ALL.len())
        .filter(|r| !near_rules.contains(r))
        .collect();
    // The two compile on two cores: compiling is most of a cold start.
    let ((near_query, near_source, near_owners), (broad_query, broad_source, broad_owners)) =
        std::thread::scope(|scope| {
            let near = scope.spawn(|| compile_group(&near_rules));
            let broad = compile_group(&broad_rules);
            (
                near.join().expect("compiling queries does not panic"),
                broad,
            )
        });
    let mut counts = vec![0usize; rules::ALL.len()];
    for &(rule, _) in near_owners.iter().chain(&broad_owners) {
        counts[rule] += 1;
    }
    let rule_first_pattern: Vec<usize> = counts
        .iter()
        .scan(0, |next, &count| {
            let first = *next;
            *next += count;
            Some(first)
        })
        .collect();
    let total: usize = counts.iter().sum();
    let mut pattern_rule = vec![0; total];
    let mut place = vec![(false, 0); total];
    let mut module_pattern = vec![None; total];
    let mut groups = Vec::new();
    for (is_near, query, source, owners) in [
        (true, &near_query, &near_source, &near_owners),
        (false, &broad_query, &broad_source, &broad_owners),
    ] {
        let mut global = Vec::with_capacity(owners.len());
        for (i, &(rule, nth)) in owners.iter().enumerate() {
            let g = rule_first_pattern[rule] + nth;
            global.push(g);
            pattern_rule[g] = rule;
            place[g] = (is_near, i);
            if let Some(query) = query {
                module_pattern[g] = module_shape(query, source, i);
            }
        }
        groups.push(global);
    }
    let broad_global = groups.pop().unwrap_or_default();
    let near_global = groups.pop().unwrap_or_default();
    // Each needle once, with where the roots of the matches it stands for can be.
    let mut needles: Vec<String> = Vec::new();
    let mut needle_sites: Vec<NeedleSite> = Vec::new();
    for pattern in near_rules
        .iter()
        .flat_map(|&r| needles::pattern_needle_sites(rules::ALL[r].query))
        .flatten()
    {
        for text in &pattern.texts {
            let i = needles.iter().position(|n| n == text).unwrap_or_else(|| {
                needles.push(text.clone());
                needle_sites.push(NeedleSite::default());
                needles.len() - 1
            });
            let site = &mut needle_sites[i];
            // A supertype (`(expression)`) roots matches of other kinds: any kind then.
            let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
            let kinds = pattern.root_kinds.clone().filter(|kinds| {
                kinds.iter().all(|k| {
                    let id = language.id_for_node_kind(k, true);
                    id != 0 && !language.node_kind_is_supertype(id)
                })
            });
            site.root_kinds = match (site.root_kinds.take(), kinds) {
                (Some(mut all), Some(kinds)) => {
                    all.extend(kinds);
                    Some(all)
                }
                _ => None,
            };
            if pattern.exact {
                site.exact_depth = Some(site.exact_depth.unwrap_or(0).max(pattern.depth));
            } else {
                site.contained = true;
            }
        }
    }
    let needles = (!needles.is_empty()).then(|| {
        aho_corasick::AhoCorasick::new(&needles).expect("a few short needles build an automaton")
    });
    let rule_in_trees = (0..rules::ALL.len())
        .map(|r| (0..total).any(|p| pattern_rule[p] == r && module_pattern[p].is_none()))
        .collect();
    RuleQueries {
        near: PatternGroup {
            query: near_query,
            global: near_global,
        },
        broad: PatternGroup {
            query: broad_query,
            global: broad_global,
        },
        needles,
        needle_sites,
        pattern_rule,
        rule_first_pattern,
        rule_is_near: (0..rules::ALL.len())
            .map(|r| near_rules.contains(&r))
            .collect(),
        rule_in_trees,
        module_pattern,
        place,
    }
});

/// `Some(shape)` when pattern `i` of `query` (compiled from `source`) is rooted at the module
/// node; the shape is `Some(capture)` when the pattern is exactly `(module) @capture`.
fn module_shape(query: &Query, source: &str, i: usize) -> Option<Option<usize>> {
    let names = query.capture_names();
    let text = source[query.start_byte_for_pattern(i)..].trim_start();
    let rest = text.strip_prefix("(module")?;
    // Exactly `(module) @name` (up to the next pattern or comment)?
    let simple = rest
        .strip_prefix(')')
        .map(|r| r.trim_start())
        .and_then(|r| r.strip_prefix('@'))
        .and_then(|r| {
            let name: String = r
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = r[name.len()..].trim_start();
            (after.is_empty() || after.starts_with('(') || after.starts_with(';'))
                .then(|| names.iter().position(|n| *n == name))
                .flatten()
        });
    Some(simple)
}

/// Compiles every rule's query (once per process); returns the number of patterns.
pub fn compile_queries() -> usize {
    QUERIES.pattern_rule.len()
}

/// Starts compiling the rules' queries on a thread of its own, so that the compilation overlaps
/// start-up, reading files and parsing; the first analysis waits for it only if it is not done.
pub fn compile_queries_in_background() {
    let spawned = std::thread::Builder::new()
        .name("compile-queries".into())
        .spawn(|| {
            compile_queries();
        });
    if spawned.is_err() {
        // No thread to spare: the first analysis compiles them itself.
        tracing::debug!("compiling the queries on first use");
    }
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
///
/// Whole-file lookups go through the module's top-level statements ("units", see [`units`]):
/// each lookup names a [`Key`], only the units holding it are indexed, and, when recording is
/// on (incremental analysis), the key is remembered as a [`Read`] of the rule being run.
pub struct Context<'a> {
    pub source: &'a str,
    pub forest: &'a Forest,
    pub imports: Cow<'a, Imports>,
    pub settings: &'a Settings,
    dataflow: OnceCell<Dataflow<'a>>,
    /// A dataflow built elsewhere and shared (see [`Context::lend_dataflow`]).
    lent_dataflow: OnceCell<&'a Dataflow<'a>>,
    units: OnceCell<Units<'a>>,
    /// Summaries and key index of the current units, lent by an incremental engine.
    provided: Option<Provided<'a>>,
    unit_indexes: RefCell<HashMap<usize, Arc<UnitIndex<'a>>>>,
    scopes: RefCell<HashMap<(usize, bool), Rc<ScopeIndex<'a>>>>,
    /// The policy settings and what computing them read.
    policy: OnceCell<(Vec<PolicySetting<'a>>, Vec<Read>)>,
    quote: OnceCell<char>,
    newline: OnceCell<&'static str>,
    legacy_keras: OnceCell<bool>,
    /// The reads of the rule being run, when recording.
    reads: RefCell<Option<Vec<Read>>>,
    /// The strings [`Context::source_contains`] was asked about.
    needles: RefCell<Vec<&'static str>>,
    /// The dataflow's vocabulary (as `Key::Ident` hashes), from an incremental engine that
    /// knows it still holds. See [`Context::consumers_at`].
    flow_vocabulary: OnceCell<&'a HashSet<units::KeyHash>>,
    /// What the previous build of this document's dataflow found inert (see
    /// [`dataflow::build_cached`]).
    scope_cache: OnceCell<&'a dataflow::ScopeCache>,
    /// The module's top-level nodes (see [`Context::statements`]).
    statements: OnceCell<Vec<Node<'a>>>,
}

/// The units' key index, from an incremental engine.
pub struct Provided<'a> {
    pub keys: &'a KeyIndex,
    /// Unit id -> index among the root's children.
    pub index_of: &'a HashMap<u32, usize>,
}

/// The module's children and which of them hold each key.
struct Units<'a> {
    nodes: Vec<Node<'a>>,
    /// Key -> unit indices, as found (only without an engine's summaries).
    by_key: RefCell<HashMap<units::KeyHash, Vec<usize>>>,
    /// How many keys' units were found by scanning the text (`usize::MAX`: every unit was
    /// summarised into `by_key` instead).
    scanned: std::cell::Cell<usize>,
}

impl<'a> Context<'a> {
    pub fn new(source: &'a str, forest: &'a Forest, settings: &'a Settings) -> Context<'a> {
        let imports = Cow::Owned(Imports::collect(source, forest));
        Context::with_imports(source, forest, settings, imports, None)
    }

    /// A context whose imports and unit summaries were computed by an incremental engine.
    pub fn with_imports(
        source: &'a str,
        forest: &'a Forest,
        settings: &'a Settings,
        imports: Cow<'a, Imports>,
        provided: Option<Provided<'a>>,
    ) -> Context<'a> {
        Context {
            source,
            forest,
            imports,
            settings,
            dataflow: OnceCell::new(),
            lent_dataflow: OnceCell::new(),
            units: OnceCell::new(),
            provided,
            unit_indexes: RefCell::new(HashMap::default()),
            scopes: RefCell::new(HashMap::default()),
            policy: OnceCell::new(),
            quote: OnceCell::new(),
            newline: OnceCell::new(),
            legacy_keras: OnceCell::new(),
            reads: RefCell::new(None),
            needles: RefCell::new(Vec::new()),
            flow_vocabulary: OnceCell::new(),
            scope_cache: OnceCell::new(),
            statements: OnceCell::new(),
        }
    }

    /// The module's top-level nodes, statements and comments, in document order (each one a
    /// unit): collected once per context, as [`Forest::statements`] walks every tree.
    pub fn statements(&self) -> &[Node<'a>] {
        self.statements.get_or_init(|| self.forest.statements())
    }

    /// Provides [`Context::statements`], collected already by the caller.
    pub fn seed_statements(&self, statements: Vec<Node<'a>>) {
        let _ = self.statements.set(statements);
    }

    /// Hands the context what the previous build of this document's dataflow found inert:
    /// the dataflow, when built, reuses and refreshes it.
    pub fn seed_scope_cache(&self, cache: &'a dataflow::ScopeCache) {
        let _ = self.scope_cache.set(cache);
    }

    /// Hands the context the dataflow's [vocabulary](Dataflow::vocabulary) as `Key::Ident`
    /// hashes, known valid for this version: [`Context::consumers_at`] may answer without
    /// building the dataflow then.
    pub fn seed_flow_vocabulary(&self, vocabulary: &'a HashSet<units::KeyHash>) {
        let _ = self.flow_vocabulary.set(vocabulary);
    }

    /// The strings asked about with [`Context::source_contains`] so far.
    pub fn needles(&self) -> Vec<&'static str> {
        self.needles.borrow().clone()
    }

    /// Hands the context an index of unit `i` built elsewhere (an incremental engine built it to
    /// summarise the unit).
    pub fn seed_unit_index(&self, i: usize, index: Arc<UnitIndex<'a>>) {
        self.unit_indexes.borrow_mut().insert(i, index);
    }

    /// Lends the context a dataflow built elsewhere that other contexts share (each analysing
    /// some of the units on its own core); like [`Context::seed_dataflow`] otherwise.
    pub fn lend_dataflow(&self, flow: &'a Dataflow<'a>) {
        let _ = self.lent_dataflow.set(flow);
    }

    /// Provides the dataflow built elsewhere (e.g. on another core while the units were being
    /// indexed); it must be [`dataflow::build`]'s result for this source, tree and imports.
    pub fn seed_dataflow(&self, flow: Dataflow<'a>) {
        let _ = self.dataflow.set(flow);
    }

    /// Starts recording reads (for the rule about to run).
    pub fn start_recording(&self) {
        *self.reads.borrow_mut() = Some(Vec::new());
    }

    /// Stops recording and returns what was read since [`Context::start_recording`].
    pub fn take_reads(&self) -> Vec<Read> {
        self.reads.borrow_mut().take().unwrap_or_default()
    }

    /// Records a dependency of the rule being run.
    pub fn record(&self, read: Read) {
        if let Some(reads) = self.reads.borrow_mut().as_mut() {
            reads.push(read);
        }
    }

    /// Records that the rule being run depends on everything in `range` (e.g. it scanned the
    /// statements between two nodes itself).
    pub fn depends_on_range(&self, range: std::ops::Range<usize>) {
        self.record(Read::new(&Key::Any, range));
    }

    /// Records that the rule being run depends on the whole file.
    pub fn depends_on_everything(&self) {
        self.record(Read::everywhere(Key::Any));
    }

    /// The 1-based line of `node` (recorded: the line moves when a line break is added or
    /// removed before it, which its own unit may not see).
    pub fn line_of(&self, node: Node) -> usize {
        self.record(Read::new(&Key::LineBreaks, 0..node.start_byte()));
        node.start_position().row + 1
    }

    /// Whether the file's text contains `needle` (recorded: use this, not `source.contains`).
    pub fn source_contains(&self, needle: &'static str) -> bool {
        self.record(Read::everywhere(Key::Contains(needle)));
        {
            let mut needles = self.needles.borrow_mut();
            if !needles.contains(&needle) {
                needles.push(needle);
            }
        }
        self.source.contains(needle)
    }

    /// The indexed nodes of a scope (see [`index::scope_nodes`]), built once per scope. The
    /// module's own scope is answered from its units (see [`Scope`]).
    pub fn scope(&self, scope: Node<'a>, enter_functions: bool) -> Scope<'_, 'a> {
        // A root is the module (or, for a statement that does not parse at all, an ERROR
        // node): its scope is the module's, all top-level statements.
        let is_root = self.forest.is_root(scope);
        if is_root && !enter_functions {
            return Scope::Module(self);
        }
        if is_root {
            self.depends_on_everything();
        }
        // Every root stands for the module: one index of them all.
        let key = (
            if is_root { usize::MAX } else { scope.id() },
            enter_functions,
        );
        if let Some(found) = self.scopes.borrow().get(&key) {
            return Scope::Local(found.clone());
        }
        let scopes: Vec<Node<'a>> = if is_root {
            self.forest.roots().collect()
        } else {
            vec![scope]
        };
        let built = Rc::new(ScopeIndex::build(self.source, &scopes, enter_functions));
        self.scopes.borrow_mut().insert(key, built.clone());
        Scope::Local(built)
    }

    /// Every call that sets a mixed global dtype policy (see [`policy::policy_settings`]).
    pub fn policy_settings(&self) -> &[PolicySetting<'a>] {
        // Readers read the settings as one fact (`Key::Policy`); what computing them read is
        // kept for the engine, which compares the settings when that changes.
        self.record(Read::everywhere(Key::Policy));
        &self.computed_policy().0
    }

    fn computed_policy(&self) -> &(Vec<PolicySetting<'a>>, Vec<Read>) {
        self.policy.get_or_init(|| {
            let outer = self.reads.borrow_mut().replace(Vec::new());
            let settings = policy::collect_settings(self);
            let reads = std::mem::replace(&mut *self.reads.borrow_mut(), outer);
            (settings, reads.unwrap_or_default())
        })
    }

    /// The policy settings as an incremental engine compares them, and what computing them
    /// read: computed here when `compute`, else only if a rule asked for them. Each call is
    /// its offsets inside its unit, its kind, a hash of its text and its policy, not its unit's
    /// id: an edit elsewhere in the setter's statement changes nothing here. (Cached findings
    /// move with the text, and a line number read through [`Context::line_of`] records its
    /// own read.)
    pub fn policy_signature(
        &self,
        unit_of: &dyn Fn(usize) -> (u64, usize),
        compute: bool,
    ) -> Option<(Vec<u64>, Vec<Read>)> {
        let (settings, reads) = match self.policy.get() {
            Some(computed) => computed,
            None if compute => self.computed_policy(),
            None => return None,
        };
        use std::hash::BuildHasher;
        let mut words = Vec::with_capacity(settings.len() * 5);
        for setting in settings {
            let (_, start) = unit_of(setting.call.start_byte());
            words.extend([
                (setting.call.start_byte() - start) as u64,
                (setting.call.end_byte() - start) as u64,
                u64::from(setting.call.kind_id()),
                rustc_hash::FxBuildHasher.hash_one(self.text(setting.call)),
                setting.policy as u64,
            ]);
        }
        Some((words, reads.clone()))
    }

    /// The file's line break: `\r\n` when it has any, else `\n`.
    pub fn newline(&self) -> &'static str {
        self.record(Read::everywhere(Key::Newline));
        self.newline.get_or_init(|| newline_of(self.source))
    }

    /// Whether the file opts into Keras 2 (`TF_USE_LEGACY_KERAS=1`).
    pub fn uses_legacy_keras(&self) -> bool {
        self.record(Read::everywhere(Key::Legacy));
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
        self.keras(call.field("function")?)
    }

    /// tf.data pipelines of this file, computed on first use.
    pub fn dataflow(&self) -> &Dataflow<'a> {
        self.record(Read::everywhere(Key::Dataflow));
        self.unrecorded_dataflow()
    }

    /// [`Context::dataflow`] for a caller that records what it reads of it.
    fn unrecorded_dataflow(&self) -> &Dataflow<'a> {
        if let Some(lent) = self.lent_dataflow.get() {
            return lent;
        }
        self.dataflow.get_or_init(|| match self.scope_cache.get() {
            Some(cache) => dataflow::build_cached(self.source, self.forest, &self.imports, cache),
            None => dataflow::build(self.source, self.forest, &self.imports),
        })
    }

    /// The consumers (see [`Dataflow::consumers`]) whose consuming call or `for` statement is
    /// `node`: recorded as a read of the dataflow, which is not built when a valid vocabulary
    /// proves there is none (see [`dataflow::call_cannot_consume`]).
    pub fn consumers_at(&self, node: Node) -> Vec<Consumer<'a>> {
        // Only what the consumers at `node` are is read here; a reader that follows one's
        // input goes through [`Context::dataflow`], which reads it all.
        self.record(Read::new(&Key::DataflowConsumers, node.byte_range()));
        if let Some(vocabulary) = self.flow_vocabulary.get()
            && dataflow::call_cannot_consume(self.source, &self.imports, node, vocabulary)
        {
            return Vec::new();
        }
        self.unrecorded_dataflow()
            .consumers()
            .iter()
            .filter(|c| c.node.id() == node.id())
            .copied()
            .collect()
    }

    /// The dataflow, if a rule has asked for it (not recorded as a read).
    pub fn built_dataflow(&self) -> Option<&Dataflow<'a>> {
        self.lent_dataflow.get().copied().or(self.dataflow.get())
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
                node.parent().map(|p| p.kind_name()),
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
            if n.kind_name() == "string" {
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
        self.record(Read::everywhere(Key::Quote));
        let quote = *self.quote.get_or_init(|| quote_of(self.source));
        format!("{quote}{value}{quote}")
    }

    /// An expression for a dotted path with the names imports bind (recorded: a reverse lookup
    /// reads the bindings to paths under the same top-level module, see [`Imports::expr_for`]).
    pub fn expr_for(&self, path: &str) -> Option<String> {
        let root = path.split('.').next().unwrap_or(path);
        self.record(Read::everywhere(Key::ImportRoot(root.into())));
        self.imports.expr_for(path)
    }

    /// Whether `name` is bound at all, by an import or a definition (recorded: it changes only
    /// with a statement spelling `name`).
    pub fn is_bound(&self, name: &str) -> bool {
        self.record(Read::everywhere(Key::Ident(name.into())));
        self.imports.is_bound(name)
    }

    /// The local names imports bind to a path ending in one of `leaves` (`set_global_policy`
    /// for `from ... import set_global_policy as sgp`; recorded, like [`Context::expr_for`]).
    pub fn names_bound_to_any_of(&self, leaves: &[&str]) -> Vec<&str> {
        for leaf in leaves {
            self.record(Read::everywhere(Key::ImportLeaf((*leaf).into())));
        }
        self.imports
            .names_bound_to(|path| leaves.contains(&path.rsplit('.').next().unwrap_or(path)))
    }

    /// An edit that adds `statement` (e.g. `import tensorflow as tf`) where imports belong
    /// (recorded: where that is moves with the imports).
    pub fn add_import_edit(&self, statement: &str) -> Edit {
        self.record(Read::everywhere(Key::ImportPlace));
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
        if let Some(expr) = self.expr_for(path) {
            return (expr, None);
        }
        let expr = if rest.is_empty() {
            bound_name.to_string()
        } else {
            format!("{bound_name}.{rest}")
        };
        if self.is_bound(bound_name) {
            // The name is taken by something else; fall back to the fully qualified import.
            return (expr, None);
        }
        (expr, Some(self.add_import_edit(import_statement)))
    }
}

/// Argument helpers for call nodes.
pub mod call {
    use tree_sitter::Node;

    use crate::syntax::NodeExt;

    use super::imports::text;
    use crate::finding::Edit;

    /// The value of keyword argument `name`.
    pub fn keyword<'t>(source: &str, call: Node<'t>, name: &str) -> Option<Node<'t>> {
        keyword_argument(source, call, name).and_then(|kw| kw.field("value"))
    }

    /// The whole `name=value` node.
    pub fn keyword_argument<'t>(source: &str, call: Node<'t>, name: &str) -> Option<Node<'t>> {
        let args = call.field("arguments")?;
        let mut cursor = args.walk();
        args.named_children(&mut cursor).find(|a| {
            a.kind_name() == "keyword_argument"
                && a.field("name").is_some_and(|n| text(source, n) == name)
        })
    }

    /// The `index`-th positional argument.
    pub fn positional<'t>(call: Node<'t>, index: usize) -> Option<Node<'t>> {
        let args = call.field("arguments")?;
        let mut cursor = args.walk();
        args.named_children(&mut cursor)
            .filter(|a| {
                !matches!(
                    a.kind_name(),
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
            .filter(|n| n.kind_name() != "comment")
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
        let args = call.field("arguments")?;
        let close = args.end_byte().checked_sub(1)?;
        let mut cursor = args.walk();
        let last = args
            .named_children(&mut cursor)
            .filter(|n| n.kind_name() != "comment")
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

/// Nesting depth beyond which a tree is matched with [`DEEP_MATCH_LIMIT`] (real code nests a
/// few dozen levels; generated code can nest thousands).
pub const DEEP_NESTING: usize = 256;

/// In-progress matches a query cursor keeps at most in a tree nested deeper than
/// [`DEEP_NESTING`]. Every level of a deep expression (thousands of chained calls) starts
/// partial matches of many patterns that stay open until the level ends, and advancing them
/// all at every node made the query quadratic in the depth: a 5,000-call chain took half a
/// minute, and 0.3 s with this limit. Capped, the cursor drops the oldest partial matches, so
/// trees of real code (far shallower) are matched without it.
pub const DEEP_MATCH_LIMIT: u32 = 64;

/// Sets `cursor`'s match limit for the tree at `root` (see [`DEEP_MATCH_LIMIT`]).
fn query_cursor_for(cursor: &mut QueryCursor, root: Node) {
    let limit = match nests_deeper_than(root, DEEP_NESTING) {
        true => DEEP_MATCH_LIMIT,
        false => u32::MAX,
    };
    cursor.set_match_limit(limit);
}

/// Whether some node under `root` is more than `depth` levels below it.
fn nests_deeper_than(root: Node, depth: usize) -> bool {
    // Each level of nesting takes at least one more byte, and the grammar wraps a level in a
    // few nodes of the same span at most: a node `n` bytes long has fewer than `4n + 8` levels
    // under it. Subtrees too small to reach `depth` are not entered, so the walk visits the
    // few long nodes of a tree, not all of them.
    let may_reach =
        |node: Node, level: usize| level + 4 * (node.end_byte() - node.start_byte()) + 8 > depth;
    if !may_reach(root, 0) {
        return false;
    }
    let mut cursor = root.walk();
    let mut level = 0;
    // Moves to the next node in document order that is not under the current one.
    let next = |cursor: &mut tree_sitter::TreeCursor, level: &mut usize| {
        while !cursor.goto_next_sibling() {
            if *level == 0 || !cursor.goto_parent() {
                return false;
            }
            *level -= 1;
        }
        true
    };
    loop {
        // The cursor is at a node worth entering.
        if cursor.goto_first_child() {
            level += 1;
            if level > depth {
                return true;
            }
        } else if !next(&mut cursor, &mut level) {
            return false;
        }
        while !may_reach(cursor.node(), level) {
            if !next(&mut cursor, &mut level) {
                return false;
            }
        }
    }
}

/// Times a query cursor reached [`DEEP_MATCH_LIMIT`] (it then drops the oldest partial matches, so
/// a finding deep inside such an expression may be missed).
static MATCH_LIMIT_HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many times a query cursor reached [`DEEP_MATCH_LIMIT`] in this process.
pub fn match_limit_hits() -> usize {
    MATCH_LIMIT_HITS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts and logs a cursor that reached the limit while matching the tree at `root`.
fn note_match_limit(cursor: &QueryCursor, root: Node) {
    if cursor.did_exceed_match_limit() {
        MATCH_LIMIT_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(
            "the statement at line {} nests too deeply to match every pattern inside it; \
             some findings there may be missing",
            root.start_position().row + 1
        );
    }
}

/// Whether rules run only where their needles and `requires_text` say they can match (`Off`:
/// everywhere, to test that this changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefilter {
    On,
    Off,
}

/// Calls `on_match(rule index, match)` for every match, in the trees over `range`, of the
/// enabled rules' patterns other than module patterns: the near rules' where the text holds one
/// of their needles, the broad rules' everywhere, in files that hold their `requires_text`.
/// (`requires_text` is asked through [`Context::source_contains`], so an incremental engine
/// re-runs those rules when the answer changes.)
fn for_each_match<'t>(
    ctx: &Context<'t>,
    enabled: &[bool],
    range: std::ops::Range<usize>,
    prefilter: Prefilter,
    on_match: &mut dyn FnMut(usize, RuleMatch<'t>),
) {
    let queries = &*QUERIES;
    let source = ctx.source.as_bytes();
    let mut cursor = QueryCursor::new();
    let mut broad_open: Vec<bool> = (0..rules::ALL.len())
        .map(|r| {
            enabled[r]
                && queries.rule_in_trees[r]
                && (!queries.rule_is_near[r] || prefilter == Prefilter::Off)
                && (prefilter == Prefilter::Off
                    || rules::ALL[r]
                        .requires_text
                        .is_none_or(|text| ctx.source_contains(text)))
        })
        .collect();
    // Rules whose matches spell names only the file tells (see `RuleDef::spelled`) run apart,
    // where one of those is spelled.
    let spelled: Vec<Option<Vec<String>>> = (0..rules::ALL.len())
        .map(|r| match prefilter {
            Prefilter::On if broad_open[r] => rules::ALL[r].spelled.and_then(|names| names(ctx)),
            _ => None,
        })
        .collect();
    for (open, names) in broad_open.iter_mut().zip(&spelled) {
        *open &= names.is_none();
    }
    let everywhere: &[&PatternGroup] = match prefilter {
        Prefilter::On => &[&queries.broad],
        Prefilter::Off => &[&queries.broad, &queries.near],
    };
    for group in everywhere {
        let Some(query) = &group.query else {
            continue;
        };
        if !broad_open.iter().any(|&open| open) {
            break;
        }
        let names = query.capture_names();
        for root in ctx.forest.roots_in(range.clone()) {
            query_cursor_for(&mut cursor, root);
            cursor.set_byte_range(range.clone());
            let mut matches = cursor.matches(query, root, source);
            while let Some(m) = matches.next() {
                let pattern = group.global[m.pattern_index];
                let rule = queries.pattern_rule[pattern];
                if broad_open[rule] && queries.module_pattern[pattern].is_none() {
                    on_match(rule, queries.rule_match(pattern, names, m.captures()));
                }
            }
            note_match_limit(&cursor, root);
        }
    }
    for (rule, names) in spelled.iter().enumerate() {
        if let Some(names) = names {
            match_where_spelled(ctx, rule, names, range.clone(), &mut cursor, on_match);
        }
    }
    let near_enabled = (0..rules::ALL.len()).any(|r| enabled[r] && queries.rule_is_near[r]);
    if prefilter == Prefilter::Off {
        // The near rules ran above, with the broad ones, everywhere.
        return;
    }
    let (Some(query), Some(needles)) = (&queries.near.query, &queries.needles) else {
        return;
    };
    if !near_enabled {
        return;
    }
    let names = query.capture_names();
    // Every occurrence of a needle, in document order.
    let text = &source[range.start.min(source.len())..range.end.min(source.len())];
    let mut found: Vec<(usize, usize, usize)> = needles
        .find_overlapping_iter(text)
        .map(|m| {
            (
                range.start + m.start(),
                range.start + m.end(),
                m.pattern().as_usize(),
            )
        })
        .collect();
    found.sort_unstable();
    // Each candidate root is matched once (many occurrences share an enclosing call).
    let mut matched: HashSet<usize> = HashSet::default();
    // Nodes a walk for a regex's needle went up from to the root (see `needle_roots`).
    let mut walked_up: HashSet<usize> = HashSet::default();
    let mut path: Vec<Node<'t>> = Vec::new();
    let mut tree: Option<Node<'t>> = None;
    cursor.set_max_start_depth(Some(0));
    for (start, end, needle) in found {
        let site = &queries.needle_sites[needle];
        let root = ctx.forest.root_at(start);
        if tree.is_none_or(|t| t.id() != root.id()) {
            if let Some(previous) = tree {
                note_match_limit(&cursor, previous);
            }
            query_cursor_for(&mut cursor, root);
            tree = Some(root);
            path.clear();
        }
        let candidates = needle_roots(root, start..end, site, &mut path, &mut walked_up);
        for &candidate in candidates {
            if !site.may_root_at(candidate) || !matched.insert(candidate.id()) {
                continue;
            }
            cursor.set_byte_range(candidate.byte_range());
            let mut matches = cursor.matches(query, candidate, source);
            while let Some(m) = matches.next() {
                let pattern = queries.near.global[m.pattern_index];
                let rule = queries.pattern_rule[pattern];
                if enabled[rule] {
                    on_match(rule, queries.rule_match(pattern, names, m.captures()));
                }
            }
        }
    }
    if let Some(previous) = tree {
        note_match_limit(&cursor, previous);
    }
}

/// Runs `rule`'s (broad) patterns at every node in `range` that encloses one of `names`, each
/// node once: the nodes from the smallest one spanning an occurrence up to its tree's root.
fn match_where_spelled<'t>(
    ctx: &Context<'t>,
    rule: usize,
    names: &[String],
    range: std::ops::Range<usize>,
    cursor: &mut QueryCursor,
    on_match: &mut dyn FnMut(usize, RuleMatch<'t>),
) {
    let queries = &*QUERIES;
    let Some(query) = &queries.broad.query else {
        return;
    };
    let capture_names = query.capture_names();
    let source = ctx.source.as_bytes();
    let text = &source[range.start.min(source.len())..range.end.min(source.len())];
    let mut found: Vec<(usize, usize)> = names
        .iter()
        .filter(|name| !name.is_empty())
        .flat_map(|name| {
            memchr::memmem::find_iter(text, name.as_bytes())
                .map(|at| (range.start + at, range.start + at + name.len()))
        })
        .collect();
    found.sort_unstable();
    let site = NeedleSite {
        exact_depth: None,
        contained: true,
        root_kinds: None,
    };
    let mut walked_up: HashSet<usize> = HashSet::default();
    let mut path: Vec<Node<'t>> = Vec::new();
    let mut tree: Option<Node<'t>> = None;
    cursor.set_max_start_depth(Some(0));
    for (start, end) in found {
        let root = ctx.forest.root_at(start);
        if tree.is_none_or(|t| t.id() != root.id()) {
            if let Some(previous) = tree {
                note_match_limit(cursor, previous);
            }
            query_cursor_for(cursor, root);
            tree = Some(root);
            path.clear();
        }
        // Each node is a candidate once: a walk stops below a node an earlier one went up from.
        for &candidate in needle_roots(root, start..end, &site, &mut path, &mut walked_up) {
            cursor.set_byte_range(candidate.byte_range());
            let mut matches = cursor.matches(query, candidate, source);
            while let Some(m) = matches.next() {
                let pattern = queries.broad.global[m.pattern_index];
                if queries.pattern_rule[pattern] == rule
                    && queries.module_pattern[pattern].is_none()
                {
                    on_match(
                        rule,
                        queries.rule_match(pattern, capture_names, m.captures()),
                    );
                }
            }
        }
    }
    if let Some(previous) = tree {
        note_match_limit(cursor, previous);
    }
    cursor.set_max_start_depth(None);
}

/// The nodes of `root`'s tree where a near pattern whose needle occurs at `occurrence` can have
/// its root: the ancestors of the compared node, which spans the occurrence, up to as far above
/// it as the patterns reach (for a regex's needle, every ancestor not above a node in
/// `walked_up`, which such walks fill).
///
/// `path` is the path from `root` down to the smallest node spanning the occurrence. Called for
/// the occurrences of a tree in document order with the same `path`, it keeps the part the
/// previous occurrence shares: a chain thousands of calls deep is descended once, not once per
/// occurrence (`Node::parent` would walk down from the root for each step up).
fn needle_roots<'p, 't>(
    root: Node<'t>,
    occurrence: std::ops::Range<usize>,
    site: &NeedleSite,
    path: &'p mut Vec<Node<'t>>,
    walked_up: &mut HashSet<usize>,
) -> &'p [Node<'t>] {
    let spans =
        |node: &Node| node.start_byte() <= occurrence.start && node.end_byte() >= occurrence.end;
    while path.last().is_some_and(|node| !spans(node)) {
        path.pop();
    }
    if path.is_empty() {
        if !spans(&root) {
            return &[];
        }
        path.push(root);
    }
    let mut cursor = path[path.len() - 1].walk();
    while cursor.goto_first_child_for_byte(occurrence.start).is_some() {
        let node = cursor.node();
        if !spans(&node) {
            break;
        }
        path.push(node);
    }
    let smallest = path[path.len() - 1];
    if site.contained {
        // Up to a node an earlier such walk went up from: it went on to the root.
        let mut from = path.len();
        while from > 0 && walked_up.insert(path[from - 1].id()) {
            from -= 1;
        }
        return &path[from..];
    }
    // An exact needle names a node spanning exactly the occurrence: one of the nodes of that
    // span at the bottom of the path; the root is at most `depth` levels above it.
    let Some(depth) = site
        .exact_depth
        .filter(|_| smallest.byte_range() == occurrence)
    else {
        return &[];
    };
    let exact = path
        .iter()
        .rev()
        .take_while(|n| n.byte_range() == occurrence)
        .count();
    &path[path.len().saturating_sub(exact + depth)..]
}

impl RuleQueries {
    /// A match of (global) pattern `pattern` for its rule.
    fn rule_match<'t>(
        &self,
        pattern: usize,
        names: &[&'static str],
        captures: &[tree_sitter::QueryCapture<'t>],
    ) -> RuleMatch<'t> {
        let rule = self.pattern_rule[pattern];
        RuleMatch {
            pattern: pattern - self.rule_first_pattern[rule],
            captures: captures
                .iter()
                .map(|c| (names[c.index as usize], c.node))
                .collect(),
        }
    }
}

/// Analyses one Python file. The forest must be a parse of `source`.
pub fn analyze(source: &str, forest: &Forest, settings: &Settings) -> Vec<Finding> {
    analyze_with(source, forest, settings, Prefilter::On)
}

/// [`analyze`], with the prefilter on or off.
pub fn analyze_with(
    source: &str,
    forest: &Forest,
    settings: &Settings,
    prefilter: Prefilter,
) -> Vec<Finding> {
    let Some(enabled) = enabled_rules(source, forest, settings) else {
        return Vec::new();
    };
    let ctx = Context::new(source, forest, settings);
    let queries = &*QUERIES;
    let mut findings = Vec::new();
    for_each_match(
        &ctx,
        &enabled,
        0..source.len(),
        prefilter,
        &mut |rule_index, rule_match| {
            let rule = &rules::ALL[rule_index];
            let mut sink = Sink {
                rule,
                out: &mut findings,
            };
            (rule.check)(&ctx, &rule_match, &mut sink);
        },
    );
    for (pattern, shape) in queries.module_pattern.iter().enumerate() {
        let rule_index = queries.pattern_rule[pattern];
        let Some(shape) = shape.filter(|_| enabled[rule_index]) else {
            continue;
        };
        let rule = &rules::ALL[rule_index];
        for captures in module_matches(&ctx, pattern, shape) {
            let rule_match = RuleMatch {
                pattern: pattern - queries.rule_first_pattern[rule_index],
                captures,
            };
            let mut sink = Sink {
                rule,
                out: &mut findings,
            };
            (rule.check)(&ctx, &rule_match, &mut sink);
        }
    }
    finish(source, forest, settings, findings)
}

/// The matches of a module-rooted pattern: once per file, not once per tree of the forest.
fn module_matches<'t>(
    ctx: &Context<'t>,
    pattern: usize,
    shape: Option<usize>,
) -> Vec<Vec<(&'static str, Node<'t>)>> {
    let queries = &*QUERIES;
    let (is_near, in_group) = queries.place[pattern];
    let group = if is_near {
        &queries.near
    } else {
        &queries.broad
    };
    let names = group.capture_names();
    match shape {
        // `(module) @capture`: the first tree that parses as a module stands for the module
        // (the rules walk every tree of the forest themselves).
        Some(capture) => ctx
            .forest
            .roots()
            .find(|root| root.kind_name() == "module")
            .map(|root| vec![(names[capture], root)])
            .into_iter()
            .collect(),
        // Rare: a module pattern with children; match it at each root.
        None => {
            let Some(query) = &group.query else {
                return Vec::new();
            };
            let mut cursor = QueryCursor::new();
            cursor.set_max_start_depth(Some(0));
            let mut found = Vec::new();
            for root in ctx.forest.roots() {
                query_cursor_for(&mut cursor, root);
                let mut matches = cursor.matches(query, root, ctx.source.as_bytes());
                while let Some(m) = matches.next() {
                    if m.pattern_index == in_group {
                        found.push(
                            m.captures()
                                .iter()
                                .map(|c| (names[c.index as usize], c.node))
                                .collect(),
                        );
                    }
                }
                note_match_limit(&cursor, root);
            }
            found
        }
    }
}

/// A set of rules, by index in [`rules::ALL`] (at most 64 rules; a test checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSet(u64);

impl RuleSet {
    pub const NONE: RuleSet = RuleSet(0);
    pub const ALL: RuleSet = RuleSet(u64::MAX);

    pub fn one(rule: usize) -> RuleSet {
        RuleSet(1u64.checked_shl(rule as u32).unwrap_or(0))
    }

    /// The rule reporting `code` (every rule, for a code no rule has).
    pub fn of_code(code: &str) -> RuleSet {
        rules::ALL
            .iter()
            .position(|rule| rule.code == code)
            .map_or(RuleSet::ALL, RuleSet::one)
    }

    pub fn contains(self, rule: usize) -> bool {
        !(self & RuleSet::one(rule)).is_empty()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for RuleSet {
    type Output = RuleSet;
    fn bitor(self, other: RuleSet) -> RuleSet {
        RuleSet(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for RuleSet {
    fn bitor_assign(&mut self, other: RuleSet) {
        self.0 |= other.0;
    }
}

impl std::ops::BitAnd for RuleSet {
    type Output = RuleSet;
    fn bitand(self, other: RuleSet) -> RuleSet {
        RuleSet(self.0 & other.0)
    }
}

impl std::ops::Not for RuleSet {
    type Output = RuleSet;
    fn not(self) -> RuleSet {
        RuleSet(!self.0)
    }
}

/// What the rules found in one unit (a child of the module node) or in the module as a whole,
/// and what they read to find it.
#[derive(Debug, Clone, Default)]
pub struct UnitRun {
    pub findings: Vec<Finding>,
    pub reads: Vec<Read>,
    /// The rules that made each read (parallel to `reads`): an edit re-runs, in a unit it did
    /// not touch, only the rules whose reads it changed.
    pub read_rules: Vec<RuleSet>,
}

impl UnitRun {
    /// Adds what rule `rule` read in one check.
    fn add_reads(&mut self, rule: usize, reads: Vec<Read>) {
        self.read_rules
            .extend(std::iter::repeat_n(RuleSet::one(rule), reads.len()));
        self.reads.extend(reads);
    }

    /// This run with the results of the rules in `rerun` replaced by `fresh` (a run of those
    /// rules alone over the same unit).
    pub fn replace_rules(self, rerun: RuleSet, fresh: UnitRun) -> UnitRun {
        let kept = !rerun;
        let mut findings: Vec<Finding> = self
            .findings
            .into_iter()
            .filter(|f| (RuleSet::of_code(f.code) & rerun).is_empty())
            .collect();
        let (mut reads, mut read_rules): (Vec<Read>, Vec<RuleSet>) = self
            .reads
            .into_iter()
            .zip(self.read_rules)
            .map(|(read, rules)| (read, rules & kept))
            .filter(|(_, rules)| !rules.is_empty())
            .unzip();
        findings.extend(fresh.findings);
        reads.extend(fresh.reads);
        read_rules.extend(fresh.read_rules);
        UnitRun {
            findings,
            reads,
            read_rules,
        }
    }
}

/// Runs keyed by unit index or module pattern index.
pub type IndexedRuns = Vec<(usize, UnitRun)>;

/// The rules enabled by `settings`, by index in [`rules::ALL`]; `None` when none is or the file
/// is out of scope (no Keras, `ignore-file`).
pub fn enabled_rules(source: &str, forest: &Forest, settings: &Settings) -> Option<Vec<bool>> {
    if !mentions_keras(source) || suppression::ignores_file(source, forest) {
        return None;
    }
    let enabled: Vec<bool> = rules::ALL
        .iter()
        .map(|r| settings.is_enabled(r.code, r.name))
        .collect();
    enabled.iter().any(|&e| e).then_some(enabled)
}

/// Runs the enabled rules on the matches inside the wanted units (`wanted[i]`: the rules to
/// run in the `i`-th child of the module node, none when it is not wanted), recording reads
/// per unit and rule; also the module-rooted patterns for which `module_wanted(pattern)` holds.
/// Returns one run per wanted unit (index) and one per module pattern run (pattern index), so
/// each module rule is re-run only when its own reads change.
pub fn run_units(
    ctx: &Context,
    enabled: &[bool],
    wanted: &[RuleSet],
    module_wanted: &dyn Fn(usize) -> bool,
) -> (IndexedRuns, IndexedRuns) {
    let queries = &*QUERIES;
    let units = ctx.statements();
    let wanted_at = |i: usize| wanted.get(i).copied().unwrap_or(RuleSet::NONE);
    let mut runs: Vec<Option<UnitRun>> = wanted
        .iter()
        .map(|w| (!w.is_empty()).then(UnitRun::default))
        .collect();
    let starts: Vec<usize> = units.iter().map(|u| u.start_byte()).collect();
    // Consecutive wanted units form one queried range.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        if wanted_at(i).is_empty() {
            continue;
        }
        match ranges.last_mut() {
            Some(last) if i > 0 && !wanted_at(i - 1).is_empty() => last.end = unit.end_byte(),
            _ => ranges.push(unit.byte_range()),
        }
    }
    for range in ranges {
        for_each_match(
            ctx,
            enabled,
            range,
            Prefilter::On,
            &mut |rule_index, rule_match| {
                let Some(first) = rule_match.captures.iter().map(|c| c.1.start_byte()).min() else {
                    return;
                };
                let unit = starts.partition_point(|&s| s <= first).saturating_sub(1);
                if !wanted_at(unit).contains(rule_index) {
                    return;
                }
                let Some(Some(run)) = runs.get_mut(unit) else {
                    return;
                };
                let rule = &rules::ALL[rule_index];
                let mut sink = Sink {
                    rule,
                    out: &mut run.findings,
                };
                ctx.start_recording();
                (rule.check)(ctx, &rule_match, &mut sink);
                run.add_reads(rule_index, ctx.take_reads());
            },
        );
    }
    // A rule skipped for want of its `requires_text` ran nowhere and read nothing: each wanted
    // unit records that it asked, so the rule runs there once the file holds the text.
    for (rule_index, rule) in rules::ALL.iter().enumerate() {
        let Some(text) = rule.requires_text.filter(|_| enabled[rule_index]) else {
            continue;
        };
        ctx.start_recording();
        ctx.source_contains(text);
        let reads = ctx.take_reads();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(run) = run
                && wanted_at(i).contains(rule_index)
            {
                run.add_reads(rule_index, reads.clone());
            }
        }
    }
    let mut module_runs = Vec::new();
    for (pattern, shape) in queries.module_pattern.iter().enumerate() {
        let Some(shape) = shape else {
            continue;
        };
        let rule_index = queries.pattern_rule[pattern];
        if !enabled[rule_index] || !module_wanted(pattern) {
            continue;
        }
        let mut run = UnitRun::default();
        let rule = &rules::ALL[rule_index];
        for captures in module_matches(ctx, pattern, *shape) {
            let rule_match = RuleMatch {
                pattern: pattern - queries.rule_first_pattern[rule_index],
                captures,
            };
            let mut sink = Sink {
                rule,
                out: &mut run.findings,
            };
            ctx.start_recording();
            (rule.check)(ctx, &rule_match, &mut sink);
            run.add_reads(rule_index, ctx.take_reads());
        }
        module_runs.push((pattern, run));
    }
    let runs = runs
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    (runs, module_runs)
}

/// Applies severity overrides, drops duplicates and suppressed findings, sorts by position.
pub fn finish(
    source: &str,
    forest: &Forest,
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
    let suppressions = suppression::Suppressions::on_lines_of(
        source,
        forest,
        findings.iter().map(|f| f.range.start),
    );
    findings.retain(|f| !suppressions.is_suppressed(source, f));
    findings
}

/// The file's line break: `\r\n` when it has any, else `\n`.
pub fn newline_of(source: &str) -> &'static str {
    if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The file's dominant quote character (`"` unless single quotes are more frequent).
/// (Counted with `memchr`, which skips the bytes between quotes a word at a time: the engine
/// asks on every keystroke, and a byte-by-byte count of a 170 KB file was 3% of an update.)
pub fn quote_of(source: &str) -> char {
    let single = memchr::memchr_iter(b'\'', source.as_bytes()).count();
    let double = memchr::memchr_iter(b'"', source.as_bytes()).count();
    if single > double { '\'' } else { '"' }
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
    if node.kind_name() != "string" {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Python file of the repository's tests and examples (fixtures for every rule, the
    /// corpus, the editor fixtures).
    fn repository_python_files() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut folders = vec![root.join("tests"), root.join("examples")];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() && !path.ends_with("node_modules") {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "py") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn the_prefilter_changes_no_finding() {
        let files = repository_python_files();
        assert!(files.len() > 50, "{files:?}");
        let settings = crate::settings::Settings::default();
        let mut findings = 0;
        for file in files {
            let source = std::fs::read_to_string(&file).expect("readable test file");
            let forest = crate::forest::parse(&source);
            let on = analyze_with(&source, &forest, &settings, Prefilter::On);
            let off = analyze_with(&source, &forest, &settings, Prefilter::Off);
            assert_eq!(on, off, "{}", file.display());
            findings += on.len();
        }
        assert!(findings > 100, "{findings}");
    }

    /// The findings of `code` in `source`, with the prefilter on or off (their starts).
    fn findings_of(code: &str, source: &str, prefilter: Prefilter) -> Vec<usize> {
        let settings = crate::settings::Settings::default();
        let forest = crate::forest::parse(source);
        analyze_with(source, &forest, &settings, prefilter)
            .iter()
            .filter(|f| f.code == code)
            .map(|f| f.range.start)
            .collect()
    }

    #[test]
    fn rules_matched_where_their_names_are_spelled_find_what_matching_everywhere_finds() {
        // KRS501 runs where `mixed_precision` or an alias of a path through it is spelled:
        // through an alias, in a call's argument, in a chain, after a name that contains the
        // alias, in a nested function. KRS503 where `Sequential`, `Model`, `add` or an alias
        // of a path ending in one is. A star import makes them match every call.
        let krs501 = r#"import tensorflow as tf
from tensorflow.keras import mixed_precision as mp
from tensorflow.keras.mixed_precision import experimental as mpe
from tensorflow.train.experimental import enable_mixed_precision_graph_rewrite as rewrite
tmp = 1
print(mpe.set_policy("mixed_float16"))
mp.experimental.set_policy("mixed_float16")
tmp.mp(mp.set_policy("mixed_float16"))
def build():
    return mpe.LossScaleOptimizer(tf.keras.optimizers.Adam(), loss_scale="dynamic")
opt = rewrite(tf.keras.optimizers.Adam())
tf.keras.mixed_precision.experimental.set_policy("mixed_float16")
"#;
        let krs503 = r#"import keras
from keras.models import Sequential as Seq
from keras import Model as M, layers
keras.mixed_precision.set_global_policy("mixed_float16")
a = Seq([layers.Dense(8), layers.Dense(10, activation="softmax")])
inputs = keras.Input((4,))
outputs = layers.Dense(1, activation="sigmoid")(inputs)
b = M(inputs, outputs)
c = M(inputs=inputs, outputs=outputs)
d = Seq()
d.add(layers.Dense(10, activation="softmax"))
e = keras.Sequential([layers.Dense(10, activation="softmax")])
"#;
        // KRS501: the import on line 3, and the calls on lines 6, 7, 8, 10, 11 and 12. KRS503:
        // the final layers on lines 5, 7 (for both models), 11 and 12.
        for (code, source, expected) in [("KRS501", krs501, 7), ("KRS503", krs503, 4)] {
            let on = findings_of(code, source, Prefilter::On);
            assert_eq!(on.len(), expected, "{code}: {on:?}");
            assert_eq!(on, findings_of(code, source, Prefilter::Off), "{code}");
            let star = format!("from keras.layers import *\n{source}");
            assert_eq!(
                findings_of(code, &star, Prefilter::On),
                findings_of(code, &star, Prefilter::Off),
                "{code} with a star import"
            );
        }
    }

    #[test]
    fn rules_with_needles_have_them_on_every_pattern_and_match_rooted() {
        let queries = &*QUERIES;
        for (r, rule) in rules::ALL.iter().enumerate() {
            let needles = needles::pattern_needles(rule.query);
            let patterns =
                (0..queries.pattern_rule.len()).filter(|&p| queries.pattern_rule[p] == r);
            // The parser of the predicates sees the patterns tree-sitter sees.
            assert_eq!(needles.len(), patterns.clone().count(), "{}", rule.code);
            if !queries.rule_is_near[r] {
                continue;
            }
            let query = queries
                .near
                .query
                .as_ref()
                .expect("near rules are compiled");
            for p in patterns {
                let (is_near, in_group) = queries.place[p];
                assert!(is_near, "{}", rule.code);
                // A range finds a match only through its root: unrooted patterns cannot be near.
                assert!(
                    query.is_pattern_rooted(in_group),
                    "{} pattern {p}",
                    rule.code
                );
            }
        }
        // The rules that need it most have needles.
        for code in ["KRS201", "KRS102", "KRS401"] {
            let r = rules::ALL
                .iter()
                .position(|r| r.code == code)
                .expect("rule");
            assert!(queries.rule_is_near[r], "{code}");
        }
    }

    #[test]
    fn near_patterns_are_matched_at_the_ancestors_their_needles_reach() {
        let source = "model.fit(x, batch_size=32)\n";
        let forest = crate::forest::parse(source);
        let root = forest.roots().next().expect("one tree");
        let roots = |needle: &str, site: NeedleSite| {
            let at = source.find(needle).expect("needle in source");
            let mut path = Vec::new();
            let mut walked_up = HashSet::default();
            needle_roots(
                root,
                at..at + needle.len(),
                &site,
                &mut path,
                &mut walked_up,
            )
            .iter()
            .map(|n| n.kind_name())
            .collect::<Vec<_>>()
        };
        let exact = |depth| NeedleSite {
            exact_depth: Some(depth),
            contained: false,
            root_kinds: None,
        };
        // `#eq?` on a keyword's name one level below the root: the name and the keyword.
        assert_eq!(
            roots("batch_size", exact(1)),
            ["keyword_argument", "identifier"]
        );
        assert_eq!(
            roots("batch_size", exact(3)),
            ["call", "argument_list", "keyword_argument", "identifier"]
        );
        // No node is exactly `batch` (it is part of a name): nothing to match.
        assert!(roots("batch", exact(3)).is_empty());
        // A regex's needle is contained in the node compared: every ancestor can be the root.
        let contained = NeedleSite {
            exact_depth: None,
            contained: true,
            root_kinds: None,
        };
        assert_eq!(
            roots("batch", contained),
            [
                "module",
                "expression_statement",
                "call",
                "argument_list",
                "keyword_argument",
                "identifier"
            ]
        );
        let call_only = NeedleSite {
            root_kinds: Some(vec!["call".to_string()]),
            ..exact(3)
        };
        let at = forest.roots().next().expect("one tree");
        let call = at.child(0).and_then(|s| s.child(0)).expect("the call");
        assert!(call_only.may_root_at(call));
        assert!(!call_only.may_root_at(at));
    }

    #[test]
    fn only_deeply_nested_trees_are_matched_with_a_limit() {
        let deep = format!("x = {}1{}\n", "(".repeat(300), ")".repeat(300));
        let forest = crate::forest::parse(&deep);
        assert!(nests_deeper_than(
            forest.roots().next().unwrap(),
            DEEP_NESTING
        ));
        let shallow = format!("x = {}1{}\n", "(".repeat(40), ")".repeat(40));
        let forest = crate::forest::parse(&shallow);
        assert!(!nests_deeper_than(
            forest.roots().next().unwrap(),
            DEEP_NESTING
        ));
        for entry in
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus")).unwrap()
        {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let forest = crate::forest::parse(&text);
            assert!(
                forest
                    .roots()
                    .all(|root| !nests_deeper_than(root, DEEP_NESTING)),
                "{}",
                path.display()
            );
            // The pruned walk's bound holds in real code too.
            for root in forest.roots() {
                let deepest = depth_by_walk(root);
                for depth in [8, 12, 16, 24] {
                    assert_eq!(
                        nests_deeper_than(root, depth),
                        deepest > depth,
                        "{}",
                        path.display()
                    );
                }
            }
        }
    }

    /// The deepest level under `root`, by a walk of every node.
    fn depth_by_walk(root: Node) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(root, 0)];
        while let Some((node, level)) = stack.pop() {
            deepest = deepest.max(level);
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor).map(|child| (child, level + 1)));
        }
        deepest
    }

    #[test]
    fn the_pruned_depth_walk_agrees_with_a_full_one() {
        let sources = [
            format!("x = {}1{}\n", "-".repeat(300), ""),
            format!("x = {}1\n", "not ".repeat(100)),
            format!("y = {}0{}\n", "[".repeat(200), "]".repeat(200)),
            format!("f(a{})\n", ".b(c)".repeat(90)),
            "def f(x):\n    return x\n".to_string(),
        ];
        for source in &sources {
            let forest = crate::forest::parse(source);
            for root in forest.roots() {
                let deepest = depth_by_walk(root);
                for depth in [deepest.saturating_sub(1), deepest, deepest + 1, 16, 256] {
                    assert_eq!(
                        nests_deeper_than(root, depth),
                        deepest > depth,
                        "{source:?} at {depth} (deepest {deepest})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_chain_thousands_of_calls_deep_is_analysed_and_the_rest_still_reported() {
        let source = format!(
            "import keras\nimport tensorflow as tf\nfrom keras import mixed_precision\nfrom keras.layers import *\n\nds = tf.data.Dataset.range(3){}\n\ncb = keras.callbacks.ModelCheckpoint('m', save_freq=1)\n",
            // `batch` is a needle: the near patterns run at each of its 1,500 places; the file
            // spells `mixed_precision` and has a star import, so KRS501's pattern runs over
            // every call of the chain (see `RuleDef::spelled`).
            ".map(f).batch(2)".repeat(1500)
        );
        let forest = crate::forest::parse(&source);
        let before = match_limit_hits();
        let started = std::time::Instant::now();
        let findings = analyze(&source, &forest, &crate::settings::Settings::default());
        assert!(
            match_limit_hits() > before,
            "the deep chain reached the limit"
        );
        // Generous for a loaded test machine: quadratic matching took tens of seconds.
        assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
        assert!(findings.iter().any(|f| f.code == "KRS201"), "{findings:?}");
    }
}
