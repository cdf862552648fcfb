//! Analysis across versions of one document: re-runs the rules only where an edit can have changed their result (see [`Engine`]).
//!
//! The module's top-level statements ("units") are the grain. Each unit keeps the findings of
//! the rule matches inside it and the reads ([`Read`](super::units::Read)) those rules made
//! (keys such as "module-level assignments of `opt` between these offsets", "calls of `build`",
//! "the dataflow"). After an edit, the statements parsed again (see [`crate::forest`]) and the
//! edited ranges (widened to whole lines) mark the dirty units; the keys the dirty units held
//! before and hold now are the changed keys; a clean unit is re-run only when one of its reads
//! meets a changed key in its range. File-level facts are compared, not assumed: the imports
//! (the units spelling a rebound name run again; star imports: everything does), the text
//! facts (line breaks, quote style, legacy Keras, searched strings), and the tf.data dataflow:
//! it counts as changed only when its position-free [signature](Dataflow::signature) does, and
//! it is not even rebuilt to compare when every edited unit, before and after, is inert (no bare
//! name of its [vocabulary](Dataflow::vocabulary), no source call, no `lambda`/`yield`/..., and
//! only definitions that build nothing alone).
//! Everything else of a clean unit is reused, its offsets moved by the edits. A differential test
//! (`tests/incremental.rs`) checks the result against a from-scratch analysis after every edit.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use tree_sitter::{InputEdit, Node};

use super::dataflow::{
    self, ConsumerMark, Dataflow, definitions_are_inert, function_is_inert, source_kind_of,
};
use super::imports::Imports;
use super::units::{Key, KeyHash, KeyIndex, Summary, UnitIndex};
use super::{
    Context, Provided, RuleSet, UnitRun, enabled_rules, finish, newline_of, policy, quote_of,
};
use crate::document::EditLog;
use crate::finding::{Edit, Finding};
use crate::forest::Forest;
use crate::settings::Settings;
use rayon::prelude::*;

/// What the last update did (for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateStats {
    /// Analysed from scratch (first version, settings changed, imports changed, ...).
    pub full: bool,
    /// Units in the new version.
    pub units: usize,
    /// Units whose text changed.
    pub dirty: usize,
    /// Units whose rules ran again (the dirty ones included).
    pub rerun: usize,
    /// Module-level rule patterns that ran again.
    pub module_rerun: usize,
    /// The tf.data dataflow was built (to compare it, or because a rule that ran asked).
    pub dataflow_built: bool,
    /// The dataflow's signature differed from the previous version's (its readers ran again).
    pub dataflow_changed: bool,
    /// The imports' table was collected again (an edited statement may have changed it).
    pub imports_collected: bool,
    /// The units were analysed on two cores, half each (a big file analysed from scratch).
    pub parallel_halves: bool,
    /// Of the dataflow's build, when it was built: function scopes analysed, and those
    /// skipped because the previous build found them inert (see `dataflow::build_cached`).
    pub scopes_analysed: usize,
    pub scopes_reused: usize,
    /// Of the same build: module statements analysed, and skipped as inert.
    pub statements_analysed: usize,
    pub statements_reused: usize,
    /// Of the same build: trees of the forest walked for their definitions (the others' were
    /// kept from the build before).
    pub trees_walked: usize,
}

/// The analysis state one open document keeps between versions.
#[derive(Default)]
pub struct Engine {
    state: Option<State>,
    pub stats: UpdateStats,
}

struct State {
    generation: u64,
    /// The ids of the trees analysed last (which statements were parsed again since). Not the
    /// trees themselves: a copy shares every tree with the document's, and the next edit of a
    /// shared tree copies its path to the edit instead of moving it in place.
    chunk_ids: HashSet<u64>,
    units: Vec<Unit>,
    keys: KeyIndex,
    next_id: u32,
    imports: Imports,
    enabled: Vec<bool>,
    /// The run of each module-rooted pattern, by pattern index.
    modules: Vec<(usize, UnitRun)>,
    facts: Facts,
    /// The dataflow's [`signature`](super::dataflow::Dataflow::signature) and
    /// [`vocabulary`](super::dataflow::Dataflow::vocabulary) (as `Key::Ident` hashes), when it
    /// was built.
    flow_signature: Option<Vec<u64>>,
    flow_vocabulary: Option<HashSet<KeyHash>>,
    /// The dataflow's [consumer marks](super::dataflow::Dataflow::consumer_marks), with the
    /// signature.
    flow_marks: Option<Vec<ConsumerMark>>,
    /// The policy settings' signature and what computing them read (see
    /// `Context::policy_signature`), once some rule asked for them.
    policy: Option<(Vec<u64>, Vec<super::units::Read>)>,
    /// What the last dataflow build found inert, for the next.
    scope_cache: dataflow::ScopeCache,
}

struct Unit {
    id: u32,
    range: Range<usize>,
    summary: Summary,
    run: UnitRun,
}

