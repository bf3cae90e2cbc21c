//! The layout's one rule, checked from the source: no import circles. The library's
//! modules are read from `src/` (not `src/bin/`, the command line, which sits above
//! all of them), and every `crate::` and `super::` path outside `#[cfg(test)]` code is
//! an edge from the file's module to the module it names. Two graphs must be acyclic:
//!
//! - the top-level modules (`numeric`, `market`, `portfolio`, `scenario`, `engine`,
//!   `summary`, `output`, ... and the top-level files), so the pipeline flows one way;
//! - within each folder, its files (the folder's `mod.rs`, its interface, left out: it
//!   declares and re-exports its children, which may use what it defines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every library source file: (module path such as `engine::gpu::backend`, its text).
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if parts[0] == "bin" {
            continue;
        }
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        modules.insert(parts.join("::"), std::fs::read_to_string(&file).unwrap());
    }
    modules
}

/// The text without comments and without the `#[cfg(test)]` module at the end.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The paths after `prefix::` in `code`, with `{a::b, c}` groups expanded (one level
/// of nesting is enough: only the first segments matter).
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let pattern = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().last();
        rest = &rest[at + pattern.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += (c == '{') as i32 - (c == '}') as i32;
                    depth < 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                depth += (c == '{') as i32 - (c == '}') as i32;
                if c == ',' && depth == 0 {
                    paths.push(item.trim().split('{').next().unwrap_or("").trim_end_matches("::").to_string());
                    item.clear();
                } else {
                    item.push(c);
                }
            }
        } else {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push(rest[..end].trim_end_matches(':').to_string());
        }
    }
    paths
}

/// The module a path names: its longest prefix that is a module.
fn resolve(path: &[&str], modules: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len()).rev().map(|k| path[..k].join("::")).find(|candidate| modules.contains_key(candidate))
}

/// Each module's imports of other modules.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, text) in modules {
        let code = code(text);
        let mut targets = BTreeSet::new();
        for path in paths_after(&code, "crate") {
            targets.extend(resolve(&path.split("::").collect::<Vec<_>>(), modules));
        }
        // `super::` from a file is its folder's module; from a folder's mod.rs, the parent's.
        let own: Vec<&str> = if module.is_empty() { Vec::new() } else { module.split("::").collect() };
        for path in paths_after(&code, "super") {
            let mut base = own[..own.len().saturating_sub(1)].to_vec();
            let mut segments: Vec<&str> = path.split("::").collect();
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
            base.extend(segments);
            targets.extend(resolve(&base, modules));
        }
        targets.remove(module);
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A cycle of `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap();
                    return Some(stack[start..].iter().cloned().chain([next.clone()]).collect());
                }
                None => {
                    if let Some(found) = visit(next, graph, state, stack) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph.keys().find_map(
        |node| {
            if state.contains_key(node) {
                None
            } else {
                visit(node, graph, &mut state, &mut Vec::new())
            }
        },
    )
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_top_level_modules_import_one_way() {
    let modules = modules(&source_dir());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in imports(&modules) {
        for target in targets {
            if top(&module) != top(&target) && !module.is_empty() && !target.is_empty() {
                graph.entry(top(&module).to_string()).or_default().insert(top(&target).to_string());
            }
        }
    }
    // The check sees the imports it should: the pipeline's main edges.
    for (from, to) in [("engine", "scenario"), ("summary", "engine"), ("output", "summary"), ("market", "numeric")] {
        assert!(graph.get(from).is_some_and(|t| t.contains(to)), "{from} -> {to} not seen: {graph:?}");
    }
    assert_eq!(cycle(&graph), None, "an import circle between top-level modules");
}

#[test]
fn the_files_of_each_folder_import_one_way() {
    let modules = modules(&source_dir());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let parent = |m: &str| m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
    for (module, targets) in imports(&modules) {
        for target in targets {
            // Siblings in one folder (neither is the folder's own mod.rs).
            if parent(&module) == parent(&target) && !module.is_empty() && !target.is_empty() {
                graph.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    assert!(graph.get("engine::gpu::backend").is_some_and(|t| t.contains("engine::gpu::layout")), "{graph:?}");
    assert_eq!(cycle(&graph), None, "an import circle between files of one folder");
}

#[test]
fn the_checker_finds_a_circle() {
    // A negative control: two modules that import each other.
    let modules: BTreeMap<String, String> = [
        ("a".to_string(), "use crate::b::Thing;\n".to_string()),
        ("b".to_string(), "fn f() { crate::a::{g, h::i}(); }\n".to_string()),
        ("c".to_string(), "// use crate::a;\n#[cfg(test)]\nmod tests { use crate::a; }\n".to_string()),
    ]
    .into();
    let graph = imports(&modules);
    assert_eq!(graph["c"], BTreeSet::new(), "comments and test modules are not imports");
    assert!(cycle(&graph).is_some(), "{graph:?}");
}
