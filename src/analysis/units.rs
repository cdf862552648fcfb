//! Top-level statements ("units") of a module: per-unit lookups by name and the position-free keys an incremental analysis tracks.
//!
//! Whole-file questions (calls of `f`, the `def` of `f`, module-level assignments of `x`, ...)
//! are answered from the units whose [`Summary`] holds the matching [`Key`], each indexed on
//! demand ([`UnitIndex`]); an analysis records the keys it asked about ([`Read`]), so an edit
//! re-runs only what depended on a key one of the edited units holds.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::ops::Range;

use tree_sitter::Node;

use super::imports::text;
use crate::syntax::NodeExt;

/// How many `a = b = value` links are followed to the assigned value.
const MAX_CHAIN: usize = 16;

/// Something an analysis can ask about a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Calls `name(...)`.
    Calls(Box<str>),
    /// Calls `<x>.name(...)`.
    Method(Box<str>),
    /// `def name` anywhere.
    Def(Box<str>),
    /// Identifiers spelled `name` anywhere.
    Ident(Box<str>),
    /// Attributes `name.<x>` anywhere.
    AttrOf(Box<str>),
    /// The imports' bindings to paths under the top-level module `root` (`tensorflow` for
    /// `tf` -> `tensorflow`), as reverse lookups read them: held by no unit, they change only
    /// when the engine finds such a binding changed.
    ImportRoot(Box<str>),
    /// The imports' bindings to paths whose last segment is `leaf` (like `ImportRoot`).
    ImportLeaf(Box<str>),
    /// Where new imports go (like `ImportRoot`).
    ImportPlace,
    /// Import statements anywhere (their nodes and text).
    ImportStatement,
    /// `name = value` statements anywhere (any scope).
    Assign(Box<str>),
    /// Module-level assignments to `target` (`x`, `a.b`).
    ModuleAssign(Box<str>),
    /// Module-level `with` items.
    ModuleWith,
    /// Module-level attributes `<x>.name`.
    ModuleAttr(Box<str>),
    /// Module-level identifiers spelled `name`.
    ModuleIdent(Box<str>),
    /// Module-level `def name` or `class name` (their names are no module-level identifiers:
    /// they are spelled inside the definition).
    ModuleDef(Box<str>),
    /// Module-level `return` statements.
    ModuleReturn,
    /// Calls whose callee is parenthesised (`(f)(...)`).
    ParenCall,
    /// The file's tf.data dataflow (see `incremental` for when it counts as changed).
    Dataflow,
    /// The file's mixed-precision policy settings (see `incremental` for when they count as
    /// changed).
    Policy,
    /// The dataflow's consumers at a node, read over the node's range: what kinds of consumer
    /// it is, of what arguments and kinds of input (see `Dataflow::consumer_marks`).
    DataflowConsumers,
    /// Whether the file has `\r\n` line breaks.
    Newline,
    /// Line breaks: read over `0..offset`, the line number of `offset`.
    LineBreaks,
    /// The file's dominant quote character.
    Quote,
    /// Whether the file opts into legacy Keras (`TF_USE_LEGACY_KERAS`).
    Legacy,
    /// Whether the file's text contains this string.
    Contains(&'static str),
    /// Anything in the read's range.
    Any,
}

impl Key {
    /// A 64-bit hash of the key. Summaries and reads keep only hashes (small, no strings): a
    /// collision merely makes an edit look relevant to more cached results, never fewer.
    pub fn hash64(&self) -> KeyHash {
        let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
        std::hash::Hash::hash(self, &mut hasher);
        std::hash::Hasher::finish(&hasher)
    }
}

/// A [`Key`]'s hash.
pub type KeyHash = u64;

