//! The messages that drive the app: what happened (`Message`), what the user asked for
//! (`Action`, resolved from keys by the keymap) and what the runner must do (`Effect`).

use crossterm::event::KeyEvent;
use serde::{Deserialize, Serialize};

use super::audit::AuditEntry;
use super::export::ExportRequest;
use super::fixes::{FixJob, FixOutcome};
use crate::backend::Command;
use crate::domain::Update;
use crate::domain::fix::FixPlan;
use crate::domain::fleet::ClusterId;
use crate::domain::timeline::FixAction;

/// Something that happened, fed to `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Key(KeyEvent),
    /// The terminal changed size; the next frame is laid out anew.
    Resize,
    /// One update from the only (or first) cluster.
    Backend(Update),
    /// Everything the only (or first) cluster's backend had queued when the loop looked:
    /// taken in one by one, then analysed once.
    Backends(Vec<Update>),
    /// The same, from one cluster of a fleet.
    ClusterUpdates(ClusterId, Vec<Update>),
    /// An action not coming from a key (tests, the command line).
    Action(Action),
    /// Something for the footer from the runner (e.g. where a snapshot was written).
    Notice(String),
    /// A fix job ended on the cluster it was sent to.
    Fix(ClusterId, FixOutcome),
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
    /// Time cursor: one source sample back / forward.
    TimeBack,
    TimeForward,
    /// Time cursor: a minute back / forward.
    TimeBackMinute,
    TimeForwardMinute,
    /// Keep the screen as it is while data keeps arriving (again: follow the data).
    Freeze,
    /// Back to live data.
    TimeNow,
    /// Write the view at the cursor as Markdown and JSON, and copy the summary.
    ExportSnapshot,
    /// Preview the selected finding's fix (plan, diff, dry run).
    Fix,
    /// In the fix window: apply (low risk), start typing the name, or confirm an undo.
    Confirm,
    /// In the fix window: write the plan as a patch file and a kubectl command.
    ExportFix,
    /// Undo the newest fix applied in this session, or every fix of its batch (asks first).
    UndoFix,
    /// The fixes applied in this session and their verdicts.
    ShowFixes,
    /// Every source's health: last answer, latency, last error.
    ShowSources,
    /// The fleet screen: every cluster side by side.
    Fleet,
    /// The next / previous cluster of the fleet.
    NextCluster,
    PrevCluster,
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
        "time_back",
        "time_forward",
        "time_back_minute",
        "time_forward_minute",
        "freeze",
        "time_now",
        "export_snapshot",
        "fix",
        "confirm",
        "export_fix",
        "undo_fix",
        "show_fixes",
        "show_sources",
        "fleet",
        "next_cluster",
        "prev_cluster",
        "none",
    ];
}

/// Work for the runner, returned by `update` so that `update` itself stays pure.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Send a command to the running backend.
    Backend(Command),
    /// Write a snapshot's files and copy its summary to the clipboard.
    Export(Box<ExportRequest>),
    /// Run a fix job against the cluster whose finding it came from, through that cluster's
    /// backend and no other; its outcome comes back as `Message::Fix`.
    Fix(ClusterId, FixJob),
    /// Append a line to the audit log.
    Audit(Box<AuditEntry>),
    /// Write a plan as a patch file and a kubectl command.
    ExportFix(Box<FixPlan>),
    /// Record a fix step in the session recording, if one is being made.
    RecordFix(ClusterId, Box<FixAction>),
}
