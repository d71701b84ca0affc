//! The product's modules form layers: no top-level module of `src/` reaches, through the
//! `crate::` paths of its code, a module that reaches back to it. An import circle makes
//! every module of the circle a dependency of every other, so a change in one means
//! reading them all; this test names the circle and the files that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → (module it names → a file of the first that names it).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "main.rs" | "lib.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The `crate::<module>` names in code (comments and doc comments left out).
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        // `use crate::{a, b::c}` names several modules at once.
        if let Some(group) = code.split("crate::{").nth(1) {
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn graph(src: &Path) -> Graph {
    let mut g = Graph::new();
    let mut modules = BTreeSet::new();
    let files: Vec<_> = crate::common::files_under(src)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .collect();
    for f in &files {
        if let Some(m) = module_of(src, f) {
            modules.insert(m);
        }
    }
    for f in &files {
        let Some(from) = module_of(src, f) else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("source file");
        for to in named_modules(&text) {
            if to != from && modules.contains(&to) {
                g.entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| f.display().to_string());
            }
        }
    }
    g
}

/// A circle through `start`, as the modules in order, if there is one.
fn circle_through(g: &Graph, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &Graph,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in g.get(at).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(g, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_module_of_the_product_imports_a_module_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(
        g.get("pipeline").is_some_and(|m| m.contains_key("lake")),
        "the reader misses plain imports: {g:?}"
    );
    let mut circles = Vec::new();
    for start in g.keys() {
        if let Some(path) = circle_through(&g, start) {
            let steps: Vec<String> = path
                .iter()
                .zip(path.iter().skip(1).chain(std::iter::once(&path[0])))
                .map(|(a, b)| format!("{a} -> {b} ({})", g[a][b]))
                .collect();
            circles.push(steps.join(", "));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut g = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), format!("{a}.rs"));
    }
    assert_eq!(
        circle_through(&g, "a"),
        Some(vec!["a".to_string(), "b".into(), "c".into()])
    );
    assert_eq!(circle_through(&g, "d"), None);
    assert_eq!(
        named_modules(
            "use crate::{lake::atomic, error::Result}; // crate::sample\nlet x = crate::runtime::cpu_bound(f);"
        ),
        ["error", "lake", "runtime"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
