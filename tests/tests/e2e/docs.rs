//! The repository stands on its own: nothing points outside it, and every section the code cites
//! in the project's specifications (`dsl-semantics §4.6`, `persistence-and-api.md §1.3`) is a
//! heading of the document in `docs/`. And a source file over 600 lines says why at its top.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common;

/// Folders that are not the project's own text.
const SKIPPED: [&str; 5] = ["target", ".git", "jsonata-test-suite", "histories", "fuzz"];

fn project_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) && !name.starts_with('.') || name == ".ci" {
                project_files(&path, into);
            }
        } else if [".rs", ".md", ".toml", ".sql", ".wit", ".sh"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|folder| folder == "scripts" || folder == ".ci")
        {
            into.push(path);
        }
    }
}

/// The section numbers a document has: `## 4. Steps` gives `4`, `#### 4.2.5 Keys` gives `4.2.5`.
fn sections(document: &str) -> BTreeSet<String> {
    document
        .lines()
        .filter(|line| line.starts_with('#'))
        .filter_map(|line| {
            let number = line.trim_start_matches('#').split_whitespace().next()?;
            let number = number.trim_end_matches('.');
            number
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
                .then(|| number.to_owned())
        })
        .collect()
}

/// Every `<document> §<number>` (or `§<a>–<b>`, `§<a> and §<b>`) in `text`.
fn citations<'a>(text: &'a str, document: &'a str) -> impl Iterator<Item = String> + 'a {
    text.match_indices(document).flat_map(move |(at, _)| {
        let rest = &text[at + document.len()..];
        let rest = rest.strip_prefix(".md").unwrap_or(rest);
        let rest = rest.trim_start_matches(['`', ' ', ')']);
        // The numbers that follow, up to the end of the citation.
        let cited: String = rest
            .chars()
            .take_while(|c| !matches!(c, ')' | ':' | '\n' | ';'))
            .collect();
        cited
            .split('§')
            .skip(1)
            .flat_map(|part| {
                let part: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '–'))
                    .collect();
                part.split('–')
                    .map(|n| n.trim_end_matches('.').to_owned())
                    .filter(|n| !n.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    })
}

#[test]
fn nothing_points_outside_the_repository_and_every_cited_section_exists() {
    let root = common::root();
    let mut files = Vec::new();
    project_files(&root, &mut files);
    assert!(
        files.len() > 100,
        "the walk found the project: {}",
        files.len()
    );
    let documents = ["dsl-semantics", "persistence-and-api"];
    let headings: Vec<BTreeSet<String>> = documents
        .iter()
        .map(|name| {
            let path = root.join("docs").join(format!("{name}.md"));
            sections(&std::fs::read_to_string(&path).expect("the document is in docs/"))
        })
        .collect();
    let mut problems = Vec::new();
    let mut cited = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        // This file names what it looks for.
        if shown.ends_with("docs.rs") {
            continue;
        }
        // A long source file says at its top why it is long.
        if shown.ends_with(".rs")
            && text.lines().count() > 600
            && !text.lines().take(12).any(|l| l.contains("600 lines"))
        {
            problems.push(format!(
                "{shown} is over 600 lines and its top does not say why"
            ));
        }
        for outside in ["../shared/", "/work/shared"] {
            if text.contains(outside) {
                problems.push(format!("{shown} points outside the repository ({outside})"));
            }
        }
        for (document, sections) in documents.iter().zip(&headings) {
            for section in citations(&text, document) {
                cited += 1;
                if !sections.contains(&section) {
                    problems.push(format!(
                        "{shown} cites {document} §{section}, not a heading"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cited > 30, "the citations were found: {cited}");
    println!(
        "docs: {} files, {cited} citations, all inside the repository",
        files.len()
    );
}
