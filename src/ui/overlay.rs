//! Windows drawn over the screen: the key help, grouped by where each binding applies, and
//! the detail of one finding with its evidence and suggested fix.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Padding, Paragraph, Wrap};

use super::RenderInput;
use super::format;
use super::text::{sanitize, truncate, width};
use super::theme::Theme;
use super::widgets::{severity_marker, severity_style};
use crate::domain::finding::Fold;

/// A centred window of at most `max_width`×`max_height` inside `area`, cleared and framed;
/// returns the area inside the frame.
pub(super) fn window(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: Line<'_>,
    bottom: Option<Line<'_>>,
    max_width: u16,
    max_height: u16,
) -> Rect {
    let width = max_width
        .min(area.width.saturating_sub(4))
        .max(area.width.min(20));
    let height = max_height.min(area.height);
    let [column] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(column);
    frame.render_widget(Clear, popup);
    let mut block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Plain)
        .border_style(theme.border)
        .style(theme.text)
        .padding(Padding::horizontal(1))
        .title(title);
    if let Some(bottom) = bottom {
        block = block.title_bottom(bottom.alignment(Alignment::Right));
    }
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    inner
}

/// Every binding, grouped by scope in the order the scopes first appear.
pub fn help(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let mut scopes: Vec<&str> = Vec::new();
    for hint in input.keys {
        if !scopes.contains(&hint.scope.as_str()) {
            scopes.push(&hint.scope);
        }
    }
    let keys_width = input
        .keys
        .iter()
        .map(|h| width(&sanitize(&h.keys)))
        .max()
        .unwrap_or(0)
        .min(16);
    let mut lines: Vec<Line> = Vec::new();
    for scope in &scopes {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(
            sanitize(scope).into_owned(),
            theme.header,
        )));
        for hint in input.keys.iter().filter(|h| h.scope == *scope) {
            let keys = truncate(&sanitize(&hint.keys), keys_width).into_owned();
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(format!("{keys:<keys_width$}"), theme.key),
                Span::raw("  "),
                Span::styled(sanitize(&hint.desc).into_owned(), theme.text),
            ]));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no key bindings", theme.muted)));
    }
    let content_height = lines.len() as u16;
    let max_height = content_height.saturating_add(2);
    let visible = area.height.min(max_height).saturating_sub(2) as usize;
    let first = input
        .view
        .help_offset
        .min(lines.len().saturating_sub(visible));
    let position = if lines.len() > visible {
        Some(Line::from(Span::styled(
            format!(
                " {}–{} of {} ",
                first + 1,
                (first + visible).min(lines.len()),
                lines.len()
            ),
            theme.muted,
        )))
    } else {
        None
    };
    let inner = window(
        frame,
        area,
        theme,
        Line::from(Span::styled(" Keys ", theme.title)),
        position,
        72,
        max_height,
    );
    let shown: Vec<Line> = lines.into_iter().skip(first).take(visible).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