/// FNV-1a, enough for short keys (and deterministic, unlike `DefaultHasher`'s random keys).
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One thing an analysis depended on: a key, for units overlapping `range` (current offsets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Read {
    pub key: KeyHash,
    pub range: Range<usize>,
}

impl Read {
    pub fn new(key: &Key, range: Range<usize>) -> Read {
        Read {
            key: key.hash64(),
            range,
        }
    }

    /// A dependency on `key` anywhere in the file.
    pub fn everywhere(key: Key) -> Read {
        Read::new(&key, 0..usize::MAX)
    }
}

/// What one unit holds, position-free (it stays valid while the unit's text is unchanged).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Hashes of the keys it holds, sorted.
    pub keys: Vec<KeyHash>,
    /// It binds names the file's imports resolve (imports, module-level assignments of names,
    /// module-level `def`/`class`).
    pub binds: bool,
    /// It holds syntax the dataflow reads whatever the names in it: a `def`, `class`, `lambda`,
    /// `yield`, generator expression, import, or a name spelled like `autotune`.
    pub flow_syntax: bool,
    /// It calls a pipeline source (set by an engine that has the imports: see
    /// [`super::dataflow::source_kind_of`]).
    pub holds_source: bool,
    /// The unit is one function whose only [`Summary::flow_syntax`] is its own `def`: its name.
    pub lone_def: Option<Box<str>>,
    /// The unit is a `def` or `class` (decorated or not) whose only [`Summary::flow_syntax`]
    /// are `def`s and `class`es.
    pub defs_only: bool,
    /// That function builds nothing when analysed alone (set by an engine: see
    /// [`super::dataflow::function_is_inert`]).
    pub def_inert: bool,
    /// The unit is import statements only.
    pub imports_only: bool,
    /// A Bloom filter of the names spelled as bare identifiers (not `x.<name>`, not a keyword
    /// argument's `<name>=`): see [`Summary::may_spell_bare`].
    pub bare_names: [u64; 4],
    /// A [`Summary::defs_only`] unit's every function builds nothing when analysed alone, and
    /// none of its classes is a PyDataset (set by an engine).
    pub defs_inert: bool,
    /// When the unit holds no import: the names it defines in the imports' table (sorted,
    /// see [`super::imports::Imports::local_names_of`]); `None` when it holds one or this was
    /// not computed (set by an engine).
    pub local_names: Option<Box<[Box<str>]>>,
}

impl Summary {
    pub fn holds(&self, key: KeyHash) -> bool {
        self.keys.binary_search(&key).is_ok()
    }

    /// Whether the unit may spell the name whose `Key::Ident` hash is `ident` as a bare
    /// identifier (false: certainly not; it may still spell it as an attribute or keyword).
    pub fn may_spell_bare(&self, ident: KeyHash) -> bool {
        self.holds(ident) && {
            let (word, bit) = bloom_bit(ident);
            self.bare_names[word] & bit != 0
        }
    }
}

/// What the text of a unit holding a key spells: the units worth indexing to answer a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling<'k> {
    /// The key's name (or assignment target), not inside a longer name.
    Name(&'k str),
    /// A keyword of the statements holding it.
    Text(&'static str),
    /// A `)` followed by a `(` (past whitespace, comments and line continuations): the end of
    /// a parenthesised callee and the start of its arguments.
    ParenCall,
    /// No unit holds the key.
    Nowhere,
}

impl Key {
    fn spelling(&self) -> Spelling<'_> {
        match self {
            Key::Calls(name)
            | Key::Method(name)
            | Key::Def(name)
            | Key::Ident(name)
            | Key::AttrOf(name)
            | Key::Assign(name)
            | Key::ModuleAssign(name)
            | Key::ModuleAttr(name)
            | Key::ModuleIdent(name)
            | Key::ModuleDef(name) => Spelling::Name(name),
            Key::ImportStatement => Spelling::Text("import"),
            Key::ModuleWith => Spelling::Text("with"),
            Key::ModuleReturn => Spelling::Text("return"),
            Key::ParenCall => Spelling::ParenCall,
            _ => Spelling::Nowhere,
        }
    }
}

/// Offsets in `text` where a unit holding a key with `spelling` spells it (a superset of
/// those: a name is a node's whole text, which the lexer never starts right after a letter
/// or `_` nor ends right before a letter, digit or `_`).
fn spelled_at(text: &[u8], spelling: Spelling) -> Vec<usize> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match spelling {
        Spelling::Name(name) => {
            let name = name.as_bytes();
            let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
                return Vec::new();
            };
            memchr::memmem::find_iter(text, name)
                .filter(|&at| {
                    let before = at.checked_sub(1).map(|i| text[i]);
                    let after = text.get(at + name.len()).copied();
                    let joined_before = is_word(first)
                        && before.is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
                    let joined_after = is_word(last) && after.is_some_and(is_word);
                    !joined_before && !joined_after
                })
                .collect()
        }
        Spelling::Text(word) => memchr::memmem::find_iter(text, word.as_bytes()).collect(),
        Spelling::ParenCall => memchr::memchr_iter(b')', text)
            .filter(|&at| opens_after_trivia(text, at + 1))
            .collect(),
        Spelling::Nowhere => Vec::new(),
    }
}

/// Whether `(` is the next byte at or after `at` but for whitespace, comments and line
/// continuations (or a comment or continuation makes it unclear: counted as yes).
fn opens_after_trivia(text: &[u8], at: usize) -> bool {
    for &b in text.get(at..).unwrap_or_default() {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => continue,
            b'(' | b'#' | b'\\' => return true,
            _ => return false,
        }
    }
    false
}