/// Whole-text facts rules may read (each a [`Key`]).
#[derive(Clone, PartialEq)]
struct Facts {
    newline: &'static str,
    quote: char,
    legacy: bool,
    contains: Vec<(&'static str, bool)>,
}

impl Facts {
    fn compute(text: &str, needles: &[&'static str]) -> Facts {
        Facts {
            newline: newline_of(text),
            quote: quote_of(text),
            legacy: policy::uses_legacy_keras(text),
            contains: needles.iter().map(|&n| (n, text.contains(n))).collect(),
        }
    }

    /// The keys of the facts that differ.
    fn changed(&self, other: &Facts) -> Vec<KeyHash> {
        let mut out = Vec::new();
        if self.newline != other.newline {
            out.push(Key::Newline.hash64());
        }
        if self.quote != other.quote {
            out.push(Key::Quote.hash64());
        }
        if self.legacy != other.legacy {
            out.push(Key::Legacy.hash64());
        }
        for (needle, found) in &self.contains {
            let before = other
                .contains
                .iter()
                .find(|(n, _)| n == needle)
                .map(|c| c.1);
            if before != Some(*found) {
                out.push(Key::Contains(needle).hash64());
            }
        }
        out
    }
}

impl Engine {
    /// Findings for `text`/`forest`, the version reached from the previous call by `edits`.
    pub fn update(
        &mut self,
        text: &str,
        forest: &Forest,
        edits: &EditLog,
        settings: &Settings,
        generation: u64,
    ) -> Arc<Vec<Finding>> {
        let findings = match (self.state.take(), edits) {
            (Some(state), EditLog::Edits(edits)) if state.generation == generation => {
                self.incremental(state, text, forest, edits, settings)
            }
            (_, _) => self.full(text, forest, settings, generation),
        };
        Arc::new(findings)
    }

    /// Forgets everything (the next update analyses from scratch); frees the memory.
    pub fn reset(&mut self) {
        self.state = None;
    }

    fn full(
        &mut self,
        text: &str,
        forest: &Forest,
        settings: &Settings,
        generation: u64,
    ) -> Vec<Finding> {
        self.stats = UpdateStats {
            full: true,
            ..UpdateStats::default()
        };
        let Some(enabled) = enabled_rules(text, forest, settings) else {
            self.state = None;
            return Vec::new();
        };
        let imports = Imports::collect(text, forest);
        let nodes: Vec<Node> = forest.statements();
        // The rules read the dataflow of every Keras file (the module rules ask for it first
        // thing), and it needs nothing of the unit indexes: build both at once on two cores.
        let scope_cache = dataflow::ScopeCache::default();
        let (flow, indexed) = rayon::join(
            || dataflow::build_cached(text, forest, &imports, &scope_cache),
            || {
                nodes
                    .par_iter()
                    .map(|node| {
                        let index = UnitIndex::build(text, *node);
                        let summary = summarise(text, &imports, &index, *node);
                        (index, summary)
                    })
                    .collect::<Vec<_>>()
            },
        );
        let mut keys = KeyIndex::default();
        let mut index_of = HashMap::default();
        let mut indexes = Vec::with_capacity(nodes.len());
        let mut units = Vec::with_capacity(nodes.len());
        for (i, (node, (index, summary))) in nodes.iter().zip(indexed).enumerate() {
            let index = Arc::new(index);
            let id = i as u32;
            keys.insert(id, &summary);
            index_of.insert(id, i);
            units.push(Unit {
                id,
                range: node.byte_range(),
                summary,
                run: UnitRun::default(),
            });
            indexes.push(index);
        }
        // The units' rules run on two cores for a big file, each half in its own context (they
        // share the indexes and the dataflow); the module-rooted patterns run with the second.
        let split = parallel_split(&nodes);
        let run_part = |part: Range<usize>, modules: bool| {
            let ctx = Context::with_imports(
                text,
                forest,
                settings,
                Cow::Borrowed(&imports),
                Some(Provided {
                    keys: &keys,
                    index_of: &index_of,
                }),
            );
            for (i, index) in indexes.iter().enumerate() {
                ctx.seed_unit_index(i, index.clone());
            }
            ctx.lend_dataflow(&flow);
            ctx.seed_statements(nodes.clone());
            let wanted: Vec<RuleSet> = (0..nodes.len())
                .map(|i| match part.contains(&i) {
                    true => RuleSet::ALL,
                    false => RuleSet::NONE,
                })
                .collect();
            let (runs, module_runs) = super::run_units(&ctx, &enabled, &wanted, &|_| modules);
            let policy = ctx.policy_signature(&unit_locator(&units), false);
            (runs, module_runs, ctx.needles(), policy)
        };
        self.stats.parallel_halves = split.is_some();
        let (mut runs, modules, mut needles, policy) = match split {
            Some(split) => {
                let (
                    (mut runs, _, mut needles, policy),
                    (more, modules, more_needles, more_policy),
                ) = rayon::join(
                    || run_part(0..split, false),
                    || run_part(split..nodes.len(), true),
                );
                runs.extend(more);
                needles.extend(more_needles);
                (runs, modules, needles, policy.or(more_policy))
            }
            None => run_part(0..nodes.len(), true),
        };
        let mut seen = HashSet::default();
        needles.retain(|needle| seen.insert(*needle));
        runs.sort_by_key(|(i, _)| *i);
        self.stats.dataflow_built = true;
        (self.stats.scopes_analysed, self.stats.scopes_reused) = scope_cache.last_build();
        (self.stats.statements_analysed, self.stats.statements_reused) =
            scope_cache.last_module_statements();
        self.stats.trees_walked = scope_cache.last_definitions().0;
        let flow = {
            let unit_of = unit_locator(&units);
            Some((
                flow.signature(&unit_of),
                flow.consumer_marks(&unit_of),
                vocabulary_keys(&flow),
            ))
        };
        for (i, run) in runs {
            units[i].run = tidy(run);
        }
        self.stats.units = units.len();
        self.stats.dirty = units.len();
        self.stats.rerun = units.len();
        self.stats.module_rerun = modules.len();
        let state = State {
            generation,
            chunk_ids: forest.chunk_ids().map(|(id, _)| id).collect(),
            next_id: units.len() as u32,
            units,
            keys,
            imports,
            enabled,
            modules: modules.into_iter().map(|(p, run)| (p, tidy(run))).collect(),
            facts: Facts::compute(text, &needles),
            flow_signature: flow.as_ref().map(|(s, _, _)| s.clone()),
            flow_marks: flow.as_ref().map(|(_, m, _)| m.clone()),
            flow_vocabulary: flow.and_then(|(_, _, v)| v),
            scope_cache,
            policy,
        };
        let findings = state.findings(text, forest, settings);
        self.state = Some(state);
        findings
    }

