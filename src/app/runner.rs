//! The interactive loop: terminal events and backend updates go into `update`, effects go
//! out to the backend, and a frame is drawn only when something changed, at most
//! `MAX_FRAMES_PER_SECOND` times a second. When nothing happens, nothing runs.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::audit;
use super::config::Settings;
use super::export::{self, ExportRequest};
use super::fixes::{self, FixOutcome};
use super::fleet;
use super::message::{Effect, Message};
use super::record::Recorder;
use super::state::{ClusterId, State};
use super::timeline;
use super::update::{footer_hints, update};
use crate::backend::writer::ClusterWriter;
use crate::backend::{Backend, BackendHandle};
use crate::domain::Update;
use crate::domain::fix::{FixPlan, export as fix_export};
use crate::ui::terminal::{self, RestoreOnDrop, Tui};
use crate::ui::{self, RenderInput};

/// Frames are coalesced: a burst of updates costs one frame, not one frame each.
pub const MAX_FRAMES_PER_SECOND: u32 = 30;
/// Updates queued between backend and app before the backend has to wait.
pub const UPDATE_QUEUE: usize = 4096;
/// How long a backend has to stop by itself when the user quits.
const BACKEND_GRACE: Duration = Duration::from_millis(200);
/// Updates applied per wake-up before a frame gets a chance to be drawn.
pub const MAX_UPDATES_PER_BATCH: usize = 20_000;

/// How a session runs besides its backend.
#[derive(Default)]
pub struct RunOptions {
    /// `--record FILE`: a recorder already created (so a bad path failed before the TUI).
    pub record: Option<Recorder>,
    /// Replaying a recording: fixes are refused.
    pub replay: bool,
    /// `--allow-writes`: fixes may be applied, not only previewed and exported.
    pub allow_writes: bool,
    /// Where audit lines go; the XDG state directory's `audit.jsonl` when `None`.
    pub audit_log: Option<std::path::PathBuf>,
}

pub async fn run(settings: Settings, backend: Box<dyn Backend>, speed: f64) -> anyhow::Result<()> {
    run_with(settings, backend, speed, RunOptions::default()).await
}

/// One cluster, from one backend.
pub async fn run_with(
    settings: Settings,
    backend: Box<dyn Backend>,
    speed: f64,
    options: RunOptions,
) -> anyhow::Result<()> {
    run_fleet(settings, vec![(String::new(), backend)], speed, options).await
}

/// Several clusters, each from its own backend and named by its context, side by side on the
/// fleet screen; a recording holds every one of them.
pub async fn run_fleet(
    settings: Settings,
    clusters: Vec<(String, Box<dyn Backend>)>,
    speed: f64,
    options: RunOptions,
) -> anyhow::Result<()> {
    let mut state = State::new(settings.analysis.clone(), settings.keymap, speed);
    state.replay = options.replay;
    state.allow_writes = options.allow_writes;
    let contexts: Vec<String> = clusters
        .iter()
        .map(|(context, _)| context.clone())
        .collect();
    fleet::start(&mut state, contexts.clone(), &settings.analysis);
    let audit_log = options.audit_log.clone().or_else(audit::default_path);
    for notice in settings.notices {
        tracing::warn!("{notice}");
        state.notify(notice);
    }
    let theme = settings.theme;
    let key_hints = state.keymap.hints();

    let mut backends = Vec::new();
    let mut receivers = Vec::new();
    for (index, (_, backend)) in clusters.into_iter().enumerate() {
        let (sender, updates) = mpsc::channel(UPDATE_QUEUE);
        let backend = backend.start(sender);
        if let Some(writer) = &backend.writer {
            let identity = writer.identity.clone();
            fleet::in_background(&mut state, ClusterId(index), |state| {
                state.identity = identity
            });
        }
        backends.push(backend);
        receivers.push(updates);
    }
    let (receivers, recording) = match options.record {
        Some(recorder) => {
            let (receivers, recording) = recorder.tee_clusters(receivers);
            (receivers, Some(recording))
        }
        None => (receivers, None),
    };
    let mut inbox = Inbox::new(receivers);

    let mut tui = terminal::enter().context("cannot set up the terminal")?;
    let _restore = RestoreOnDrop;
    let (fix_sender, fix_outcomes) = mpsc::unbounded_channel();
    let mut effects = EffectRunner {
        backends: &backends,
        contexts: &contexts,
        recording: recording.as_ref(),
        audit_log,
        fix_sender,
    };
    let result = event_loop(
        &mut tui,
        &mut state,
        &theme,
        &key_hints,
        &mut inbox,
        fix_outcomes,
        &mut effects,
    )
    .await;
    drop(effects);
    for backend in &backends {
        backend.shutdown();
    }
    drop(tui);
    terminal::restore().context("cannot restore the terminal")?;
    // A backend stuck in a request (a credential plugin, a hung API server) must not hold
    // the exit: each gets a moment to stop, then it is stopped.
    let deadline = tokio::time::Instant::now() + BACKEND_GRACE;
    for backend in &mut backends {
        if tokio::time::timeout_at(deadline, &mut backend.task)
            .await
            .is_err()
        {
            backend.task.abort();
        }
    }
    // The app reads no more: the recorder records what is still on its way, then closes.
    drop(inbox);
    if let Some(recording) = recording {
        let path = recording.path().to_path_buf();
        match recording.finish().await {
            Ok(stats) => tracing::info!(
                records = stats.records,
                bytes = stats.file_bytes,
                "recording {} written",
                path.display()
            ),
            Err(error) => eprintln!("kockpit: {error}"),
        }
    }
    result
}

