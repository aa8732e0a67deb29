//! `update`: the only code that changes the app's state. It is synchronous and pure apart
//! from the state it is given; anything that touches the outside world is returned as an
//! `Effect` for the runner.

use std::sync::Arc;

use super::export;
use super::fix_flow;
use super::fleet;
use super::keymap::Scope;
use super::message::{Action, Effect, Message};
use super::state::{ClusterId, State};
use super::timeline::{self, LONG_STEP};
use crate::backend::Command;
use crate::domain::{Finding, Pane, Update};
use crate::ui::{KeyHint, Overlay, Screen};

/// The slowest and fastest the simulator clock may run, in virtual seconds per second.
const MIN_SPEED: f64 = 0.25;
const MAX_SPEED: f64 = 600.0;
/// Rows the table moves per page key.
const TABLE_PAGE: usize = 10;

pub fn update(state: &mut State, message: Message) -> Vec<Effect> {
    match message {
        Message::Key(event) => {
            if let Some(effects) = fix_flow::typing_key(state, event) {
                return effects;
            }
            let overlay_open = state.view.overlay.is_some();
            match state.keymap.resolve(overlay_open, event) {
                Some(action) => apply(state, action),
                None => Vec::new(),
            }
        }
        Message::Resize => {
            state.dirty = true;
            Vec::new()
        }
        Message::Backend(update) => take_in(state, ClusterId::FIRST, vec![update]),
        Message::Backends(updates) => take_in(state, ClusterId::FIRST, updates),
        Message::ClusterUpdates(cluster, updates) => take_in(state, cluster, updates),
        Message::Fix(cluster, outcome) => {
            fleet::in_background(state, cluster, |state| fix_flow::on_outcome(state, outcome))
        }
        Message::Action(action) => apply(state, action),
        Message::Notice(text) => {
            state.notify(text);
            Vec::new()
        }
    }
}

/// Takes in a cluster's updates, then analyses once: on a large cluster one analysis of
/// the node fleet costs tens of milliseconds, and a queue drained after a frame can hold
/// several snapshots of it that only the newest needs. A cluster out of view changes only
/// its own model (and the fleet screen, when that is in front).
fn take_in(state: &mut State, cluster: ClusterId, updates: Vec<Update>) -> Vec<Effect> {
    if cluster != state.fleet.current() {
        let (changed, effects) = fleet::in_background(state, cluster, |state| {
            let changed = take_in_model(state, updates);
            (changed, fix_flow::verify(state))
        });
        if changed && state.view.screen == Screen::Fleet {
            state.dirty = true;
        }
        return effects;
    }
    if take_in_model(state, updates) {
        if state.cursor.is_some() {
            // The screen stays put; only the header's offset and markers move.
            timeline::after_update(state);
        } else {
            clamp_selection(state);
            state.dirty = true;
        }
    }
    fix_flow::verify(state)
}

/// Stores the updates in the current cluster's model and timeline, then settles its
/// analyses. Whether anything the screen shows changed.
fn take_in_model(state: &mut State, updates: Vec<Update>) -> bool {
    let superseded = superseded(&updates);
    let mut changed = false;
    for (update, superseded) in updates.into_iter().zip(superseded) {
        if let Update::Notice { text } = update {
            state.notify(text);
            continue;
        }
        // The timeline keeps its own shared copy so the cursor can rebuild any instant.
        let update = Arc::new(update);
        state.timeline.push(update.clone());
        if superseded {
            state.cockpit.pass_over(&update);
            changed = true;
        } else {
            changed |= state.cockpit.take_in(Update::clone(&update));
        }
    }
    state.cockpit.settle();
    changed
}

/// For each update, whether a later pane snapshot of the same batch replaces it whole: the
/// cockpit needs only its figures, not a copy of it.
fn superseded(updates: &[Update]) -> Vec<bool> {
    let mut newest_seen = Vec::new();
    let mut superseded = vec![false; updates.len()];
    for (index, update) in updates.iter().enumerate().rev() {
        if !update.is_pane_snapshot() {
            continue;
        }
        let pane = std::mem::discriminant(update);
        if newest_seen.contains(&pane) {
            superseded[index] = true;
        } else {
            newest_seen.push(pane);
        }
    }
    superseded
}