    fn incremental(
        &mut self,
        mut state: State,
        text: &str,
        forest: &Forest,
        edits: &[InputEdit],
        settings: &Settings,
    ) -> Vec<Finding> {
        let Some(enabled) = enabled_rules(text, forest, settings) else {
            self.state = None;
            self.stats = UpdateStats::default();
            return Vec::new();
        };
        if enabled != state.enabled {
            return self.full(text, forest, settings, state.generation);
        }
        // Where the text or the trees changed, in new offsets, widened to whole lines (rules read
        // the text of a statement's line, which may hold another statement after `;`).
        let mut regions: Vec<Range<usize>> = Vec::new();
        // The edits that added or removed a line break (line numbers after them moved).
        let mut line_breaks: Vec<Range<usize>> = Vec::new();
        for edit in edits {
            for region in regions.iter_mut().chain(&mut line_breaks) {
                *region = shift_range(region, edit);
            }
            regions.push(edit.start_byte..edit.new_end_byte);
            if edit.old_end_position.row != edit.start_position.row
                || edit.new_end_position.row != edit.start_position.row
            {
                line_breaks.push(edit.start_byte..edit.new_end_byte);
            }
            state.shift(edit);
        }
        // Statements parsed again since (a tree changes only when it is parsed again). A tree's
        // range ends after its last line break: its last line is the one before.
        regions.extend(
            forest
                .chunk_ids()
                .filter(|(id, _)| !state.chunk_ids.contains(id))
                .map(|(_, range)| range.start..range.end.saturating_sub(1).max(range.start)),
        );
        let regions = whole_lines(text, regions);

        // Units: reuse the cached ones the edits did not touch. Both lists are in document
        // order (shifting keeps the old ranges sorted by (start, end): an edit moves every
        // offset monotonically), so one merge walk pairs the units whose range a statement
        // still has; the others are removed, in their old order.
        let nodes: Vec<Node> = forest.statements();
        let mut old_units = std::mem::take(&mut state.units).into_iter().peekable();
        let mut removed: Vec<Unit> = Vec::new();
        let mut units: Vec<Option<Unit>> = Vec::with_capacity(nodes.len());
        let mut dirty_indexes: Vec<(usize, Arc<UnitIndex>)> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let range = node.byte_range();
            let key = (range.start, range.end);
            while let Some(unit) = old_units.next_if(|u| (u.range.start, u.range.end) < key) {
                removed.push(unit);
            }
            let mut reuse = old_units.next_if(|u| u.range == range);
            // Of several old units with this (empty) range, the last is the one kept.
            while let Some(later) = old_units.next_if(|u| u.range == range) {
                removed.extend(reuse.replace(later));
            }
            if overlaps_any(&range, &regions) {
                removed.extend(reuse.take());
            }
            if reuse.is_none() {
                dirty_indexes.push((i, Arc::new(UnitIndex::build(text, *node))));
            }
            units.push(reuse);
        }
        removed.extend(old_units);

