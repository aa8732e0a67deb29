//! Drives the real kockpit binary inside tmux, the way a person at a terminal would: start
//! it at a given size, type keys, read the screen. Each session runs on its own tmux
//! server socket and is killed when the handle is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a test waits for the screen to show what it expects before failing.
pub const SCREEN_DEADLINE: Duration = Duration::from_secs(20);

pub struct TmuxSession {
    socket: String,
    /// Private config and state directories, so the user's own files never interfere.
    home: PathBuf,
}

/// Fails the test with install instructions when tmux is missing: a screen test must never
/// pass by silently not running.
pub fn require_tmux() {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tmux is needed to drive kockpit as a user would, and was not found. \
         Install it with `apt-get install tmux` (scripts/test does this for you)."
    );
}

impl TmuxSession {
    /// Starts `kockpit ARGS` in a detached tmux session of `width`×`height`, with `env` set.
    /// The shell stays open after kockpit exits and prints its exit status, so a test can
    /// check that the terminal came back in order.
    pub fn start(name: &str, width: u16, height: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        require_tmux();
        let socket = format!("kockpit-test-{name}-{}", std::process::id());
        let home = std::env::temp_dir().join(&socket);
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join("config")).expect("config dir");
        std::fs::create_dir_all(home.join("state")).expect("state dir");

        let binary = env!("CARGO_BIN_EXE_kockpit");
        let mut command_line = format!(
            "env TERM=xterm-256color KOCKPIT_CONFIG_DIR={} KOCKPIT_STATE_DIR={}",
            shell_quote(&home.join("config")),
            shell_quote(&home.join("state")),
        );
        for (key, value) in env {
            command_line.push_str(&format!(" {key}={}", shell_quote(Path::new(value))));
        }
        command_line.push(' ');
        command_line.push_str(&shell_quote(Path::new(binary)));
        for arg in args {
            command_line.push(' ');
            command_line.push_str(&shell_quote(Path::new(arg)));
        }
        command_line.push_str("; echo KOCKPIT-EXITED-$?; sleep 600");

        let session = TmuxSession { socket, home };
        // NO_COLOR must reach kockpit only when a test asks for it.
        let output = session.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "sh",
            "-c",
            &command_line,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        session
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    /// Types keys, in tmux's `send-keys` notation (`q`, `Tab`, `BTab`, `Enter`, `Escape`…).
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        let output = self.tmux(&args);
        assert!(output.status.success(), "tmux send-keys failed");
    }

    /// Types `text` literally (no key names), e.g. an object's name at a prompt.
    pub fn type_text(&self, text: &str) {
        let output = self.tmux(&["send-keys", "-t", "main", "-l", text]);
        assert!(output.status.success(), "tmux send-keys -l failed");
    }

    /// The state directory kockpit runs with (audit log, logs).
    pub fn state_dir(&self) -> PathBuf {
        self.home.join("state")
    }

    /// Like `wait_for`, with a longer deadline for what takes the cluster a while.
    pub fn wait_longer_for(
        &self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if started.elapsed() > deadline {
                panic!("timed out waiting for {what}; the screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The visible screen as plain text.
    pub fn screen(&self) -> String {
        let output = self.tmux(&["capture-pane", "-p", "-t", "main"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The visible screen with its escape sequences (colours and attributes).
    pub fn screen_with_escapes(&self) -> String {
        let output = self.tmux(&["capture-pane", "-p", "-e", "-t", "main"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls the screen until `check` accepts it, or fails the test with the last screen.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if started.elapsed() > SCREEN_DEADLINE {
                panic!("timed out waiting for {what}; the screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until the screen contains every one of `needles`.
    pub fn wait_for_all(&self, what: &str, needles: &[&str]) -> String {
        self.wait_for(what, |screen| needles.iter().all(|n| screen.contains(n)))
    }

    /// The pid of the pane's shell (kockpit is its child).
    pub fn pane_pid(&self) -> u32 {
        let output = self.tmux(&["display", "-p", "-t", "main", "#{pane_pid}"]);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no pane pid"))
    }

    /// Resizes the window, as a user dragging a terminal's corner would.
    pub fn resize(&self, width: u16, height: u16) {
        let output = self.tmux(&[
            "resize-window",
            "-t",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        assert!(output.status.success(), "tmux resize-window failed");
    }

    /// "1" while the program uses the alternate screen, "0" once it gave it back.
    pub fn alternate_screen(&self) -> String {
        let output = self.tmux(&["display", "-p", "-t", "main", "#{alternate_on}"]);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// The size tmux gives the pane, to check a test runs at the size it asked for.
    pub fn size(&self) -> String {
        let output = self.tmux(&[
            "display",
            "-p",
            "-t",
            "main",
            "#{pane_width}x#{pane_height}",
        ]);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for TmuxSession {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn shell_quote(value: &Path) -> String {
    let text = value.to_string_lossy();
    format!("'{}'", text.replace('\'', "'\\''"))
}