fn apply(state: &mut State, action: Action) -> Vec<Effect> {
    state.dirty = true;
    let view = &mut state.view;
    match action {
        Action::Quit => return vec![Effect::Quit],
        Action::Help => {
            view.overlay = Some(Overlay::Help);
            view.help_offset = 0;
        }
        Action::Close => view.overlay = None,
        Action::NextScreen => switch_screen(state, step_screen(state, 1)),
        Action::PrevScreen => switch_screen(state, step_screen(state, -1)),
        Action::Overview => switch_screen(state, Screen::Overview),
        Action::PaneDns => switch_screen(state, Screen::Pane(Pane::Dns)),
        Action::PaneGateways => switch_screen(state, Screen::Pane(Pane::Gateways)),
        Action::PaneFlows => switch_screen(state, Screen::Pane(Pane::Flows)),
        Action::PaneNodes => switch_screen(state, Screen::Pane(Pane::Nodes)),
        Action::PaneRightsizing => switch_screen(state, Screen::Pane(Pane::Rightsizing)),
        Action::PaneSpend => switch_screen(state, Screen::Pane(Pane::Spend)),
        Action::SelectNext => {
            view.selected = view.selected.saturating_add(1);
            clamp_selection(state);
        }
        Action::SelectPrev => view.selected = view.selected.saturating_sub(1),
        Action::SelectFirst => view.selected = 0,
        Action::SelectLast => {
            view.selected = usize::MAX;
            clamp_selection(state);
        }
        Action::OpenDetail if view.screen == Screen::Fleet => {
            // A row of the fleet screen opens that cluster's overview.
            let cluster = ClusterId(view.selected);
            fleet::switch(state, cluster);
            if state.fleet.current() == cluster {
                switch_screen(state, Screen::Overview);
            }
        }
        Action::OpenDetail => {
            if let Some(finding) = selected_finding(state) {
                let finding_id = finding.id.clone();
                state.view.overlay = Some(Overlay::Detail { finding_id });
            }
        }
        Action::GoToFindingPane => {
            if let Some(pane) = selected_finding(state).map(|f| f.pane) {
                let id = selected_finding(state).map(|f| f.id.clone());
                switch_screen(state, Screen::Pane(pane));
                // Keep the same finding selected on its pane.
                if let Some(id) = id {
                    let position = timeline::shown(state)
                        .pane_findings(pane)
                        .iter()
                        .position(|f| f.id == id);
                    state.view.selected = position.unwrap_or(0);
                }
            }
        }
        Action::TableDown => view.table_offset = view.table_offset.saturating_add(TABLE_PAGE),
        Action::TableUp => view.table_offset = view.table_offset.saturating_sub(TABLE_PAGE),
        Action::ScrollDown => view.help_offset = view.help_offset.saturating_add(1),
        Action::ScrollUp => view.help_offset = view.help_offset.saturating_sub(1),
        Action::TogglePause => {
            state.paused = !state.paused;
            let command = if state.paused {
                Command::Pause
            } else {
                Command::Resume
            };
            return vec![Effect::Backend(command)];
        }
        Action::SpeedUp | Action::SpeedDown => {
            let factor = if action == Action::SpeedUp { 2.0 } else { 0.5 };
            state.speed = (state.speed * factor).clamp(MIN_SPEED, MAX_SPEED);
            let speed = state.speed;
            let what = if state.replay { "replay" } else { "simulator" };
            state.notify(format!("{what} speed {speed}x"));
            return vec![Effect::Backend(Command::SetSpeed(speed))];
        }
        Action::TimeBack => timeline::step_back(state, None),
        Action::TimeForward => timeline::step_forward(state, None),
        Action::TimeBackMinute => timeline::step_back(state, Some(LONG_STEP)),
        Action::TimeForwardMinute => timeline::step_forward(state, Some(LONG_STEP)),
        Action::Freeze => timeline::toggle_freeze(state),
        Action::TimeNow => {
            if state.cursor.is_some() {
                timeline::back_to_now(state);
            } else {
                state.dirty = false;
            }
        }
        Action::ExportSnapshot => {
            let context = state
                .fleet
                .is_fleet()
                .then(|| state.fleet.context(state.fleet.current()));
            let request = export::request(
                timeline::shown(state),
                state.timeline.fixes(),
                state.cursor.as_ref().map(|c| c.at),
                state.timeline.newest(),
                context,
            );
            return vec![Effect::Export(Box::new(request))];
        }
        Action::Fix => return fix_flow::start(state),
        Action::Confirm => return fix_flow::confirm(state),
        Action::ExportFix => return fix_flow::export(state),
        Action::UndoFix => return fix_flow::undo(state),
        Action::ShowFixes => view.overlay = Some(Overlay::Fixes),
        Action::ShowSources => {
            view.overlay = Some(Overlay::Sources);
            view.help_offset = 0;
        }
        Action::Fleet => {
            if state.fleet.is_fleet() {
                switch_screen(state, Screen::Fleet);
                state.view.selected = state.fleet.current().0;
            } else {
                state.notify(
                    "one cluster is watched: give --context more than once to compare clusters",
                );
            }
        }
        Action::NextCluster | Action::PrevCluster => {
            if state.fleet.is_fleet() {
                fleet::step(state, if action == Action::NextCluster { 1 } else { -1 });
                if state.view.screen == Screen::Fleet {
                    state.view.selected = state.fleet.current().0;
                }
            } else {
                state.dirty = false;
            }
        }
        Action::None => state.dirty = false,
    }
    Vec::new()
}

