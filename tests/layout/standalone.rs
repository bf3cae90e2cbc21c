//! A clone of the repository is all a user has: nothing in it may point outside it
//! (the project's specification lived in a folder beside the repository once), and
//! every link in its documents resolves inside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names of the specification the repository once pointed to, built so that this
/// file does not contain them itself.
fn outside_references() -> [String; 3] {
    [concat!("..", "/shared").to_string(), concat!("SPT", ".md").to_string(), concat!("DESIGN", ".md").to_string()]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's files: git's list of tracked and new (not ignored) files where
/// there is a git checkout, else every file but build outputs and environments.
fn repository_files() -> Vec<PathBuf> {
    let root = root();
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|output| output.status.success() && !output.stdout.is_empty());
    if let Some(output) = listed {
        return output
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .filter(|path| path.is_file())
            .collect();
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | ".venv" | ".peers" | ".device") {
                    walk(&path, out);
                }
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
}

/// The needles found in `bytes`.
fn mentions<'a>(bytes: &[u8], needles: &'a [String]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|needle| bytes.windows(needle.len()).any(|window| window == needle.as_bytes()))
        .map(String::as_str)
        .collect()
}

#[test]
fn no_file_of_the_repository_refers_to_the_specification_outside_it() {
    let needles = outside_references();
    // The check itself finds what it looks for.
    let planted = format!("see {}/peers and {}", needles[0], needles[1]);
    assert_eq!(mentions(planted.as_bytes(), &needles), vec![needles[0].as_str(), needles[1].as_str()]);
    let files = repository_files();
    assert!(files.len() > 100, "the repository's files were listed: {}", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let found = mentions(&std::fs::read(file).unwrap(), &needles);
            (!found.is_empty())
                .then(|| format!("{}: {}", file.strip_prefix(root()).unwrap().display(), found.join(", ")))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "files that point outside the repository (docs/ is the reference):\n{}",
        offenders.join("\n")
    );
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped,
/// spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of a markdown file's inline links and images, `](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        rest = &rest[start + 2..];
        if let Some(end) = rest.find(')') {
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.to_string());
            rest = &rest[end..];
        }
    }
    targets
}

#[test]
fn every_link_of_the_readme_and_the_docs_resolves_inside_the_repository() {
    let root = root();
    let mut documents = vec![root.join("README.md"), root.join("ARCHITECTURE.md"), root.join("benches/README.md")];
    let docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    assert!(docs.len() >= 8, "docs/ holds the reference pages: {docs:?}");
    documents.extend(docs);
    documents.push(root.join("benches/peers/README.md"));
    // A broken link is found.
    assert_eq!(link_targets("see [a](docs/x.md#y) and ![b](figures/z.svg)"), ["docs/x.md#y", "figures/z.svg"]);
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            checked += 1;
            let (file, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let linked = if file.is_empty() { document.clone() } else { document.parent().unwrap().join(file) };
            let name = document.strip_prefix(&root).unwrap().display();
            if !linked.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
            } else if !fragment.is_empty() && linked.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&linked).unwrap());
                if !headings.contains(fragment) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(checked > 20, "links were found: {checked}");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