/// Splits text into lines of at most `max` columns at spaces (cutting words that are longer).
pub(super) fn wrap_words(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let needed = width(&current) + usize::from(!current.is_empty()) + width(word);
        if !current.is_empty() && needed > max {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
        if width(&current) > max {
            lines.push(truncate(&current, max).into_owned());
            current.clear();
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// A finding's severity, summary, object, evidence and suggested fix.
pub fn detail(frame: &mut Frame, area: Rect, input: &RenderInput, finding_id: &str) {
    let theme = input.theme;
    let Some(finding) = input.cockpit.finding(finding_id) else {
        let inner = window(
            frame,
            area,
            theme,
            Line::from(Span::styled(" Finding ", theme.title)),
            None,
            72,
            5,
        );
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(
                    "This finding is no longer present: the condition has cleared.",
                    theme.ok,
                )),
                Line::from(Span::styled(sanitize(finding_id).into_owned(), theme.muted)),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let max_width: u16 = 100;
    // Borders and padding take four columns.
    let inner_width = max_width
        .min(area.width.saturating_sub(4))
        .saturating_sub(4) as usize;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {}",
                    severity_marker(finding.severity).trim(),
                    finding.severity.as_str().to_uppercase()
                ),
                severity_style(finding.severity, theme),
            ),
            Span::styled(
                format!("  {} · {}", finding.pane.title(), sanitize(&finding.id)),
                theme.muted,
            ),
        ]),
        Line::default(),
        Line::from(Span::styled(
            sanitize(&finding.summary).into_owned(),
            theme.text,
        )),
        Line::default(),
        Line::from(vec![
            Span::styled("object  ", theme.muted),
            Span::styled(
                sanitize(&finding.object.to_string()).into_owned(),
                theme.text,
            ),
        ]),
        Line::default(),
    ];
    if finding.evidence.is_empty() {
        lines.push(Line::from(Span::styled(
            "no evidence recorded",
            theme.muted,
        )));
    } else {
        let label_width = finding
            .evidence
            .iter()
            .map(|e| width(&sanitize(&e.label)))
            .max()
            .unwrap_or(0)
            .clamp(8, 28);
        let value_width = finding
            .evidence
            .iter()
            .map(|e| width(&sanitize(&e.value)))
            .max()
            .unwrap_or(0)
            .clamp(5, (inner_width / 3).max(12));
        lines.push(Line::from(vec![
            Span::styled(format!("{:<label_width$}", "evidence"), theme.header),
            Span::raw("  "),
            Span::styled(format!("{:<value_width$}", "value"), theme.header),
            Span::raw("  "),
            Span::styled("threshold", theme.header),
        ]));
        let threshold_column = label_width + value_width + 4;
        let threshold_width = inner_width.saturating_sub(threshold_column).max(12);
        for evidence in &finding.evidence {
            // Every column wraps within itself, so nothing the user needs is cut off.
            let labels = wrap_words(&sanitize(&evidence.label), label_width);
            let values = wrap_words(&sanitize(&evidence.value), value_width);
            let thresholds = wrap_words(&sanitize(&evidence.threshold), threshold_width);
            let rows = labels.len().max(values.len()).max(thresholds.len()).max(1);
            for row in 0..rows {
                let label = labels.get(row).map_or("", String::as_str);
                let value = values.get(row).map_or("", String::as_str);
                let threshold = thresholds.get(row).cloned().unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(format!("{label:<label_width$}"), theme.text),
                    Span::raw("  "),
                    Span::styled(
                        format!("{value:<value_width$}"),
                        severity_style(finding.severity, theme),
                    ),
                    Span::raw("  "),
                    Span::styled(threshold, theme.muted),
                ]));
            }
        }
    }
    if let Some(impact) = crate::domain::triage::impact_text(&finding.impact) {
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::styled("impact  ", theme.muted),
            Span::styled(impact, theme.accent),
        ]));
    }
    // The findings this line stands for: other objects of its owner, symptoms of its cause.
    if !finding.members.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("folded into this line ({})", finding.members.len()),
            theme.header,
        )));
        for member in &finding.members {
            let how = match member.fold {
                Fold::SameOwner => "same owner",
                Fold::Symptom => "symptom",
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} ", severity_marker(member.severity).trim()),
                    severity_style(member.severity, theme),
                ),
                Span::styled(format!("{how:<10}  "), theme.muted),
                Span::styled(sanitize(&member.summary).into_owned(), theme.text),
            ]));
        }
    }
    lines.push(Line::default());
    match finding.fix {
        Some(fix) => lines.push(Line::from(vec![
            Span::styled("fix  ", theme.muted),
            Span::styled(fix.title(), theme.accent),
            Span::styled(format!("  ({})", fix.slug()), theme.muted),
        ])),
        None => lines.push(Line::from(vec![
            Span::styled("fix  ", theme.muted),
            Span::styled("no one-key fix", theme.muted),
        ])),
    }
    let age = match (
        super::widgets::data_time(input.cockpit, finding.pane),
        input.cockpit.now,
    ) {
        (Some(at), Some(now)) => format!(" data {} old ", format::age(at, now)),
        _ => String::new(),
    };
    // Wrapped lines (a long summary) need more rows than there are lines.
    let needed: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_width.max(1)).max(1))
        .sum();
    let inner = window(
        frame,
        area,
        theme,
        Line::from(Span::styled(" Finding ", theme.title)),
        (!age.is_empty()).then(|| Line::from(Span::styled(age, theme.muted))),
        max_width,
        (needed as u16).saturating_add(2),
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(
            wrap_words("warning above 30%, critical above 50%", 18),
            vec!["warning above 30%,", "critical above 50%"]
        );
        assert_eq!(wrap_words("", 10), Vec::<String>::new());
        assert_eq!(wrap_words("abcdefghijkl", 5), vec!["abcd…"]);
        assert_eq!(wrap_words("a  b", 10), vec!["a b"]);
    }
}
