//! The statement keywords, listed once: syntax errors, the checker's hints
//! and the REPL (highlighting, completion, `:help`) read this table. The
//! grammar spells each as a `kw_<word>` rule; a test keeps the two equal.

/// Every keyword, in the order messages list them.
pub const KEYWORDS: &[&str] = &[
    "let", "model", "shape", "summary", "print", "save", "load", "data", "train", "eval", "seed",
    "plot", "show", "assert", "export", "explain",
];

/// Whether `word` is a keyword (and so never a name).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Whether `word` starts a statement in a script; `explain` only follows
/// `shape` (or starts a bare shape question in the REPL).
pub fn starts_statement(word: &str) -> bool {
    word != "explain" && is_keyword(word)
}

/// The statement keywords as a list for messages: `let, model, ...`.
pub fn statement_list() -> String {
    KEYWORDS
        .iter()
        .copied()
        .filter(|k| starts_statement(k))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_has_exactly_these_keywords() {
        let grammar = include_str!("../../grammar/cnnscript.pest");
        let mut in_grammar: Vec<&str> = grammar
            .lines()
            .filter_map(|l| l.strip_prefix("kw_"))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| *w != "end")
            .collect();
        in_grammar.sort_unstable();
        let mut listed = KEYWORDS.to_vec();
        listed.sort_unstable();
        assert_eq!(in_grammar, listed);
        for k in KEYWORDS {
            assert!(grammar.contains(&format!("@{{ \"{k}\" ~ kw_end }}")), "{k}");
        }
    }

    #[test]
    fn explain_follows_shape() {
        assert!(starts_statement("let") && starts_statement("show"));
        assert!(is_keyword("explain") && !starts_statement("explain"));
        assert!(!is_keyword("lenet"));
        assert_eq!(
            statement_list(),
            "let, model, shape, summary, print, save, load, data, train, eval, seed, plot, show, assert, export"
        );
    }
}
