//! Several clusters in one cockpit: starting the fleet, switching the cluster in view, and
//! taking in a background cluster's updates and fix outcomes without touching what the user
//! is looking at.

use super::state::{ClusterId, ClusterModel, Fleet, State};
use super::timeline;
use crate::domain::Cockpit;
use crate::domain::cockpit::AnalysisConfig;
use crate::ui::{FleetInput, Screen};

/// Makes the session watch one cluster per context, in the order given; the first is in
/// view. With one context (or none) the session stays a single cluster.
pub fn start(state: &mut State, contexts: Vec<String>, config: &AnalysisConfig) {
    if contexts.len() < 2 {
        return;
    }
    let parked = (0..contexts.len())
        .map(|index| {
            (index > 0).then(|| {
                let mut model = ClusterModel::new(config.clone());
                model.fixes.cluster = Some(contexts[index].clone());
                model
            })
        })
        .collect();
    state.view.fixes.cluster = Some(contexts[0].clone());
    state.fleet = Fleet {
        contexts,
        current: ClusterId::FIRST,
        parked,
    };
    state.view.screen = Screen::Fleet;
}

/// Brings `cluster` into view on the same screen. Refused while a fix window is open: a plan
/// on screen must stay with the cluster it was made for.
pub fn switch(state: &mut State, cluster: ClusterId) {
    if cluster == state.fleet.current || cluster.0 >= state.fleet.len() {
        return;
    }
    if state.view.overlay == Some(crate::ui::Overlay::Fix) {
        state.notify("close the fix window (Esc) before switching clusters");
        return;
    }
    swap_in(state, cluster);
    state.view.selected = 0;
    state.view.table_offset = 0;
    state.view.overlay = None;
    timeline::refresh_view(state);
}

/// The next (or previous, `step` -1) cluster, wrapping around.
pub fn step(state: &mut State, step: isize) {
    let count = state.fleet.len() as isize;
    let next = (state.fleet.current.0 as isize + step).rem_euclid(count.max(1));
    switch(state, ClusterId(next as usize));
}

/// Runs `work` on `cluster`'s model. For the cluster in view that is the state as it is; a
/// cluster in the background is swapped in for the moment, with the view put aside so that
/// nothing it does opens a window or moves a selection on the screen the user is reading.
/// What it has to tell the user is prefixed with its context.
pub fn in_background<R>(
    state: &mut State,
    cluster: ClusterId,
    work: impl FnOnce(&mut State) -> R,
) -> R {
    let in_view = state.fleet.current;
    if cluster == in_view {
        return work(state);
    }
    let parked = state
        .fleet
        .parked
        .get(cluster.0)
        .is_some_and(Option::is_some);
    if !parked {
        // A cluster the session does not watch: whatever came from it must not land on the
        // one in view, so it goes to a model nobody reads.
        tracing::error!(
            cluster = cluster.0,
            "an update for a cluster kockpit does not watch"
        );
        let mut nowhere = State::new(
            state.cockpit.config.clone(),
            state.keymap.clone(),
            state.speed,
        );
        return work(&mut nowhere);
    }
    let view = state.view.clone();
    let notices = std::mem::take(&mut state.notices);
    let dirty = state.dirty;
    swap_in(state, cluster);
    state.view.overlay = None;
    let result = work(state);
    let fix_window_wanted = state.view.overlay == Some(crate::ui::Overlay::Fix);
    let said = std::mem::replace(&mut state.notices, notices);
    swap_in(state, in_view);
    // The background cluster's fixes went back with it; the rest of the view is restored.
    let fixes = std::mem::take(&mut state.view.fixes);
    state.view = crate::ui::View { fixes, ..view };
    state.dirty = dirty;
    let context = state.fleet.context(cluster).to_string();
    for notice in said {
        state.notify(format!("{context}: {notice}"));
    }
    if fix_window_wanted {
        state.notify(format!(
            "{context}: its fix window has news; switch to that cluster to see it"
        ));
    }
    result
}

