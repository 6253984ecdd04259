//! `cnnscript fmt`: one canonical layout for scripts, comments kept.
//!
//! The formatter works on tokens read off the pest parse tree (so it needs a
//! script that parses, and knows each token's grammar rule), keeps the
//! user's line breaks and decides spacing and indentation. Before handing
//! back a result it parses it again: the syntax tree (spans aside) and the
//! comments must be the same, or nothing is changed.

pub mod command;
mod layout;
mod tokens;

use pest::Parser;

use crate::syntax::ast::Script;
use crate::syntax::error::SyntaxError;
use crate::syntax::grammar::{CnnParser, Rule};
use crate::syntax::parse::parse_script;

/// Why a script was not formatted.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatError {
    /// The script does not parse; these are its syntax errors.
    Syntax(Vec<SyntaxError>),
    /// The layout would have changed what the script says (a formatter bug).
    Changed,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Syntax(errors) => write!(f, "{} syntax error(s)", errors.len()),
            FormatError::Changed => f.write_str(
                "formatting would change what the script says, so it was left as it is \
                 (a bug in cnnscript fmt: please report it with the script)",
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// The script in canonical layout. Formatting a formatted script gives it back unchanged.
pub fn format_source(text: &str) -> Result<String, FormatError> {
    let before = parse_script(text).map_err(FormatError::Syntax)?;
    let formatted = layout_of(text)?;
    let after = parse_script(&formatted).map_err(|_| FormatError::Changed)?;
    if tree_text(&before) != tree_text(&after) || comments(text)? != comments(&formatted)? {
        return Err(FormatError::Changed);
    }
    Ok(formatted)
}

fn layout_of(text: &str) -> Result<String, FormatError> {
    let mut pairs = CnnParser::parse(Rule::script, text).map_err(|_| FormatError::Changed)?;
    let top = pairs.next().ok_or(FormatError::Changed)?;
    Ok(layout::layout(&tokens::tokens(top, text)))
}

/// The comments of a script, in order, without trailing whitespace.
fn comments(text: &str) -> Result<Vec<&str>, FormatError> {
    let mut pairs = CnnParser::parse(Rule::script, text).map_err(|_| FormatError::Changed)?;
    let top = pairs.next().ok_or(FormatError::Changed)?;
    Ok(tokens::tokens(top, text)
        .into_iter()
        .filter(|t| t.kind == tokens::Kind::Comment)
        .map(|t| t.text.trim_end())
        .collect())
}

/// The syntax tree as text with every span left out, so that two layouts of
/// one script compare equal.
fn tree_text(script: &Script) -> String {
    const SPAN: &str = "Span { start: ";
    let full = format!("{script:?}");
    let mut out = String::with_capacity(full.len());
    let mut rest = full.as_str();
    while let Some(at) = rest.find(SPAN) {
        out.push_str(&rest[..at]);
        rest = &rest[at + SPAN.len()..];
        rest = rest.find(" }").map_or("", |end| &rest[end + 2..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
