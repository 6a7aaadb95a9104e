//! The layers of `src/` point one way. Each top-level module uses only modules below it in
//! [`LAYERS`], the order `src/lib.rs` lists them in; within a folder module (`ffi/`,
//! `append/`, `http/`) the files' uses of each other form no circle. Read from the code's
//! `crate::` and `super::` paths (comments left out, root re-exports resolved to the module
//! that defines them), so a new upward import fails here with the files that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top to bottom, as `src/lib.rs`'s overview gives them.
const LAYERS: &[&str] = &[
    "ffi",
    "append",
    "client",
    "retry",
    "transport",
    "response",
    "http",
    "config",
    "credentials",
    "object",
    "error",
];

/// Test scaffolding, which may take from any layer.
const TEST_ONLY: &[&str] = &["testing"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's text without its comments (line comments, doc comments included) and without
/// its test modules, which come last (a test module's `super::` is the file itself).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    // An inline test module (`mod tests {`), not a test-only file (`mod testing;`).
    let inline = text.match_indices("#[cfg(test)]\nmod ").find(|(at, _)| {
        text[*at..]
            .lines()
            .nth(1)
            .is_some_and(|line| line.ends_with('{'))
    });
    let text = match inline {
        Some((at, _)) => &text[..at],
        None => &text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names a path prefix such as `crate::` is followed by: `crate::a::b` gives `a`, and
/// `crate::{a, b::c}` gives `a` and `b`.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            out.extend(list.split(',').map(|item| ident(item.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// What `src/lib.rs` re-exports, by name: the module each item comes from.
fn re_exports() -> BTreeMap<String, String> {
    let lib = code(&src().join("lib.rs"));
    let mut out = BTreeMap::new();
    for item in lib.split(';') {
        let Some(used) = item.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, names) = used.split_once("::").unwrap();
        for name in names.trim_matches(|c| "{} \n".contains(c)).split(',') {
            out.insert(name.trim().to_string(), module.to_string());
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The top-level module a file of `src/` belongs to (`src/append/direct.rs` is `append`).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let exports = re_exports();
    let rank = |module: &str| LAYERS.iter().position(|m| *m == module);
    let mut upward = Vec::new();
    let mut seen = BTreeSet::new();
    for path in rust_files(&src()) {
        let from = module_of(&path);
        if from == "lib" || TEST_ONLY.contains(&from.as_str()) {
            continue;
        }
        let Some(from_rank) = rank(&from) else {
            panic!("{} is in no layer: add `{from}` to LAYERS", path.display());
        };
        for name in names_after(&code(&path), "crate::") {
            let to = exports.get(&name).cloned().unwrap_or(name);
            if to == from || TEST_ONLY.contains(&to.as_str()) {
                continue;
            }
            seen.insert(to.clone());
            match rank(&to) {
                Some(to_rank) if to_rank > from_rank => {}
                _ => upward.push(format!("{} uses crate::{to}", path.display())),
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up: {upward:#?}");
    // The check reads real imports: most layers are used by one above them.
    assert!(seen.len() >= LAYERS.len() - 2, "only {seen:?} were seen");
}

#[test]
fn the_files_of_each_folder_module_use_each_other_without_a_circle() {
    for folder in ["ffi", "append", "http"] {
        let dir = src().join(folder);
        let files: BTreeMap<String, PathBuf> = rust_files(&dir)
            .into_iter()
            .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
            .collect();
        let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (name, path) in &files {
            let code = code(path);
            let mut uses = names_after(&code, "super::");
            uses.extend(names_after(&code, &format!("crate::{folder}::")));
            if name == "mod" {
                // The folder's own file reaches its children by name.
                uses = names_after(&code, "use ")
                    .into_iter()
                    .chain(names_after(&code, "pub use "))
                    .collect();
            }
            let targets = uses
                .into_iter()
                .map(|used| {
                    if files.contains_key(&used) {
                        used
                    } else {
                        "mod".to_string()
                    }
                })
                .filter(|used| used != name);
            edges.entry(name).or_default().extend(targets);
        }
        let mut done = BTreeSet::new();
        for start in files.keys() {
            let mut path = Vec::new();
            if let Some(circle) = circle_from(start, &edges, &mut path, &mut done) {
                panic!("src/{folder}/: a circle {}", circle.join(" -> "));
            }
        }
    }
}

/// A circle reachable from `node`, as the files around it, if there is one.
fn circle_from(
    node: &str,
    edges: &BTreeMap<&str, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut circle = path[at..].to_vec();
        circle.push(node.to_string());
        return Some(circle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in edges.get(node).into_iter().flatten() {
        if let Some(circle) = circle_from(next, edges, path, done) {
            return Some(circle);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}
