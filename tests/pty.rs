//! The real binary in a real terminal: `mllab` runs inside a detached tmux pane, keys go in with
//! `tmux send-keys`, and the screen comes back with `tmux capture-pane`.
//!
//! Each test starts its own tmux server on a private socket inside its temp dir (`tmux -S`), so
//! tests run in parallel, never touch a tmux the developer is using, and leave no socket behind;
//! a guard kills the session and that server when the test ends, on success or failure. Every
//! wait polls with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const FIXTURE: &str = "tests/fixtures/tui/lessons/regression-gd.yaml";
const TITLE: &str = "Fitting a line by gradient descent";
const WAIT: Duration = Duration::from_secs(10);

/// A detached tmux session on a private server; dropping it kills the server.
struct Tmux {
    socket: PathBuf,
    session: String,
}

impl Tmux {
    /// Starts `command` in a new `width`×`height` pane, working directory `dir`; the server's
    /// socket lives in `dir`.
    fn start(dir: &Path, width: u16, height: u16, command: &str) -> Tmux {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let session = format!(
            "mllab-pty-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
            session,
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            &dir.display().to_string(),
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// Runs a tmux command against this test's own server (`-u`: the client speaks UTF-8;
    /// `-f /dev/null`: no user configuration).
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-u", "-f", "/dev/null", "-S"])
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn send(&self, key: &str) {
        let out = self.run(&["send-keys", "-t", &self.session, key]);
        assert!(
            out.status.success(),
            "tmux send-keys {key} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The visible pane, one line per row.
    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `ok` holds; panics with the last screen after `WAIT`.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out after {WAIT:?} waiting for {what}; the pane shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-session", "-t", &self.session]);
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether tmux runs here. Without it a test skips, saying why on stderr, unless
/// `MLLAB_REQUIRE_TMUX` is set (CI sets it): then a missing tmux fails the test, so that the
/// real-terminal tests never pass there by not running.
fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let required =
        std::env::var_os("MLLAB_REQUIRE_TMUX").is_some_and(|v| !v.is_empty() && v != "0");
    if !found && required {
        panic!("tmux is not installed (or does not run), and MLLAB_REQUIRE_TMUX asks for it");
    }
    if !found {
        eprintln!(
            "skipping this real-terminal test: tmux is not installed (set MLLAB_REQUIRE_TMUX=1 to make that a failure)"
        );
    }
    found
}

fn is_braille(c: char) -> bool {
    ('\u{2801}'..='\u{28FF}').contains(&c)
}

/// Quotes a path for `sh`.
fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// True when the loss panel (the left 40 % of a 120-column screen) holds braille dots.
fn loss_chart_drawn(screen: &str) -> bool {
    let mut in_chart = false;
    for line in screen.lines() {
        let left: String = line.chars().take(48).collect();
        if left.contains("┌ loss ") {
            in_chart = true;
        } else if in_chart && left.chars().any(is_braille) {
            return true;
        }
    }
    false
}

/// A temp dir with `lessons/` (a copy of the regression lesson) and an empty `saves/`.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lessons")).unwrap();
        std::fs::create_dir(dir.path().join("saves")).unwrap();
        std::fs::copy(FIXTURE, dir.path().join("lessons/regression-gd.yaml")).unwrap();
        Workspace { dir }
    }

    fn saves(&self) -> PathBuf {
        self.dir.path().join("saves")
    }

    /// Starts mllab in a 120×36 pane under `locale`; the pane stays open after it exits and
    /// shows its exit code.
    fn start_mllab(&self, locale: &str) -> Tmux {
        self.start_mllab_with(locale, "")
    }

    /// The same, with extra environment settings (`EDITOR=…`).
    fn start_mllab_with(&self, locale: &str, env: &str) -> Tmux {
        let command = format!(
            "env LC_ALL={locale} LANG={locale} {env} {} --lessons {} --save-dir {}; echo MLLAB_EXITED $?; sleep 30",
            quoted(Path::new(env!("CARGO_BIN_EXE_mllab"))),
            quoted(&self.dir.path().join("lessons")),
            quoted(&self.saves())
        );
        Tmux::start(self.dir.path(), 120, 36, &command)
    }
}

#[test]
fn the_binary_browses_runs_a_lesson_with_a_live_chart_and_quits_cleanly_in_a_real_terminal() {
    if !tmux_available() {
        return;
    }
    let ws = Workspace::new();
    let tmux = ws.start_mllab("C.UTF-8");

    // The browser lists the lesson.
    tmux.wait_for("the browser with the lesson", |s| {
        s.contains(TITLE) && s.contains("mllab · lessons")
    });

    // Enter runs it; the loss chart fills with braille.
    tmux.send("Enter");
    let screen = tmux.wait_for("a loss chart drawn in braille", loss_chart_drawn);
    assert!(
        screen.contains("live"),
        "the run view says it is live:\n{screen}"
    );

    // q stops the live run and shows how it ended; q again goes back to the browser, and
    // q once more quits and leaves the alternate screen.
    tmux.send("q");
    tmux.wait_for("the stopped run", |s| s.contains("■ stopped"));
    tmux.send("q");
    tmux.wait_for("the browser again", |s| {
        s.contains("mllab · lessons") && !s.contains("┌ loss ")
    });
    tmux.send("q");
    let screen = tmux.wait_for("mllab to exit", |s| s.contains("MLLAB_EXITED"));
    assert!(
        screen.contains("MLLAB_EXITED 0"),
        "mllab exits with 0:\n{screen}"
    );
    assert!(
        !screen.contains(TITLE) && !screen.contains("mllab · lessons"),
        "the alternate screen is gone:\n{screen}"
    );

    // The run was saved.
    let saved = std::fs::read_dir(ws.saves().join("regression-gd"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(saved, 1, "the run left one save");
}

#[test]
fn the_binary_speaks_chinese_asks_to_be_enlarged_when_shrunk_and_quits_on_ctrl_c() {
    if !tmux_available() {
        return;
    }
    let ws = Workspace::new();
    let tmux = ws.start_mllab("zh_CN.UTF-8");
    tmux.wait_for("the browser in Chinese", |s| {
        s.contains("mllab · 课程") && s.contains("用梯度下降拟合直线")
    });

    let out = tmux.run(&["resize-window", "-t", &tmux.session, "-x", "50", "-y", "12"]);
    assert!(
        out.status.success(),
        "tmux resize-window failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("the request to enlarge the window", |s| {
        s.contains("请把窗口放大") && s.contains("50×12")
    });

    let out = tmux.run(&[
        "resize-window",
        "-t",
        &tmux.session,
        "-x",
        "120",
        "-y",
        "36",
    ]);
    assert!(
        out.status.success(),
        "tmux resize-window failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("the browser after the resize", |s| {
        s.contains("mllab · 课程") && !s.contains("请把窗口放大")
    });

    tmux.send("C-c");
    let screen = tmux.wait_for("mllab to exit", |s| s.contains("MLLAB_EXITED"));
    assert!(
        screen.contains("MLLAB_EXITED 0"),
        "Ctrl-C quits with 0:\n{screen}"
    );
    assert!(
        !screen.contains("mllab · 课程"),
        "the alternate screen is gone:\n{screen}"
    );
}

#[test]
fn e_opens_the_lesson_in_the_editor_and_the_next_run_uses_the_edited_values() {
    if !tmux_available() {
        return;
    }
    let ws = Workspace::new();
    // The "editor" changes the number of steps in the file it is given, then exits.
    let editor = ws.dir.path().join("edit.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/^  steps: 3000/  steps: 77/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let tmux = ws.start_mllab_with("C.UTF-8", &format!("VISUAL= EDITOR={}", quoted(&editor)));
    tmux.wait_for("the browser", |s| s.contains(TITLE));
    tmux.send("e");
    tmux.wait_for("the reloaded lesson", |s| s.contains("Lesson reloaded"));
    let text = std::fs::read_to_string(ws.dir.path().join("lessons/regression-gd.yaml")).unwrap();
    assert!(text.contains("  steps: 77"), "the editor changed the file");
    // Running it now uses the edited value.
    tmux.send("Enter");
    tmux.wait_for("a run of 77 steps", |s| s.contains("/77"));
    tmux.send("q");
    tmux.wait_for("the run's end", |s| {
        s.contains("■ stopped") || s.contains("■ finished")
    });
    tmux.send("q");
    tmux.wait_for("the browser again", |s| {
        s.contains("mllab · lessons") && !s.contains("┌ loss ")
    });
    tmux.send("q");
    tmux.wait_for("mllab to exit", |s| s.contains("MLLAB_EXITED 0"));
}

/// The step the run view's status line shows (`step N/M`), if any.
fn shown_step(screen: &str) -> Option<u64> {
    let at = screen.find("step ")? + "step ".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn e_during_a_run_pauses_it_for_the_editor_and_it_stays_paused_until_resumed() {
    if !tmux_available() {
        println!("tmux not found: skipping pty test");
        return;
    }
    let ws = Workspace::new();
    // An "editor" that takes a moment, as a learner would, then changes the number of steps.
    let editor = ws.dir.path().join("edit.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsleep 1\nsed -i 's/^  steps: 3000/  steps: 77/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let tmux = ws.start_mllab_with("C.UTF-8", &format!("VISUAL= EDITOR={}", quoted(&editor)));
    tmux.wait_for("the browser", |s| s.contains(TITLE));
    tmux.send("Enter");
    tmux.wait_for("the run training", |s| {
        s.contains("▶ running") && shown_step(s).is_some_and(|n| n > 0)
    });
    tmux.send("e");
    let screen = tmux.wait_for("the run paused after the editor", |s| {
        s.contains("⏸ paused for editing") && s.contains("stays paused")
    });
    let paused_at = shown_step(&screen).expect("the status line shows the step");
    assert!(paused_at < 3000, "paused before the end, at {paused_at}");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        shown_step(&tmux.capture()),
        Some(paused_at),
        "the run stays paused after the editor"
    );
    // Space resumes it; r then runs the edited lesson.
    tmux.send("Space");
    tmux.wait_for("the run resumed", |s| {
        s.contains("▶ running") && shown_step(s).is_some_and(|n| n > paused_at)
    });
    tmux.send("r");
    tmux.wait_for("a run of the edited 77 steps", |s| s.contains("/77"));
    tmux.send("q");
    tmux.wait_for("the run's end", |s| {
        s.contains("■ stopped") || s.contains("✓ done")
    });
    tmux.send("q");
    tmux.wait_for("the browser again", |s| {
        s.contains("mllab · lessons") && !s.contains("┌ loss ")
    });
    tmux.send("q");
    tmux.wait_for("mllab to exit", |s| s.contains("MLLAB_EXITED 0"));
}
