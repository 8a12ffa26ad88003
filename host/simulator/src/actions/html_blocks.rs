//! `convert_html_to_blocks@1`, built in: HTML to the product's comment blocks (BlockNote's
//! document shape: `{type, props?, content, children?}` blocks of styled text runs and links).
//!
//! Parsed with a real HTML parser (`scraper`, html5ever), so broken markup reads as a browser
//! would read it. Paragraphs, headings, lists (nested ones as children), code blocks, quotes,
//! images and table rows become blocks; bold, italic, underline, strike-through, code and links
//! become styled runs. Scripts, styles and comments are dropped. Good enough for development
//! and tests; the product serves its own converter by routing the action to its queue.

use alga_protocol::error::{Failure, category};
use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node};
use serde_json::{Map, Value, json};

/// How deep the walk follows nested elements; below that an element's text is kept flat. A
/// hostile email can nest without end, and a recursion as deep as its nesting would overflow
/// the worker's stack, which aborts the whole process.
const MAX_DEPTH: usize = 64;

/// Elements whose content is never shown.
const HIDDEN: &[&str] = &["script", "style", "head", "title", "template", "noscript"];

/// Elements that end the running paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "nav",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "pre",
    "blockquote",
    "table",
    "tr",
    "hr",
    "img",
    "body",
    "html",
    "center",
    "form",
    "figure",
    "dl",
    "dt",
    "dd",
    "thead",
    "tbody",
    "tfoot",
];

/// Runs the action: `{html}` → `{success: true, blocks}`, or `{success: false, message}` for
/// HTML too large or too deep to parse (the email node then keeps the text).
pub fn convert_html_to_blocks(input: &Value) -> Result<Value, Failure> {
    let Some(html) = input.get("html").and_then(Value::as_str) else {
        return Err(Failure::new(
            category::VALIDATION,
            "convert_html_to_blocks: `html` must be a string",
        ));
    };
    if let Some(reason) = super::html_limits::unparseable(html) {
        return Ok(json!({ "success": false, "blocks": [], "message": reason }));
    }
    let fragment = Html::parse_fragment(html);
    let mut converter = Converter::default();
    converter.container(*fragment.root_element(), &Styles::default(), 0);
    converter.end_paragraph();
    Ok(json!({ "success": true, "blocks": converter.blocks }))
}

/// Inline styles in force.
#[derive(Debug, Clone, Default)]
struct Styles {
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    code: bool,
}

impl Styles {
    fn with(&self, tag: &str) -> Styles {
        let mut styles = self.clone();
        match tag {
            "b" | "strong" => styles.bold = true,
            "i" | "em" | "cite" => styles.italic = true,
            "u" | "ins" => styles.underline = true,
            "s" | "strike" | "del" => styles.strike = true,
            "code" | "kbd" | "samp" | "tt" => styles.code = true,
            _ => {}
        }
        styles
    }

    fn json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (name, on) in [
            ("bold", self.bold),
            ("italic", self.italic),
            ("underline", self.underline),
            ("strike", self.strike),
            ("code", self.code),
        ] {
            if on {
                map.insert(name.into(), Value::Bool(true));
            }
        }
        map
    }
}

/// Builds blocks from a walk of the tree.
#[derive(Default)]
struct Converter {
    blocks: Vec<Value>,
    /// Inline content of the paragraph being built.
    runs: Vec<Value>,
}

