//! Unified diffs of text, for `fmt --check` and `test`: coloured on a
//! terminal, plain when piped or when NO_COLOR is set.

use similar::TextDiff;

pub(crate) const RED: &str = "\x1b[31m";
pub(crate) const GREEN: &str = "\x1b[32m";
pub(crate) const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// `text` in an ANSI colour when `on`, else as it is.
pub(crate) fn paint(text: &str, colour: &str, on: bool) -> String {
    if on {
        format!("{colour}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// Whether what goes to stdout may be coloured.
pub fn colour_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The unified diff from `old` to `new` (three lines of context), empty when equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str, colour: bool) -> String {
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    if !colour {
        return diff;
    }
    let mut out = String::with_capacity(diff.len() + 64);
    for (i, line) in diff.split_inclusive('\n').enumerate() {
        let style = match line.as_bytes().first() {
            _ if i < 2 => BOLD,
            Some(b'@') => CYAN,
            Some(b'-') => RED,
            Some(b'+') => GREEN,
            _ => "",
        };
        if style.is_empty() {
            out.push_str(line);
        } else {
            let body = line.trim_end_matches('\n');
            out.push_str(style);
            out.push_str(body);
            out.push_str(RESET);
            out.push_str(&line[body.len()..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_diff_has_headers_hunks_and_no_colour() {
        let d = unified("a\nb\nc\n", "a\nB\nc\n", "old.cnn", "new.cnn", false);
        assert!(
            d.starts_with("--- old.cnn\n+++ new.cnn\n@@ -1,3 +1,3 @@\n"),
            "{d}"
        );
        assert!(d.contains("\n-b\n+B\n"), "{d}");
        assert!(!d.contains('\x1b'));
        assert_eq!(unified("same\n", "same\n", "a", "b", false), "");
    }

    #[test]
    fn coloured_diff_marks_removed_and_added_lines() {
        let d = unified("a\nb\n", "a\nc\n", "x", "y", true);
        assert!(d.contains(&format!("{RED}-b{RESET}\n")), "{d:?}");
        assert!(d.contains(&format!("{GREEN}+c{RESET}\n")), "{d:?}");
        assert!(d.contains(&format!("{BOLD}--- x{RESET}\n")), "{d:?}");
    }
}
