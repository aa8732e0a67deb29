//! The messages that drive the app: what happened (`Message`), what the user asked for
//! (`Action`, resolved from keys by the keymap) and what the runner must do (`Effect`).

use crossterm::event::KeyEvent;
use serde::{Deserialize, Serialize};

use crate::backend::Command;
use crate::domain::Update;

/// Something that happened, fed to `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Key(KeyEvent),
    /// The terminal changed size; the next frame is laid out anew.
    Resize,
    Backend(Update),
    /// An action not coming from a key (tests, the command line).
    Action(Action),
}

/// What the user asked for. Key maps bind keys to these by their snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Close,
    NextScreen,
    PrevScreen,
    Overview,
    PaneDns,
    PaneGateways,
    PaneFlows,
    PaneNodes,
    PaneRightsizing,
    PaneSpend,
    SelectNext,
    SelectPrev,
    SelectFirst,
    SelectLast,
    OpenDetail,
    GoToFindingPane,
    TableDown,
    TableUp,
    ScrollDown,
    ScrollUp,
    TogglePause,
    SpeedUp,
    SpeedDown,
    /// Explicitly unbinds a key in a user key map.
    None,
}

impl Action {
    /// Every action a key map may name, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "quit",
        "help",
        "close",
        "next_screen",
        "prev_screen",
        "overview",
        "pane_dns",
        "pane_gateways",
        "pane_flows",
        "pane_nodes",
        "pane_rightsizing",
        "pane_spend",
        "select_next",
        "select_prev",
        "select_first",
        "select_last",
        "open_detail",
        "go_to_finding_pane",
        "table_down",
        "table_up",
        "scroll_down",
        "scroll_up",
        "toggle_pause",
        "speed_up",
        "speed_down",
        "none",
    ];
}

/// Work for the runner, returned by `update` so that `update` itself stays pure.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Send a command to the running backend.
    Backend(Command),
}
