//! The frame around every screen: the header (product, cluster, source banner, clock),
//! the tab bar with a health marker per pane, and the footer (key hints, newest notice).

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};

use super::text::{sanitize, truncate, width};
use super::widgets::{Health, fit_spans};
use super::{RenderInput, Screen, format};

/// `kockpit  prod-eu  SIMULATED scenario dns-storm, seed 7 ·········· 12:04:31 UTC`
pub fn header(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let cockpit = input.cockpit;
    let total = area.width as usize;
    // Below 100 columns the clock gives up " UTC" for "Z" so the banner keeps its detail.
    let clock = match cockpit.now {
        Some(now) if total < 100 => now.format("%H:%M:%SZ").to_string(),
        Some(now) => format::clock(now),
        None => "--:--:--".to_string(),
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
    let full = 9 + width(&cluster) + 1 + width(&region) + 3 + width(&banner);
    let show_region = !region.is_empty() && full <= left_room;
    let mut spans = vec![Span::styled("kockpit", theme.accent), Span::raw("  ")];
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
            Line::from(Span::styled(clock, theme.text)).alignment(Alignment::Right),
            area,
        );
    }
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
    let labels = |short: bool| -> Vec<(Screen, String, Option<Health>)> {
        Screen::ALL
            .iter()
            .map(|screen| {
                let title = if short {
                    short_title(*screen)
                } else {
                    screen.title()
                };
                match screen {
                    Screen::Overview => (*screen, format!(" {title} "), None),
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

fn short_title(screen: Screen) -> &'static str {
    use crate::domain::Pane;
    match screen {
        Screen::Overview => "All",
        Screen::Pane(Pane::Dns) => "DNS",
        Screen::Pane(Pane::Gateways) => "GW",
        Screen::Pane(Pane::Flows) => "E-W",
        Screen::Pane(Pane::Nodes) => "Nodes",
        Screen::Pane(Pane::Rightsizing) => "Size",
        Screen::Pane(Pane::Spend) => "Spend",
    }
}

/// Key hints on the left, whole hints only; the newest notice on the right.
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
    if let Some(notice) = notice {
        let shown = truncate(&notice, notice_width).into_owned();
        frame.render_widget(
            Line::from(Span::styled(shown, theme.notice)).alignment(Alignment::Right),
            area,
        );
    }
}