        // What changed: every key the removed and the new dirty units hold, where they are.
        let mut changed: HashMap<KeyHash, Vec<Range<usize>>> = HashMap::default();
        let any = Key::Any.hash64();
        let mut binds = false;
        for unit in &removed {
            binds |= unit.summary.binds;
            for &key in &unit.summary.keys {
                changed.entry(key).or_default().push(unit.range.clone());
            }
            changed.entry(any).or_default().push(unit.range.clone());
            state.keys.remove(unit.id, &unit.summary);
        }
        let mut dirty_summaries: Vec<(usize, Summary)> = Vec::with_capacity(dirty_indexes.len());
        for (i, index) in &dirty_indexes {
            let summary = summarise(text, &state.imports, index, nodes[*i]);
            let range = nodes[*i].byte_range();
            binds |= summary.binds;
            for &key in &summary.keys {
                changed.entry(key).or_default().push(range.clone());
            }
            changed.entry(any).or_default().push(range);
            dirty_summaries.push((*i, summary));
        }
        for region in &regions {
            changed.entry(any).or_default().push(region.clone());
        }
        let everywhere = 0..usize::MAX;
        // Imports changed: what a name resolves to changed only where that name is spelled, so
        // the units spelling a rebound name run again as if edited (summaries read the imports
        // too), and so do the reverse lookups that could find its binding, old or new: those
        // under its path's top-level module (`Key::ImportRoot`) or last segment
        // (`Key::ImportLeaf`), and where imports go when that moved (`Key::ImportPlace`). No
        // unit holds those keys, so an edited import statement that changes no binding re-runs
        // none of them. With star imports any name may resolve differently: start over.
        let imports_collected =
            binds && !imports_unchanged(&removed, &dirty_summaries, &nodes, &state.imports);
        if imports_collected {
            // The table from each statement's names: only statements with imports are walked.
            let mut dirty_names: HashMap<usize, Option<&[Box<str>]>> = HashMap::default();
            for (i, summary) in &dirty_summaries {
                dirty_names.insert(*i, summary.local_names.as_deref());
            }
            let names = units.iter().enumerate().map(|(i, unit)| match unit {
                Some(unit) => unit.summary.local_names.as_deref(),
                None => dirty_names.get(&i).copied().flatten(),
            });
            let imports = Imports::from_units(text, forest, &nodes, names);
            if imports != state.imports {
                let Some(rebound) = imports.rebound_names(&state.imports) else {
                    return self.full(text, forest, settings, state.generation);
                };
                if imports.insertion_differs(&state.imports) {
                    changed
                        .entry(Key::ImportPlace.hash64())
                        .or_default()
                        .push(everywhere.clone());
                }
                for name in &rebound {
                    let paths = [state.imports.binding(name), imports.binding(name)];
                    for path in paths.into_iter().flatten() {
                        let root = path.split('.').next().unwrap_or(path);
                        let leaf = path.rsplit('.').next().unwrap_or(path);
                        for key in [Key::ImportRoot(root.into()), Key::ImportLeaf(leaf.into())] {
                            changed
                                .entry(key.hash64())
                                .or_default()
                                .push(everywhere.clone());
                        }
                    }
                }
                state.imports = imports;
                let rebound: Vec<KeyHash> = rebound
                    .iter()
                    .map(|name| Key::Ident(name.as_str().into()).hash64())
                    .collect();
                for (i, slot) in units.iter_mut().enumerate() {
                    if !slot
                        .as_ref()
                        .is_some_and(|u| rebound.iter().any(|&k| u.summary.holds(k)))
                    {
                        continue;
                    }
                    let Some(unit) = slot.take() else {
                        continue;
                    };
                    for &key in &unit.summary.keys {
                        changed.entry(key).or_default().push(unit.range.clone());
                    }
                    changed.entry(any).or_default().push(unit.range.clone());
                    state.keys.remove(unit.id, &unit.summary);
                    dirty_indexes.push((i, Arc::new(UnitIndex::build(text, nodes[i]))));
                    // Its summary under the old imports is checked like a removed unit's.
                    removed.push(unit);
                }
                dirty_summaries = dirty_indexes
                    .iter()
                    .map(|(i, index)| {
                        let summary = summarise(text, &state.imports, index, nodes[*i]);
                        let range = nodes[*i].byte_range();
                        for &key in &summary.keys {
                            changed.entry(key).or_default().push(range.clone());
                        }
                        changed.entry(any).or_default().push(range);
                        (*i, summary)
                    })
                    .collect();
            }
        }
        // Statements that spell no name of the dataflow's vocabulary as a bare name (before or
        // after) can neither hold nor change any of it: the dataflow need not be built to
        // compare. That takes no flow syntax (see `Summary::flow_syntax`), or only imports
        // (that rebind a name, the statements spelling it are checked here too, before and
        // after), or only definitions that build nothing alone. So can a function that builds
        // nothing alone and names nothing of it but itself, when every other statement defining
        // that name is such a function too (its call sites get nothing from whichever wins,
        // before or after). `state.keys` holds the clean units only here.
        let clean: HashMap<u32, &Summary> =
            units.iter().flatten().map(|u| (u.id, &u.summary)).collect();
        let option_attributes: Vec<KeyHash> = dataflow::OPTION_ATTRIBUTES
            .iter()
            .map(|&name| Key::Ident(name.into()).hash64())
            .collect();
        let inert = |summary: &Summary| {
            let Some(vocabulary) = state.flow_vocabulary.as_ref() else {
                return false;
            };
            if summary.holds_source {
                return false;
            }
            let names_none = || {
                !vocabulary.iter().any(|&k| summary.may_spell_bare(k))
                    && !option_attributes.iter().any(|&k| summary.holds(k))
            };
            // Definitions that build nothing alone and name nothing of the vocabulary (their own
            // names included: no function of that name gives its callers anything) build
            // nothing in the file either, nor change what any other statement builds. Imports
            // change nothing when no name's binding did.
            if !summary.flow_syntax
                || (summary.defs_only && summary.defs_inert)
                || summary.imports_only
            {
                return names_none();
            }
            let Some(name) = summary.lone_def.as_deref().filter(|_| summary.def_inert) else {
                return false;
            };
            let own = Key::Ident(name.into()).hash64();
            let trivial_too = |id: &u32| {
                clean
                    .get(id)
                    .is_some_and(|other| other.def_inert && other.lone_def.as_deref() == Some(name))
            };
            state
                .keys
                .ids(Key::Def(name.into()).hash64())
                .iter()
                .all(trivial_too)
                && !vocabulary
                    .iter()
                    .any(|&k| k != own && summary.may_spell_bare(k))
                && !option_attributes.iter().any(|&k| summary.holds(k))
        };
        let flow_unchanged = removed.iter().all(|u| inert(&u.summary))
            && dirty_summaries.iter().all(|(_, s)| inert(s));
        if !line_breaks.is_empty() {
            changed.insert(Key::LineBreaks.hash64(), line_breaks);
        }
        let needles: Vec<&'static str> = state.facts.contains.iter().map(|c| c.0).collect();
        let facts = Facts::compute(text, &needles);
        for key in facts.changed(&state.facts) {
            changed.entry(key).or_default().push(everywhere.clone());
        }

