//! The house's rules, checked: arrows run only forward through the lecture, the
//! judge stays independent of every model, and the binary only dispatches.
//!
//! The rules are written once, here. An edge is a `crate::MODULE` path in the
//! library's code (tests inside a file are oracles and may combine anything).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of the library, in lecture order, with the modules it
/// may import. Everything not listed is an arrow backwards.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("files", &[]),
    ("basics", &[]),
    ("viz", &["basics", "files"]),
    ("world", &["basics", "viz"]),
    ("nn", &["basics", "viz", "files"]),
    ("models", &["basics", "viz", "world", "nn"]),
    ("clip", &["basics", "viz", "world", "nn", "models"]),
    ("guide", &["basics", "viz", "world", "nn", "models", "clip"]),
    // Where the real models' weights are published (chapter 8).
    ("published", &["basics", "nn"]),
    (
        "eval",
        &[
            "basics", "viz", "world", "nn", "models", "clip", "guide", "files",
        ],
    ),
    (
        "prelude",
        &[
            "basics", "viz", "world", "nn", "models", "clip", "guide", "eval",
        ],
    ),
];

/// The independent judge grades models; only these may bring the two together
/// (the world itself uses its judge to check a request).
const MAY_USE_THE_JUDGE: &[&str] = &["world", "eval", "prelude"];

/// The binary parses flags and calls the library: no function longer than this.
const MAX_BINARY_FUNCTION_LINES: usize = 60;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's files with the top-level module each belongs to
/// (`src/guide/engine.rs` → `guide`, `src/prelude.rs` → `prelude`).
fn library_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files
        .into_iter()
        .filter(|f| !f.starts_with(src().join("bin")) && !f.ends_with("lib.rs"))
        .map(|f| {
            let relative = f.strip_prefix(src()).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
            (module, f)
        })
        .collect()
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code_without_tests(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap()))
        .collect()
}

/// `crate::…` paths in a line: the full path up to the first non-path character.
fn crate_paths(line: &str) -> Vec<String> {
    line.match_indices("crate::")
        .filter(|(at, _)| {
            !line[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            line[at + "crate::".len()..]
                .chars()
                .take_while(|c| {
                    c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{'
                })
                .collect()
        })
        .collect()
}

#[test]
fn arrows_run_only_forward() {
    let known: BTreeSet<&str> = MAY_IMPORT.iter().map(|(m, _)| *m).collect();
    let mut backwards = Vec::new();
    let mut edges = BTreeSet::new();
    for (module, file) in library_files() {
        assert!(
            known.contains(module.as_str()),
            "{}: module `{module}` has no row in MAY_IMPORT",
            file.display()
        );
        let allowed = MAY_IMPORT.iter().find(|(m, _)| *m == module).unwrap().1;
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in code_without_tests(&text) {
            for path in crate_paths(line) {
                let place = format!("{}:{number}", file.display());
                assert!(
                    !path.starts_with('{'),
                    "{place}: `use crate::{{…}}` hides its edges; name each module"
                );
                let target = path.split("::").next().unwrap().to_string();
                if target == module {
                    continue;
                }
                edges.insert((module.clone(), target.clone()));
                if !allowed.contains(&target.as_str()) {
                    backwards.push(format!("{place}: {module} → crate::{path}"));
                }
                if path.starts_with("world::judge")
                    && !MAY_USE_THE_JUDGE.contains(&module.as_str())
                {
                    backwards.push(format!(
                        "{place}: {module} uses the judge (crate::{path}); only {MAY_USE_THE_JUDGE:?} may"
                    ));
                }
            }
        }
    }
    let arrows: Vec<String> =
        edges.iter().map(|(a, b)| format!("{a} → {b}")).collect();
    println!(
        "{} arrows between modules:\n{}",
        arrows.len(),
        arrows.join("\n")
    );
    assert!(
        backwards.is_empty(),
        "arrows against the lecture's order:\n{}",
        backwards.join("\n")
    );
    assert!(
        edges.len() >= 10,
        "only {} arrows found: is the scan broken?",
        edges.len()
    );
}

/// Lengths of the top-level and `impl` functions of a file: from the `fn` line
/// to the line that closes it at the same indentation.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut lengths = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "async fn "]
            .iter()
            .any(|p| trimmed.starts_with(p));
        if !is_fn || trimmed.ends_with(';') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let closing = " ".repeat(indent) + "}";
        if let Some(end) = lines[start + 1..].iter().position(|l| *l == closing) {
            let name = trimmed.split('(').next().unwrap().to_string();
            lengths.push((name, end + 2));
        }
    }
    lengths
}

#[test]
fn the_binary_only_dispatches() {
    let mut files = Vec::new();
    rust_files(&src().join("bin"), &mut files);
    assert!(!files.is_empty());
    let mut long = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (name, lines) in function_lengths(&text) {
            if lines > MAX_BINARY_FUNCTION_LINES {
                long.push(format!("{}: `{name}` is {lines} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions of the binary longer than {MAX_BINARY_FUNCTION_LINES} lines (move the work into the library):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_scanners_see_what_they_should() {
    assert_eq!(
        crate_paths("use crate::world::judge::scenes::{SeenObject, judge_scene};"),
        ["world::judge::scenes::{SeenObject"]
    );
    assert_eq!(crate_paths("x = my_crate::a; crate::b::c(1)"), ["b::c"]);
    let code = code_without_tests(
        "use crate::a; // crate::b\n#[cfg(test)]\nuse crate::c;\n",
    );
    assert_eq!(code.len(), 1);
    assert_eq!(
        function_lengths(
            "fn a() {\n    1\n}\nimpl X {\n    pub fn b(&self) {\n    }\n}\n"
        ),
        [("fn a".to_string(), 3), ("pub fn b".to_string(), 2)]
    );
}
