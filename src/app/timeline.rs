//! The time cursor: one instant for every pane. `[`/`]` step through the retained hour one
//! source sample at a time, `f` freezes the screen while data keeps arriving, `Esc`/`0`
//! return to now. The live cockpit keeps taking every update; the screen shows the cockpit
//! rebuilt at the cursor from the timeline (`domain::timeline`).

use chrono::Duration;

use super::state::State;
use crate::domain::Cockpit;
use crate::domain::Timestamp;
use crate::ui::TimeView;

/// What `{`/`}` step by.
pub const LONG_STEP: Duration = Duration::minutes(1);

/// The screen is showing a past (or frozen) instant.
#[derive(Debug, Clone)]
pub struct TimeCursor {
    pub at: Timestamp,
    /// Frozen with `f` and not moved since: the header says FROZEN rather than an offset.
    pub frozen: bool,
    /// The cockpit as it was at `at`.
    pub cockpit: Box<Cockpit>,
}

/// The cockpit the screen shows: at the cursor, or the live one.
pub fn shown(state: &State) -> &Cockpit {
    match &state.cursor {
        Some(cursor) => &cursor.cockpit,
        None => &state.cockpit,
    }
}

/// `f`: keep the screen as it is now; pressed again, follow the data again.
pub fn toggle_freeze(state: &mut State) {
    if state.cursor.is_some() {
        back_to_now(state);
        return;
    }
    let Some(at) = state.timeline.newest() else {
        state.notify("nothing to freeze yet");
        return;
    };
    state.cursor = Some(TimeCursor {
        at,
        frozen: true,
        cockpit: Box::new(state.cockpit.clone()),
    });
    refresh_view(state);
}

/// `Esc`/`0`: back to live data.
pub fn back_to_now(state: &mut State) {
    state.cursor = None;
    refresh_view(state);
}

/// `[`: one sample back (`{`: a minute back).
pub fn step_back(state: &mut State, by: Option<Duration>) {
    let from = match &state.cursor {
        Some(cursor) => cursor.at,
        None => match state.timeline.newest() {
            Some(newest) => newest,
            None => return,
        },
    };
    let target = match by {
        None => state.timeline.previous(from),
        Some(by) => {
            let wanted = from - by;
            // A minute back, or as far as the history goes.
            state
                .timeline
                .sample_at_or_before(wanted)
                .or_else(|| state.timeline.oldest().filter(|oldest| *oldest < from))
        }
    };
    match target {
        Some(at) => move_to(state, at),
        None => state.notify("the cursor is at the oldest data kept"),
    }
}

/// `]`: one sample forward (`}`: a minute); past the newest sample the screen goes live.
pub fn step_forward(state: &mut State, by: Option<Duration>) {
    let Some(from) = state.cursor.as_ref().map(|c| c.at) else {
        return;
    };
    let target = match by {
        None => state.timeline.next(from),
        Some(by) => state
            .timeline
            .sample_at_or_before(from + by)
            .filter(|at| *at > from)
            .or_else(|| state.timeline.next(from)),
    };
    match target {
        Some(at) => move_to(state, at),
        None => back_to_now(state),
    }
}

fn move_to(state: &mut State, at: Timestamp) {
    // Forward moves apply only what lies between; backward ones rebuild from the base.
    let cockpit = match state.cursor.take() {
        Some(cursor) if cursor.at <= at => state
            .timeline
            .advance(*cursor.cockpit, cursor.at, at)
            .unwrap_or_else(|| state.timeline.cockpit_at(at)),
        _ => state.timeline.cockpit_at(at),
    };
    state.cursor = Some(TimeCursor {
        at,
        frozen: false,
        cockpit: Box::new(cockpit),
    });
    refresh_view(state);
}

/// Keeps the cursor valid after new data: if the history it stood on has been dropped,
/// it moves to the oldest instant still kept.
pub fn after_update(state: &mut State) {
    let Some(cursor) = &state.cursor else { return };
    if let Some(oldest) = state.timeline.oldest()
        && cursor.at < oldest
    {
        move_to(state, oldest);
        state.notify("the cursor reached the end of the retained history");
        return;
    }
    refresh_view(state);
}