/// The updates of every cluster's backend, read in turn so that a busy cluster cannot keep
/// a quiet one's updates waiting.
pub struct Inbox {
    /// By cluster; `None` once that cluster's backend has stopped.
    receivers: Vec<Option<mpsc::Receiver<Update>>>,
    /// The cluster to look at first next time.
    next: usize,
}

/// What the inbox had: a cluster's queued updates, or the news that its backend stopped.
pub enum Delivery {
    Updates(ClusterId, Vec<Update>),
    Stopped(ClusterId),
}

impl Inbox {
    pub fn new(receivers: Vec<mpsc::Receiver<Update>>) -> Self {
        Inbox {
            receivers: receivers.into_iter().map(Some).collect(),
            next: 0,
        }
    }

    /// Some cluster's backend is still running.
    pub fn open(&self) -> bool {
        self.receivers.iter().any(Option::is_some)
    }

    /// Waits for a cluster with updates, then takes everything it already has queued.
    pub async fn recv(&mut self) -> Delivery {
        std::future::poll_fn(|cx| self.poll(cx)).await
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Delivery> {
        use std::task::Poll;
        let count = self.receivers.len();
        for step in 0..count {
            let index = (self.next + step) % count;
            let Some(receiver) = self.receivers[index].as_mut() else {
                continue;
            };
            match receiver.poll_recv(cx) {
                Poll::Ready(Some(first)) => {
                    self.next = (index + 1) % count;
                    let mut batch = vec![first];
                    while batch.len() < MAX_UPDATES_PER_BATCH {
                        let Ok(next) = receiver.try_recv() else { break };
                        batch.push(next);
                    }
                    return Poll::Ready(Delivery::Updates(ClusterId(index), batch));
                }
                Poll::Ready(None) => {
                    self.receivers[index] = None;
                    return Poll::Ready(Delivery::Stopped(ClusterId(index)));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}

async fn event_loop(
    tui: &mut Tui,
    state: &mut State,
    theme: &ui::theme::Theme,
    key_hints: &[ui::KeyHint],
    inbox: &mut Inbox,
    mut fix_outcomes: mpsc::UnboundedReceiver<(ClusterId, FixOutcome)>,
    runner: &mut EffectRunner<'_>,
) -> anyhow::Result<()> {
    let frame_interval = Duration::from_secs(1) / MAX_FRAMES_PER_SECOND;
    let mut events = EventStream::new();
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut last_frame: Option<Instant> = None;

    loop {
        if state.dirty {
            let due = last_frame.is_none_or(|at| at.elapsed() >= frame_interval);
            if due {
                draw(tui, state, theme, key_hints)?;
                last_frame = Some(Instant::now());
            }
        }
        // Only a pending frame needs a timer; otherwise sleep until something arrives.
        let next_frame = match (state.dirty, last_frame) {
            (true, Some(at)) => Some(at + frame_interval),
            _ => None,
        };

        let effects = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    panic_when_testing(&key);
                    update(state, Message::Key(key))
                }
                Some(Ok(Event::Resize(_, _))) => update(state, Message::Resize),
                Some(Ok(_)) => Vec::new(),
                Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                None => return Ok(()),
            },
            delivery = inbox.recv(), if inbox.open() => match delivery {
                // Take in everything already queued, analyse once, then draw.
                Delivery::Updates(cluster, batch) => {
                    update(state, Message::ClusterUpdates(cluster, batch))
                }
                Delivery::Stopped(cluster) => {
                    let context = state.fleet.context(cluster);
                    let who = if context.is_empty() {
                        "the data source".to_string()
                    } else {
                        format!("{context}: the data source")
                    };
                    state.notify(format!("{who} stopped; showing the last data received"));
                    Vec::new()
                }
            },
            Some((cluster, outcome)) = fix_outcomes.recv() => update(state, Message::Fix(cluster, outcome)),
            _ = tokio::time::sleep_until(next_frame.unwrap_or_else(Instant::now)), if next_frame.is_some() => Vec::new(),
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
        };

        // Effects may produce more (a notice that comes back as a message).
        let mut pending = effects;
        while !pending.is_empty() {
            let mut next = Vec::new();
            for effect in pending {
                match runner.run(tui, effect) {
                    Step::Quit => return Ok(()),
                    Step::Message(message) => next.extend(update(state, *message)),
                    Step::Done => {}
                }
            }
            pending = next;
        }
    }
}

/// With `KOCKPIT_TEST_PANIC` set, `!` panics in the loop: the crash tests check that the
/// terminal comes back and a report is written. Without it, `!` is an ordinary key.
fn panic_when_testing(key: &crossterm::event::KeyEvent) {
    if key.code == crossterm::event::KeyCode::Char('!')
        && std::env::var_os("KOCKPIT_TEST_PANIC").is_some()
    {
        panic!("a test panic (KOCKPIT_TEST_PANIC is set)");
    }
}

/// What the loop does after an effect ran.
enum Step {
    Done,
    Quit,
    Message(Box<Message>),
}

impl Step {
    fn notice(text: impl Into<String>) -> Step {
        Step::Message(Box::new(Message::Notice(text.into())))
    }
}

/// Carries out effects: backend commands, exports, fix jobs, audit lines, recordings.
struct EffectRunner<'a> {
    /// By cluster, in the order of `contexts`.
    backends: &'a [BackendHandle],
    contexts: &'a [String],
    recording: Option<&'a crate::app::record::Recording>,
    audit_log: Option<std::path::PathBuf>,
    fix_sender: mpsc::UnboundedSender<(ClusterId, FixOutcome)>,
}

impl EffectRunner<'_> {
    fn run(&mut self, tui: &mut Tui, effect: Effect) -> Step {
        match effect {
            Effect::Quit => Step::Quit,
            Effect::Backend(command) => {
                // The clock and speed keys act on every cluster; a backend that already
                // ended has nothing to pause or speed up.
                for backend in self.backends {
                    let _ = backend.commands.send(command.clone());
                }
                Step::Done
            }
            Effect::Export(request) => Step::notice(export_snapshot(tui, &request)),
            Effect::Fix(cluster, job) => {
                let writer = match self.writer_for(cluster) {
                    Ok(writer) => writer.clone(),
                    Err(refusal) => return Step::notice(refusal),
                };
                let sender = self.fix_sender.clone();
                let audit_log = self.audit_log.clone();
                tokio::spawn(async move {
                    let outcome = fixes::run(&writer, job, audit_log.as_deref()).await;
                    let _ = sender.send((cluster, outcome));
                });
                Step::Done
            }
            Effect::Audit(entry) => match &self.audit_log {
                Some(path) => match audit::append(path, &entry) {
                    Ok(()) => Step::Done,
                    Err(error) => {
                        tracing::error!("{error}");
                        Step::notice(error.to_string())
                    }
                },
                None => Step::notice(
                    "no state directory for the audit log (set KOCKPIT_STATE_DIR): the fix is not recorded",
                ),
            },
            Effect::ExportFix(plan) => Step::notice(export_fix(&plan)),
            Effect::RecordFix(cluster, action) => {
                if let Some(recording) = self.recording {
                    recording.fix(cluster.0, &action);
                }
                Step::Done
            }
        }
    }
}