/// The word and bit of `bare_names` a `Key::Ident` hash sets.
fn bloom_bit(ident: KeyHash) -> (usize, u64) {
    let mixed = ident.rotate_right(29);
    ((mixed >> 6) as usize & 3, 1u64 << (mixed & 63))
}

/// Lookups by name inside one unit (its nodes in document order), built by one walk.
#[derive(Default)]
pub struct UnitIndex<'t> {
    calls_by_name: HashMap<&'t str, Vec<Node<'t>>>,
    calls_by_method: HashMap<&'t str, Vec<Node<'t>>>,
    paren_calls: Vec<Node<'t>>,
    functions: HashMap<&'t str, Node<'t>>,
    identifiers: HashMap<&'t str, Vec<Node<'t>>>,
    attributes_by_object: HashMap<&'t str, Vec<Node<'t>>>,
    imports: Vec<Node<'t>>,
    /// The module-level part (outside `def`/`class` bodies): see [`super::index::scope_nodes`].
    module_assignments: HashMap<&'t str, Vec<(usize, Node<'t>)>>,
    module_identifiers: HashMap<&'t str, Vec<Node<'t>>>,
    /// Names of the module-level `def`s and `class`es.
    module_definitions: HashSet<&'t str>,
    module_attributes: HashMap<&'t str, Vec<Node<'t>>>,
    module_with_items: Vec<Node<'t>>,
    module_returns: Vec<Node<'t>>,
    binds: bool,
    /// Names assigned (`name = value`) anywhere in the unit.
    assigned_names: HashSet<&'t str>,
    flow_syntax: bool,
    /// How many nodes make [`Summary::flow_syntax`] true.
    flow_syntax_nodes: usize,
    /// The function the unit is (a `def`, decorated or not), and its name.
    function: Option<(Node<'t>, &'t str)>,
    /// Whether the unit is a `def` or `class`, decorated or not.
    is_definition: bool,
    /// Every `def` and `class` in the unit.
    definitions: Vec<Node<'t>>,
    /// Whether the unit is an import statement.
    is_import: bool,
    /// Ids of identifiers seen as an attribute's name or a keyword's name, not yet reached.
    not_bare: Vec<usize>,
    /// Names spelled as bare identifiers somewhere in the unit.
    bare_names: HashSet<&'t str>,
}

fn push<'t>(map: &mut HashMap<&'t str, Vec<Node<'t>>>, key: &'t str, node: Node<'t>) {
    map.entry(key).or_default().push(node);
}

