//! The fixes of the diagnostics pinned in tests/scripts/err: where a
//! diagnostic offers an edit (the editor's code action), applying it makes
//! that diagnostic go away; the habits from Python and PyTorch all offer one.

use std::path::Path;

use super::analysis::Analysis;

/// An edit: the byte range replaced, and its replacement.
type Edit = (usize, usize, String);

/// The first problem of `text`: its message, where it starts, and its edit.
fn first_problem(text: &str) -> Option<(String, usize, Option<Edit>)> {
    let an = Analysis::new(text.to_string());
    let problems = an.problems();
    let p = problems.first()?;
    let start = p
        .diag
        .labels()
        .and_then(|mut l| l.next())
        .map_or(0, |l| l.offset());
    let fix = p
        .fix
        .map(|f| (f.span.start, f.span.end, f.replacement.clone()));
    Some((p.diag.to_string(), start, fix))
}

/// Scripts whose first diagnostic must carry an edit.
fn must_fix(name: &str) -> bool {
    let fixed_prefixes = [
        "habit_",
        "typo_",
        "set_param_name",
        "train_unknown_",
        "train_pytorch",
    ];
    let without = [
        // the input type cannot be guessed
        "habit_model_without_input",
    ];
    fixed_prefixes.iter().any(|p| name.starts_with(p))
        && !without.iter().any(|w| name.starts_with(w))
}

#[test]
fn every_offered_fix_removes_its_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/err");
    let mut fixed = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/scripts/err") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("script");
        let (message, start, fix) = first_problem(&text).expect("an error script has problems");
        let Some((a, b, replacement)) = fix else {
            assert!(!must_fix(&name), "{name}: `{message}` offers no fix");
            continue;
        };
        let mut edited = text.clone();
        edited.replace_range(a..b, &replacement);
        let after = first_problem(&edited);
        assert!(
            after
                .as_ref()
                .is_none_or(|(m, s, _)| (m, *s) != (&message, start)),
            "{name}: the fix `{replacement}` leaves `{message}`:\n{edited}"
        );
        fixed += 1;
    }
    assert!(fixed >= 20, "only {fixed} scripts offer fixes");
}
