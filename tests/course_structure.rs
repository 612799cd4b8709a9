//! The course's one-source-of-truth rules, checked: every chapter is doc-tested, every
//! listing comes from a real anchor in a compiled file, every notebook uses the crate.

use std::fs;
use std::path::PathBuf;

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

/// The `FILE:ANCHOR` of a listing's `{{#include FILE:ANCHOR}}` line, if it is one.
fn include_target(directive: &str) -> Option<(&str, &str)> {
    directive
        .trim()
        .strip_prefix("{{#include ")?
        .strip_suffix("}}")?
        .rsplit_once(':')
}

/// The first word after `marker` on `line` (`// ANCHOR: name` → `name`).
fn anchor_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split_whitespace().next()
}

/// The lines a listing shows, as mdBook includes them: those between
/// `ANCHOR: anchor` and `ANCHOR_END: anchor`, without any (nested) ANCHOR lines.
/// `None` if the file has no such pair.
fn anchored_lines<'a>(source: &'a str, anchor: &str) -> Option<Vec<&'a str>> {
    let mut lines = source.lines();
    lines.find(|line| anchor_name(line, "ANCHOR:") == Some(anchor))?;
    let mut shown = Vec::new();
    for line in lines {
        if anchor_name(line, "ANCHOR_END:") == Some(anchor) {
            return Some(shown);
        }
        if !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            shown.push(line);
        }
    }
    None
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
                        assert!(
                            directive.trim().starts_with("{{#include ")
                                && directive.trim().ends_with("}}"),
                            "{place}: a ```rs block may only hold {{{{#include FILE:ANCHOR}}}}, found {directive:?}"
                        );
                        let (file, anchor) = include_target(directive)
                            .unwrap_or_else(|| {
                                panic!(
                                    "{place}: include {directive:?} names no anchor"
                                )
                            });
                        assert!(
                            file.starts_with("../../src/")
                                || file.starts_with("../../examples/"),
                            "{place}: listings come from src/ or examples/, not {file}"
                        );
                        let path = book_src.join(file);
                        let source = fs::read_to_string(&path)
                            .unwrap_or_else(|e| panic!("{place}: {file}: {e}"));
                        assert!(
                            anchored_lines(&source, anchor).is_some(),
                            "{place}: {file} has no `// ANCHOR: {anchor}` … \
                             `// ANCHOR_END: {anchor}` pair"
                        );
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

/// A listing must fit a printed page and a laptop screen without scrolling.
const MAX_LISTING_LINES: usize = 60;
const MAX_LISTING_WIDTH: usize = 85;

#[test]
fn listings_fit_the_page() {
    let book_src = root().join("book/src");
    let mut too_big = Vec::new();
    for chapter in summary_chapters() {
        let markdown = fs::read_to_string(book_src.join(&chapter)).unwrap();
        for (info, body, line) in code_blocks(&markdown) {
            let language = info.split(',').next().unwrap_or("");
            // Doc-tested blocks: the code itself, as the reader sees it.
            if language == "rust" {
                for (offset, text) in body.lines().enumerate() {
                    let width = text.chars().count();
                    if width > MAX_LISTING_WIDTH {
                        too_big.push(format!(
                            "{chapter}:{}: a ```rust line of {width} characters, \
                             at most {MAX_LISTING_WIDTH}",
                            line + 1 + offset
                        ));
                    }
                }
            }
            if language != "rs" {
                continue;
            }
            // Listings: what the includes put on the page.
            let mut block_lines = 0;
            let mut anchors = Vec::new();
            for directive in body.lines().filter(|l| !l.trim().is_empty()) {
                let Some((file, anchor)) = include_target(directive) else {
                    continue; // listings_are_includes_of_real_anchors reports it
                };
                let listing =
                    format!("{}:{anchor}", file.trim_start_matches("../../"));
                let source =
                    fs::read_to_string(book_src.join(file)).unwrap_or_default();
                let Some(lines) = anchored_lines(&source, anchor) else {
                    continue;
                };
                if lines.len() > MAX_LISTING_LINES {
                    too_big.push(format!(
                        "{chapter}:{line}: {listing} is {} lines long, at most \
                         {MAX_LISTING_LINES}: split the anchor, show its heart",
                        lines.len()
                    ));
                }
                for (offset, text) in lines.iter().enumerate() {
                    let width = text.chars().count();
                    if width > MAX_LISTING_WIDTH {
                        too_big.push(format!(
                            "{chapter}:{line}: {listing}, its line {}, is {width} \
                             characters wide, at most {MAX_LISTING_WIDTH}",
                            offset + 1
                        ));
                    }
                }
                // Several includes in one block are one listing, a blank line apart.
                block_lines += lines.len() + usize::from(!anchors.is_empty());
                anchors.push(listing);
            }
            if anchors.len() > 1 && block_lines > MAX_LISTING_LINES {
                too_big.push(format!(
                    "{chapter}:{line}: the listing of {} is {block_lines} lines long, \
                     at most {MAX_LISTING_LINES}",
                    anchors.join(" + ")
                ));
            }
        }
    }
    assert!(too_big.is_empty(), "{}", too_big.join("\n"));
}

