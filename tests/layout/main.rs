//! The layout's one rule, checked from the source: no import circles. The library's
//! modules are read from `src/` (the command line, `src/bin/sptlab/`, is a crate of its
//! own above all of them), and every `crate::` and `super::` path outside
//! `#[cfg(test)]` code is an edge from the file's module to the module that defines
//! what it names (followed through `pub use` re-exports). These graphs must be acyclic:
//!
//! - the library's top-level modules (`numeric`, `market`, `portfolio`, `scenario`,
//!   `engine`, `summary`, `output`, ... and the top-level files): the pipeline flows
//!   one way;
//! - within each folder, its files (the folder's `mod.rs`, its interface, left out: it
//!   declares and re-exports its children, which may use what it defines);
//! - the files of the command line.

mod standalone;

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
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) && parts.len() == 1
            || parts.last().map(String::as_str) == Some("mod")
        {
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

/// The paths after `prefix::` in `code`, with `a::{b::c, d as e, self}` groups expanded
/// to one path per item (within nested groups, the path up to the group is enough).
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
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let head = rest[..end].trim_end_matches(':');
        let Some(group) = rest[end..].strip_prefix('{') else {
            paths.push(head.to_string());
            continue;
        };
        let mut depth = 0;
        let close = group
            .char_indices()
            .find(|&(_, c)| {
                depth += (c == '{') as i32 - (c == '}') as i32;
                depth < 0
            })
            .map_or(group.len(), |(i, _)| i);
        let mut depth = 0;
        let mut item = String::new();
        for c in group[..close].chars().chain([',']) {
            depth += (c == '{') as i32 - (c == '}') as i32;
            if c == ',' && depth == 0 {
                let item_path = item.split('{').next().unwrap_or("").split(" as ").next().unwrap_or("");
                let item_path = item_path.trim().trim_end_matches("::");
                let joined = match (head, item_path) {
                    (_, "self") | (_, "") => head.to_string(),
                    ("", path) => path.to_string(),
                    (head, path) => format!("{head}::{path}"),
                };
                paths.push(joined);
                item.clear();
            } else {
                item.push(c);
            }
        }
    }
    paths
}

/// What each module re-exports: item name -> the absolute path it comes from
/// (`pub use a::b::{C, D as E};`, relative to the module or from `crate::`).
type Reexports = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn reexports(modules: &BTreeMap<String, String>) -> Reexports {
    let mut all = Reexports::new();
    for (module, text) in modules {
        let own: Vec<String> =
            if module.is_empty() { Vec::new() } else { module.split("::").map(String::from).collect() };
        let code = code(text);
        for statement in code.split(';') {
            let Some(path) = statement.trim().strip_prefix("pub use ") else { continue };
            let (prefix, items) = match path.split_once('{') {
                Some((prefix, items)) => (prefix.trim_end_matches("::"), items.trim_end_matches('}')),
                None => path.rsplit_once("::").unwrap_or(("", path)),
            };
            for item in items.split(',').map(str::trim).filter(|item| !item.is_empty()) {
                let (item_path, name) = match item.split_once(" as ") {
                    Some((item_path, alias)) => (item_path.trim(), alias.trim()),
                    None => (item, item.rsplit("::").next().unwrap_or(item)),
                };
                let mut segments: Vec<String> = prefix
                    .split("::")
                    .chain(item_path.split("::"))
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                let absolute = match segments.first().map(String::as_str) {
                    Some("crate") => segments.split_off(1),
                    Some("self") => own.iter().cloned().chain(segments.split_off(1)).collect(),
                    _ => own.iter().cloned().chain(segments).collect(),
                };
                all.entry(module.clone()).or_default().insert(name.to_string(), absolute);
            }
        }
    }
    all
}

/// The module that defines what a path names: its longest prefix that is a module,
/// followed through that module's re-exports of the next segment (at most `hops` of them).
fn resolve_within(
    path: &[&str],
    modules: &BTreeMap<String, String>,
    reexported: &Reexports,
    hops: u32,
) -> Option<String> {
    let k = (0..=path.len()).rev().find(|&k| modules.contains_key(&path[..k].join("::")))?;
    let module = path[..k].join("::");
    let target = path.get(k).and_then(|item| reexported.get(&module)?.get(*item));
    match target {
        Some(target) if hops > 0 => {
            let target: Vec<&str> = target.iter().map(String::as_str).collect();
            resolve_within(&target, modules, reexported, hops - 1).or(Some(module))
        }
        _ => Some(module),
    }
}

fn resolve(path: &[&str], modules: &BTreeMap<String, String>, reexported: &Reexports) -> Option<String> {
    resolve_within(path, modules, reexported, 8)
}

/// Each module's imports of other modules.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let reexported = reexports(modules);
    let mut graph = BTreeMap::new();
    for (module, text) in modules {
        let code = code(text);
        let mut targets = BTreeSet::new();
        for path in paths_after(&code, "crate") {
            targets.extend(resolve(&path.split("::").collect::<Vec<_>>(), modules, &reexported));
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
            targets.extend(resolve(&base, modules, &reexported));
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

/// The edges between files of one folder (neither the folder's own mod.rs).
fn sibling_graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let parent = |m: &str| m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
    for (module, targets) in imports(modules) {
        for target in targets {
            if parent(&module) == parent(&target) && !module.is_empty() && !target.is_empty() {
                graph.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    graph
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
    let graph = sibling_graph(&modules(&source_dir()));
    assert!(graph.get("engine::gpu::backend").is_some_and(|t| t.contains("engine::gpu::layout")), "{graph:?}");
    // Through a folder's re-export (`crate::portfolio::Weighting`), the defining file.
    assert!(graph.get("portfolio::validate").is_some_and(|t| t.contains("portfolio::weighting")), "{graph:?}");
    assert_eq!(cycle(&graph), None, "an import circle between files of one folder");
}

#[test]
fn the_files_of_the_command_line_import_one_way() {
    let graph = sibling_graph(&modules(&source_dir().join("bin/sptlab")));
    assert!(graph.get("resume").is_some_and(|t| t.contains("run")), "{graph:?}");
    assert_eq!(cycle(&graph), None, "an import circle between files of the command line");
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
