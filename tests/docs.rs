//! Every example in README.md and docs/**/*.md runs, and the output it shows
//! is the output the binary gives: docs cannot rot. The convention (which
//! fences run, how output is matched) is at the top of CONTRIBUTING.md.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// How a fenced block is used.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// ```cnn: `cnnscript run`, exit 0.
    Run,
    /// ```cnn,check: `cnnscript check`, exit 0.
    Check,
    /// ```cnn,fails: `cnnscript run`, exit 1; output is stdout then stderr.
    Fails,
    /// ```cnn,fragment: parsed only (a script or REPL input), never run.
    Fragment,
    /// ```repl: the `> ` lines piped into `cnnscript repl`, exit 0.
    Repl,
    /// ```console: each `$ cnnscript ...` line run; output is stdout then stderr.
    Console,
}

/// One example: where it is written, how it is used, its text and the
/// output shown for it.
#[derive(Debug)]
struct Example {
    at: String,
    mode: Mode,
    code: String,
    expected: Option<String>,
}

/// A fenced block: its info string, first line number and text.
struct Fence {
    info: String,
    line: usize,
    text: String,
    /// Only blank lines lie between this fence and the one before it.
    adjacent: bool,
}

fn fences(markdown: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    let mut blank_run = false;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            blank_run = blank_run && line.trim().is_empty();
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut text = String::new();
        for (_, body) in lines.by_ref() {
            if body.trim() == "```" {
                break;
            }
            let cut = body.len() - body.trim_start().len();
            text.push_str(&body[cut.min(indent)..]);
            text.push('\n');
        }
        out.push(Fence {
            info: info.trim().to_string(),
            line: n + 1,
            text,
            adjacent: blank_run,
        });
        blank_run = true;
    }
    out
}

fn mode(info: &str) -> Result<Option<Mode>, String> {
    Ok(Some(match info {
        "cnn" => Mode::Run,
        "cnn,check" => Mode::Check,
        "cnn,fails" => Mode::Fails,
        "cnn,fragment" => Mode::Fragment,
        "repl" => Mode::Repl,
        "console" => Mode::Console,
        other if other.starts_with("cnn") => {
            return Err(format!(
                "unknown fence `{other}`: use cnn, cnn,check, cnn,fails or cnn,fragment"
            ))
        }
        _ => return Ok(None),
    }))
}

/// The examples of one markdown file; a ```text block right after one
/// (blank lines between at most) is its output.
fn examples(path: &Path, markdown: &str) -> Result<Vec<Example>, String> {
    let fences = fences(markdown);
    let mut out = Vec::new();
    for (i, f) in fences.iter().enumerate() {
        let at = format!("{}:{}", path.display(), f.line);
        let Some(mode) = mode(&f.info).map_err(|e| format!("{at}: {e}"))? else {
            continue;
        };
        let follower = fences
            .get(i + 1)
            .filter(|next| next.adjacent && next.info == "text");
        let expected = match mode {
            Mode::Repl => Some(repl_output(&f.text)),
            Mode::Console => None,
            _ => follower.map(|t| t.text.clone()),
        };
        if mode == Mode::Fragment && follower.is_some() {
            return Err(format!(
                "{at}: a fragment is not run, so it shows no output"
            ));
        }
        out.push(Example {
            at,
            mode,
            code: f.text.clone(),
            expected,
        });
    }
    Ok(out)
}

/// The lines of a ```repl block that are not input.
fn repl_output(block: &str) -> String {
    block
        .lines()
        .filter(|l| !l.starts_with("> ") && *l != ">")
        .map(|l| format!("{l}\n"))
        .collect()
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("docs/ readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "md") {
                out.push(p);
            }
        }
    }
    let mut files = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut files);
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("temp folder");
    for e in std::fs::read_dir(from).expect("readable folder") {
        let p = e.expect("entry").path();
        let target = to.join(p.file_name().expect("a name"));
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copied");
        }
    }
}

