//! The REPL's loops: the line editor on a terminal, entries line by line
//! from piped stdin.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::{helper, lexer, Outcome, Session};
use crate::diag::Style;
use crate::session::EXIT_SCRIPT;

/// The prompt shown on a terminal.
const PROMPT: &str = "cnn> ";

/// `cnnscript repl`: the line editor on a terminal, else line-by-line stdin.
pub fn run() -> u8 {
    if std::io::stdin().is_terminal() {
        interactive()
    } else {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        run_piped(stdin.lock(), &mut stdout.lock(), &mut stderr.lock())
    }
}

/// Read entries from `input` (no prompt, no colours): lines accumulate while
/// a bracket is open or the last one ends in `->`. Every entry is answered
/// and the session goes on after errors; the status is 1 if any entry
/// failed (as `sqlite3` does with piped input), else 0.
pub fn run_piped(mut input: impl BufRead, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut session = Session::new(Style::Plain);
    let mut pending = String::new();
    let mut failed = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let at_end = match input.read_until(b'\n', &mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                let _ = writeln!(err, "error: cannot read stdin: {e}");
                return EXIT_SCRIPT;
            }
        };
        if !at_end {
            pending.push_str(&String::from_utf8_lossy(&buf));
            if continues(&pending) {
                continue;
            }
        }
        let entry = std::mem::take(&mut pending);
        let entry = entry.strip_suffix('\n').unwrap_or(&entry);
        let entry = entry.strip_suffix('\r').unwrap_or(entry);
        match session.entry(entry, &mut &mut *out, err) {
            Outcome::Done => {}
            Outcome::Failed => failed = true,
            Outcome::Quit => break,
        }
        if at_end {
            break;
        }
    }
    let _ = out.flush();
    u8::from(failed) * EXIT_SCRIPT
}

/// Whether the lines read so far are an unfinished entry: a bracket is
/// open or the last line ends in `->` (a meta command is one line).
pub fn continues(pending: &str) -> bool {
    !pending.trim_start().starts_with(':') && lexer::needs_more(pending)
}

/// Where history is kept: `$XDG_DATA_HOME/cnnscript/history` on Linux.
pub fn history_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("cnnscript").join("history"))
}

/// Append the new history entries; say once (on stderr) if that fails.
fn save_history(
    editor: &mut rustyline::Editor<helper::ReplHelper, rustyline::history::DefaultHistory>,
    path: Option<&Path>,
    warned: &mut bool,
) {
    let Some(path) = path else { return };
    let result = match path.parent().map(std::fs::create_dir_all) {
        Some(Err(e)) => Err(e.to_string()),
        _ => editor.append_history(path).map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        if !*warned {
            eprintln!(
                "note: cannot save history to {}: {e} (the session goes on)",
                path.display()
            );
            *warned = true;
        }
    }
}

fn interactive() -> u8 {
    use rustyline::error::ReadlineError;
    use rustyline::{CompletionType, Config, Editor};

    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List);
    let config = match builder.history_ignore_dups(true) {
        Ok(b) => b.build(),
        Err(_) => Config::default(),
    };
    let mut editor: Editor<helper::ReplHelper, _> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return EXIT_SCRIPT;
        }
    };
    editor.set_helper(Some(helper::ReplHelper::new(colour)));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "cnnscript {} — shape questions, statements, :help. Ctrl-D quits.",
        env!("CARGO_PKG_VERSION")
    );
    let mut session = Session::new(Style::for_stderr());
    let mut warned = false;
    loop {
        if let Some(h) = editor.helper_mut() {
            h.set_names(session.names());
        }
        match editor.readline(PROMPT) {
            Ok(entry) => {
                if !entry.trim().is_empty() {
                    let _ = editor.add_history_entry(entry.as_str());
                    save_history(&mut editor, history.as_deref(), &mut warned);
                }
                let stdout = std::io::stdout();
                let stderr = std::io::stderr();
                let outcome = session.entry(&entry, &mut stdout.lock(), &mut stderr.lock());
                if outcome == Outcome::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_SCRIPT;
            }
        }
    }
    0
}