/// Copies what the header and the timeline strip need into the view.
pub fn refresh_view(state: &mut State) {
    state.view.time = match &state.cursor {
        None => TimeView::default(),
        Some(cursor) => TimeView {
            cursor: Some(cursor.at),
            frozen: cursor.frozen,
            newest: state.timeline.newest(),
            oldest: state.timeline.oldest(),
            markers: state.timeline.markers().to_vec(),
        },
    };
    state.dirty = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::Keymap;
    use crate::app::message::{Action, Message};
    use crate::app::update::update;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::{ClusterInfo, Update};
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    /// A state that has seen the cluster and clock ticks every 10 s for 5 minutes.
    fn state() -> State {
        let mut state = State::new(AnalysisConfig::default(), Keymap::default(), 1.0);
        let cluster = Update::Cluster(ClusterInfo {
            name: "prod".into(),
            ..ClusterInfo::default()
        });
        update(&mut state, Message::Backend(cluster));
        for s in (0..=300).step_by(10) {
            update(&mut state, Message::Backend(Update::Clock { at: at(s) }));
        }
        state
    }

    fn act(state: &mut State, action: Action) {
        update(state, Message::Action(action));
    }

    #[test]
    fn brackets_step_one_sample_and_the_screen_shows_that_instant() {
        let mut state = state();
        act(&mut state, Action::TimeBack);
        assert_eq!(state.view.time.cursor, Some(at(290)));
        assert_eq!(shown(&state).now, Some(at(290)));
        act(&mut state, Action::TimeBack);
        act(&mut state, Action::TimeBack);
        assert_eq!(shown(&state).now, Some(at(270)));
        assert_eq!(shown(&state).cluster.name, "prod");
        act(&mut state, Action::TimeForward);
        assert_eq!(shown(&state).now, Some(at(280)));
        // The live model keeps the newest data all along.
        assert_eq!(state.cockpit.now, Some(at(300)));
        act(&mut state, Action::TimeBackMinute);
        assert_eq!(shown(&state).now, Some(at(220)));
        act(&mut state, Action::TimeForwardMinute);
        assert_eq!(shown(&state).now, Some(at(280)));
    }

    #[test]
    fn stepping_past_the_newest_sample_goes_live() {
        let mut state = state();
        act(&mut state, Action::TimeBack);
        act(&mut state, Action::TimeForward);
        assert!(
            state.cursor.is_some(),
            "at the newest sample, still on the cursor"
        );
        act(&mut state, Action::TimeForward);
        assert!(state.cursor.is_none());
        assert_eq!(state.view.time, TimeView::default());
    }

    #[test]
    fn the_cursor_stops_at_the_oldest_sample() {
        let mut state = state();
        for _ in 0..100 {
            act(&mut state, Action::TimeBack);
        }
        assert_eq!(shown(&state).now, Some(at(0)));
        assert!(
            state
                .notices
                .last()
                .is_some_and(|n| n.contains("oldest data kept"))
        );
    }

    #[test]
    fn freeze_holds_the_screen_while_data_arrives_and_zero_returns() {
        let mut state = state();
        act(&mut state, Action::Freeze);
        assert!(state.view.time.frozen);
        update(&mut state, Message::Backend(Update::Clock { at: at(310) }));
        assert_eq!(shown(&state).now, Some(at(300)), "the screen stays");
        assert_eq!(state.cockpit.now, Some(at(310)), "the data keeps coming");
        assert_eq!(state.view.time.newest, Some(at(310)));
        act(&mut state, Action::TimeNow);
        assert_eq!(shown(&state).now, Some(at(310)));
        assert!(!state.view.time.active());
        // `f` twice is a toggle.
        act(&mut state, Action::Freeze);
        act(&mut state, Action::Freeze);
        assert!(state.cursor.is_none());
    }

    #[test]
    fn keys_drive_the_cursor() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut state = state();
        let key = |state: &mut State, code| {
            update(state, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        };
        key(&mut state, KeyCode::Char('['));
        assert_eq!(state.view.time.cursor, Some(at(290)));
        key(&mut state, KeyCode::Char('0'));
        assert!(state.cursor.is_none());
        key(&mut state, KeyCode::Char('f'));
        assert!(state.view.time.frozen);
        key(&mut state, KeyCode::Esc);
        assert!(state.cursor.is_none());
    }

    #[test]
    fn export_snapshots_the_instant_on_screen() {
        use crate::app::message::Effect;
        let mut state = state();
        act(&mut state, Action::TimeBack);
        act(&mut state, Action::TimeBack);
        let effects = update(&mut state, Message::Action(Action::ExportSnapshot));
        let [Effect::Export(request)] = effects.as_slice() else {
            panic!("expected one export, got {effects:?}");
        };
        assert!(
            request.file_stem.ends_with("T221800Z"),
            "{}",
            request.file_stem
        );
        assert!(request.markdown.contains("20s before the newest data"));
    }
}
