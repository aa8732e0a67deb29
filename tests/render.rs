//! Render snapshots: every screen at 80×24 and 160×48 (the fleet screen of two clusters
//! too), and the help and detail overlays,
//! drawn from the simulator on fixed seeds. The .snap files are what a user sees; review
//! them by eye when they change (`INSTA_UPDATE=always cargo test --test render`).

use std::time::Duration;

use kockpit::app::fleet;
use kockpit::app::keymap::Keymap;
use kockpit::app::message::{Action, Message};
use kockpit::app::state::{ClusterId, State};
use kockpit::app::update::{footer_hints, update};
use kockpit::backend::sim;
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::model::{SourceHealth, SourceState, SourceStatus, Update};
use kockpit::domain::prices::PriceTable;
use kockpit::domain::{Cockpit, Pane};
use kockpit::ui::theme::Theme;
use kockpit::ui::{Overlay, RenderInput, Screen, View, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SEED: u64 = 7;
/// Ten minutes into the incident: the scenario has developed and the history is full.
const START_OFFSET: Duration = Duration::from_secs(600);

/// The scenario that makes each screen worth looking at.
fn scenario_for(screen: Screen) -> &'static str {
    match screen {
        Screen::Fleet | Screen::Overview | Screen::Pane(Pane::Dns) => "dns-storm",
        Screen::Pane(Pane::Gateways) => "broken-route",
        Screen::Pane(Pane::Flows) => "cross-zone",
        Screen::Pane(Pane::Nodes) => "spot-interruption",
        Screen::Pane(Pane::Rightsizing) | Screen::Pane(Pane::Spend) => "overprovisioned",
    }
}

fn cockpit(scenario: &str) -> Cockpit {
    let scenario = match sim::scenarios::load(scenario) {
        Ok(scenario) => scenario,
        Err(err) => panic!("scenario {scenario}: {err}"),
    };
    let (_cluster, updates) = sim::initial_updates(&scenario, SEED, START_OFFSET);
    let mut cockpit = Cockpit::new(AnalysisConfig {
        thresholds: Default::default(),
        prices: PriceTable::builtin(),
    });
    for update in updates {
        cockpit.apply(update);
    }
    cockpit
}

/// Draws one frame the way the app does: its key map, its footer for this view.
fn draw(cockpit: Cockpit, view: View, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut state = State::new(AnalysisConfig::default(), Keymap::default(), 1.0);
    state.cockpit = cockpit;
    state.view = view;
    draw_state(&state, width, height)
}

fn draw_state(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let keys = state.keymap.hints();
    let footer = footer_hints(state);
    let theme = Theme::default();
    let mut terminal =
        Terminal::new(TestBackend::new(width, height)).unwrap_or_else(|never| match never {});
    let input = RenderInput {
        cockpit: &state.cockpit,
        view: &state.view,
        theme: &theme,
        keys: &keys,
        footer: &footer,
        notices: &state.notices,
        fleet: fleet::render_input(state),
    };
    if let Err(err) = terminal.draw(|frame| render(frame, &input)) {
        panic!("draw: {err}");
    }
    terminal
}

fn screen(screen: Screen, width: u16, height: u16) -> Terminal<TestBackend> {
    let view = View {
        screen,
        ..View::default()
    };
    draw(cockpit(scenario_for(screen)), view, width, height)
}

macro_rules! screen_snapshots {
    ($($name:ident: $screen:expr,)*) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(
                    concat!(stringify!($name), "_80x24"),
                    screen($screen, 80, 24).backend()
                );
                insta::assert_snapshot!(
                    concat!(stringify!($name), "_160x48"),
                    screen($screen, 160, 48).backend()
                );
            }
        )*
    };
}

screen_snapshots! {
    overview: Screen::Overview,
    dns: Screen::Pane(Pane::Dns),
    gateways: Screen::Pane(Pane::Gateways),
    flows: Screen::Pane(Pane::Flows),
    nodes: Screen::Pane(Pane::Nodes),
    rightsizing: Screen::Pane(Pane::Rightsizing),
    spend: Screen::Pane(Pane::Spend),
}

