//! A real terminal driven through tmux, patient enough for a loaded
//! machine: it polls the screen and waits up to two minutes for each thing
//! it expects, and skips loudly where tmux is not installed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for something to appear on the screen.
const PATIENCE: Duration = Duration::from_secs(120);
/// How often to look.
const POLL: Duration = Duration::from_millis(100);

/// A tmux server of our own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
    /// Prompts seen so far (see [`Tmux::wait_prompt`]).
    prompts: usize,
}

impl Tmux {
    /// Start `command` in a 120x30 terminal in `dir`; `None` (with a loud
    /// SKIPPED line) when tmux is not installed. With `keep`, the pane stays
    /// after the command ends, so its screen and exit status can be read.
    pub fn start(name: &str, command: &str, dir: &Path, keep: bool) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("SKIPPED: tmux is not installed; the terminal test {name} did not run");
            return None;
        }
        let tmux = Tmux {
            socket: format!("cnnscript-{name}-{}", std::process::id()),
            prompts: 0,
        };
        let dir = dir.display().to_string();
        // a scrollback long enough that nothing a test looks for scrolls
        // away while training prints quickly on a slow machine; set before
        // the pane exists, which takes it from the global option
        let mut args = vec![
            "start-server",
            ";",
            "set-option",
            "-g",
            "history-limit",
            "1000000",
        ];
        args.extend([
            ";",
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "-c",
            &dir,
        ]);
        args.push(command);
        if keep {
            // set in the same tmux call, before the command can end
            args.extend([";", "set-option", "-t", "0", "remain-on-exit", "on"]);
        }
        let status = tmux.cmd(&args).status().expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    /// Type `text` literally.
    pub fn type_text(&self, text: &str) {
        let ok = self
            .cmd(&["send-keys", "-t", "0", "-l", text])
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    /// Press a key (`Enter`, `Tab`, `C-c`, `C-d`).
    pub fn key(&self, key: &str) {
        let ok = self
            .cmd(&["send-keys", "-t", "0", key])
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    /// The whole screen with its scrollback, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-J", "-S", "-", "-t", "0"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows `text` `times` times; the screen.
    pub fn wait_for(&self, text: &str, times: usize) -> String {
        self.wait_until(&format!("{text:?} ({times} times)"), |s| {
            s.matches(text).count() >= times
        })
    }

    /// Wait until `done` holds for the screen; the screen.
    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Wait for the next `prompt` (one more than seen so far): the previous
    /// entry is finished and the line editor reads keys again.
    pub fn wait_prompt(&mut self, prompt: &str) -> String {
        self.prompts += 1;
        self.wait_for(prompt, self.prompts)
    }

    /// Type an entry and press Enter, once the prompt is there.
    pub fn enter(&mut self, prompt: &str, text: &str) {
        self.wait_prompt(prompt);
        self.type_text(text);
        self.key("Enter");
    }

    /// Whether the session (its command) still runs.
    pub fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "0"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Wait until the command has ended (without `keep`, the session is gone).
    pub fn wait_until_gone(&self) {
        let deadline = Instant::now() + PATIENCE;
        while self.alive() {
            assert!(Instant::now() < deadline, "the command did not end");
            std::thread::sleep(POLL);
        }
    }

    /// With `keep`: wait until the command has ended; its exit status.
    ///
    /// tmux (3.3a, built with libutempter, as Debian ships it) can lose the
    /// SIGCHLD of a pane's command: when the pane's terminal closes it runs
    /// the utempter helper with a SIGCHLD handler of its own, and a command
    /// that exits meanwhile stays an unreaped zombie, its pane dead without
    /// an exit status, for good. Seen in about one run in ten of any command
    /// that exits shortly after printing (`sh -c "seq 20000; exit 130"`),
    /// not only ours. A SIGCHLD sent to the server makes it reap the command
    /// and record its status; it is harmless when nothing is waiting.
    pub fn wait_exit(&self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.show("#{pane_dead} #{pane_dead_status} #{pane_dead_signal}");
            let mut fields = text.split(' ');
            if fields.next() == Some("1") {
                let status = fields.next().unwrap_or_default().trim();
                let signal = fields.next().unwrap_or_default().trim();
                if let Ok(status) = status.parse() {
                    return status;
                }
                assert!(
                    signal.is_empty(),
                    "the command was ended by signal {signal}; the screen:\n{}",
                    self.screen()
                );
                self.nudge_server();
            }
            assert!(
                Instant::now() < deadline,
                "the command did not end; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(POLL);
        }
    }

    /// `format` expanded for the pane (`display-message -p`).
    fn show(&self, format: &str) -> String {
        let out = self
            .cmd(&["display-message", "-p", "-t", "0", format])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Send the server a SIGCHLD (see [`Tmux::wait_exit`]).
    fn nudge_server(&self) {
        let pid = self.show("#{pid}");
        if pid.parse::<u32>().is_ok() {
            let _ = Command::new("kill").args(["-s", "CHLD", &pid]).status();
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).output();
    }
}