        // New units get new ids.
        for (i, summary) in dirty_summaries {
            let id = state.next_id;
            state.next_id += 1;
            state.keys.insert(id, &summary);
            units[i] = Some(Unit {
                id,
                range: nodes[i].byte_range(),
                summary,
                run: UnitRun::default(),
            });
        }
        let mut units: Vec<Unit> = units.into_iter().flatten().collect();
        debug_assert_eq!(units.len(), nodes.len());
        let index_of: HashMap<u32, usize> =
            units.iter().enumerate().map(|(i, u)| (u.id, i)).collect();

        let mut policy = state.policy.take();
        let (runs, modules, needles, flow, dirty, dataflow_built, dataflow_changed, wanted) = {
            let ctx = Context::with_imports(
                text,
                forest,
                settings,
                Cow::Borrowed(&state.imports),
                Some(Provided {
                    keys: &state.keys,
                    index_of: &index_of,
                }),
            );
            let dirty: Vec<bool> = {
                let mut d = vec![false; units.len()];
                for (i, _) in &dirty_indexes {
                    d[*i] = true;
                }
                d
            };
            for (i, index) in dirty_indexes {
                ctx.seed_unit_index(i, index);
            }
            ctx.seed_scope_cache(&state.scope_cache);
            ctx.seed_statements(nodes.clone());
            // With the dataflow unchanged its vocabulary still holds: rules asking whether a
            // call consumes a pipeline need not build it when none can reach the call.
            if flow_unchanged && let Some(vocabulary) = &state.flow_vocabulary {
                ctx.seed_flow_vocabulary(vocabulary);
            }
            // The dataflow changed when its signature did; it is only worth building to find
            // out when some cached result read it.
            let unit_of = unit_locator(&units);
            let dataflow = Key::Dataflow.hash64();
            let consumers = Key::DataflowConsumers.hash64();
            let reads_dataflow = |run: &UnitRun| {
                run.reads
                    .iter()
                    .any(|r| r.key == dataflow || r.key == consumers)
            };
            let mut signature = None;
            let mut flow_changed = false;
            if !flow_unchanged
                && (units.iter().any(|u| reads_dataflow(&u.run))
                    || state.modules.iter().any(|(_, run)| reads_dataflow(run)))
            {
                let built = ctx.dataflow();
                let now = (built.signature(&unit_of), built.consumer_marks(&unit_of));
                if state.flow_signature.as_ref() != Some(&now.0) {
                    flow_changed = true;
                    changed
                        .entry(dataflow)
                        .or_default()
                        .push(everywhere.clone());
                    // Readers of the consumers at a node run again only where those differ
                    // (a unit's id changes with its text: its own readers run anyway).
                    let places = match &state.flow_marks {
                        Some(before) => changed_consumers(before, &now.1, &|id| {
                            index_of.get(&id).map(|&i| units[i].range.start)
                        }),
                        None => vec![everywhere.clone()],
                    };
                    changed.entry(consumers).or_default().extend(places);
                }
                signature = Some(now);
            }

            // The policy settings changed when their signature did; it is only worth computing
            // them to find out when what computing them read changed (then a rule read them).
            if let Some((before, reads)) = &policy
                && reads_changed(reads, &changed)
            {
                let now = ctx.policy_signature(&unit_of, true);
                if now.as_ref().map(|(signature, _)| signature) != Some(before) {
                    changed
                        .entry(Key::Policy.hash64())
                        .or_default()
                        .push(everywhere.clone());
                }
                policy = now;
            }

            // Which units run again: the dirty ones, and those that read something that changed
            // or whose findings touch an edited region.
            let wanted: Vec<RuleSet> = units
                .iter()
                .zip(&dirty)
                .map(|(unit, &d)| match d {
                    true => RuleSet::ALL,
                    false => stale(&unit.run, &changed, &regions),
                })
                .collect();
            let module_again: Vec<usize> = state
                .modules
                .iter()
                .filter(|(_, run)| !stale(run, &changed, &regions).is_empty())
                .map(|(pattern, _)| *pattern)
                .collect();
            let (runs, modules) =
                super::run_units(&ctx, &enabled, &wanted, &|p| module_again.contains(&p));
            let flow = match (signature, ctx.built_dataflow()) {
                (Some((signature, marks)), Some(built)) => {
                    Some((signature, marks, vocabulary_keys(built)))
                }
                (_, Some(built)) => Some((
                    built.signature(&unit_of),
                    built.consumer_marks(&unit_of),
                    vocabulary_keys(built),
                )),
                // Not built: still valid when no edited statement could change it.
                (_, None) if flow_unchanged => state
                    .flow_signature
                    .clone()
                    .zip(state.flow_marks.clone())
                    .map(|(s, m)| (s, m, state.flow_vocabulary.clone())),
                (_, None) => None,
            };
            let built = ctx.built_dataflow().is_some();
            // Computed for a rule (or above): what it read is current.
            if let Some(now) = ctx.policy_signature(&unit_of, false) {
                policy = Some(now);
            }
            (
                runs,
                modules,
                ctx.needles(),
                flow,
                dirty,
                built,
                flow_changed,
                wanted,
            )
        };
        self.stats = UpdateStats {
            full: false,
            units: units.len(),
            dirty: dirty.iter().filter(|&&d| d).count(),
            rerun: runs.len(),
            module_rerun: modules.len(),
            dataflow_built,
            dataflow_changed,
            imports_collected,
            parallel_halves: false,
            scopes_analysed: 0,
            scopes_reused: 0,
            statements_analysed: 0,
            statements_reused: 0,
            trees_walked: 0,
        };
        if dataflow_built {
            (self.stats.scopes_analysed, self.stats.scopes_reused) = state.scope_cache.last_build();
            (self.stats.statements_analysed, self.stats.statements_reused) =
                state.scope_cache.last_module_statements();
            self.stats.trees_walked = state.scope_cache.last_definitions().0;
        }
        for (i, run) in runs {
            let before = std::mem::take(&mut units[i].run);
            units[i].run = tidy(before.replace_rules(wanted[i], run));
        }
        for (pattern, run) in modules {
            if let Some(slot) = state.modules.iter_mut().find(|(p, _)| *p == pattern) {
                slot.1 = tidy(run);
            }
        }
        let mut all_needles = needles;
        for (needle, _) in &facts.contains {
            if !all_needles.contains(needle) {
                all_needles.push(needle);
            }
        }
        state.facts = if all_needles.len() == facts.contains.len() {
            facts
        } else {
            Facts::compute(text, &all_needles)
        };
        state.units = units;
        state.policy = policy;
        (
            state.flow_signature,
            state.flow_marks,
            state.flow_vocabulary,
        ) = match flow {
            Some((signature, marks, vocabulary)) => (Some(signature), Some(marks), vocabulary),
            None => (None, None, None),
        };
        state.chunk_ids = forest.chunk_ids().map(|(id, _)| id).collect();
        let findings = state.findings(text, forest, settings);
        self.state = Some(state);
        findings
    }
}

impl State {
    /// Moves every cached offset through one edit of the text.
    fn shift(&mut self, edit: &InputEdit) {
        for unit in &mut self.units {
            unit.range = shift_range(&unit.range, edit);
            shift_run(&mut unit.run, edit);
        }
        for (_, run) in &mut self.modules {
            shift_run(run, edit);
        }
        self.imports.shift(|p| shift_offset(p, edit, false));
        if let Some((_, reads)) = &mut self.policy {
            for read in reads {
                read.range = shift_range(&read.range, edit);
            }
        }
    }