/// Two clusters during a regional failover, each fed its own scenario the way the runner
/// feeds them: `prod-euw1` with a broken route, `prod-euc1` in a DNS storm.
fn fleet() -> State {
    let config = AnalysisConfig {
        thresholds: Default::default(),
        prices: PriceTable::builtin(),
    };
    let mut state = State::new(config.clone(), Keymap::default(), 1.0);
    fleet::start(
        &mut state,
        vec!["prod-euw1".to_string(), "prod-euc1".to_string()],
        &config,
    );
    for (index, scenario) in ["broken-route", "dns-storm"].into_iter().enumerate() {
        let scenario = sim::scenarios::load(scenario).unwrap_or_else(|e| panic!("{e}"));
        let (_, updates) = sim::initial_updates(&scenario, SEED, START_OFFSET);
        update(
            &mut state,
            Message::ClusterUpdates(ClusterId(index), updates),
        );
    }
    state
}

#[test]
fn fleet_screen() {
    let state = fleet();
    insta::assert_snapshot!("fleet_80x24", draw_state(&state, 80, 24).backend());
    insta::assert_snapshot!("fleet_160x48", draw_state(&state, 160, 48).backend());
}

#[test]
fn a_long_fleet_scrolls_to_the_selected_row_and_keeps_the_comparison() {
    let config = AnalysisConfig::default();
    let mut state = State::new(config.clone(), Keymap::default(), 1.0);
    let contexts: Vec<String> = (1..=20).map(|i| format!("region-{i:02}")).collect();
    fleet::start(&mut state, contexts, &config);
    for _ in 0..19 {
        update(&mut state, Message::Action(Action::SelectNext));
    }
    let terminal = draw_state(&state, 80, 24);
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .chunks(80)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    assert!(screen.contains("› region-20"), "{screen}");
    assert!(
        !screen.contains("  region-01 …"),
        "the first rows scrolled away: {screen}"
    );
    assert!(screen.contains("Side by side"), "{screen}");
    assert!(screen.contains("requests/s"), "{screen}");
}

#[test]
fn a_cluster_of_the_fleet_in_view_is_named_in_the_header() {
    let mut state = fleet();
    update(&mut state, Message::Action(Action::SelectNext));
    update(&mut state, Message::Action(Action::OpenDetail));
    insta::assert_snapshot!(
        "fleet_second_cluster_overview_80x24",
        draw_state(&state, 80, 24).backend()
    );
}

#[test]
fn help_overlay() {
    let view = View {
        overlay: Some(Overlay::Help),
        ..View::default()
    };
    let cockpit = cockpit("dns-storm");
    insta::assert_snapshot!(
        "help_80x24",
        draw(cockpit.clone(), view.clone(), 80, 24).backend()
    );
    insta::assert_snapshot!("help_160x48", draw(cockpit, view, 160, 48).backend());
}

#[test]
fn help_overlay_scrolled() {
    let view = View {
        overlay: Some(Overlay::Help),
        help_offset: 12,
        ..View::default()
    };
    insta::assert_snapshot!(
        "help_scrolled_80x24",
        draw(cockpit("dns-storm"), view, 80, 24).backend()
    );
}

#[test]
fn detail_overlay() {
    let cockpit = cockpit("dns-storm");
    let Some(finding) = cockpit.pane_findings(Pane::Dns).first() else {
        panic!("dns-storm has no DNS finding");
    };
    let view = View {
        screen: Screen::Pane(Pane::Dns),
        overlay: Some(Overlay::Detail {
            finding_id: finding.id.clone(),
        }),
        ..View::default()
    };
    insta::assert_snapshot!(
        "detail_80x24",
        draw(cockpit.clone(), view.clone(), 80, 24).backend()
    );
    insta::assert_snapshot!("detail_160x48", draw(cockpit, view, 160, 48).backend());
}

