//! The frame around every screen: the header (product, cluster, source banner, clock),
//! the tab bar with a health marker per pane, and the footer (key hints, newest notice).

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::text::{sanitize, truncate, width};
use super::widgets::{Health, fit_spans};
use super::{RenderInput, Screen, format};
use crate::domain::Timestamp;
use crate::domain::time::format_duration;

/// `kockpit  prod-eu  SIMULATED scenario dns-storm, seed 7 ·········· 12:04:31 UTC`
pub fn header(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let cockpit = input.cockpit;
    let total = area.width as usize;
    // Below 100 columns the clock gives up " UTC" for "Z" so the banner keeps its detail.
    let time = &input.view.time;
    let clock = match (time.cursor, cockpit.now) {
        (Some(at), _) => cursor_label(at, time.newest, time.frozen),
        (None, Some(now)) if total < 100 => now.format("%H:%M:%SZ").to_string(),
        (None, Some(now)) => format::clock(now),
        (None, None) => "--:--:--".to_string(),
    };
    let clock_style = if time.active() {
        theme.warn
    } else {
        theme.text
    };
    let clock_width = width(&clock);
    let show_clock = total >= clock_width + 20;
    let left_room = if show_clock {
        total - clock_width - 1
    } else {
        total
    };

    let cluster = sanitize(&cockpit.cluster.name).into_owned();
    let region = sanitize(&cockpit.cluster.region).into_owned();
    let banner = banner_text(&cockpit.cluster.source, &cockpit.cluster.detail);
    let banner = format!(" {banner} ");
    // The region is the first thing to give up when the line is short; the banner the last.
    // In a fleet the context comes first: it is what the user switched to and what a fix
    // would be sent to.
    let fleet_label = input.fleet.as_ref().map(|fleet| {
        format!(
            "[{} {}/{}] ",
            sanitize(fleet.context_in_view()),
            fleet.in_view + 1,
            fleet.clusters.len()
        )
    });
    let full = 9
        + fleet_label.as_deref().map_or(0, width)
        + width(&cluster)
        + 1
        + width(&region)
        + 3
        + width(&banner);
    let show_region = !region.is_empty() && full <= left_room;
    let mut spans = vec![Span::styled("kockpit", theme.accent), Span::raw("  ")];
    if let Some(label) = fleet_label {
        spans.push(Span::styled(label, theme.accent));
    }
    if !cluster.is_empty() {
        spans.push(Span::styled(cluster, theme.title));
        if show_region {
            spans.push(Span::styled(format!(" ({region})"), theme.muted));
        }
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(banner, theme.banner));
    frame.render_widget(fit_spans(spans, left_room), area);
    if show_clock {
        frame.render_widget(
            Line::from(Span::styled(clock, clock_style)).alignment(Alignment::Right),
            area,
        );
    }
}

/// `◀ 08:42:10 −18m` for a cursor in the past, `FROZEN 08:42:10` for a frozen screen.
pub fn cursor_label(at: Timestamp, newest: Option<Timestamp>, frozen: bool) -> String {
    let clock = at.format("%H:%M:%S").to_string();
    if frozen {
        return format!("FROZEN {clock}");
    }
    let behind = newest
        .filter(|newest| *newest > at)
        .and_then(|newest| (newest - at).to_std().ok())
        .map(|behind| format!(" −{}", format_duration(behind)))
        .unwrap_or_default();
    format!("◀ {clock}{behind}")
}

/// One line across the retained history: markers where things happened (N node
/// disruption, R route change, A alert, F fix) and the cursor, so the user sees where
/// they are in time and what lies around.
pub fn timeline(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let time = &input.view.time;
    let (Some(oldest), Some(newest), Some(cursor)) = (time.oldest, time.newest, time.cursor) else {
        return;
    };
    const LABEL: &str = "history ";
    const LEGEND: &str = "  N node R route A alert F fix";
    let total = area.width as usize;
    let legend = if total >= 100 { LEGEND } else { "" };
    let bar = total.saturating_sub(width(LABEL) + width(legend));
    if bar < 4 {
        return;
    }
    let span = (newest - oldest).num_milliseconds().max(1) as f64;
    let column = |at: Timestamp| -> usize {
        let share = (at - oldest).num_milliseconds() as f64 / span;
        ((share.clamp(0.0, 1.0)) * (bar - 1) as f64).round() as usize
    };
    let mut cells: Vec<(char, Style)> = vec![('─', theme.muted); bar];
    for marker in &time.markers {
        if marker.at < oldest || marker.at > newest {
            continue;
        }
        cells[column(marker.at)] = (marker.kind.glyph(), theme.warn);
    }
    cells[column(cursor)] = ('▲', theme.accent);
    let mut spans = vec![Span::styled(LABEL, theme.muted)];
    spans.extend(
        cells
            .into_iter()
            .map(|(glyph, style)| Span::styled(glyph.to_string(), style)),
    );
    if !legend.is_empty() {
        spans.push(Span::styled(legend, theme.muted));
    }
    frame.render_widget(Line::from(spans), area);
}

