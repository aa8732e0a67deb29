//! Record and replay end to end: a simulated spot-interruption run is recorded while a live
//! app takes it in, then replayed into a second app; at several moments the screens the
//! live app showed must equal what the time cursor shows, both in the live app afterwards
//! and in the replay. Then the real binary in tmux: record a demo, move the time cursor,
//! freeze, export, quit, and replay the file.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kockpit::app::keymap::Keymap;
use kockpit::app::message::{Action, Message};
use kockpit::app::record::Recorder;
use kockpit::app::state::State;
use kockpit::app::timeline::shown;
use kockpit::app::update::{footer_hints, update};
use kockpit::backend::Backend;
use kockpit::backend::replay::ReplayBackend;
use kockpit::backend::sim;
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::prices::PriceTable;
use kockpit::domain::{Pane, Timestamp, Update};
use kockpit::ui::theme::Theme;
use kockpit::ui::{RenderInput, Screen, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SEED: u64 = 11;
/// Engine steps between the moments compared (5 s each: two minutes).
const STEPS_PER_MOMENT: u64 = 24;
const MOMENTS: usize = 4;
const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
const SCREENS: [Screen; 3] = [
    Screen::Overview,
    Screen::Pane(Pane::Nodes),
    Screen::Pane(Pane::Spend),
];

fn new_state() -> State {
    State::new(
        AnalysisConfig {
            thresholds: Default::default(),
            prices: PriceTable::builtin(),
        },
        Keymap::default(),
        1.0,
    )
}

/// The screen as text, without the rows that must differ between live and replay or
/// between now and a cursor: the header (banner, clock or cursor) and the footer (key
/// hints, or the history strip while the cursor is in use).
fn body(state: &State, screen: Screen, width: u16, height: u16) -> Vec<String> {
    let mut state_view = state.view.clone();
    state_view.screen = screen;
    let theme = Theme::default();
    let keys = state.keymap.hints();
    let footer = footer_hints(state);
    let input = RenderInput {
        cockpit: shown(state),
        view: &state_view,
        theme: &theme,
        keys: &keys,
        footer: &footer,
        notices: &[],
        fleet: None,
    };
    let mut terminal =
        Terminal::new(TestBackend::new(width, height)).unwrap_or_else(|never| match never {});
    if let Err(error) = terminal.draw(|frame| render(frame, &input)) {
        panic!("draw: {error}");
    }
    let buffer = terminal.backend().buffer();
    let rows: Vec<String> = (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect();
    rows[1..height as usize - 1].to_vec()
}

/// Every screen at every size, as one comparable value.
fn all_screens(state: &State) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (width, height) in SIZES {
        for screen in SCREENS {
            out.push(body(state, screen, width, height));
        }
    }
    out
}

/// The first screen that differs, both versions, for the failure message.
fn first_difference(got: &[Vec<String>], expected: &[Vec<String>]) -> String {
    for (got, expected) in got.iter().zip(expected) {
        if got != expected {
            return format!(
                "got:\n{}\nexpected:\n{}",
                got.join("\n"),
                expected.join("\n")
            );
        }
    }
    "different number of screens".to_string()
}

fn apply(state: &mut State, update: Update) {
    update_state(state, Message::Backend(update));
}

fn update_state(state: &mut State, message: Message) {
    let _ = update(state, message);
}

/// Moves the time cursor with `[` until the screen shows `at`.
fn cursor_to(state: &mut State, at: Timestamp) {
    update_state(state, Message::Action(Action::TimeNow));
    if shown(state).now == Some(at) {
        return;
    }
    for _ in 0..10_000 {
        update_state(state, Message::Action(Action::TimeBack));
        match shown(state).now {
            Some(now) if now == at => return,
            Some(now) if now < at => panic!("the cursor skipped {at}: it is at {now}"),
            _ => {}
        }
    }
    panic!("the cursor never reached {at}");
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kockpit-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

struct Moment {
    at: Timestamp,
    screens: Vec<Vec<String>>,
}

/// Runs the simulator faster than real time into a live app, recording every update.
fn record_demo_run(path: &Path) -> (State, Vec<Moment>) {
    let scenario = sim::scenarios::load("spot-interruption").unwrap_or_else(|e| panic!("{e}"));
    let (mut cluster, burst) = sim::initial_updates(&scenario, SEED, Duration::ZERO);
    let recorder = Recorder::create(path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut live = new_state();
    let deliver = |live: &mut State, update: Update| {
        recorder.record(0, &update);
        apply(live, update);
    };
    for update in burst {
        deliver(&mut live, update);
    }
    deliver(&mut live, Update::InitialSyncDone);
    let mut moments = Vec::new();
    for _ in 0..MOMENTS {
        let at = live.cockpit.now.unwrap_or_else(|| panic!("no time yet"));
        moments.push(Moment {
            at,
            screens: all_screens(&live),
        });
        for _ in 0..STEPS_PER_MOMENT {
            cluster.advance(1);
            for update in cluster.updates() {
                deliver(&mut live, update);
            }
            deliver(&mut live, Update::Clock { at: cluster.now() });
        }
    }
    let stats = recorder.finish().unwrap_or_else(|e| panic!("{e}"));
    assert!(stats.records > 1000, "{stats:?}");
    (live, moments)
}

/// Replays a file into a fresh app until the replay says it has ended.
async fn replay(path: &Path) -> State {
    let backend = ReplayBackend::open(path, 3600.0).unwrap_or_else(|e| panic!("{e}"));
    assert!(backend.damage().is_none());
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4096);
    let handle = Box::new(backend).start(sender);
    let mut state = new_state();
    state.replay = true;
    loop {
        match tokio::time::timeout(Duration::from_secs(120), receiver.recv()).await {
            Ok(Some(Update::Notice { text })) => {
                assert!(text.contains("end of the recording"), "{text}");
                break;
            }
            Ok(Some(update)) => apply(&mut state, update),
            other => panic!("the replay ended early: {other:?}"),
        }
    }
    handle.shutdown();
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_shows_what_was_shown_live_at_every_cursor_position() {
    let path = temp_path("demo.kock");
    let (mut live, moments) = record_demo_run(&path);
    let mut replayed = replay(&path).await;

    assert_eq!(replayed.cockpit.cluster.source, "replay");
    assert_eq!(replayed.cockpit.cluster.name, live.cockpit.cluster.name);
    assert_eq!(replayed.cockpit.now, live.cockpit.now);
    // Live at the end, the same screens.
    assert_eq!(all_screens(&replayed), all_screens(&live));

    for moment in &moments {
        cursor_to(&mut live, moment.at);
        assert!(
            all_screens(&live) == moment.screens,
            "live, with the cursor at {}, differs from what was shown then:\n{}",
            moment.at,
            first_difference(&all_screens(&live), &moment.screens)
        );
        cursor_to(&mut replayed, moment.at);
        assert!(
            all_screens(&replayed) == moment.screens,
            "the replay, with the cursor at {}, differs from what was shown live then:\n{}",
            moment.at,
            first_difference(&all_screens(&replayed), &moment.screens)
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_recording_replays_up_to_the_cut_and_says_so() {
    let path = temp_path("cut.kock");
    let _ = record_demo_run(&path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let cut_path = temp_path("cut-short.kock");
    std::fs::write(&cut_path, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let backend = ReplayBackend::open(&cut_path, 3600.0).unwrap_or_else(|e| panic!("{e}"));
    let damage = backend
        .damage()
        .cloned()
        .unwrap_or_else(|| panic!("the cut was not noticed"));
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4096);
    let handle = Box::new(backend).start(sender);
    let mut state = new_state();
    loop {
        match tokio::time::timeout(Duration::from_secs(120), receiver.recv()).await {
            Ok(Some(Update::Notice { text })) => {
                assert_eq!(text, damage.to_string());
                assert!(text.contains("replay stopped there"), "{text}");
                break;
            }
            Ok(Some(update)) => apply(&mut state, update),
            other => panic!("the replay ended early: {other:?}"),
        }
    }
    handle.shutdown();
    // Half a file still holds the cluster and its history.
    assert_eq!(state.cockpit.cluster.source, "replay");
    assert!(state.cockpit.has_data(Pane::Nodes));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&cut_path);
}

/// Polls until `path` exists and is not empty, or fails after the screen deadline.
fn wait_for_file(path: &std::path::Path) {
    let started = std::time::Instant::now();
    while !path.metadata().is_ok_and(|m| m.len() > 0) {
        assert!(
            started.elapsed() < support::tmux::SCREEN_DEADLINE,
            "{} was not written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn record_travel_in_time_export_and_replay_in_tmux() {
    use support::tmux::TmuxSession;
    let dir = std::env::temp_dir().join(format!("kockpit-tmux-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let record = dir.join("r.kock");
    let record_arg = record.to_string_lossy().into_owned();
    let export_dir = dir.to_string_lossy().into_owned();
    let env = [("KOCKPIT_EXPORT_DIR", export_dir.as_str())];
    let cluster = "sim-spot-interruption";
    {
        let session = TmuxSession::start(
            "record",
            120,
            32,
            &[
                "--demo",
                "--scenario",
                "spot-interruption",
                "--record",
                &record_arg,
            ],
            &env,
        );
        session.wait_for_all("the live demo", &["SIMULATED", cluster, "Nodes"]);

        session.send(&["[", "[", "["]);
        session.wait_for_all(
            "the cursor in the header and the history strip",
            &["◀", "−", "history"],
        );
        session.send(&["0"]);
        session.wait_for("back to now", |screen| {
            !screen.contains("◀") && !screen.contains("history")
        });

        session.send(&["f"]);
        session.wait_for_all("the frozen screen", &["FROZEN"]);
        session.send(&["Escape"]);
        session.wait_for("Esc to return to now", |screen| !screen.contains("FROZEN"));

        session.send(&["e"]);
        session.wait_for_all("the export notice", &["snapshot written to"]);
        let snapshot = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == "md"))
            .unwrap_or_else(|| panic!("no Markdown snapshot in {}", dir.display()));
        let markdown = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            markdown.contains(&format!("# kockpit snapshot: {cluster}")),
            "{markdown}"
        );
        assert!(markdown.contains("## Fixes applied"), "{markdown}");
        assert!(snapshot.with_extension("json").exists());

        session.send(&["q"]);
        session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
    }
    wait_for_file(&record);

    let session = TmuxSession::start("replay", 120, 32, &["replay", &record_arg], &[]);
    session.wait_for_all(
        "the replay of the same cluster",
        &["REPLAY", cluster, "r.kock", "Nodes"],
    );
    session.send(&["["]);
    session.wait_for_all("the time cursor in the replay", &["◀", "history"]);
    session.send(&["q"]);
    session.wait_for_all("the replay to exit", &["KOCKPIT-EXITED-0"]);
    drop(session);

    // A file from a newer kockpit is refused before the terminal is taken over.
    let mut newer = std::fs::read(&record).unwrap_or_else(|e| panic!("{e}"));
    newer[8] = newer[8].wrapping_add(1);
    let newer_path = dir.join("newer.kock");
    std::fs::write(&newer_path, newer).unwrap_or_else(|e| panic!("{e}"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .arg("replay")
        .arg(&newer_path)
        .env("KOCKPIT_STATE_DIR", &dir)
        .env("KOCKPIT_CONFIG_DIR", &dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer kockpit"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Applies updates from `updates` to `state` until `done` holds, or fails after a deadline.
async fn apply_until(
    state: &mut State,
    updates: &mut tokio::sync::mpsc::Receiver<Update>,
    what: &str,
    done: impl Fn(&State) -> bool,
) {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(state) {
        match tokio::time::timeout_at(until, updates.recv()).await {
            Ok(Some(update)) => apply(state, update),
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_against_sim_serve_replays_as_it_was_shown() {
    use kockpit::backend::live::{LiveBackend, LiveOptions};
    use kockpit::backend::sim::serve::{ServeOptions, Server};

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = sim::scenarios::load("spot-interruption").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    // A still clock: the served cluster changes only when the test steps it.
    options.speed = 0.0;
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let kubeconfig = temp_path("live-kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));

    // The recorder sits between the live backend and the app, as `--record` does.
    let path = temp_path("live.kock");
    let recorder = Recorder::create(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let (sender, upstream) = tokio::sync::mpsc::channel(4096);
    let handle = Box::new(LiveBackend::new(LiveOptions {
        kubeconfig: Some(kubeconfig.clone()),
        ..LiveOptions::default()
    }))
    .start(sender);
    let (mut updates, recording) = recorder.tee(upstream);
    let mut live = new_state();

    apply_until(&mut live, &mut updates, "the initial sync", |s| {
        s.cockpit.initial_sync_done
    })
    .await;
    let moments = vec![Moment {
        at: live.cockpit.now.unwrap_or_else(|| panic!("no time")),
        screens: all_screens(&live),
    }];
    let nodes_before = live.cockpit.nodes.clone();
    // Ten virtual minutes of spot interruptions: nodes come and go.
    server.step(120).await;
    apply_until(&mut live, &mut updates, "the node churn", |s| {
        s.cockpit.nodes != nodes_before
    })
    .await;
    // Live watch events of one instant arrive one by one, so a screen caught between two
    // of them is not an instant the cursor can name: later moments are compared between
    // the live app's own cursor and the replay's.
    let churned_at = live.cockpit.now.unwrap_or_else(|| panic!("no time"));
    handle.shutdown();
    // Whatever was recorded but not yet read by the live app still belongs to the run:
    // read until the backend has stopped and the recorder has passed everything on, or
    // the live side would miss updates the recording has.
    let mut late = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(until, updates.recv()).await {
            Ok(Some(update)) => late.push(update),
            Ok(None) => break,
            Err(_) => panic!("the live backend did not stop within a minute of shutdown"),
        }
    }
    drop(updates);
    let stats = recording.finish().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(stats.records > 2, "{stats:?}");
    server.stop().await;

    let mut replayed = replay(&path).await;
    assert_eq!(replayed.cockpit.cluster.source, "replay");
    assert_eq!(replayed.cockpit.cluster.name, live.cockpit.cluster.name);
    for moment in &moments {
        cursor_to(&mut replayed, moment.at);
        assert!(
            all_screens(&replayed) == moment.screens,
            "the replay, with the cursor at {}, differs from what was shown live then:\n{}",
            moment.at,
            first_difference(&all_screens(&replayed), &moment.screens)
        );
    }
    // Drain what the live app had not read yet, as it would have, then compare cursors.
    for update in late {
        apply(&mut live, update);
    }
    cursor_to(&mut live, churned_at);
    cursor_to(&mut replayed, churned_at);
    assert!(
        all_screens(&replayed) == all_screens(&live),
        "at {churned_at} the replay's cursor differs from the live cursor:\n{}",
        first_difference(&all_screens(&replayed), &all_screens(&live))
    );
    let _ = std::fs::remove_file(&path);
}

/// A recording of a simulated fleet replays as a fleet: both regions on the fleet screen,
/// each replaying its own updates, and either can be opened.
#[test]
fn a_recorded_fleet_replays_as_a_fleet_in_tmux() {
    use support::tmux::TmuxSession;
    let dir = std::env::temp_dir().join(format!("kockpit-tmux-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let record = dir.join("failover.kock");
    let record_arg = record.to_string_lossy().into_owned();
    let pair = "regional-failover-euw1,regional-failover-euc1";
    {
        let session = TmuxSession::start(
            "record-fleet",
            160,
            48,
            &["--demo", "--scenario", pair, "--record", &record_arg],
            &[],
        );
        session.wait_for("both regions on the fleet screen", |s| {
            s.contains("Clusters 2")
                && s.contains("regional-failover-euw1")
                && s.contains("regional-failover-euc1")
                && s.contains("NodePool general is at its CPU limit")
        });
        session.send(&["q"]);
        session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
    }
    wait_for_file(&record);

    let session = TmuxSession::start("replay-fleet", 160, 48, &["replay", &record_arg], &[]);
    session.wait_for("the replayed fleet", |s| {
        s.contains("Clusters 2")
            && s.contains("REPLAY")
            && s.contains("returns 18% 5xx")
            && s.contains("NodePool general is at its CPU limit")
    });
    session.send(&["Down", "Enter"]);
    session.wait_for_all(
        "the receiving region's replay in view",
        &[
            "[regional-failover-euc1 2/2]",
            "failover.kock · regional-failover-euc1",
        ],
    );
    session.send(&["q"]);
    session.wait_for_all("the replay to exit", &["KOCKPIT-EXITED-0"]);
    drop(session);
    let _ = std::fs::remove_dir_all(&dir);
}