/// The source-health window on a live cluster whose API forbids pods and whose Prometheus
/// last failed a query: each source with its last answer, latency and error, each pane
/// with its state.
#[test]
fn sources_overlay() {
    let mut cockpit = cockpit("dns-storm");
    let now = cockpit
        .now
        .unwrap_or_else(|| panic!("the burst sets the clock"));
    let seconds = |s: i64| now - chrono::Duration::seconds(s);
    let mut api = SourceHealth::new(
        "kubernetes",
        "https://ABCD.gr7.us-east-1.eks.amazonaws.com/",
    );
    api.last_success = Some(seconds(1));
    api.latency_ms = Some(840.0);
    api.queries_ok = 18_204;
    api.queries_failed = 3;
    api.last_error = Some("forbidden: needs list/watch on pods (cluster-wide)".into());
    api.last_error_at = Some(seconds(40));
    let mut prometheus = SourceHealth::new("prometheus", "https://prometheus.monitoring:9090");
    prometheus.last_success = Some(seconds(75));
    prometheus.latency_ms = Some(212.0);
    prometheus.queries_ok = 961;
    prometheus.queries_failed = 12;
    prometheus.last_error = Some("query timed out after 10s (DNS p99 latency)".into());
    prometheus.last_error_at = Some(seconds(5));
    cockpit.apply(Update::Health(api));
    cockpit.apply(Update::Health(prometheus));
    cockpit.apply(Update::Source(SourceStatus {
        pane: Pane::Dns,
        source: "kubernetes+prometheus".into(),
        state: SourceState::Degraded {
            cause: "Prometheus: DNS p99 latency failing (query timed out after 10s)".into(),
        },
        at: seconds(75),
    }));
    let view = View {
        overlay: Some(Overlay::Sources),
        ..View::default()
    };
    insta::assert_snapshot!(
        "sources_80x24",
        draw(cockpit.clone(), view.clone(), 80, 24).backend()
    );
    insta::assert_snapshot!("sources_160x48", draw(cockpit, view, 160, 48).backend());
}

#[test]
fn detail_of_a_broken_route() {
    let cockpit = cockpit("broken-route");
    let Some(finding) = cockpit.pane_findings(Pane::Gateways).first() else {
        panic!("broken-route has no Gateways finding");
    };
    let view = View {
        screen: Screen::Pane(Pane::Gateways),
        overlay: Some(Overlay::Detail {
            finding_id: finding.id.clone(),
        }),
        ..View::default()
    };
    insta::assert_snapshot!("detail_route_80x24", draw(cockpit, view, 80, 24).backend());
}

#[test]
fn selection_and_scrolling_in_a_pane() {
    let view = View {
        screen: Screen::Pane(Pane::Nodes),
        selected: 1,
        table_offset: 5,
        ..View::default()
    };
    insta::assert_snapshot!(
        "nodes_selected_scrolled_80x24",
        draw(cockpit("spot-interruption"), view, 80, 24).backend()
    );
}

#[test]
fn calm_cluster_overview() {
    let view = View::default();
    insta::assert_snapshot!(
        "baseline_overview_80x24",
        draw(cockpit("baseline"), view, 80, 24).backend()
    );
}

#[test]
fn too_small_and_tiny_terminals() {
    let cockpit = cockpit("baseline");
    insta::assert_snapshot!(
        "too_small_59x15",
        draw(cockpit.clone(), View::default(), 59, 15).backend()
    );
    // Nothing to see at these sizes; they must simply not panic.
    for (width, height) in [(0, 0), (1, 1), (20, 5), (60, 16), (200, 60)] {
        for screen in Screen::ALL {
            let view = View {
                screen,
                ..View::default()
            };
            draw(cockpit.clone(), view, width, height);
        }
    }
}

/// Prints every screen of a scenario for a look by eye:
/// `SCENARIO=dns-storm SIZE=160x48 cargo test --test render show -- --ignored --nocapture`.
#[test]
#[ignore]
fn show() {
    let scenario = std::env::var("SCENARIO").unwrap_or_else(|_| "baseline".to_string());
    let size = std::env::var("SIZE").unwrap_or_else(|_| "80x24".to_string());
    let (width, height) = size.split_once('x').unwrap_or(("80", "24"));
    let (width, height) = (width.parse().unwrap_or(80), height.parse().unwrap_or(24));
    let cockpit = cockpit(&scenario);
    for screen in Screen::ALL {
        let view = View {
            screen,
            ..View::default()
        };
        println!("{}", draw(cockpit.clone(), view, width, height).backend());
    }
}
