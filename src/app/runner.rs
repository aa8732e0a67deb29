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

use super::config::Settings;
use super::export::{self, ExportRequest};
use super::message::{Effect, Message};
use super::record::Recorder;
use super::state::State;
use super::timeline;
use super::update::{footer_hints, update};
use crate::backend::{Backend, BackendHandle};
use crate::ui::terminal::{self, RestoreOnDrop, Tui};
use crate::ui::{self, RenderInput};

/// Frames are coalesced: a burst of updates costs one frame, not one frame each.
const MAX_FRAMES_PER_SECOND: u32 = 20;
/// Updates queued between backend and app before the backend has to wait.
pub const UPDATE_QUEUE: usize = 4096;
/// Updates applied per wake-up before a frame gets a chance to be drawn.
const MAX_UPDATES_PER_BATCH: usize = 20_000;

/// How a session runs besides its backend.
#[derive(Default)]
pub struct RunOptions {
    /// `--record FILE`: a recorder already created (so a bad path failed before the TUI).
    pub record: Option<Recorder>,
    /// Replaying a recording: fixes are refused.
    pub replay: bool,
}

pub async fn run(settings: Settings, backend: Box<dyn Backend>, speed: f64) -> anyhow::Result<()> {
    run_with(settings, backend, speed, RunOptions::default()).await
}

pub async fn run_with(
    settings: Settings,
    backend: Box<dyn Backend>,
    speed: f64,
    options: RunOptions,
) -> anyhow::Result<()> {
    let mut state = State::new(settings.analysis, settings.keymap, speed);
    state.replay = options.replay;
    for notice in settings.notices {
        tracing::warn!("{notice}");
        state.notify(notice);
    }
    let theme = settings.theme;
    let key_hints = state.keymap.hints();

    let (sender, updates) = mpsc::channel(UPDATE_QUEUE);
    let backend = backend.start(sender);
    let (mut updates, recording) = match options.record {
        Some(recorder) => {
            let (updates, recording) = recorder.tee(updates);
            (updates, Some(recording))
        }
        None => (updates, None),
    };

    let mut tui = terminal::enter().context("cannot set up the terminal")?;
    let _restore = RestoreOnDrop;
    let result = event_loop(
        &mut tui,
        &mut state,
        &theme,
        &key_hints,
        &mut updates,
        &backend,
    )
    .await;
    backend.shutdown();
    drop(tui);
    terminal::restore().context("cannot restore the terminal")?;
    // The app reads no more: the recorder records what is still on its way, then closes.
    drop(updates);
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

async fn event_loop(
    tui: &mut Tui,
    state: &mut State,
    theme: &ui::theme::Theme,
    key_hints: &[ui::KeyHint],
    updates: &mut mpsc::Receiver<crate::domain::Update>,
    backend: &BackendHandle,
) -> anyhow::Result<()> {
    let frame_interval = Duration::from_secs(1) / MAX_FRAMES_PER_SECOND;
    let mut events = EventStream::new();
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut last_frame: Option<Instant> = None;
    let mut backend_open = true;

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
                    update(state, Message::Key(key))
                }
                Some(Ok(Event::Resize(_, _))) => update(state, Message::Resize),
                Some(Ok(_)) => Vec::new(),
                Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                None => return Ok(()),
            },
            received = updates.recv(), if backend_open => match received {
                Some(first) => {
                    let mut effects = update(state, Message::Backend(first));
                    // Apply everything already queued before drawing once.
                    let mut applied = 1;
                    while applied < MAX_UPDATES_PER_BATCH {
                        let Ok(next) = updates.try_recv() else { break };
                        effects.extend(update(state, Message::Backend(next)));
                        applied += 1;
                    }
                    effects
                }
                None => {
                    backend_open = false;
                    state.notify("the data source stopped; showing the last data received");
                    Vec::new()
                }
            },
            _ = tokio::time::sleep_until(next_frame.unwrap_or_else(Instant::now)), if next_frame.is_some() => Vec::new(),
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
        };

        for effect in effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Backend(command) => {
                    // A backend that already ended has nothing to pause or speed up.
                    let _ = backend.commands.send(command);
                }
                Effect::Export(request) => {
                    let notice = export_snapshot(tui, &request);
                    update(state, Message::Notice(notice));
                }
            }
        }
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
            },
        )
    })
    .context("cannot draw to the terminal")?;
    let _ = execute!(tui.backend_mut(), EndSynchronizedUpdate);
    state.dirty = false;
    Ok(())
}