/// A fresh folder holding copies of the repository's `data/` and `examples/`.
fn workspace(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["data", "examples"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

fn cnnscript(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::cargo_bin("cnnscript").expect("binary built");
    c.env("NO_COLOR", "1")
        .env_remove("CNNSCRIPT_THREADS")
        .env_remove("CNNSCRIPT_ISA")
        .current_dir(dir)
        .args(args);
    if let Some(input) = stdin {
        c.write_stdin(input);
    }
    c.output().expect("cnnscript runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run one example; Err says what differs.
fn run(root: &Path, ex: &Example) -> Result<(), String> {
    if ex.mode == Mode::Fragment {
        return parses(&ex.code);
    }
    let dir = workspace(root);
    if ex.mode == Mode::Console {
        return console(dir.path(), &ex.code);
    }
    let (args, stdin, want_code): (&[&str], _, _) = match ex.mode {
        Mode::Run => (&["run", "example.cnn"], None, 0),
        Mode::Check => (&["check", "example.cnn"], None, 0),
        Mode::Fails => (&["run", "example.cnn"], None, 1),
        _ => {
            let input: String = ex
                .code
                .lines()
                .filter_map(|l| l.strip_prefix("> ").or((l == ">").then_some("")))
                .map(|l| format!("{l}\n"))
                .collect();
            (&["repl"], Some(input), 0)
        }
    };
    if matches!(ex.mode, Mode::Run | Mode::Check) {
        formatted(&ex.code)?;
    }
    std::fs::write(dir.path().join("example.cnn"), &ex.code).expect("write example");
    let out = cnnscript(dir.path(), args, stdin.as_deref());
    let code = out.status.code().unwrap_or(-1);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if code != want_code {
        return Err(format!(
            "exit status {code}, expected {want_code}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        ));
    }
    let shown = if ex.mode == Mode::Fails {
        stdout + &stderr
    } else {
        stdout
    };
    match &ex.expected {
        Some(expected) => compare(expected, &shown),
        None => Ok(()),
    }
}

/// A ```console block: `$ cnnscript ARGS` lines, each followed by its output.
fn console(dir: &Path, block: &str) -> Result<(), String> {
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push((cmd.to_string(), String::new()));
        } else if let Some((_, out)) = steps.last_mut() {
            out.push_str(line);
            out.push('\n');
        } else {
            return Err("a console block starts with a `$ cnnscript ...` line".into());
        }
    }
    for (cmd, expected) in steps {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if words.first() != Some(&"cnnscript") {
            return Err(format!("`{cmd}`: console blocks run only cnnscript"));
        }
        let out = cnnscript(dir, &words[1..], None);
        let shown = text(&out.stdout) + &text(&out.stderr);
        compare(&expected, &shown).map_err(|e| format!("$ {cmd}\n{e}"))?;
    }
    Ok(())
}

fn parses(code: &str) -> Result<(), String> {
    use cnnscript::syntax::parse::{parse_repl_line, parse_script};
    match (parse_script(code), parse_repl_line(code)) {
        (Ok(_), _) | (_, Ok(_)) => Ok(()),
        (Err(errors), _) => Err(format!(
            "the fragment does not parse: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

fn formatted(code: &str) -> Result<(), String> {
    match cnnscript::fmt::format_source(code) {
        Ok(tidy) if tidy == code => Ok(()),
        Ok(tidy) => Err(format!(
            "not in `cnnscript fmt` layout; formatted it reads:\n{tidy}"
        )),
        Err(e) => Err(format!("does not format: {e:?}")),
    }
}

/// A piece of a line: a number (compared within rounding), a character,
/// or `...` (any text).
#[derive(Debug)]
enum Tok<'a> {
    Num(&'a str),
    Char(char),
    Any,
}

fn tokens(line: &str) -> Vec<Tok<'_>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let digit_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
        if line[i..].starts_with("...") {
            out.push(Tok::Any);
            i += 3;
        } else if digit_at(i) || (b[i] == b'-' && digit_at(i + 1)) {
            let start = i;
            i += 1;
            while digit_at(i) || (b.get(i) == Some(&b'.') && !line[i..].starts_with("...")) {
                i += 1;
            }
            let exp = b.get(i).is_some_and(|c| *c == b'e');
            let sign = b.get(i + 1).is_some_and(|c| *c == b'-' || *c == b'+');
            if exp && (digit_at(i + 1) || (sign && digit_at(i + 2))) {
                i += if sign { 2 } else { 1 };
                while digit_at(i) {
                    i += 1;
                }
            }
            out.push(Tok::Num(&line[start..i]));
        } else {
            let c = line[i..].chars().next().expect("a character");
            out.push(Tok::Char(c));
            i += c.len_utf8();
        }
    }
    out
}

/// Equal numbers, or two fractions within what rounding on another CPU
/// (another instruction set, thread count) can change.
fn same_number(want: &str, got: &str) -> bool {
    if want == got {
        return true;
    }
    let fraction = |s: &str| s.contains(['.', 'e']);
    match (want.parse::<f64>(), got.parse::<f64>()) {
        (Ok(w), Ok(g)) if fraction(want) && fraction(got) => {
            (w - g).abs() <= 1e-3 * w.abs().max(1.0)
        }
        _ => false,
    }
}

fn tokens_match(want: &[Tok], got: &[Tok]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((Tok::Any, rest)) => (0..=got.len()).any(|i| tokens_match(rest, &got[i..])),
        Some((w, rest)) => {
            let head = match (w, got.first()) {
                (Tok::Num(a), Some(Tok::Num(b))) => same_number(a, b),
                (Tok::Char(a), Some(Tok::Char(b))) => a == b,
                _ => false,
            };
            head && tokens_match(rest, &got[1..])
        }
    }
}

fn lines_match(want: &[&str], got: &[&str]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((&"...", rest)) => (0..=got.len()).any(|i| lines_match(rest, &got[i..])),
        Some((w, rest)) => {
            got.first()
                .is_some_and(|g| tokens_match(&tokens(w), &tokens(g)))
                && lines_match(rest, &got[1..])
        }
    }
}

fn compare(expected: &str, actual: &str) -> Result<(), String> {
    let trim = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(|l| l.trim_end().to_string()).collect();
        while v.last().is_some_and(String::is_empty) {
            v.pop();
        }
        v
    };
    let (want, got) = (trim(expected), trim(actual));
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    if lines_match(&want, &got) {
        Ok(())
    } else {
        Err(format!(
            "the output differs from the one shown\n--- shown\n{}\n--- actual\n{}",
            want.join("\n"),
            got.join("\n")
        ))
    }
}

#[test]
fn every_example_in_the_docs_runs_and_shows_its_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for file in markdown_files(root) {
        let markdown = std::fs::read_to_string(&file).expect("markdown readable");
        let rel = file.strip_prefix(root).expect("inside the repository");
        match examples(rel, &markdown) {
            Ok(found) => all.extend(found),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        all.iter().filter(|e| e.mode == Mode::Run).count() >= 10,
        "the docs should hold runnable examples; found {}",
        all.len()
    );
    for ex in &all {
        if let Err(e) = run(root, ex) {
            failures.push(format!("{} ({:?}): {e}", ex.at, ex.mode));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} doc examples failed:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

/// The targets of the markdown links in `markdown`, outside code.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // text outside `inline code`
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn links_in_the_docs_point_at_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for file in markdown_files(root) {
        let markdown = std::fs::read_to_string(&file).expect("markdown readable");
        let folder = file.parent().expect("a folder");
        for link in links(&markdown) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with('#')
            {
                continue;
            }
            let path = link.split('#').next().unwrap_or_default();
            let target = folder.join(path);
            let inside = target
                .canonicalize()
                .is_ok_and(|t| t.starts_with(root.canonicalize().expect("root")));
            if !inside {
                broken.push(format!("{}: {link}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing in the repository:\n{}",
        broken.join("\n")
    );
    assert!(
        links("[a](b.md) `x[0](y)` [c](../d.md#e)\n```\n[f](g)\n```\n") == ["b.md", "../d.md#e"]
    );
}

#[test]
fn the_matcher_accepts_rounding_and_ellipses_and_nothing_else() {
    assert!(compare("tensor([ 0.9876, -0.9874])\n", "tensor([ 0.9877, -0.9874])").is_ok());
    assert!(compare("tensor([19., 25.])", "tensor([19., 26.])").is_err());
    assert!(compare("Step 5, loss 1.466", "Step 6, loss 1.466").is_err());
    assert!(compare("a\n...\nz", "a\nb\nc\nz\n").is_ok());
    assert!(compare("a\n...\nz", "a\nb\n").is_err());
    assert!(compare(
        "Epoch 1, loss 0.5, time ...",
        "Epoch 1, loss 0.5, time 0.10s"
    )
    .is_ok());
    assert!(compare("loss 0.5", "loss 0.7").is_err());
    assert!(compare("x 6x8", "x 6x8\nextra").is_err());
}

#[test]
fn fences_pair_a_block_with_the_text_right_after_it() {
    let md = "```cnn\nprint 1\n```\n\n```text\ntensor(1.)\n```\n\nprose\n\n```cnn\nprint 2\n```\nprose\n```text\nx\n```\n```repl\n> X\n3x3\n```\n";
    let found = examples(Path::new("t.md"), md).expect("valid fences");
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].expected.as_deref(), Some("tensor(1.)\n"));
    assert_eq!(found[1].expected, None, "prose between: not its output");
    assert_eq!(found[2].mode, Mode::Repl);
    assert_eq!(found[2].expected.as_deref(), Some("3x3\n"));
    assert!(examples(Path::new("t.md"), "```cnn,typo\n```\n").is_err());
}