    /// Every unit's findings, finished like a from-scratch analysis.
    fn findings(&self, text: &str, forest: &Forest, settings: &Settings) -> Vec<Finding> {
        let count = self
            .modules
            .iter()
            .map(|(_, run)| run.findings.len())
            .sum::<usize>()
            + self
                .units
                .iter()
                .map(|u| u.run.findings.len())
                .sum::<usize>();
        let mut all = Vec::with_capacity(count);
        for unit in &self.units {
            all.extend(unit.run.findings.iter().cloned());
        }
        for (_, run) in &self.modules {
            all.extend(run.findings.iter().cloned());
        }
        finish(text, forest, settings, all)
    }
}

/// Sorts and de-duplicates a run's reads (rules ask the same thing for many matches).
fn tidy(run: UnitRun) -> UnitRun {
    use super::units::Read;
    let mut pairs: Vec<(Read, RuleSet)> = run.reads.into_iter().zip(run.read_rules).collect();
    pairs.sort_unstable_by_key(|(r, _)| (r.key, r.range.start, r.range.end));
    // The same read by several rules: one read, made by all of them.
    let mut reads: Vec<Read> = Vec::with_capacity(pairs.len());
    let mut read_rules: Vec<RuleSet> = Vec::with_capacity(pairs.len());
    for (read, rules) in pairs {
        match (reads.last(), read_rules.last_mut()) {
            (Some(last), Some(last_rules)) if *last == read => *last_rules |= rules,
            _ => {
                reads.push(read);
                read_rules.push(rules);
            }
        }
    }
    UnitRun {
        findings: run.findings,
        reads,
        read_rules,
    }
}

/// Whether a cached run must run again: it read a key that changed where it looked, or one of
/// its findings touches an edited region.
/// Whether any of `reads` saw something that changed.
fn reads_changed(
    reads: &[super::units::Read],
    changed: &HashMap<KeyHash, Vec<Range<usize>>>,
) -> bool {
    reads.iter().any(|read| {
        changed
            .get(&read.key)
            .is_some_and(|places| places.iter().any(|p| overlaps(p, &read.range)))
    })
}

/// The rules that must run again over a cached run: those that read a key that changed where
/// they looked, or whose findings touch an edited region.
fn stale(
    run: &UnitRun,
    changed: &HashMap<KeyHash, Vec<Range<usize>>>,
    regions: &[Range<usize>],
) -> RuleSet {
    let mut rules = RuleSet::NONE;
    for (read, &by) in run.reads.iter().zip(&run.read_rules) {
        if (by & !rules).is_empty() {
            continue;
        }
        if reads_changed(std::slice::from_ref(read), changed) {
            rules |= by;
        }
    }
    for f in &run.findings {
        let touched = overlaps_any(&f.range, regions)
            || f.fix.as_ref().is_some_and(|fix| {
                fix.edits
                    .iter()
                    .any(|e: &Edit| overlaps_any(&e.range, regions))
            });
        if touched {
            rules |= RuleSet::of_code(f.code);
        }
    }
    rules
}

/// A unit's summary, with whether it calls a pipeline source and whether its function (if it
/// is one) builds nothing alone.
fn summarise(text: &str, imports: &Imports, index: &UnitIndex, unit: Node) -> Summary {
    let mut summary = index.summary();
    summary.local_names = if summary.binds {
        Imports::local_names_of(text, unit)
            .map(|names| names.into_iter().map(String::into_boxed_str).collect())
    } else {
        Some(Box::default())
    };
    summary.holds_source = index
        .calls()
        .any(|call| source_kind_of(text, imports, call).is_some());
    summary.def_inert = summary.lone_def.is_some()
        && !summary.holds_source
        && index
            .unit_function()
            .is_some_and(|f| function_is_inert(text, imports, f));
    summary.defs_inert = summary.def_inert
        || (summary.defs_only
            && !summary.holds_source
            && definitions_are_inert(text, imports, index.definitions()));
    summary
}

/// Where to split the units of a big file into two halves of about the same size, for two cores
/// (`None`: a small file is analysed on one).
fn parallel_split(units: &[Node]) -> Option<usize> {
    const MIN_PARALLEL_BYTES: usize = 64 * 1024;
    let (first, last) = (units.first()?, units.last()?);
    let size = last.end_byte() - first.start_byte();
    if size < MIN_PARALLEL_BYTES {
        return None;
    }
    let middle = first.start_byte() + size / 2;
    let split = units.partition_point(|u| u.end_byte() <= middle);
    (split > 0 && split < units.len()).then_some(split)
}

/// Whether replacing the `removed` units by the `dirty` ones (the only units that changed)
/// leaves the imports' table as it was. That holds when none holds an import, all come after
/// the first statement of code (so where imports go stays put), and the units defining names
/// pair up: each new one stands where an old one stood (their ranges meet, in the same order)
/// and defines the same names.
fn imports_unchanged(
    removed: &[Unit],
    dirty: &[(usize, Summary)],
    nodes: &[Node],
    imports: &Imports,
) -> bool {
    let first_code = imports.first_code_start();
    let old = removed.iter().map(|u| (u.range.clone(), &u.summary));
    let new = dirty.iter().map(|(i, s)| (nodes[*i].byte_range(), s));
    /// A unit that defines names: where it is, and the names.
    type Defining<'u> = (Range<usize>, &'u [Box<str>]);
    // Those defining something, in document order; `None` when some unit rules it out.
    fn defining<'u>(
        units: impl Iterator<Item = (Range<usize>, &'u Summary)>,
        first_code: usize,
    ) -> Option<Vec<Defining<'u>>> {
        let mut out: Vec<Defining> = Vec::new();
        for (range, summary) in units {
            let names = summary.local_names.as_deref()?;
            if range.start <= first_code {
                return None;
            }
            if !names.is_empty() {
                out.push((range, names));
            }
        }
        out.sort_by_key(|(range, _)| range.start);
        Some(out)
    }
    let (Some(old), Some(new)) = (defining(old, first_code), defining(new, first_code)) else {
        return false;
    };
    old.len() == new.len()
        && old.iter().zip(&new).all(|((was, before), (now, after))| {
            was.start <= now.end && now.start <= was.end && before == after
        })
}