/// Every cluster's context and live model, in order, for the fleet screen and exports.
pub fn clusters(state: &State) -> Vec<(&str, &Cockpit)> {
    let fleet = &state.fleet;
    (0..fleet.len())
        .filter_map(|index| {
            let cockpit = if index == fleet.current.0 {
                &state.cockpit
            } else {
                &fleet.parked.get(index)?.as_ref()?.cockpit
            };
            Some((fleet.context(ClusterId(index)), cockpit))
        })
        .collect()
}

/// Puts the current cluster's model away and `cluster`'s in its place.
fn swap_in(state: &mut State, cluster: ClusterId) {
    let Some(incoming) = state.fleet.parked.get_mut(cluster.0).and_then(Option::take) else {
        return;
    };
    let outgoing = ClusterModel {
        cockpit: std::mem::replace(&mut state.cockpit, incoming.cockpit),
        timeline: std::mem::replace(&mut state.timeline, incoming.timeline),
        cursor: std::mem::replace(&mut state.cursor, incoming.cursor),
        identity: std::mem::replace(&mut state.identity, incoming.identity),
        fixes: std::mem::replace(&mut state.view.fixes, incoming.fixes),
    };
    let current = state.fleet.current.0;
    state.fleet.parked[current] = Some(outgoing);
    state.fleet.current = cluster;
}