/// What the banner says about the source: SIMULATED, LIVE or REPLAY and its detail.
pub fn banner_text(source: &str, detail: &str) -> String {
    let kind = match source.trim().to_ascii_lowercase().as_str() {
        "" => return "NO SOURCE YET".to_string(),
        "simulated" | "sim" | "simulator" => "SIMULATED".to_string(),
        "live" => "LIVE".to_string(),
        "replay" => "REPLAY".to_string(),
        other => sanitize(other).to_uppercase(),
    };
    let detail = sanitize(detail);
    if detail.trim().is_empty() {
        kind
    } else {
        format!("{kind} {}", detail.trim())
    }
}

/// ` Overview  DNS !!  Gateways ·  East-West ! …`: the marker reads without colour.
pub fn tabs(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let total = area.width as usize;
    let fleet = input.fleet.as_ref().map(|_| Screen::Fleet);
    let labels = |short: bool| -> Vec<(Screen, String, Option<Health>)> {
        fleet
            .iter()
            .chain(Screen::ALL.iter())
            .map(|screen| {
                let title = if short {
                    short_title(*screen)
                } else {
                    screen.title()
                };
                match screen {
                    Screen::Fleet | Screen::Overview => (*screen, format!(" {title} "), None),
                    Screen::Pane(pane) => {
                        let health = Health::of(input.cockpit, *pane);
                        (*screen, format!(" {title} "), Some(health))
                    }
                }
            })
            .collect()
    };
    let tab_width = |tabs: &[(Screen, String, Option<Health>)]| -> usize {
        tabs.iter()
            .map(|(_, label, health)| width(label) + health.map_or(0, |h| width(h.marker()) + 1))
            .sum()
    };
    let mut chosen = labels(false);
    if tab_width(&chosen) > total {
        chosen = labels(true);
    }
    let mut spans = Vec::new();
    for (screen, label, health) in chosen {
        let active = screen == input.view.screen;
        let style = if active {
            theme.tab_active
        } else {
            theme.tab_inactive
        };
        spans.push(Span::styled(label, style));
        if let Some(health) = health {
            let marker_style = if active {
                theme.tab_active
            } else {
                health.style(theme)
            };
            spans.push(Span::styled(format!("{} ", health.marker()), marker_style));
        }
    }
    frame.render_widget(fit_spans(spans, total), area);
}

pub(super) fn short_title(screen: Screen) -> &'static str {
    use crate::domain::Pane;
    match screen {
        Screen::Fleet => "Fleet",
        Screen::Overview => "All",
        Screen::Pane(Pane::Dns) => "DNS",
        Screen::Pane(Pane::Gateways) => "GW",
        Screen::Pane(Pane::Flows) => "E-W",
        Screen::Pane(Pane::Nodes) => "Nodes",
        Screen::Pane(Pane::Rightsizing) => "Size",
        Screen::Pane(Pane::Spend) => "Spend",
    }
}

/// Key hints on the left, whole hints only (the history strip while the time cursor is in
/// use); the newest notice on the right.
pub fn footer(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let total = area.width as usize;
    let notice = input
        .notices
        .last()
        .map(|n| sanitize(n).trim().to_string())
        .filter(|n| !n.is_empty());
    let notice_width = notice.as_ref().map_or(0, |n| {
        // The notice shares the line with the hints: it is what the user has not read yet,
        // but the hints are how they get out of trouble.
        let share = if input.footer.is_empty() {
            total
        } else {
            total / 2
        };
        width(n).min(share)
    });
    let hints_room = total.saturating_sub(notice_width + if notice_width > 0 { 2 } else { 0 });
    // With the time cursor in use the line shows the history strip instead of the hints,
    // so the panes keep exactly the rows they had live.
    if input.view.time.active() {
        timeline(
            frame,
            Rect {
                width: hints_room as u16,
                ..area
            },
            input,
        );
    } else {
        hints(frame, area, input, hints_room);
    }
    if let Some(notice) = notice {
        let shown = truncate(&notice, notice_width).into_owned();
        frame.render_widget(
            Line::from(Span::styled(shown, theme.notice)).alignment(Alignment::Right),
            area,
        );
    }
}

fn hints(frame: &mut Frame, area: Rect, input: &RenderInput, hints_room: usize) {
    let theme = input.theme;

    let mut spans = Vec::new();
    let mut used = 0;
    for hint in input.footer {
        let keys = sanitize(&hint.keys).into_owned();
        let desc = sanitize(&hint.desc).into_owned();
        let gap = if spans.is_empty() { 0 } else { 2 };
        let needed = gap + width(&keys) + 1 + width(&desc);
        if used + needed > hints_room {
            break;
        }
        if gap > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys, theme.key));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(desc, theme.muted));
        used += needed;
    }
    frame.render_widget(Line::from(spans), area);
}