/// Tab's order: the fleet screen first when several clusters are watched, then the overview
/// and the panes of the cluster in view.
fn step_screen(state: &State, delta: isize) -> Screen {
    let fleet = state.fleet.is_fleet().then_some(Screen::Fleet);
    let screens: Vec<Screen> = fleet.into_iter().chain(Screen::ALL).collect();
    let count = screens.len() as isize;
    let current = state.view.screen;
    let index = screens.iter().position(|s| *s == current).unwrap_or(0) as isize;
    screens[(index + delta).rem_euclid(count) as usize]
}

fn switch_screen(state: &mut State, screen: Screen) {
    if state.view.screen != screen {
        state.view.screen = screen;
        state.view.selected = 0;
        state.view.table_offset = 0;
    }
    state.view.overlay = None;
}

/// The findings listed on the current screen.
pub fn listed_findings(state: &State) -> &[Finding] {
    let cockpit = timeline::shown(state);
    match state.view.screen {
        Screen::Overview => cockpit.findings(),
        Screen::Pane(pane) => cockpit.pane_findings(pane),
        // The fleet screen lists clusters, not findings.
        Screen::Fleet => &[],
    }
}

pub(super) fn selected_finding(state: &State) -> Option<&Finding> {
    listed_findings(state).get(state.view.selected)
}

/// Keeps the selection on a listed finding when findings come and go.
fn clamp_selection(state: &mut State) {
    let count = match state.view.screen {
        Screen::Fleet => state.fleet.len(),
        _ => listed_findings(state).len(),
    };
    state.view.selected = state.view.selected.min(count.saturating_sub(1));
}