/// The dataflow's vocabulary as the `Key::Ident` hashes unit summaries hold (`None`: no
/// statement can be proven not to matter).
/// Where the consumers of two versions differ: the offset (in the current text) of each node
/// whose marks are not the same, for the units still there (`start_of` a unit id).
fn changed_consumers(
    before: &[ConsumerMark],
    now: &[ConsumerMark],
    start_of: &dyn Fn(u32) -> Option<usize>,
) -> Vec<Range<usize>> {
    let old: HashSet<&ConsumerMark> = before.iter().collect();
    let new: HashSet<&ConsumerMark> = now.iter().collect();
    old.symmetric_difference(&new)
        .filter_map(|&&(unit, offset, _)| {
            let start = start_of(u32::try_from(unit).ok()?)? + offset;
            Some(start..start + 1)
        })
        .collect()
}

fn vocabulary_keys(flow: &Dataflow) -> Option<HashSet<KeyHash>> {
    let names = flow.vocabulary()?;
    Some(
        names
            .iter()
            .map(|name| Key::Ident(name.as_str().into()).hash64())
            .collect(),
    )
}

/// Maps an offset to the unit holding it (its id, or `u64::MAX` outside every unit) and that
/// unit's start, for [`Dataflow::signature`].
fn unit_locator(units: &[Unit]) -> impl Fn(usize) -> (u64, usize) + '_ {
    move |offset| {
        let i = units.partition_point(|u| u.range.start <= offset);
        match i.checked_sub(1).map(|i| &units[i]) {
            Some(unit) => (u64::from(unit.id), unit.range.start),
            None => (u64::MAX, 0),
        }
    }
}