impl EffectRunner<'_> {
    /// The writer of the cluster a fix came from, and no other: with several clusters, the
    /// writer's own context must be the one the cluster was started with.
    fn writer_for(&self, cluster: ClusterId) -> Result<&ClusterWriter, String> {
        let Some(writer) = self.backends.get(cluster.0).and_then(|b| b.writer.as_ref()) else {
            return Err("this source cannot be changed: fixes are not available".to_string());
        };
        let expected = self.contexts.get(cluster.0).map_or("", String::as_str);
        if !expected.is_empty() && writer.identity.context != expected {
            return Err(format!(
                "the fix was not sent: it is for context {expected}, but that cluster's \
                 connection writes as context {}",
                writer.identity.context
            ));
        }
        Ok(writer)
    }
}

/// Writes the plan as a patch file and a kubectl command beside the snapshot exports.
fn export_fix(plan: &FixPlan) -> String {
    let dir = export::export_dir();
    let stem: String = plan
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let patch = dir.join(format!("fix-{stem}.patch"));
    let command = dir.join(format!("fix-{stem}.sh"));
    let written = std::fs::write(&patch, fix_export::patch_file(plan)).and_then(|()| {
        std::fs::write(
            &command,
            format!("#!/bin/sh\n{}\n", fix_export::kubectl_command(plan)),
        )
    });
    match written {
        Ok(()) => format!(
            "fix written to {} and {}",
            patch.display(),
            command.display()
        ),
        Err(error) => format!("cannot write the fix to {}: {error}", dir.display()),
    }
}