/// What the fleet screen and the header are drawn from; `None` with one cluster.
pub fn render_input(state: &State) -> Option<FleetInput<'_>> {
    state.fleet.is_fleet().then(|| FleetInput {
        clusters: clusters(state),
        in_view: state.fleet.current().0,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::fixes::{FixJob, FixOutcome};
    use crate::app::keymap::Keymap;
    use crate::app::message::{Action, Effect, Message};
    use crate::app::update::update;
    use crate::backend::sim::{initial_updates, scenarios};
    use crate::domain::Pane;
    use crate::domain::fix::Risk;
    use crate::domain::fix::fixtures::prepared_service_fix;
    use crate::ui::Overlay;

    /// Two clusters: `prod-euw1` in the middle of a broken route, `prod-euc1` in a DNS
    /// storm, each fed its own scenario through the path the runner uses.
    fn two_clusters() -> State {
        let config = AnalysisConfig::default();
        let mut state = State::new(config.clone(), Keymap::default(), 1.0);
        start(
            &mut state,
            vec!["prod-euw1".to_string(), "prod-euc1".to_string()],
            &config,
        );
        for (index, scenario) in ["broken-route", "dns-storm"].into_iter().enumerate() {
            let context = state.fleet.context(ClusterId(index)).to_string();
            in_background(&mut state, ClusterId(index), |state| {
                state.identity = crate::backend::writer::Identity {
                    user: "on-call".to_string(),
                    context,
                }
            });
            let scenario = scenarios::load(scenario).unwrap_or_else(|e| panic!("{e}"));
            let (_, updates) = initial_updates(&scenario, 7, Duration::from_secs(600));
            update(
                &mut state,
                Message::ClusterUpdates(ClusterId(index), updates),
            );
        }
        state
    }

    fn has_finding(cockpit: &Cockpit, prefix: &str) -> bool {
        cockpit.findings().iter().any(|f| f.id.starts_with(prefix))
    }

    #[test]
    fn each_cluster_takes_in_only_its_own_updates_and_the_view_stays_put() {
        let mut state = two_clusters();
        assert_eq!(state.view.screen, Screen::Fleet);
        let clusters = clusters(&state);
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].0, "prod-euw1");
        assert!(
            has_finding(clusters[0].1, "gateways/"),
            "the route is broken in euw1"
        );
        assert!(!has_finding(clusters[1].1, "gateways/"), "not in euc1");
        assert!(has_finding(clusters[1].1, "dns/"), "the storm is in euc1");

        // A background cluster's update moves nothing on the screen in front.
        state.view.selected = 1;
        let scenario = scenarios::load("dns-storm").unwrap_or_else(|e| panic!("{e}"));
        let (_, updates) = initial_updates(&scenario, 8, Duration::from_secs(900));
        update(&mut state, Message::ClusterUpdates(ClusterId(1), updates));
        assert_eq!(state.view.selected, 1);
        assert_eq!(state.fleet.current(), ClusterId::FIRST);
        assert!(has_finding(&state.cockpit, "gateways/"));
    }

    #[test]
    fn an_update_from_a_cluster_not_watched_lands_nowhere() {
        let mut state = two_clusters();
        let before = state.cockpit.findings().len();
        let scenario = scenarios::load("dns-storm").unwrap_or_else(|e| panic!("{e}"));
        let (_, updates) = initial_updates(&scenario, 7, Duration::from_secs(600));
        update(&mut state, Message::ClusterUpdates(ClusterId(5), updates));
        assert_eq!(state.cockpit.findings().len(), before);
        assert!(
            !has_finding(&state.cockpit, "dns/ndots"),
            "euw1 is untouched"
        );
    }

    #[test]
    fn enter_on_a_row_brings_that_cluster_into_view_and_n_steps_through_them() {
        let mut state = two_clusters();
        update(&mut state, Message::Action(Action::SelectNext));
        update(&mut state, Message::Action(Action::OpenDetail));
        assert_eq!(state.fleet.current(), ClusterId(1));
        assert_eq!(state.view.screen, Screen::Overview);
        assert!(
            has_finding(&state.cockpit, "dns/"),
            "euc1's model is in view"
        );
        assert_eq!(state.identity.context, "prod-euc1", "and who writes to it");
        assert_eq!(state.view.fixes.cluster.as_deref(), Some("prod-euc1"));
        let input = render_input(&state).unwrap_or_else(|| panic!("a fleet"));
        assert_eq!(input.context_in_view(), "prod-euc1");

        update(&mut state, Message::Action(Action::NextCluster));
        assert_eq!(state.fleet.current(), ClusterId::FIRST, "n wraps around");
        assert!(has_finding(&state.cockpit, "gateways/"));
        assert_eq!(state.view.screen, Screen::Overview, "n keeps the screen");
    }

    #[test]
    fn a_fix_goes_to_the_cluster_its_finding_came_from() {
        let mut state = two_clusters();
        state.allow_writes = true;
        fleet_switch(&mut state, 1);
        update(&mut state, Message::Action(Action::PaneDns));
        let effects = update(&mut state, Message::Action(Action::Fix));
        let Some(Effect::Fix(cluster, FixJob::Prepare { finding, .. })) = effects.first() else {
            panic!("no fix job: {effects:?}");
        };
        assert_eq!(*cluster, ClusterId(1), "the job names euc1");
        assert_eq!(finding.pane, Pane::Dns);
        // A plan on screen stays with its cluster: no switching under it.
        assert_eq!(state.view.overlay, Some(Overlay::Fix));
        update(&mut state, Message::Action(Action::NextCluster));
        assert_eq!(state.fleet.current(), ClusterId(1));
        assert!(
            state
                .notices
                .iter()
                .any(|n| n.contains("close the fix window"))
        );
    }

    fn fleet_switch(state: &mut State, cluster: usize) {
        switch(state, ClusterId(cluster));
        assert_eq!(state.fleet.current(), ClusterId(cluster));
    }

    #[test]
    fn a_background_clusters_fix_outcome_opens_nothing_and_is_told_by_name() {
        let mut state = two_clusters();
        fleet_switch(&mut state, 1);
        let prepared = prepared_service_fix("catalog", Risk::Low);
        let outcome = FixOutcome::ApplyFailed {
            prepared: Box::new(prepared.clone()),
            error: "the server said no".to_string(),
            audit: Box::new(crate::app::audit::AuditEntry::for_write(
                &prepared.plan,
                "apply",
                &prepared.plan.operation,
                ("demo", "prod-euw1"),
                "failed",
            )),
        };
        update(&mut state, Message::Fix(ClusterId::FIRST, outcome));
        assert_eq!(state.view.overlay, None, "euc1's screen is left alone");
        assert!(
            state
                .notices
                .iter()
                .any(|n| n.starts_with("prod-euw1: ") && n.contains("fix window")),
            "{:?}",
            state.notices
        );
        // The plan waits with euw1's fixes, not euc1's.
        assert!(state.view.fixes.panel.is_none());
        fleet_switch(&mut state, 0);
        assert!(state.view.fixes.panel.is_some());
    }
}