/// The footer's hints for what the user is looking at, with the keys the key map binds.
pub fn footer_hints(state: &State) -> Vec<KeyHint> {
    match state.view.overlay {
        // The fix windows say their own keys in their frame.
        Some(Overlay::Fix) => return Vec::new(),
        Some(Overlay::Fixes) => {
            return state.keymap.footer(
                Scope::Overlay,
                &[(Action::Close, "close"), (Action::UndoFix, "undo")],
            );
        }
        Some(_) => {
            return state.keymap.footer(
                Scope::Overlay,
                &[(Action::Close, "close"), (Action::ScrollDown, "scroll")],
            );
        }
        None => {}
    }
    if state.view.screen == Screen::Fleet {
        let actions = [
            (Action::SelectNext, "select"),
            (Action::OpenDetail, "open cluster"),
            (Action::NextCluster, "next cluster"),
            (Action::NextScreen, "next pane"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ];
        return state.keymap.footer(Scope::Global, &actions);
    }
    let mut actions = vec![
        (Action::NextScreen, "next pane"),
        (Action::SelectNext, "select"),
        (Action::OpenDetail, "evidence"),
        (Action::Fix, "fix"),
    ];
    match state.view.screen {
        Screen::Overview => actions.push((Action::GoToFindingPane, "go to pane")),
        Screen::Pane(_) => actions.push((Action::TableDown, "scroll table")),
        Screen::Fleet => {}
    }
    if state.fleet.is_fleet() {
        actions.push((Action::Fleet, "fleet"));
    }
    actions.extend([(Action::Help, "help"), (Action::Quit, "quit")]);
    state.keymap.footer(Scope::Global, &actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::Keymap;
    use crate::domain::cockpit::AnalysisConfig;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn state() -> State {
        State::new(AnalysisConfig::default(), Keymap::default(), 1.0)
    }

    fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
        update(state, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    #[test]
    fn a_batch_records_every_snapshot_and_keeps_the_newest() {
        use crate::domain::cockpit::Figure;
        let fleet = |count, minute| {
            let mut snapshot = crate::domain::nodes::tests::fleet_of(count);
            snapshot.at += chrono::Duration::minutes(minute);
            Update::Nodes(snapshot)
        };
        let updates = vec![fleet(10, 0), fleet(20, 1), fleet(30, 2)];
        let mut one_by_one = state();
        for snapshot in updates.clone() {
            update(&mut one_by_one, Message::Backend(snapshot));
        }
        let mut batched = state();
        update(&mut batched, Message::Backends(updates));

        let count = |state: &State| state.cockpit.nodes.as_ref().map(|n| n.nodes.len());
        assert_eq!(count(&batched), Some(30), "the newest snapshot is kept");
        assert_eq!(
            batched.cockpit.series(Figure::NodeCount).map(|s| s.tail(3)),
            Some(vec![10.0, 20.0, 30.0]),
            "the replaced snapshots still leave their points"
        );
        assert_eq!(batched.cockpit.findings(), one_by_one.cockpit.findings());
        assert_eq!(batched.timeline.newest(), one_by_one.timeline.newest());
        assert!(batched.dirty);
    }

    #[test]
    fn tab_cycles_through_every_screen_and_wraps() {
        let mut state = state();
        let mut seen = vec![state.view.screen];
        for _ in 0..Screen::ALL.len() {
            key(&mut state, KeyCode::Tab);
            seen.push(state.view.screen);
        }
        assert_eq!(&seen[..7], &Screen::ALL);
        assert_eq!(seen[7], Screen::Overview);
        key(&mut state, KeyCode::BackTab);
        assert_eq!(state.view.screen, Screen::Pane(Pane::Spend));
    }

    #[test]
    fn digits_jump_to_panes_and_reset_selection() {
        let mut state = state();
        state.view.selected = 3;
        key(&mut state, KeyCode::Char('4'));
        assert_eq!(state.view.screen, Screen::Pane(Pane::Nodes));
        assert_eq!(state.view.selected, 0);
    }

    #[test]
    fn help_opens_and_q_closes_it_before_quitting() {
        let mut state = state();
        key(&mut state, KeyCode::Char('?'));
        assert_eq!(state.view.overlay, Some(Overlay::Help));
        assert!(key(&mut state, KeyCode::Char('q')).is_empty());
        assert_eq!(state.view.overlay, None);
        assert_eq!(key(&mut state, KeyCode::Char('q')), vec![Effect::Quit]);
    }

    #[test]
    fn selection_stays_within_the_listed_findings() {
        let mut state = state();
        key(&mut state, KeyCode::Down);
        assert_eq!(state.view.selected, 0, "no findings, nothing to select");
        key(&mut state, KeyCode::Enter);
        assert_eq!(state.view.overlay, None, "no finding, no detail");
    }

    #[test]
    fn pause_and_speed_become_backend_commands() {
        let mut state = state();
        assert_eq!(
            key(&mut state, KeyCode::Char('p')),
            vec![Effect::Backend(Command::Pause)]
        );
        assert_eq!(
            key(&mut state, KeyCode::Char('>')),
            vec![Effect::Backend(Command::SetSpeed(2.0))]
        );
        assert!(state.notices.last().is_some_and(|n| n.contains("2x")));
    }

    #[test]
    fn unbound_keys_change_nothing() {
        let mut state = state();
        state.dirty = false;
        assert!(key(&mut state, KeyCode::Char('Z')).is_empty());
        assert!(!state.dirty);
    }
}
