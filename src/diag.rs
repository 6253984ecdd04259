//! Rendering diagnostics from any stage against the script text.

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::syntax::ast::Span;

/// A machine-readable fix for a diagnostic: replace `span` (empty: insert
/// there) with `replacement`. Set beside the help line that describes it, so
/// editors offer it as a code action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

impl Fix {
    pub fn new(span: Span, replacement: impl Into<String>) -> Fix {
        Fix {
            span,
            replacement: replacement.into(),
        }
    }
}

/// How diagnostics are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Colours and Unicode boxes, for a terminal.
    Fancy,
    /// No colour (piped output, snapshots).
    Plain,
}

impl Style {
    /// Fancy on a terminal unless NO_COLOR is set; plain otherwise.
    pub fn for_stderr() -> Style {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Style::Fancy
        } else {
            Style::Plain
        }
    }
}

/// Lines longer than this (in characters) are clipped around their spans:
/// the renderer pads with the column of a span, and a megabyte-wide line is
/// unreadable anyway.
const MAX_LINE_CHARS: usize = 160;
/// Characters kept on either side of a span on a clipped line.
const CONTEXT_CHARS: usize = 40;
/// A span longer than this on a clipped line keeps its ends, `…` between.
const SPAN_END_CHARS: usize = 30;
/// Words of a message or label longer than this keep their ends, `…` between.
const MAX_WORD_CHARS: usize = 80;
const ELLIPSIS: &str = "…";

/// A diagnostic with the script it points into, both clipped for display.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    message: String,
    labels: Vec<miette::LabeledSpan>,
    code: Shown<'a>,
}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let help = self.inner.help()?.to_string();
        Some(Box::new(clip_words(&help)))
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.code)
    }
}

/// Render one diagnostic against `src` (named `file`). Any line length is
/// fine: long lines are shown clipped around the spans they hold.
pub fn render(diag: &dyn Diagnostic, file: &str, src: &str, style: Style) -> String {
    let theme = match style {
        Style::Fancy => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let labels: Vec<miette::LabeledSpan> = diag.labels().into_iter().flatten().collect();
    let spans: Vec<(usize, usize)> = labels
        .iter()
        .map(|l| {
            let start = floor_boundary(src, l.offset());
            (
                start,
                floor_boundary(src, l.offset().saturating_add(l.len())).max(start),
            )
        })
        .collect();
    let clipped = Clipped::new(src, &spans);
    let labels = labels
        .iter()
        .zip(&spans)
        .map(|(l, &(start, end))| {
            let (start, end) = (clipped.map(start, false), clipped.map(end, true));
            let (text, span) = (l.label().map(clip_words), (start, end - start));
            if l.primary() {
                miette::LabeledSpan::new_primary_with_span(text, span)
            } else {
                miette::LabeledSpan::new_with_span(text, span)
            }
        })
        .collect();
    let message = clip_words(&diag.to_string());
    let wrapped = WithSource {
        inner: diag,
        message: message.clone(),
        labels,
        code: Shown {
            name: file.to_string(),
            src,
            clipped,
        },
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &wrapped).is_err() {
        out = format!("error: {message}\n");
    }
    out
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The byte offset `n` characters after (`forward`) or before `i`, within `lo..hi`.
fn step_chars(s: &str, i: usize, n: usize, forward: bool, lo: usize, hi: usize) -> usize {
    if forward {
        s[i..hi].char_indices().nth(n).map_or(hi, |(k, _)| i + k)
    } else {
        s[lo..i]
            .char_indices()
            .rev()
            .nth(n.saturating_sub(1))
            .map_or(lo, |(k, _)| lo + k)
    }
}

/// Words longer than [`MAX_WORD_CHARS`] with their middle replaced by `…`.
fn clip_words(text: &str) -> String {
    if text.len() <= MAX_WORD_CHARS {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(4096));
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        if word.chars().count() > MAX_WORD_CHARS {
            let half = MAX_WORD_CHARS / 2;
            let head = step_chars(word, 0, half, true, 0, word.len());
            let back = step_chars(word, word.len(), half, false, 0, word.len());
            out.push_str(&word[..head]);
            out.push_str(ELLIPSIS);
            out.push_str(&word[back..]);
        } else {
            out.push_str(word);
        }
        let space = tail
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(tail.len());
        out.push_str(&tail[..space]);
        rest = &tail[space..];
    }
    out
}

/// The script as shown: long lines clipped, with the map from original
/// byte offsets to offsets in the shown text.
#[derive(Debug)]
struct Clipped {
    text: String,
    /// Kept pieces, in order: (original start, original end, shown start).
    kept: Vec<(usize, usize, usize)>,
}

impl Clipped {
    fn new(src: &str, spans: &[(usize, usize)]) -> Clipped {
        let long = src
            .split('\n')
            .any(|l| l.len() > MAX_LINE_CHARS && l.chars().count() > MAX_LINE_CHARS);
        if !long {
            return Clipped {
                text: src.to_string(),
                kept: vec![(0, src.len(), 0)],
            };
        }
        let mut c = Clipped {
            text: String::new(),
            kept: Vec::new(),
        };
        let mut start = 0;
        for line in src.split_inclusive('\n') {
            let end = start + line.trim_end_matches('\n').len();
            c.push_line(src, start, end, spans);
            c.push(src, end, start + line.len());
            start += line.len();
        }
        c
    }

    /// One line without its newline: whole, or the parts around its spans.
    fn push_line(&mut self, src: &str, lo: usize, hi: usize, spans: &[(usize, usize)]) {
        if src[lo..hi].chars().count() <= MAX_LINE_CHARS {
            self.push(src, lo, hi);
            return;
        }
        let mut keep: Vec<(usize, usize)> = Vec::new();
        for &(s, e) in spans {
            if e < lo || s > hi {
                continue;
            }
            let (s, e) = (s.max(lo), e.min(hi));
            let before = step_chars(src, s, CONTEXT_CHARS, false, lo, hi);
            let after = step_chars(src, e, CONTEXT_CHARS, true, lo, hi);
            if src[s..e].chars().count() > 2 * SPAN_END_CHARS {
                keep.push((before, step_chars(src, s, SPAN_END_CHARS, true, lo, hi)));
                keep.push((step_chars(src, e, SPAN_END_CHARS, false, lo, hi), after));
            } else {
                keep.push((before, after));
            }
        }
        if keep.is_empty() {
            keep.push((lo, step_chars(src, lo, MAX_LINE_CHARS / 2, true, lo, hi)));
        }
        keep.sort_unstable();
        let mut at = lo;
        for (s, e) in merge(keep) {
            if s > at {
                self.text.push_str(ELLIPSIS);
            }
            self.push(src, s, e);
            at = e;
        }
        if at < hi {
            self.text.push_str(ELLIPSIS);
        }
    }

    fn push(&mut self, src: &str, s: usize, e: usize) {
        self.kept.push((s, e, self.text.len()));
        self.text.push_str(&src[s..e]);
    }

    /// The original offset of shown offset `q` (the end of the piece before
    /// a `…`).
    fn unmap(&self, q: usize) -> usize {
        let i = self.kept.partition_point(|k| k.2 <= q).saturating_sub(1);
        self.kept
            .get(i)
            .map_or(0, |&(s, e, at)| (s + (q - at.min(q))).min(e))
    }

    /// Where original offset `p` is shown; inside a clipped gap, the start
    /// (or for an `end`, the end) of the `…` standing for it.
    fn map(&self, p: usize, end: bool) -> usize {
        let i = self.kept.partition_point(|k| k.0 <= p).saturating_sub(1);
        let Some(&(s, e, at)) = self.kept.get(i) else {
            return 0;
        };
        if p <= e {
            return at + p.saturating_sub(s);
        }
        let gap = at + (e - s);
        if end {
            gap + ELLIPSIS.len()
        } else {
            gap
        }
    }
}

/// The clipped script as miette reads it; the column in the header is the
/// column in the original line.
#[derive(Debug)]
struct Shown<'a> {
    name: String,
    src: &'a str,
    clipped: Clipped,
}

