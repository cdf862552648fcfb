//! The text every match of a rule's query pattern must contain, read off the pattern's predicates.
//!
//! Running a query costs a walk of every node it is run over: over a whole file that is about as
//! long as parsing it. Most rule patterns, though, compare a captured node with literal text
//! (`(#eq? @_method "compile")`, `(#any-of? @_keyword "fit" "evaluate")`); a match of such a pattern
//! spans one of those literals, so the pattern only needs running over the places where the text
//! holds one. This module derives those literals ("needles") from the query source.
//!
//! A predicate yields needles only when it must hold of a node that every match has: tree-sitter
//! counts a text predicate on a capture with no node as satisfied, so a capture inside an
//! alternation (`[...]`) or under a quantifier (`?`, `*`, `+`) gives nothing. Negated predicates
//! give nothing either, nor does a regex unless a literal run of it is certain (`^["']selu["']$`
//! has `selu`; `a|b` has none).

/// For each top-level pattern of `query`, in order: strings one of which every match of the pattern
/// spans (the text of a node inside it), or `None` when the pattern's predicates do not tell.
pub fn pattern_needles(query: &str) -> Vec<Option<Vec<String>>> {
    pattern_needle_sites(query)
        .into_iter()
        .map(|site| site.map(|s| s.texts))
        .collect()
}

/// The needles of one pattern, and where a match's root is from an occurrence of one.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternNeedles {
    /// Every match spans one of these.
    pub texts: Vec<String>,
    /// The node compared is exactly the needle's text (`#eq?`, `#any-of?`); otherwise (a regex)
    /// it only contains it.
    pub exact: bool,
    /// At most how many levels the compared node is below the pattern's root (groupings and
    /// alternations count as levels too, so this may overstate it, never understate it).
    pub depth: usize,
    /// The node kinds the pattern's root can have (`None`: any, for a wildcard or an
    /// anonymous node).
    pub root_kinds: Option<Vec<String>>,
}

/// [`pattern_needles`], with what tells where the matches' roots are.
pub fn pattern_needle_sites(query: &str) -> Vec<Option<PatternNeedles>> {
    let tokens = tokenize(query);
    let mut pos = 0;
    let patterns = parse_items(&tokens, &mut pos);
    patterns.iter().map(needles_of).collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenAlt,
    CloseAlt,
    Str(String),
    Capture(String),
    Quantifier,
    /// A node kind, field name (`name:`), anchor (`.`), wildcard or predicate name (`#eq?`).
    Word(String),
}

fn tokenize(query: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ';' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '[' => tokens.push(Token::OpenAlt),
            ']' => tokens.push(Token::CloseAlt),
            '?' | '*' | '+' => tokens.push(Token::Quantifier),
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => text.push('\n'),
                            Some('t') => text.push('\t'),
                            Some('r') => text.push('\r'),
                            Some('0') => text.push('\0'),
                            Some(other) => text.push(other),
                            None => break,
                        },
                        other => text.push(other),
                    }
                }
                tokens.push(Token::Str(text));
            }
            c if c.is_whitespace() => {}
            '@' => tokens.push(Token::Capture(word(None, &mut chars))),
            c => tokens.push(Token::Word(word(Some(c), &mut chars))),
        }
    }
    tokens
}

/// A name starting with `first`: up to whitespace, a delimiter or a quantifier (except in a
/// predicate's name: `#eq?`).
fn word(first: Option<char>, chars: &mut std::iter::Peekable<std::str::Chars>) -> String {
    let predicate = first == Some('#');
    let mut text: String = first.into_iter().collect();
    while let Some(&c) = chars.peek() {
        let delimiter = matches!(c, '(' | ')' | '[' | ']' | '"' | ';' | '@');
        let quantifier = matches!(c, '*' | '+') || (c == '?' && !predicate);
        if c.is_whitespace() || delimiter || quantifier {
            break;
        }
        text.push(c);
        chars.next();
    }
    text
}

/// A piece of a pattern.
#[derive(Debug, Default)]
struct Item {
    /// `[...]`: one of the children matches, not all.
    alternation: bool,
    /// Followed by `?`, `*` or `+`.
    quantified: bool,
    /// The captures naming this item.
    captures: Vec<String>,
    /// For a word (a node kind or `_`): the word.
    word: Option<String>,
    children: Vec<Item>,
    /// `(#name @capture "text"...)`.
    predicate: Option<Predicate>,
}

#[derive(Debug)]
struct Predicate {
    name: String,
    capture: Option<String>,
    strings: Vec<String>,
    /// Another capture or word among the arguments.
    other_arguments: bool,
}

