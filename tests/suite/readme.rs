//! The README and the documents under docs/: every relative link resolves, and the README stays
//! a front door (at most 350 lines). No GPU needed.

use std::path::{Path, PathBuf};

const README_MAX_LINES: usize = 350;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every `docs/*.md`.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The text outside fenced code blocks, with inline code spans blanked: links inside code are
/// not links (`x[i](j)` in a formula, a shell line).
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        if marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap()) {
            match &fence {
                None => {
                    fence = Some(marker);
                    out.push('\n');
                    continue;
                }
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim() == marker => {
                    fence = None;
                    out.push('\n');
                    continue;
                }
                Some(_) => {}
            }
        }
        if fence.is_none() {
            out.push_str(&blank_code_spans(line));
        }
        out.push('\n');
    }
    out
}

/// `line` with the contents of its inline code spans replaced by spaces.
fn blank_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '`' {
            let run = chars[i..].iter().take_while(|&&c| c == '`').count();
            // Find the closing run of the same length.
            let mut j = i + run;
            let mut close = None;
            while j < chars.len() {
                if chars[j] == '`' {
                    let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                    if r == run {
                        close = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(j) => {
                    out.extend(std::iter::repeat_n(' ', j + run - i));
                    i = j + run;
                }
                None => {
                    out.extend(&chars[i..i + run]);
                    i += run;
                }
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The targets of the inline links `[text](target)` (and images `![alt](target)`) in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        // The target ends at the matching ')' (parentheses may nest once in a path).
        let mut depth = 0usize;
        let mut end = None;
        for (k, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(k);
                    break;
                }
                ')' => depth -= 1,
                '\n' => break,
                _ => {}
            }
        }
        if let Some(end) = end {
            let raw = after[..end].trim();
            // `[text](path "title")`: the path is the first word.
            let path = raw.split_whitespace().next().unwrap_or("");
            let path = path.trim_start_matches('<').trim_end_matches('>');
            targets.push(path.to_string());
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    targets
}

/// Whether `target` is a link to check: not a URL, not mail, not an anchor on the same page.
fn relative_path(target: &str) -> Option<&str> {
    let lower = target.to_ascii_lowercase();
    if target.is_empty()
        || target.starts_with('#')
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
    {
        return None;
    }
    let path = target.split('#').next().unwrap_or("");
    (!path.is_empty()).then_some(path)
}

#[test]
fn the_link_parser_finds_links_and_skips_code() {
    let text = "See [design](docs/design.md#numerics) and ![fig](a/b.png \"t\").\n\
                A formula `x[i](j)` and labels in [0, C) (not a link).\n\
                ```sh\n[not](a/link)\n```\n\
                [web](https://example.com) [anchor](#here) [mail](mailto:a@b.c)\n";
    let targets = link_targets(text);
    assert_eq!(
        targets,
        [
            "docs/design.md#numerics",
            "a/b.png",
            "https://example.com",
            "#here",
            "mailto:a@b.c"
        ]
    );
    let checked: Vec<&str> = targets.iter().filter_map(|t| relative_path(t)).collect();
    assert_eq!(checked, ["docs/design.md", "a/b.png"]);
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a readable document");
        let dir = doc.parent().unwrap_or(Path::new("."));
        for target in link_targets(&text) {
            let Some(path) = relative_path(&target) else {
                continue;
            };
            checked += 1;
            if !dir.join(path).exists() {
                broken.push(format!(
                    "{}: ({target}) -> {} does not exist",
                    doc.strip_prefix(root()).unwrap_or(&doc).display(),
                    dir.join(path).display()
                ));
            }
        }
    }
    assert!(
        checked > 0,
        "no relative links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_a_front_door() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = text.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; at most {README_MAX_LINES} (move detail to docs/)"
    );
}