/// Writes the snapshot files and puts the summary on the clipboard; says what happened.
fn export_snapshot(tui: &mut Tui, request: &ExportRequest) -> String {
    let written = match export::write(request, &export::export_dir()) {
        Ok(written) => written,
        Err(error) => return error.to_string(),
    };
    // Between frames, straight to the terminal: render never writes anything itself.
    let sequence = export::osc52(&request.clipboard);
    let writer = tui.backend_mut();
    let copied = writer
        .write_all(&sequence)
        .and_then(|()| writer.flush())
        .is_ok();
    let clipboard = match (copied, request.clipboard_truncated) {
        (false, _) => "; clipboard copy failed",
        (true, true) => "; headline copied (too long for the clipboard)",
        (true, false) => "; summary copied",
    };
    format!(
        "snapshot written to {}{clipboard}",
        written.markdown.display()
    )
}

fn draw(
    tui: &mut Tui,
    state: &mut State,
    theme: &ui::theme::Theme,
    key_hints: &[ui::KeyHint],
) -> anyhow::Result<()> {
    let footer = footer_hints(state);
    // Synchronized output keeps the terminal from showing half-drawn frames.
    let _ = execute!(tui.backend_mut(), BeginSynchronizedUpdate);
    tui.draw(|frame| {
        ui::render(
            frame,
            &RenderInput {
                cockpit: timeline::shown(state),
                view: &state.view,
                theme,
                keys: key_hints,
                footer: &footer,
                notices: &state.notices,
                fleet: fleet::render_input(state),
            },
        )
    })
    .context("cannot draw to the terminal")?;
    let _ = execute!(tui.backend_mut(), EndSynchronizedUpdate);
    state.dirty = false;
    Ok(())
}