impl Converter {
    /// A container's children: inline runs gather into paragraphs, blocks end them.
    fn container(&mut self, node: NodeRef<'_, Node>, styles: &Styles, depth: usize) {
        if depth > MAX_DEPTH {
            push_text(&mut self.runs, &flat_text(node), styles);
            return;
        }
        for child in node.children() {
            match child.value() {
                Node::Text(text) => push_text(&mut self.runs, text, styles),
                Node::Element(element) => {
                    let name = element.name();
                    if HIDDEN.contains(&name) {
                        continue;
                    }
                    if BLOCKS.contains(&name) {
                        self.end_paragraph();
                        self.block(child, name, styles, depth + 1);
                    } else {
                        inline(child, styles, &mut self.runs, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }

    fn block(&mut self, node: NodeRef<'_, Node>, name: &str, styles: &Styles, depth: usize) {
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = name[1..].parse::<u8>().unwrap_or(1).min(3);
                let content = inline_content(node, styles, depth);
                self.blocks.push(json!({
                    "type": "heading", "props": {"level": level}, "content": content
                }));
            }
            "ul" | "ol" => self.blocks.extend(list_items(node, name, styles, depth)),
            "pre" => {
                let text = flat_text(node);
                self.blocks.push(json!({
                    "type": "codeBlock",
                    "content": [{"type": "text", "text": text.trim_end_matches('\n')}],
                }));
            }
            "blockquote" => {
                let mut inner = Converter::default();
                inner.container(node, styles, depth);
                inner.end_paragraph();
                for block in inner.blocks {
                    match block.get("type").and_then(Value::as_str) {
                        Some("paragraph") => {
                            let mut quote = block;
                            quote["type"] = json!("quote");
                            self.blocks.push(quote);
                        }
                        _ => self.blocks.push(block),
                    }
                }
            }
            "tr" => {
                let cells: Vec<String> = node
                    .children()
                    .filter_map(ElementRef::wrap)
                    .filter(|cell| matches!(cell.value().name(), "td" | "th"))
                    .map(|cell| collapse(&cell.text().collect::<String>()))
                    .collect();
                let row = cells.join(" | ");
                if !row.trim().is_empty() {
                    self.blocks
                        .push(paragraph(vec![json!({"type": "text", "text": row})]));
                }
            }
            "img" => {
                let Some(element) = ElementRef::wrap(node) else {
                    return;
                };
                if let Some(src) = element.attr("src") {
                    self.blocks.push(json!({
                        "type": "image",
                        "props": {"url": src, "caption": element.attr("alt").unwrap_or("")},
                    }));
                }
            }
            "hr" => {}
            _ => {
                self.container(node, styles, depth);
                self.end_paragraph();
            }
        }
    }

    /// Closes the running paragraph, if it holds any visible text.
    fn end_paragraph(&mut self) {
        let runs = std::mem::take(&mut self.runs);
        let runs = trimmed_runs(runs);
        if !runs.is_empty() {
            self.blocks.push(paragraph(runs));
        }
    }
}

fn paragraph(content: Vec<Value>) -> Value {
    json!({ "type": "paragraph", "content": content })
}

/// A list's items as list-item blocks; a nested list becomes the item's children.
fn list_items(list: NodeRef<'_, Node>, name: &str, styles: &Styles, depth: usize) -> Vec<Value> {
    let kind = if name == "ol" {
        "numberedListItem"
    } else {
        "bulletListItem"
    };
    let mut items = Vec::new();
    if depth > MAX_DEPTH {
        let text = collapse(&flat_text(list));
        return vec![json!({ "type": kind, "content": [{"type": "text", "text": text.trim()}] })];
    }
    for item in list.children().filter_map(ElementRef::wrap) {
        if item.value().name() != "li" {
            continue;
        }
        let mut runs = Vec::new();
        let mut children = Vec::new();
        for child in item.children() {
            match child.value() {
                Node::Text(text) => push_text(&mut runs, text, styles),
                Node::Element(e) if matches!(e.name(), "ul" | "ol") => {
                    children.extend(list_items(child, e.name(), styles, depth + 1));
                }
                Node::Element(e) if !HIDDEN.contains(&e.name()) => {
                    inline(child, styles, &mut runs, depth + 1);
                }
                _ => {}
            }
        }
        let mut block = json!({ "type": kind, "content": trimmed_runs(runs) });
        if !children.is_empty() {
            block["children"] = Value::Array(children);
        }
        items.push(block);
    }
    items
}

/// The inline content of an element (a heading's, a list item's).
fn inline_content(node: NodeRef<'_, Node>, styles: &Styles, depth: usize) -> Vec<Value> {
    let mut runs = Vec::new();
    for child in node.children() {
        inline(child, styles, &mut runs, depth + 1);
    }
    trimmed_runs(runs)
}

/// An inline node's runs: text, styled text, links, line breaks.
fn inline(node: NodeRef<'_, Node>, styles: &Styles, runs: &mut Vec<Value>, depth: usize) {
    if depth > MAX_DEPTH {
        push_text(runs, &flat_text(node), styles);
        return;
    }
    match node.value() {
        Node::Text(text) => push_text(runs, text, styles),
        Node::Element(element) => {
            let name = element.name();
            if HIDDEN.contains(&name) {
                return;
            }
            if name == "br" {
                push_run(runs, "\n", styles);
                return;
            }
            let styles = styles.with(name);
            if name == "a"
                && let Some(href) = element.attr("href")
            {
                let mut content = Vec::new();
                for child in node.children() {
                    inline(child, &styles, &mut content, depth + 1);
                }
                runs.push(json!({"type": "link", "href": href, "content": content}));
                return;
            }
            for child in node.children() {
                inline(child, &styles, runs, depth + 1);
            }
        }
        _ => {}
    }
}

fn push_text(runs: &mut Vec<Value>, text: &str, styles: &Styles) {
    let collapsed = collapse(text);
    if !collapsed.is_empty() {
        push_run(runs, &collapsed, styles);
    }
}

/// Appends text, merged into the previous run when its styles are the same.
fn push_run(runs: &mut Vec<Value>, text: &str, styles: &Styles) {
    let style_map = styles.json();
    if let Some(last) = runs.last_mut()
        && last.get("type").and_then(Value::as_str) == Some("text")
        && last
            .get("styles")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
            == style_map
        && let Some(Value::String(previous)) = last.get_mut("text")
    {
        if !(previous.ends_with(' ') && text.starts_with(' ')) {
            previous.push_str(text);
        } else {
            previous.push_str(&text[1..]);
        }
        return;
    }
    let mut run = json!({"type": "text", "text": text});
    if !style_map.is_empty() {
        run["styles"] = Value::Object(style_map);
    }
    runs.push(run);
}

/// HTML whitespace: every run of whitespace is one space.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

/// Trims the spaces a block's first and last text runs start and end with; drops runs left
/// empty. A block of only whitespace has no runs.
fn trimmed_runs(mut runs: Vec<Value>) -> Vec<Value> {
    let trim = |run: &mut Value, start: bool| {
        if let Some(Value::String(text)) = run.get_mut("text") {
            *text = if start {
                text.trim_start_matches(' ').to_owned()
            } else {
                text.trim_end_matches(' ').to_owned()
            };
        }
    };
    if let Some(first) = runs.first_mut() {
        trim(first, true);
    }
    if let Some(last) = runs.last_mut() {
        trim(last, false);
    }
    runs.retain(|run| run.get("text").and_then(Value::as_str) != Some(""));
    runs
}

/// The text under a node as written, in document order, found without recursion (`<pre>`s,
/// and whatever lies deeper than [`MAX_DEPTH`]).
fn flat_text(node: NodeRef<'_, Node>) -> String {
    let mut out = String::new();
    for descendant in node.descendants() {
        match descendant.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) if e.name() == "br" => out.push('\n'),
            _ => {}
        }
    }
    out
}

/// Plain text of an element, a line per block (the reply parser's text when a mail has only
/// HTML).
pub(super) fn visit_text(element: ElementRef<'_>, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str(&collapse(&flat_text(*element)));
        return;
    }
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(&collapse(text)),
            Node::Element(e) if e.name() == "br" => out.push('\n'),
            Node::Element(e) if HIDDEN.contains(&e.name()) => {}
            Node::Element(e) => {
                let block = BLOCKS.contains(&e.name());
                if block && !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                if let Some(inner) = ElementRef::wrap(child) {
                    visit_text(inner, out, depth + 1);
                }
                if block && !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(html: &str) -> Value {
        convert_html_to_blocks(&json!({ "html": html })).expect("converts")["blocks"].clone()
    }

    #[test]
    fn a_paragraph_becomes_a_paragraph_of_text() {
        assert_eq!(
            blocks("<p>Keep this reply</p>"),
            json!([{"type": "paragraph", "content": [{"type": "text", "text": "Keep this reply"}]}])
        );
    }

    #[test]
    fn styles_links_and_breaks_are_runs() {
        let b = blocks(
            r#"<p>Hi <b>there</b>,<br>see <a href="https://x.invalid">the <i>doc</i></a></p>"#,
        );
        assert_eq!(
            b[0]["content"],
            json!([
                {"type": "text", "text": "Hi "},
                {"type": "text", "text": "there", "styles": {"bold": true}},
                {"type": "text", "text": ",\nsee "},
                {"type": "link", "href": "https://x.invalid", "content": [
                    {"type": "text", "text": "the "},
                    {"type": "text", "text": "doc", "styles": {"italic": true}}
                ]}
            ])
        );
    }

    #[test]
    fn headings_lists_code_and_tables_are_blocks() {
        let b = blocks(
            "<h2>Title</h2><ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul>\
             <ol><li>first</li></ol><pre>a\n  b</pre><table><tr><td>k</td><td>v</td></tr></table>\
             loose <em>text</em><script>x()</script>",
        );
        let types: Vec<&str> = b
            .as_array()
            .expect("blocks")
            .iter()
            .map(|b| b["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            types,
            [
                "heading",
                "bulletListItem",
                "bulletListItem",
                "numberedListItem",
                "codeBlock",
                "paragraph",
                "paragraph"
            ]
        );
        assert_eq!(b[0]["props"]["level"], 2);
        assert_eq!(b[1]["children"][0]["content"][0]["text"], "inner");
        assert_eq!(b[4]["content"][0]["text"], "a\n  b");
        assert_eq!(b[5]["content"][0]["text"], "k | v");
        assert_eq!(b[6]["content"][1]["styles"]["italic"], true);
    }

    /// A hostile email nests elements without end: the walk must not overflow the worker's
    /// stack (that aborts the process, every run on it with it), and HTML too deep to parse in
    /// reasonable time is not parsed at all.
    #[test]
    fn deeply_nested_markup_is_flattened_or_refused_without_overflowing_the_stack() {
        for tag in [
            "div",
            "b",
            "ul><li",
            "blockquote",
            "pre><span",
            "table><tr><td",
        ] {
            // Deeper than the walk follows, within what is parsed: the text survives.
            let html = format!("{}deep text", format!("<{tag}>").repeat(150));
            let converted = convert_html_to_blocks(&json!({ "html": html })).expect("converts");
            assert_eq!(converted["success"], true, "{tag}");
            assert!(
                converted["blocks"].to_string().contains("deep text"),
                "{tag}"
            );
            let parsed = super::super::parse_email_reply(&json!({ "html": html })).expect("parses")
                ["parsed"]
                .clone();
            assert!(
                parsed["sanitizedText"].to_string().contains("deep text"),
                "{tag}"
            );
            // Far deeper: refused before parsing, the text kept from a linear scan.
            let html = format!("{}deep text", format!("<{tag}>").repeat(20_000));
            let converted = convert_html_to_blocks(&json!({ "html": html })).expect("answers");
            assert_eq!(converted["success"], false, "{tag}");
            let parsed = super::super::parse_email_reply(&json!({ "html": html })).expect("parses")
                ["parsed"]
                .clone();
            assert_eq!(parsed["sanitizedText"], "deep text", "{tag}");
            assert_eq!(parsed["warnings"], json!(["html-not-parsed"]), "{tag}");
            assert!(
                parsed.get("sanitizedHtml").is_none_or(Value::is_null),
                "{tag}"
            );
        }
        assert!(super::super::html_limits::unparseable("<p>a<br>b<img src=x/><hr></p>").is_none());
        // Over 4 MiB: refused by its size, before any scan.
        let unclosed = "<a".repeat(3 << 20);
        assert!(super::super::html_limits::unparseable(&unclosed).is_some());
    }

    #[test]
    fn broken_markup_and_empty_input_convert_without_error() {
        assert_eq!(blocks(""), json!([]));
        assert_eq!(blocks("<p>open <b>bold")[0]["content"][1]["text"], "bold");
        assert!(convert_html_to_blocks(&json!({})).is_err());
    }
}