impl SourceCode for Shown<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let c = self.clipped.text.read_span(span, before, after)?;
        let column = if before == 0 {
            let at = self.clipped.unmap(span.offset());
            at - self.src[..at].rfind('\n').map_or(0, |i| i + 1)
        } else {
            c.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            *c.span(),
            c.line(),
            column,
            c.line_count(),
        )))
    }
}

/// Sorted ranges merged where they touch or overlap.
fn merge(ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::Span;

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("bad `{name}`")]
    struct At {
        name: String,
        #[label("here")]
        span: Span,
    }

    fn plain(d: &dyn Diagnostic, src: &str) -> String {
        render(d, "t.cnn", src, Style::Plain)
    }

    #[test]
    fn a_span_far_along_a_long_line_is_shown_clipped_with_its_true_column() {
        let src = format!("let a = 1 +{} $ 1\n", " ".repeat(2_000_000));
        let at = src.find('$').expect("$");
        let out = plain(
            &At {
                name: "$".into(),
                span: Span::new(at, at + 1),
            },
            &src,
        );
        assert!(out.contains(&format!("[t.cnn:1:{}]", at + 1)), "{out}");
        assert!(out.len() < 2_000, "{} bytes", out.len());
        let shown = format!(" 1 │ …{}$ 1\n", " ".repeat(CONTEXT_CHARS));
        assert!(out.contains(&shown), "{out}");
    }

    #[test]
    fn a_huge_span_keeps_its_ends_and_long_words_are_shortened() {
        let name = "b".repeat(2_000_000);
        let src = format!("let a = {name} + 1\nprint a\n");
        let out = plain(
            &At {
                name: name.clone(),
                span: Span::new(8, 8 + name.len()),
            },
            &src,
        );
        assert!(out.len() < 2_000, "{} bytes", out.len());
        assert!(out.contains("[t.cnn:1:9]"), "{out}");
        assert!(
            out.contains(&format!("{}…{} + 1", "b".repeat(30), "b".repeat(30))),
            "{out}"
        );
        // the word in the message is "`bbb…bbb`", backticks included
        assert!(
            out.contains(&format!("bad `{}…{}`", "b".repeat(39), "b".repeat(39))),
            "{out}"
        );
        assert!(out.contains("print a"), "{out}");
    }

    #[test]
    fn short_lines_render_as_written() {
        let src = "let a = 1\nprint b\n";
        let out = plain(
            &At {
                name: "b".into(),
                span: Span::new(16, 17),
            },
            src,
        );
        assert!(
            out.contains("[t.cnn:2:7]") && out.contains(" 2 │ print b\n"),
            "{out}"
        );
    }

    #[test]
    fn multibyte_text_is_clipped_on_character_boundaries() {
        let src = format!("{}x{}\n", "é".repeat(500), "☃".repeat(500));
        let at = src.find('x').expect("x");
        let out = plain(
            &At {
                name: "x".into(),
                span: Span::new(at, at + 1),
            },
            &src,
        );
        assert!(
            out.contains(&format!("…{}x{}…", "é".repeat(40), "☃".repeat(40))),
            "{out}"
        );
    }
}
