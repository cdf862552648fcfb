use std::time::Instant;
use streaming_iterator::StreamingIterator;
fn run(q: &tree_sitter::Query, tree: &tree_sitter::Tree, src: &str) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut c = tree_sitter::QueryCursor::new();
        let mut m = c.matches(q, tree.root_node(), src.as_bytes());
        n = 0;
        while let Some(_) = m.next() {
            n += 1;
        }
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    (best, n)
}
fn main() {
    let lang: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
    let dir = std::env::args().nth(1).unwrap();
    let file = std::env::args().nth(2).unwrap();
    let src = std::fs::read_to_string(&file).unwrap();
    let mut p = tree_sitter::Parser::new();
    p.set_language(&lang).unwrap();
    let t = Instant::now();
    let tree = p.parse(&src, None).unwrap();
    println!("parse {:.2} ms", t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let mut c = tree.walk();
    let mut k = 0usize;
    'o: loop {
        k += 1;
        if c.goto_first_child() {
            continue;
        }
        loop {
            if c.goto_next_sibling() {
                break;
            }
            if !c.goto_parent() {
                break 'o;
            }
        }
    }
    println!(
        "walk {:.2} ms ({} nodes)",
        t.elapsed().as_secs_f64() * 1000.0,
        k
    );
    let mut all = String::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let s = std::fs::read_to_string(&p).unwrap();
        all.push_str(&s);
        all.push('\n');
        let q = tree_sitter::Query::new(&lang, &s).unwrap();
        let (ms, n) = run(&q, &tree, &src);
        println!(
            "{:8.2} ms {:5} matches {}",
            ms,
            n,
            p.file_name().unwrap().to_string_lossy()
        );
    }
    let q = tree_sitter::Query::new(&lang, &all).unwrap();
    let (ms, n) = run(&q, &tree, &src);
    println!("combined {:.2} ms {} matches", ms, n);
}