fn shift_run(run: &mut UnitRun, edit: &InputEdit) {
    for finding in &mut run.findings {
        finding.range = shift_range(&finding.range, edit);
        if let Some(fix) = &mut finding.fix {
            for e in &mut fix.edits {
                e.range = shift_range(&e.range, edit);
            }
        }
    }
    for read in &mut run.reads {
        read.range = shift_range(&read.range, edit);
    }
}

/// Where an offset of the text before `edit` is after it; an offset inside the replaced text
/// goes to the start (or, for an `end`, the end) of the new text.
fn shift_offset(offset: usize, edit: &InputEdit, end: bool) -> usize {
    if offset == usize::MAX || offset < edit.start_byte {
        offset
    } else if offset >= edit.old_end_byte {
        offset - edit.old_end_byte + edit.new_end_byte
    } else if end {
        edit.new_end_byte
    } else {
        edit.start_byte
    }
}

fn shift_range(range: &Range<usize>, edit: &InputEdit) -> Range<usize> {
    let start = shift_offset(range.start, edit, false);
    let end = shift_offset(range.end, edit, true).max(start);
    start..end
}

/// Whether two ranges overlap or touch.
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn overlaps_any(range: &Range<usize>, regions: &[Range<usize>]) -> bool {
    regions.iter().any(|r| overlaps(range, r))
}

/// The regions widened to whole lines, sorted and merged.
fn whole_lines(text: &str, mut regions: Vec<Range<usize>>) -> Vec<Range<usize>> {
    for region in &mut regions {
        let start = region.start.min(text.len());
        let end = region.end.clamp(start, text.len());
        let line_start = text.as_bytes()[..start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = text.as_bytes()[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| end + i);
        *region = line_start..line_end;
    }
    regions.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(regions.len());
    for region in regions {
        match merged.last_mut() {
            Some(last) if region.start <= last.end + 1 => last.end = last.end.max(region.end),
            _ => merged.push(region),
        }
    }
    merged
}
