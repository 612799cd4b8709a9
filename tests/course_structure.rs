//! The course's one-source-of-truth rules, checked: every chapter is doc-tested, every
//! listing comes from a real anchor in a compiled file, every notebook uses the crate.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The chapter files listed in book/src/SUMMARY.md, e.g. "ch01-representing-data.md".
fn summary_chapters() -> Vec<String> {
    let summary = fs::read_to_string(root().join("book/src/SUMMARY.md")).unwrap();
    summary
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = line[start..].find(')')? + start;
            Some(line[start..end].to_string())
        })
        .collect()
}

/// Fenced code blocks of a Markdown file: (info string, body, line number).
fn code_blocks(markdown: &str) -> Vec<(String, String, usize)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some((info.trim().to_string(), String::new(), number + 1))
            }
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some((_, body, _)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unclosed code block");
    blocks
}

#[test]
fn every_chapter_is_doc_tested() {
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let chapters = summary_chapters();
    assert!(chapters.len() >= 3, "SUMMARY.md lists {chapters:?}");
    for chapter in chapters {
        assert!(
            lib.contains(&format!("=> \"{chapter}\"")),
            "{chapter} is in SUMMARY.md but not in the `chapters!` list of src/lib.rs, \
             so its Rust blocks would not run"
        );
    }
}

#[test]
fn listings_are_includes_of_real_anchors() {
    let book_src = root().join("book/src");
    let mut listings = 0;
    for chapter in summary_chapters() {
        let markdown = fs::read_to_string(book_src.join(&chapter)).unwrap();
        for (info, body, line) in code_blocks(&markdown) {
            let language = info.split(',').next().unwrap_or("");
            let place = format!("{chapter}:{line}");
            match language {
                // Doc-tested by `cargo test --doc`.
                "rust" => assert!(
                    !body.contains("{{#"),
                    "{place}: a ```rust block cannot include files; use ```rs"
                ),
                "text" => {}
                // Listings: nothing but includes of anchors in compiled sources.
                "rs" => {
                    for directive in body.lines().filter(|l| !l.trim().is_empty()) {
                        let target = directive
                            .trim()
                            .strip_prefix("{{#include ")
                            .and_then(|d| d.strip_suffix("}}"))
                            .unwrap_or_else(|| panic!("{place}: a ```rs block may only hold {{{{#include FILE:ANCHOR}}}}, found {directive:?}"));
                        let (file, anchor) =
                            target.rsplit_once(':').unwrap_or_else(|| {
                                panic!("{place}: include {target:?} names no anchor")
                            });
                        assert!(
                            file.starts_with("../../src/")
                                || file.starts_with("../../examples/"),
                            "{place}: listings come from src/ or examples/, not {file}"
                        );
                        let path = book_src.join(file);
                        let source = fs::read_to_string(&path)
                            .unwrap_or_else(|e| panic!("{place}: {file}: {e}"));
                        for marker in [
                            format!("ANCHOR: {anchor}"),
                            format!("ANCHOR_END: {anchor}"),
                        ] {
                            assert!(
                                source.contains(&marker),
                                "{place}: {file} has no `// {marker}`"
                            );
                        }
                        listings += 1;
                    }
                }
                other => panic!(
                    "{place}: code block language {other:?}: use rust (doc-tested), rs (listing) or text"
                ),
            }
        }
    }
    assert!(listings >= 10, "only {listings} listings found");
}

#[test]
fn notebooks_use_the_crate_and_match_their_sources() {
    let notebooks = root().join("notebooks");
    let sources: Vec<PathBuf> = fs::read_dir(notebooks.join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(sources.len() >= 2);
    for source in sources {
        let text = fs::read_to_string(&source).unwrap();
        let first_code = text.split("%% code").nth(1).expect("a code cell");
        assert!(
            first_code
                .trim_start()
                .starts_with(":dep clip_art = { path = \"..\""),
            "{}: the first code cell must load the course crate",
            source.display()
        );
        let notebook = notebooks
            .join(Path::new(source.file_stem().unwrap()).with_extension("ipynb"));
        let json = fs::read_to_string(&notebook)
            .unwrap_or_else(|e| panic!("{}: {e}", notebook.display()));
        assert!(
            json.contains("\"outputs\": []"),
            "{} is committed with outputs",
            notebook.display()
        );
        assert!(
            !json.contains("\"output_type\""),
            "{} is committed with outputs",
            notebook.display()
        );
    }
}

/// A student types `use clip_art::prelude::*;` and perhaps a module of the
/// chapter: no notebook needs more.
const MAX_NOTEBOOK_USE_LINES: usize = 4;

#[test]
fn notebooks_start_with_few_use_lines() {
    for entry in fs::read_dir(root().join("notebooks/src")).unwrap() {
        let source = entry.unwrap().path();
        let text = fs::read_to_string(&source).unwrap();
        let uses = text
            .lines()
            .filter(|line| line.trim_start().starts_with("use "))
            .count();
        assert!(
            text.contains("use clip_art::prelude::*;"),
            "{}: use the prelude",
            source.display()
        );
        assert!(
            uses <= MAX_NOTEBOOK_USE_LINES,
            "{}: {uses} `use` lines, at most {MAX_NOTEBOOK_USE_LINES}: add what it needs to clip_art::prelude",
            source.display()
        );
    }
}

#[test]
fn code_blocks_are_parsed() {
    let blocks = code_blocks(
        "a\n```rust\nlet x = 1;\n```\n\n```rs,ignore\n{{#include f:a}}\n```\n",
    );
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0], ("rust".into(), "let x = 1;\n".into(), 2));
    assert_eq!(blocks[1].0, "rs,ignore");
}
