//! The terminal user interface: a pure function of the cockpit's model, the navigation
//! state and the theme. Nothing here fetches, locks or mutates.

mod chrome;
pub mod fix;
mod fleet;
pub mod format;
mod overlay;
mod overview;
mod panes;
mod sources;
pub mod terminal;
pub mod text;
pub mod theme;
mod widgets;

#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;

use crate::domain::timeline::Marker;
use crate::domain::{Cockpit, Pane, Timestamp};
use theme::Theme;

/// Below this size the screens cannot be laid out; a one-line message is shown instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Which screen is in front: the overview or one of the six panes of the cluster in view,
/// or, when several clusters are watched, the fleet screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Fleet,
    Overview,
    Pane(Pane),
}

impl Screen {
    /// Overview first, then the panes in their order: what Tab cycles through (after the
    /// fleet screen, when there is one).
    pub const ALL: [Screen; 7] = [
        Screen::Overview,
        Screen::Pane(Pane::Dns),
        Screen::Pane(Pane::Gateways),
        Screen::Pane(Pane::Flows),
        Screen::Pane(Pane::Nodes),
        Screen::Pane(Pane::Rightsizing),
        Screen::Pane(Pane::Spend),
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Fleet => "Fleet",
            Screen::Overview => "Overview",
            Screen::Pane(pane) => pane.title(),
        }
    }
}

/// A window drawn over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// The evidence behind one finding.
    Detail {
        finding_id: String,
    },
    /// A fix's plan, confirmation or undo (`View::fixes.panel`).
    Fix,
    /// The fixes applied this session and their verdicts.
    Fixes,
    /// Every source with its last answer, latency and last error; each pane's source.
    Sources,
}

/// Navigation state: what the user is looking at. Owned and changed by the app.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub screen: Screen,
    /// Index into the findings listed on the current screen (overview: all findings).
    pub selected: usize,
    /// First row shown of the current pane's object table.
    pub table_offset: usize,
    pub overlay: Option<Overlay>,
    /// First line shown of the help overlay.
    pub help_offset: usize,
    /// Where the time cursor is; the default is live data.
    pub time: TimeView,
    /// The fix window and the session's applied fixes.
    pub fixes: FixesView,
}

/// What the fix windows show: filled by the app as a fix moves from plan to verdict.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FixesView {
    /// The cluster these fixes are for, named in every fix window when several clusters are
    /// watched; `None` with one.
    pub cluster: Option<String>,
    pub panel: Option<fix::FixPanel>,
    /// Oldest first.
    pub applied: Vec<crate::domain::fix::session::AppliedFix>,
}

/// What the header and the timeline strip show about the time cursor. Filled by the app
/// from its retained history; the default means "showing live data".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeView {
    /// The instant on screen, when it is not the live one.
    pub cursor: Option<Timestamp>,
    /// The user froze the screen at the newest data (`f`) and has not moved since.
    pub frozen: bool,
    /// The newest data received, which keeps moving while the screen stays put.
    pub newest: Option<Timestamp>,
    /// The oldest instant the cursor can reach.
    pub oldest: Option<Timestamp>,
    /// The marked moments of the retained window, oldest first.
    pub markers: Vec<Marker>,
}

impl TimeView {
    /// The screen shows something other than the newest data.
    pub fn active(&self) -> bool {
        self.cursor.is_some()
    }
}

impl Default for View {
    fn default() -> Self {
        View {
            screen: Screen::Overview,
            selected: 0,
            table_offset: 0,
            overlay: None,
            help_offset: 0,
            time: TimeView::default(),
            fixes: FixesView::default(),
        }
    }
}

/// One key binding as the help overlay and the footer show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHint {
    /// The keys, already formatted for display, e.g. "Tab" or "j/↓".
    pub keys: String,
    pub desc: String,
    /// Where the binding applies: "global", "pane", "overlay"…
    pub scope: String,
}

/// Everything a frame is drawn from.
pub struct RenderInput<'a> {
    pub cockpit: &'a Cockpit,
    pub view: &'a View,
    pub theme: &'a Theme,
    /// All bindings, for the help overlay.
    pub keys: &'a [KeyHint],
    /// The few bindings that apply on the current screen, for the footer.
    pub footer: &'a [KeyHint],
    /// Messages for the user (e.g. "keymap.toml line 3: unknown action"), newest last.
    pub notices: &'a [String],
    /// Every cluster when several are watched; `None` with one.
    pub fleet: Option<FleetInput<'a>>,
}

/// The clusters of a fleet, for the fleet screen and the header.
pub struct FleetInput<'a> {
    /// Each cluster's context and live model, in the order they were given.
    pub clusters: Vec<(&'a str, &'a Cockpit)>,
    /// The cluster the other screens show.
    pub in_view: usize,
}

impl FleetInput<'_> {
    /// The context of the cluster in view.
    pub fn context_in_view(&self) -> &str {
        self.clusters
            .get(self.in_view)
            .map_or("", |(context, _)| context)
    }
}

/// Draws one frame: header, tabs, the current screen, footer, then any overlay.
pub fn render(frame: &mut Frame, input: &RenderInput) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    frame.buffer_mut().set_style(area, input.theme.text);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, input.theme);
        return;
    }
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    chrome::header(frame, header, input);
    chrome::tabs(frame, tabs, input);
    match input.view.screen {
        Screen::Fleet => match &input.fleet {
            Some(fleet_input) => fleet::render(frame, body, input, fleet_input),
            None => overview::render(frame, body, input),
        },
        Screen::Overview => overview::render(frame, body, input),
        Screen::Pane(pane) => panes::render(frame, body, input, pane),
    }
    chrome::footer(frame, footer, input);
    match &input.view.overlay {
        None => {}
        Some(Overlay::Help) => overlay::help(frame, body, input),
        Some(Overlay::Detail { finding_id }) => overlay::detail(frame, body, input, finding_id),
        Some(Overlay::Fix) => {
            if let Some(panel) = &input.view.fixes.panel {
                fix::render_panel(
                    frame,
                    body,
                    input.theme,
                    panel,
                    &input.view.fixes.applied,
                    input.view.help_offset,
                    input.view.fixes.cluster.as_deref(),
                );
            }
        }
        Some(Overlay::Fixes) => {
            fix::render_list(frame, body, input.theme, &input.view.fixes.applied)
        }
        Some(Overlay::Sources) => sources::render(
            frame,
            body,
            input.theme,
            input.cockpit,
            input.view.help_offset,
        ),
    }
}

fn too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let message = format!(
        "terminal too small: need at least {MIN_WIDTH}×{MIN_HEIGHT} (now {}×{})",
        area.width, area.height
    );
    let shown = text::truncate(&message, area.width as usize).into_owned();
    frame.render_widget(Span::styled(shown, theme.warn), Rect { height: 1, ..area });
}