impl<'t> UnitIndex<'t> {
    /// Indexes `unit`, a child of the module node.
    pub fn build(source: &'t str, unit: Node<'t>) -> UnitIndex<'t> {
        let mut index = UnitIndex::default();
        let function = match unit.kind_name() {
            "decorated_definition" => unit.field("definition"),
            _ => Some(unit),
        }
        .filter(|f| f.kind_name() == "function_definition");
        index.function = function.and_then(|f| Some((f, text(source, f.field("name")?))));
        index.is_definition = matches!(
            unit.kind_name(),
            "decorated_definition" | "function_definition" | "class_definition"
        );
        index.is_import = matches!(
            unit.kind_name(),
            "import_statement" | "import_from_statement" | "future_import_statement"
        );
        let mut cursor = unit.walk();
        // How many `def`/`class` nodes enclose the cursor (0: module level).
        let mut nested = 0usize;
        let mut nesting: Vec<bool> = Vec::new();
        loop {
            let node = cursor.node();
            let is_scope = matches!(node.kind_name(), "function_definition" | "class_definition");
            if node.is_named() {
                index.add(source, node, nested == 0);
            }
            if cursor.goto_first_child() {
                nesting.push(is_scope);
                if is_scope {
                    nested += 1;
                }
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return index;
                }
                if nesting.pop() == Some(true) {
                    nested -= 1;
                }
            }
        }
    }

    /// `outer`: no `def`/`class` encloses `node` (it is module level unless it is one itself).
    fn add(&mut self, source: &'t str, node: Node<'t>, outer: bool) {
        let module_level =
            outer && !matches!(node.kind_name(), "function_definition" | "class_definition");
        let flow_syntax = match node.kind_name() {
            "function_definition"
            | "class_definition"
            | "lambda"
            | "yield"
            | "generator_expression"
            | "import_statement"
            | "import_from_statement"
            | "future_import_statement" => true,
            "identifier" => text(source, node).eq_ignore_ascii_case("autotune"),
            _ => false,
        };
        self.flow_syntax |= flow_syntax;
        self.flow_syntax_nodes += usize::from(flow_syntax);
        if node.kind_name() == "assignment"
            && let Some(left) = node.field("left")
            && left.kind_name() == "identifier"
        {
            self.assigned_names.insert(text(source, left));
        }
        match node.kind_name() {
            "call" => {
                let Some(function) = node.field("function") else {
                    return;
                };
                match function.kind_name() {
                    "identifier" => push(&mut self.calls_by_name, text(source, function), node),
                    "attribute" => {
                        if let Some(method) = function.field("attribute") {
                            push(&mut self.calls_by_method, text(source, method), node);
                        }
                    }
                    "parenthesized_expression" => self.paren_calls.push(node),
                    _ => {}
                }
            }
            "identifier" => {
                let name = text(source, node);
                if let Some(i) = self.not_bare.iter().position(|&id| id == node.id()) {
                    self.not_bare.swap_remove(i);
                } else {
                    self.bare_names.insert(name);
                }
                push(&mut self.identifiers, name, node);
                if module_level {
                    push(&mut self.module_identifiers, name, node);
                }
            }
            "attribute" => {
                if let Some(attribute) = node.field("attribute") {
                    self.not_bare.push(attribute.id());
                }
                if let Some(object) = node.field("object")
                    && object.kind_name() == "identifier"
                {
                    push(&mut self.attributes_by_object, text(source, object), node);
                }
                if module_level && let Some(attribute) = node.field("attribute") {
                    push(&mut self.module_attributes, text(source, attribute), node);
                }
            }
            "function_definition" | "class_definition" => {
                self.definitions.push(node);
                let name = node.field("name");
                if node.kind_name() == "function_definition"
                    && let Some(name) = name
                {
                    self.functions.entry(text(source, name)).or_insert(node);
                }
                // A module-level definition binds its name.
                if outer {
                    self.binds = true;
                    if let Some(name) = name {
                        self.module_definitions.insert(text(source, name));
                    }
                }
            }
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                self.imports.push(node);
                self.binds = true;
            }
            "assignment" if module_level => {
                if let Some(left) = node.field("left") {
                    if left.kind_name() == "identifier" {
                        self.binds = true;
                    }
                    if let Some(value) = assigned(node) {
                        self.module_assignments
                            .entry(text(source, left))
                            .or_default()
                            .push((node.start_byte(), value));
                    }
                }
            }
            "keyword_argument" => {
                if let Some(name) = node.field("name") {
                    self.not_bare.push(name.id());
                }
            }
            "with_item" if module_level => self.module_with_items.push(node),
            "return_statement" if module_level => self.module_returns.push(node),
            _ => {}
        }
    }

    /// Whether this unit holds `key` (one of [`UnitIndex::keys`]), answered from the index.
    pub fn holds(&self, key: &Key) -> bool {
        match key {
            Key::Calls(name) => self.calls_by_name.contains_key(&**name),
            Key::Method(name) => self.calls_by_method.contains_key(&**name),
            Key::Def(name) => self.functions.contains_key(&**name),
            Key::Assign(name) => self.assigned_names.contains(&**name),
            Key::Ident(name) => self.identifiers.contains_key(&**name),
            Key::AttrOf(name) => self.attributes_by_object.contains_key(&**name),
            Key::ModuleAssign(target) => self.module_assignments.contains_key(&**target),
            Key::ModuleIdent(name) => self.module_identifiers.contains_key(&**name),
            Key::ModuleDef(name) => self.module_definitions.contains(&**name),
            Key::ModuleAttr(name) => self.module_attributes.contains_key(&**name),
            Key::ImportStatement => !self.imports.is_empty(),
            Key::ModuleWith => !self.module_with_items.is_empty(),
            Key::ModuleReturn => !self.module_returns.is_empty(),
            Key::ParenCall => !self.paren_calls.is_empty(),
            _ => false,
        }
    }

    /// The keys this unit holds.
    pub fn keys(&self) -> HashSet<Key> {
        let mut keys = HashSet::default();
        let boxed = |s: &str| -> Box<str> { s.into() };
        keys.extend(self.calls_by_name.keys().map(|k| Key::Calls(boxed(k))));
        keys.extend(self.calls_by_method.keys().map(|k| Key::Method(boxed(k))));
        keys.extend(self.functions.keys().map(|k| Key::Def(boxed(k))));
        keys.extend(self.assigned_names.iter().map(|k| Key::Assign(boxed(k))));
        keys.extend(self.identifiers.keys().map(|k| Key::Ident(boxed(k))));
        keys.extend(
            self.attributes_by_object
                .keys()
                .map(|k| Key::AttrOf(boxed(k))),
        );
        keys.extend(
            self.module_assignments
                .keys()
                .map(|k| Key::ModuleAssign(boxed(k))),
        );
        keys.extend(
            self.module_identifiers
                .keys()
                .map(|k| Key::ModuleIdent(boxed(k))),
        );
        keys.extend(
            self.module_definitions
                .iter()
                .map(|k| Key::ModuleDef(boxed(k))),
        );
        keys.extend(
            self.module_attributes
                .keys()
                .map(|k| Key::ModuleAttr(boxed(k))),
        );
        if !self.imports.is_empty() {
            keys.insert(Key::ImportStatement);
        }
        if !self.module_with_items.is_empty() {
            keys.insert(Key::ModuleWith);
        }
        if !self.module_returns.is_empty() {
            keys.insert(Key::ModuleReturn);
        }
        if !self.paren_calls.is_empty() {
            keys.insert(Key::ParenCall);
        }
        keys
    }

    /// The keys this unit holds, and what an incremental engine keeps of it.
    pub fn summary(&self) -> Summary {
        let mut keys: Vec<KeyHash> = self.keys().iter().map(Key::hash64).collect();
        keys.sort_unstable();
        keys.dedup();
        Summary {
            keys,
            binds: self.binds,
            flow_syntax: self.flow_syntax,
            holds_source: false,
            lone_def: self
                .function
                .filter(|_| self.flow_syntax_nodes == 1)
                .map(|(_, name)| Box::from(name)),
            defs_only: self.is_definition && self.flow_syntax_nodes == self.definitions.len(),
            imports_only: self.is_import && self.flow_syntax_nodes == self.imports.len(),
            bare_names: self.bare_names.iter().fold([0; 4], |mut bloom, name| {
                let (word, bit) = bloom_bit(Key::Ident((*name).into()).hash64());
                bloom[word] |= bit;
                bloom
            }),
            def_inert: false,
            defs_inert: false,
            local_names: None,
        }
    }

    /// The function the unit is (a `def`, decorated or not).
    pub fn unit_function(&self) -> Option<Node<'t>> {
        self.function.map(|(f, _)| f)
    }

    /// Every `def` and `class` in the unit.
    pub fn definitions(&self) -> &[Node<'t>] {
        &self.definitions
    }

    /// Every call in the unit.
    pub fn calls(&self) -> impl Iterator<Item = Node<'t>> + '_ {
        self.calls_by_name
            .values()
            .chain(self.calls_by_method.values())
            .flatten()
            .chain(&self.paren_calls)
            .copied()
    }

    pub fn calls_of(&self, name: &str) -> &[Node<'t>] {
        self.calls_by_name.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn method_calls(&self, method: &str) -> &[Node<'t>] {
        self.calls_by_method.get(method).map_or(&[], Vec::as_slice)
    }

    pub fn function(&self, name: &str) -> Option<Node<'t>> {
        self.functions.get(name).copied()
    }

    pub fn paren_calls(&self) -> &[Node<'t>] {
        &self.paren_calls
    }

    pub fn identifiers(&self, name: &str) -> &[Node<'t>] {
        self.identifiers.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn attributes_of(&self, object: &str) -> &[Node<'t>] {
        self.attributes_by_object
            .get(object)
            .map_or(&[], Vec::as_slice)
    }

    pub fn imports(&self) -> &[Node<'t>] {
        &self.imports
    }

    pub fn module_assignments(&self, target: &str) -> &[(usize, Node<'t>)] {
        self.module_assignments
            .get(target)
            .map_or(&[], Vec::as_slice)
    }

    pub fn module_identifiers(&self, name: &str) -> &[Node<'t>] {
        self.module_identifiers.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn module_attributes(&self, attribute: &str) -> &[Node<'t>] {
        self.module_attributes
            .get(attribute)
            .map_or(&[], Vec::as_slice)
    }

    pub fn module_with_items(&self) -> &[Node<'t>] {
        &self.module_with_items
    }

    pub fn module_returns(&self) -> &[Node<'t>] {
        &self.module_returns
    }
}

/// The value of an assignment, through `a = b = value`; `None` for annotations without one.
pub fn assigned(assignment: Node) -> Option<Node> {
    let mut right = assignment.field("right")?;
    let mut guard = 0;
    while right.kind_name() == "assignment" && guard < MAX_CHAIN {
        right = right.field("right")?;
        guard += 1;
    }
    Some(right)
}

/// The key index of a file's units: which units hold each key.
#[derive(Debug, Default, Clone)]
pub struct KeyIndex {
    by_key: HashMap<KeyHash, Vec<u32>>,
}

impl KeyIndex {
    /// Adds unit `id`'s keys.
    pub fn insert(&mut self, id: u32, summary: &Summary) {
        for &key in &summary.keys {
            self.by_key.entry(key).or_default().push(id);
        }
    }

    /// Removes unit `id`'s keys.
    pub fn remove(&mut self, id: u32, summary: &Summary) {
        for key in &summary.keys {
            if let Some(ids) = self.by_key.get_mut(key) {
                if let Some(i) = ids.iter().rposition(|&x| x == id) {
                    ids.swap_remove(i);
                }
                if ids.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
    }

    /// The ids of the units holding `key` (any order).
    pub fn ids(&self, key: KeyHash) -> &[u32] {
        self.by_key.get(&key).map_or(&[], Vec::as_slice)
    }
}

// ---------------------------------------------------------------------------------------------
// Whole-file and module-scope lookups on `Context`, through the units.
// ---------------------------------------------------------------------------------------------

/// How many keys' units are found by scanning the text before a context without an engine's
/// summaries indexes every unit instead (each scan reads the whole text; a file analysed once
/// asks a few dozen keys, most of them spelled in few units).
const SCANS_BEFORE_INDEXING_ALL: usize = 256;

use std::rc::Rc;
use std::sync::Arc;

use super::index::ScopeIndex;
use super::{Context, Units};

impl<'a> Context<'a> {
    fn units(&self) -> &Units<'a> {
        self.units.get_or_init(|| Units {
            nodes: self.statements().to_vec(),
            by_key: std::cell::RefCell::new(HashMap::default()),
            scanned: std::cell::Cell::new(0),
        })
    }

    /// The indices (document order) of the units holding `key`; records the read over `range`
    /// (nothing when the range is empty: the caller records a narrower one itself).
    fn candidates(&self, key: Key, range: Range<usize>) -> Vec<usize> {
        let hash = key.hash64();
        let mut found: Vec<usize> = match &self.provided {
            Some(provided) => provided
                .keys
                .ids(hash)
                .iter()
                .filter_map(|id| provided.index_of.get(id).copied())
                .collect(),
            None => self.units_holding_key(&key, hash),
        };
        found.sort_unstable();
        if !range.is_empty() {
            self.record(Read { key: hash, range });
        }
        found
    }

    /// Without an engine's summaries: the units holding `key`, found among those that spell it
    /// (so only those are indexed), and kept for the next lookup. Once the scans for the keys
    /// asked have read the text [`SCANS_BEFORE_INDEXING_ALL`] times over, every unit is indexed
    /// and each key's units are read off their summaries.
    fn units_holding_key(&self, key: &Key, hash: KeyHash) -> Vec<usize> {
        let units = self.units();
        if let Some(found) = units.by_key.borrow().get(&hash) {
            return found.clone();
        }
        let scans = units.scanned.get();
        if scans == usize::MAX {
            // Every unit was summarised: a key missing from the table is held nowhere.
            return Vec::new();
        }
        if scans >= SCANS_BEFORE_INDEXING_ALL {
            let mut by_key: HashMap<KeyHash, Vec<usize>> = HashMap::default();
            for i in 0..units.nodes.len() {
                for key in self.unit_index(i).summary().keys {
                    by_key.entry(key).or_default().push(i);
                }
            }
            units.scanned.set(usize::MAX);
            let found = by_key.get(&hash).cloned().unwrap_or_default();
            *units.by_key.borrow_mut() = by_key;
            return found;
        }
        units.scanned.set(scans + 1);
        let mut found: Vec<usize> = Vec::new();
        let mut next = 0;
        for at in spelled_at(self.source.as_bytes(), key.spelling()) {
            // The units are in document order, as are the offsets.
            while next < units.nodes.len() && units.nodes[next].end_byte() <= at {
                next += 1;
            }
            let Some(node) = units.nodes.get(next) else {
                break;
            };
            if node.start_byte() <= at && found.last() != Some(&next) {
                found.push(next);
            }
        }
        found.retain(|&i| self.unit_index(i).holds(key));
        units.by_key.borrow_mut().insert(hash, found.clone());
        found
    }

    /// The values assigned to `target` at module level (outside every `def` and `class`), in
    /// document order; records the read.
    pub fn module_assigned_values(&self, target: &str) -> Vec<Node<'a>> {
        let units = self.candidates(Key::ModuleAssign(target.into()), 0..usize::MAX);
        units
            .into_iter()
            .flat_map(|i| {
                let index = self.unit_index(i);
                index
                    .module_assignments(target)
                    .iter()
                    .map(|&(_, value)| value)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The units (top-level statements, document order) holding `key`; records the read.
    pub fn units_holding(&self, key: Key) -> Vec<Node<'a>> {
        let nodes = &self.units().nodes;
        self.candidates(key, 0..usize::MAX)
            .into_iter()
            .map(|i| nodes[i])
            .collect()
    }

    /// The index of unit `i`, built on first use.
    fn unit_index(&self, i: usize) -> Arc<UnitIndex<'a>> {
        if let Some(found) = self.unit_indexes.borrow().get(&i) {
            return found.clone();
        }
        let node = self.units().nodes[i];
        let built = Arc::new(UnitIndex::build(self.source, node));
        self.unit_indexes.borrow_mut().insert(i, built.clone());
        built
    }

    fn collect(&self, key: Key, get: impl Fn(&UnitIndex<'a>) -> Vec<Node<'a>>) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        for i in self.candidates(key, 0..usize::MAX) {
            out.extend(get(&self.unit_index(i)));
        }
        out
    }

    /// Calls `name(...)` anywhere, in document order.
    pub fn calls_of(&self, name: &str) -> Vec<Node<'a>> {
        self.collect(Key::Calls(name.into()), |u| u.calls_of(name).to_vec())
    }

    /// Calls `<x>.method(...)` anywhere, in document order.
    pub fn method_calls(&self, method: &str) -> Vec<Node<'a>> {
        self.collect(Key::Method(method.into()), |u| {
            u.method_calls(method).to_vec()
        })
    }

    /// Calls whose callee is parenthesised (`(f)(...)`), in document order.
    pub fn paren_calls(&self) -> Vec<Node<'a>> {
        self.collect(Key::ParenCall, |u| u.paren_calls().to_vec())
    }

    /// The first `def name` in the file (methods and nested functions included).
    pub fn function(&self, name: &str) -> Option<Node<'a>> {
        let first = *self
            .candidates(Key::Def(name.into()), 0..usize::MAX)
            .first()?;
        self.unit_index(first).function(name)
    }

    /// Every identifier spelled `name`, in document order.
    pub fn identifiers(&self, name: &str) -> Vec<Node<'a>> {
        self.collect(Key::Ident(name.into()), |u| u.identifiers(name).to_vec())
    }

    /// Every attribute `object.<x>`, in document order.
    pub fn attributes_of(&self, object: &str) -> Vec<Node<'a>> {
        self.collect(Key::AttrOf(object.into()), |u| {
            u.attributes_of(object).to_vec()
        })
    }

    /// Every `import` and `from ... import` statement (not `__future__`), in document order.
    pub fn import_statements(&self) -> Vec<Node<'a>> {
        self.collect(Key::ImportStatement, |u| {
            u.imports()
                .iter()
                .copied()
                .filter(|n| n.kind_name() != "future_import_statement")
                .collect()
        })
    }
}