/// Items up to the closing token of the enclosing group (or the end), with their suffixes.
fn parse_items(tokens: &[Token], pos: &mut usize) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    while let Some(token) = tokens.get(*pos) {
        *pos += 1;
        match token {
            Token::Close | Token::CloseAlt => break,
            Token::Open if matches!(tokens.get(*pos), Some(Token::Word(w)) if w.starts_with('#')) =>
            {
                items.push(Item {
                    predicate: Some(parse_predicate(tokens, pos)),
                    ..Item::default()
                });
            }
            Token::Open | Token::OpenAlt => {
                let alternation = *token == Token::OpenAlt;
                let children = parse_items(tokens, pos);
                items.push(Item {
                    alternation,
                    children,
                    ..Item::default()
                });
            }
            Token::Str(_) => items.push(Item::default()),
            Token::Word(w) if w.ends_with(':') || w == "." || w.starts_with('!') => {}
            Token::Word(w) => items.push(Item {
                word: Some(w.clone()),
                ..Item::default()
            }),
            Token::Quantifier => {
                if let Some(last) = items.last_mut() {
                    last.quantified = true;
                }
            }
            Token::Capture(name) => {
                if let Some(last) = items.last_mut() {
                    last.captures.push(name.clone());
                }
            }
        }
    }
    items
}

fn parse_predicate(tokens: &[Token], pos: &mut usize) -> Predicate {
    let Some(Token::Word(name)) = tokens.get(*pos) else {
        unreachable!("called at `(#`");
    };
    *pos += 1;
    let mut predicate = Predicate {
        name: name.trim_start_matches('#').to_string(),
        capture: None,
        strings: Vec::new(),
        other_arguments: false,
    };
    while let Some(token) = tokens.get(*pos) {
        *pos += 1;
        match token {
            Token::Close => break,
            Token::Capture(c) if predicate.capture.is_none() && predicate.strings.is_empty() => {
                predicate.capture = Some(c.clone());
            }
            Token::Str(s) => predicate.strings.push(s.clone()),
            _ => predicate.other_arguments = true,
        }
    }
    predicate
}

/// The needles of one pattern: those of its most selective predicate (longest shortest needle).
fn needles_of(pattern: &Item) -> Option<PatternNeedles> {
    let mut certain = Vec::new();
    certain_captures(pattern, true, 0, &mut certain);
    let mut predicates = Vec::new();
    predicates_in(pattern, &mut predicates);
    predicates
        .into_iter()
        .filter_map(|p| {
            if p.other_arguments || p.strings.is_empty() {
                return None;
            }
            let capture = p.capture.as_ref()?;
            let depth = certain
                .iter()
                .filter(|(name, _)| name == capture)
                .map(|&(_, depth)| depth)
                .max()?;
            let (texts, exact) = match p.name.as_str() {
                "eq?" | "any-eq?" | "any-of?" => (p.strings.clone(), true),
                "match?" | "any-match?" => {
                    let [regex] = p.strings.as_slice() else {
                        return None;
                    };
                    (vec![regex_needle(regex)?], false)
                }
                _ => return None,
            };
            Some(PatternNeedles {
                texts,
                exact,
                depth,
                root_kinds: root_kinds(pattern),
            })
        })
        .filter(|needles| needles.texts.iter().all(|n| !n.is_empty()))
        .max_by_key(|needles| needles.texts.iter().map(|n| n.len()).min())
}

/// The kinds a match of `item` can have at its root: `(kind ...)` has `kind`; an alternation any
/// of its branches'; a grouping (`((kind) (#pred))`) its first node's. `None`: any kind.
fn root_kinds(item: &Item) -> Option<Vec<String>> {
    if item.alternation {
        let mut kinds = Vec::new();
        for branch in &item.children {
            kinds.extend(root_kinds(branch)?);
        }
        return Some(kinds);
    }
    if let Some(word) = &item.word {
        return (word != "_").then(|| vec![word.clone()]);
    }
    let first = item.children.iter().find(|c| c.predicate.is_none())?;
    match &first.word {
        Some(word) => (word != "_").then(|| vec![word.clone()]),
        None => root_kinds(first),
    }
}

/// Captures that name a node every match has, with how deep in the pattern they are.
fn certain_captures(item: &Item, certain: bool, depth: usize, out: &mut Vec<(String, usize)>) {
    let here = certain && !item.quantified;
    if here {
        out.extend(item.captures.iter().map(|c| (c.clone(), depth)));
    }
    for child in &item.children {
        certain_captures(child, here && !item.alternation, depth + 1, out);
    }
}

fn predicates_in<'i>(item: &'i Item, out: &mut Vec<&'i Predicate>) {
    out.extend(item.predicate.as_ref());
    for child in &item.children {
        predicates_in(child, out);
    }
}