/// Each committed notebook with its cells as (kind, text), as `notebooks/build.py`
/// writes them from `notebooks/src` (CI's `build.py --check` keeps the two equal).
fn notebooks() -> Vec<(PathBuf, Vec<(String, String)>)> {
    let mut notebooks: Vec<(PathBuf, Vec<(String, String)>)> =
        fs::read_dir(root().join("notebooks"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "ipynb"))
            .map(|path| {
                let json: serde_json::Value =
                    serde_json::from_str(&fs::read_to_string(&path).unwrap())
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let cells = json["cells"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{}: no cells", path.display()))
                    .iter()
                    .map(|cell| {
                        let text: String = cell["source"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|line| line.as_str())
                            .collect();
                        (cell["cell_type"].as_str().unwrap_or("").to_string(), text)
                    })
                    .collect();
                (path, cells)
            })
            .collect();
    notebooks.sort();
    notebooks
}

fn first_code_cell(cells: &[(String, String)]) -> &str {
    cells
        .iter()
        .find(|(kind, _)| kind == "code")
        .map_or("", |(_, text)| text.as_str())
}

#[test]
fn notebooks_use_the_crate_and_match_their_sources() {
    let notebooks = notebooks();
    assert!(notebooks.len() >= 2);
    let shared = first_code_cell(&notebooks[0].1);
    for (notebook, cells) in &notebooks {
        let first_code = first_code_cell(cells);
        assert!(
            first_code
                .lines()
                .any(|l| l.starts_with(":dep clip_art = { path = \"..\"")),
            "{}: the first code cell must load the course crate",
            notebook.display()
        );
        // One cache serves every notebook only if all load the same crates.
        assert_eq!(
            first_code.trim(),
            shared.trim(),
            "{}: the first code cell differs from the other notebooks'",
            notebook.display()
        );
        let json = fs::read_to_string(notebook).unwrap();
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
    for (source, cells) in notebooks() {
        let text: String =
            cells.iter().map(|(_, text)| format!("{text}\n")).collect();
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
fn anchored_lines_are_those_mdbook_includes() {
    let source = "a\n// ANCHOR: outer\nb\n    // ANCHOR: inner\nc\n    \
                  // ANCHOR_END: inner\n// ANCHOR: outer_more\nd\n// ANCHOR_END: \
                  outer_more\n// ANCHOR_END: outer\ne\n";
    assert_eq!(anchored_lines(source, "outer").unwrap(), ["b", "c", "d"]);
    assert_eq!(anchored_lines(source, "inner").unwrap(), ["c"]);
    assert_eq!(anchored_lines(source, "outer_more").unwrap(), ["d"]);
    assert_eq!(anchored_lines(source, "out"), None);
    assert_eq!(
        include_target("{{#include ../../src/a.rs:name}}"),
        Some(("../../src/a.rs", "name"))
    );
    assert_eq!(include_target("let x = 1;"), None);
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