/// A scope's lookups: the module's (answered from its units, reads recorded) or another's.
pub enum Scope<'c, 'a> {
    Module(&'c Context<'a>),
    Local(Rc<ScopeIndex<'a>>),
}

impl<'a> Scope<'_, 'a> {
    /// The value last assigned to `target` by an assignment starting before `before`.
    pub fn last_assignment(&self, target: &str, before: usize) -> Option<Node<'a>> {
        let ctx = match self {
            Scope::Local(index) => return index.last_assignment(target, before),
            Scope::Module(ctx) => *ctx,
        };
        let key = Key::ModuleAssign(target.into());
        let units = ctx.candidates(key.clone(), 0..0);
        for &i in units.iter().rev() {
            let node = ctx.units().nodes[i];
            if node.start_byte() >= before {
                continue;
            }
            let index = ctx.unit_index(i);
            let list = index.module_assignments(target);
            let end = list.partition_point(|&(start, _)| start < before);
            if let Some(&(start, value)) = end.checked_sub(1).map(|k| &list[k]) {
                // Depends on this assignment and on anything assigning `target` after it.
                ctx.record(Read::new(&key, start..before));
                return Some(value);
            }
        }
        ctx.record(Read::new(&key, 0..before));
        None
    }

    fn module_nodes(
        ctx: &Context<'a>,
        key: Key,
        get: impl Fn(&UnitIndex<'a>) -> Vec<Node<'a>>,
    ) -> Vec<Node<'a>> {
        ctx.collect(key, get)
    }

    /// `with` items.
    pub fn with_items(&self) -> Vec<Node<'a>> {
        match self {
            Scope::Local(index) => index.with_items.clone(),
            Scope::Module(ctx) => {
                Self::module_nodes(ctx, Key::ModuleWith, |u| u.module_with_items().to_vec())
            }
        }
    }

    /// `return` statements.
    pub fn returns(&self) -> Vec<Node<'a>> {
        match self {
            Scope::Local(index) => index.returns.clone(),
            Scope::Module(ctx) => {
                Self::module_nodes(ctx, Key::ModuleReturn, |u| u.module_returns().to_vec())
            }
        }
    }

    /// Identifiers spelled `name`.
    pub fn identifiers(&self, name: &str) -> Vec<Node<'a>> {
        match self {
            Scope::Local(index) => index.identifiers(name).to_vec(),
            Scope::Module(ctx) => Self::module_nodes(ctx, Key::ModuleIdent(name.into()), |u| {
                u.module_identifiers(name).to_vec()
            }),
        }
    }

    /// Attributes `<x>.attribute`.
    pub fn attributes(&self, attribute: &str) -> Vec<Node<'a>> {
        match self {
            Scope::Local(index) => index.attributes(attribute).to_vec(),
            Scope::Module(ctx) => Self::module_nodes(ctx, Key::ModuleAttr(attribute.into()), |u| {
                u.module_attributes(attribute).to_vec()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Context;
    use crate::settings::Settings;

    /// Every kind of key, in valid and broken code, with names inside longer names and strings.
    fn source() -> String {
        let mut source = String::from(
            r#"from __future__ import annotations
import tensorflow as tf
from keras import layers as L
with tf.device("/cpu:0"):
    model = L.Dense(3)(inputs)
x, y = 1, 2
model.fit = None
(f)(x)
(g) \
  (y)
(h)  # a comment
(z)
@decorate
def build(ds, batch=32):
    ds = ds.batch(batch)
    return ds
class Loader(Base):
    def load(self):
        return self.items
return model
fit_model = "fit model"
1x = 2
ñx = 3
→x = 4
async def run():
    async with lock:
        await model.fit(build(train_ds))
"#,
        );
        // Enough names that the lookups below outnumber the scans made before indexing all.
        for i in 0..150 {
            source.push_str(&format!("v{i} = f{i}(w{i}.a{i})\n"));
        }
        source
    }

    #[test]
    fn a_unit_holds_exactly_the_keys_of_its_summary() {
        let source = source();
        let forest = crate::forest::parse(&source);
        let indexes: Vec<UnitIndex> = forest
            .statements()
            .into_iter()
            .map(|unit| UnitIndex::build(&source, unit))
            .collect();
        let mut keys: HashSet<Key> = indexes.iter().flat_map(UnitIndex::keys).collect();
        keys.extend([Key::Ident("absent".into()), Key::Dataflow, Key::ImportPlace]);
        for index in &indexes {
            let summary = index.summary();
            for key in &keys {
                assert_eq!(index.holds(key), summary.holds(key.hash64()), "{key:?}");
            }
        }
    }

    #[test]
    fn lookups_find_the_units_whose_summaries_hold_the_key() {
        let source = source();
        let forest = crate::forest::parse(&source);
        let units = forest.statements();
        let mut expected: HashMap<KeyHash, Vec<usize>> = HashMap::default();
        let mut keys: Vec<Key> = Vec::new();
        for (i, &unit) in units.iter().enumerate() {
            let index = UnitIndex::build(&source, unit);
            for key in index.keys() {
                expected.entry(key.hash64()).or_default().push(i);
                keys.push(key);
            }
        }
        keys.sort_by_key(|k| format!("{k:?}"));
        keys.dedup();
        keys.extend([
            Key::Ident("absent".into()),
            Key::Calls("x".into()),
            Key::Dataflow,
        ]);
        assert!(
            keys.len() > SCANS_BEFORE_INDEXING_ALL + 10,
            "{}",
            keys.len()
        );
        let settings = Settings::default();
        let want = |key: &Key| expected.get(&key.hash64()).cloned().unwrap_or_default();
        // Each key first asked of a context: found by scanning the text.
        for key in &keys {
            let ctx = Context::new(&source, &forest, &settings);
            assert_eq!(ctx.candidates(key.clone(), 0..0), want(key), "{key:?}");
            assert_eq!(ctx.units().scanned.get(), 1);
        }
        // All asked of one context, twice: from the table kept, and past the scans' budget
        // from every unit's summary.
        let ctx = Context::new(&source, &forest, &settings);
        for _ in 0..2 {
            for key in &keys {
                assert_eq!(ctx.candidates(key.clone(), 0..0), want(key), "{key:?}");
            }
        }
        assert_eq!(ctx.units().scanned.get(), usize::MAX);
    }

    #[test]
    fn names_are_spelled_whole_and_paren_calls_after_trivia() {
        let text = b"fit(x); refit(x); fit_x; x.fit; (f) # c\n (y); (g) + (h)";
        let at = |s| spelled_at(text, s);
        assert_eq!(at(Spelling::Name("fit")), [0, 27]);
        assert_eq!(at(Spelling::Name("x")), [4, 14, 25]);
        assert_eq!(at(Spelling::Name("x.fit")), [25]);
        assert_eq!(at(Spelling::ParenCall), [34]);
        assert_eq!(at(Spelling::Text("fit")), [0, 10, 18, 27]);
        assert!(at(Spelling::Nowhere).is_empty());
    }
}