/// The longest literal run every match of `regex` contains, when the regex is simple enough to
/// tell (no groups or alternation); at least two characters.
fn regex_needle(regex: &str) -> Option<String> {
    let mut runs: Vec<String> = vec![String::new()];
    let mut chars = regex.chars().peekable();
    while let Some(c) = chars.next() {
        let literal = match c {
            '(' | ')' | '|' => return None,
            '[' => {
                // A class: skip to its end.
                let mut first = true;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        ']' if !first => break,
                        _ => {}
                    }
                    first = false;
                }
                None
            }
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => Some(e),
                _ => None,
            },
            '.' | '^' | '$' => None,
            '?' | '*' | '{' => {
                // The previous character may be absent: it leaves the run.
                let run = runs.last_mut().expect("never empty");
                run.pop();
                if c == '{' {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                }
                None
            }
            '+' => None,
            c => Some(c),
        };
        match literal {
            Some(c) => runs.last_mut().expect("never empty").push(c),
            None => {
                if !runs.last().expect("never empty").is_empty() {
                    runs.push(String::new());
                }
            }
        }
    }
    runs.into_iter()
        .filter(|r| r.chars().count() >= 2)
        .max_by_key(|r| r.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(query: &str) -> Vec<Option<Vec<&'static str>>> {
        pattern_needles(query)
            .into_iter()
            .map(|n| n.map(|v| v.into_iter().map(|s| &*s.leak()).collect()))
            .collect()
    }

    #[test]
    fn literal_predicates_on_certain_captures_give_needles() {
        let query = r#"
; a comment (#eq? @x "no")
(call
  function: (attribute attribute: (identifier) @_method)
  arguments: (argument_list (keyword_argument name: (identifier) @_keyword) @argument)
  (#any-of? @_method "fit" "evaluate")
  (#any-of? @_keyword "batch_size" "validation_batch_size")) @call
(keyword_argument name: (identifier) @_k (#eq? @_k "save_freq"))
((string) @activation (#match? @activation "^[rRuU]?[\"']selu[\"']$"))
(module) @module
"#;
        assert_eq!(
            needles(query),
            vec![
                Some(vec!["batch_size", "validation_batch_size"]),
                Some(vec!["save_freq"]),
                Some(vec!["selu"]),
                None,
            ]
        );
    }

    #[test]
    fn needles_tell_how_far_above_them_and_of_what_kind_the_root_is() {
        let query = r#"
(call
  function: (attribute attribute: (identifier) @_method)
  (#eq? @_method "fit")) @call
((string) @activation (#match? @activation "^[\"']selu[\"']$"))
([(keyword_argument) (call)] @_k (#eq? @_k "x"))
(_ (identifier) @_k (#eq? @_k "y"))
"#;
        let sites: Vec<(bool, usize, Option<Vec<String>>)> = pattern_needle_sites(query)
            .into_iter()
            .map(|s| {
                let s = s.expect("needles");
                (s.exact, s.depth, s.root_kinds)
            })
            .collect();
        let kinds = |k: &[&str]| Some(k.iter().map(|k| k.to_string()).collect());
        assert_eq!(
            sites,
            vec![
                (true, 2, kinds(&["call"])),
                (false, 1, kinds(&["string"])),
                (true, 1, kinds(&["keyword_argument", "call"])),
                (true, 1, None),
            ]
        );
    }

    #[test]
    fn captures_a_match_may_lack_give_none() {
        let query = r#"
(call function: [(identifier) @f (attribute)] (#eq? @f "fit"))
(call (argument_list (identifier)? @a) (#eq? @a "x"))
(call (argument_list ((identifier) @a)*) (#eq? @a "x"))
(call function: (identifier) @f (#not-eq? @f "fit"))
(call function: (identifier) @f (#eq? @f @f))
(call function: (identifier) @f (#match? @f "fit|evaluate"))
([(call function: (identifier) @f) (attribute)] (#eq? @f "fit"))
"#;
        assert_eq!(needles(query), vec![None; 7]);
    }

    #[test]
    fn captures_outside_an_alternation_still_count() {
        let query = r#"
(call
  function: (_) @callee
  arguments: (argument_list (keyword_argument name: (identifier) @_k value: [(string) (integer)] @v))
  (#eq? @_k "update_freq")) @call
([(call) (attribute)] @x (#any-of? @x "abc" "abd"))
"#;
        assert_eq!(
            needles(query),
            vec![Some(vec!["update_freq"]), Some(vec!["abc", "abd"])]
        );
    }

    #[test]
    fn regexes_give_their_longest_certain_literal_run() {
        assert_eq!(
            regex_needle(r#"^[rRuU]?["']selu["']$"#).as_deref(),
            Some("selu")
        );
        assert_eq!(
            regex_needle("^kernel_initial+izer$").as_deref(),
            Some("kernel_initial")
        );
        assert_eq!(regex_needle("^abx?cde").as_deref(), Some("cde"));
        assert_eq!(regex_needle("ab.cdef").as_deref(), Some("cdef"));
        assert_eq!(regex_needle(r"save\.freq").as_deref(), Some("save.freq"));
        assert_eq!(regex_needle(r"\w+x"), None);
        assert_eq!(regex_needle("a(bc)"), None);
        assert_eq!(regex_needle("ab|cd"), None);
        assert_eq!(regex_needle("abc{2}d").as_deref(), Some("ab"));
    }
}
