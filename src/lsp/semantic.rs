//! Semantic tokens (full document): the REPL lexer's tokens, names refined
//! by what they refer to (model, tensor, node, layer, argument...).

use lsp_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};

use super::analysis::Analysis;
use super::index::{occurrences, Occ, What};
use crate::repl::lexer::{class_of, lex, Class, Token};

/// Token types, in legend order (a token's type is its index here).
const TYPES: [SemanticTokenType; 11] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::CLASS,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::NUMBER,
    SemanticTokenType::TYPE,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
];
const KEYWORD: u32 = 0;
const FUNCTION: u32 = 1;
const CLASS: u32 = 2;
const VARIABLE: u32 = 3;
const PARAMETER: u32 = 4;
const PROPERTY: u32 = 5;
const NUMBER: u32 = 6;
const TYPE: u32 = 7;
const STRING: u32 = 8;
const COMMENT: u32 = 9;
const OPERATOR: u32 = 10;

/// Modifier bits, in legend order.
const DECLARATION: u32 = 1;
const DEFAULT_LIBRARY: u32 = 2;

/// The legend the server announces.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DEFAULT_LIBRARY,
        ],
    }
}

/// Every token of the document.
pub fn tokens(an: &Analysis) -> SemanticTokens {
    let occs: Vec<Occ> = an.script.as_ref().map(occurrences).unwrap_or_default();
    let mut data = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for t in lex(&an.text) {
        let text = t.text(&an.text);
        let kind = match t.token {
            Token::Ident => name_kind(&occs, t.start).or(match class_of(t.token, text) {
                Class::Layer => Some((FUNCTION, 0)),
                Class::Builtin => Some((FUNCTION, DEFAULT_LIBRARY)),
                _ => None,
            }),
            _ => lexeme_kind(t.token),
        };
        let Some((ty, mods)) = kind else { continue };
        let pos = an.lines.position(&an.text, t.start);
        let delta_line = pos.line - line;
        let delta_start = if delta_line == 0 {
            pos.character - col
        } else {
            pos.character
        };
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length: text.chars().map(char::len_utf16).sum::<usize>() as u32,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        (line, col) = (pos.line, pos.character);
    }
    SemanticTokens {
        result_id: None,
        data,
    }
}

fn lexeme_kind(token: Token) -> Option<(u32, u32)> {
    Some(match token {
        Token::Keyword => (KEYWORD, 0),
        Token::Number => (NUMBER, 0),
        Token::Dims => (TYPE, 0),
        Token::Str => (STRING, 0),
        Token::Comment => (COMMENT, 0),
        Token::Arrow | Token::Op => (OPERATOR, 0),
        _ => return None,
    })
}

/// The type of the name starting at byte `start`, from what it refers to.
fn name_kind(occs: &[Occ], start: usize) -> Option<(u32, u32)> {
    let i = occs
        .partition_point(|o| o.span.start <= start)
        .checked_sub(1)?;
    let occ = &occs[i];
    if start >= occ.span.end {
        return None;
    }
    Some(match occ.what {
        What::ModelDecl { .. } => (CLASS, DECLARATION),
        What::ModelUse { .. } => (CLASS, 0),
        What::TensorDef { .. } => (VARIABLE, DECLARATION),
        What::TensorUse { .. } => (VARIABLE, 0),
        What::Layer { .. } => (FUNCTION, 0),
        What::Label { .. } => (VARIABLE, DECLARATION),
        What::Arg { .. } | What::Param { .. } => (PROPERTY, 0),
        What::Input { def, .. } => (PARAMETER, if def.start == start { DECLARATION } else { 0 }),
        What::Node { def, .. } => (
            VARIABLE,
            if def.is_some_and(|d| d.start == start) {
                DECLARATION
            } else {
                0
            },
        ),
        What::Builtin => (FUNCTION, DEFAULT_LIBRARY),
    })
}
