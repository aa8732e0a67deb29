//! Building blocks every screen shares: verdict colours and markers, figure cells with
//! sparklines, charts, section titles, windowed tables, the findings list and the
//! source-state banner.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table,
};

use super::text::{sanitize, truncate, width};
use super::theme::Theme;
use super::{RenderInput, format};
use crate::domain::cockpit::Figure;
use crate::domain::series::Series;
use crate::domain::thresholds::Band;
use crate::domain::{Cockpit, Finding, Pane, Severity, SourceState, Timestamp};

/// How a figure compares with its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No verdict: the figure is shown as plain text.
    Plain,
    Ok,
    Warn,
    Crit,
}

impl Level {
    /// For figures where higher is worse (latency, error share).
    pub fn high_is_bad(value: f64, band: Band) -> Level {
        if value > band.critical {
            Level::Crit
        } else if value > band.warning {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// For figures where lower is worse (cache hit ratio, spot share).
    pub fn low_is_bad(value: f64, band: Band) -> Level {
        if value < band.critical {
            Level::Crit
        } else if value < band.warning {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Level::Plain => theme.text,
            Level::Ok => theme.ok,
            Level::Warn => theme.warn,
            Level::Crit => theme.crit,
        }
    }
}

/// A pane's state as the tab bar and the overview show it, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Critical,
    Unavailable,
    NotInstalled,
    Warning,
    Degraded,
    Ok,
    NoData,
}

impl Health {
    pub fn of(cockpit: &Cockpit, pane: Pane) -> Health {
        match cockpit.sources.get(&pane).map(|s| &s.state) {
            Some(SourceState::Unavailable { .. }) => return Health::Unavailable,
            Some(SourceState::NotInstalled { .. }) => return Health::NotInstalled,
            _ => {}
        }
        match cockpit.pane_severity(pane) {
            Some(Severity::Critical) => return Health::Critical,
            Some(Severity::Warning) => return Health::Warning,
            _ => {}
        }
        if matches!(
            cockpit.sources.get(&pane).map(|s| &s.state),
            Some(SourceState::Degraded { .. })
        ) {
            return Health::Degraded;
        }
        if cockpit.has_data(pane) {
            Health::Ok
        } else {
            Health::NoData
        }
    }

    /// A marker that reads without colour.
    pub fn marker(self) -> &'static str {
        match self {
            Health::Critical => "!!",
            Health::Warning => "!",
            Health::Unavailable => "×",
            Health::NotInstalled => "–",
            Health::Degraded => "~",
            Health::Ok => "·",
            Health::NoData => "…",
        }
    }

    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Health::Critical | Health::Unavailable => theme.crit,
            Health::Warning | Health::Degraded => theme.warn,
            Health::Ok => theme.ok,
            Health::NotInstalled | Health::NoData => theme.muted,
        }
    }
}

/// The marker in front of a finding: `!!` critical, `!` warning, `i` information.
pub fn severity_marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "!!",
        Severity::Warning => "! ",
        Severity::Info => "i ",
    }
}

pub fn severity_style(severity: Severity, theme: &Theme) -> Style {
    match severity {
        Severity::Critical => theme.crit,
        Severity::Warning => theme.warn,
        Severity::Info => theme.info,
    }
}

/// Whether the area is big enough for the roomy layouts (charts, side-by-side tables).
pub fn is_large(area: Rect) -> bool {
    area.width >= 140 && area.height >= 36
}

// ---------------------------------------------------------------------------------------
// Figures and sparklines

/// One headline figure: a label, its value coloured by threshold and its recent history.
pub struct FigureCell<'a> {
    pub label: &'a str,
    pub value: String,
    pub level: Level,
    pub series: Option<&'a Series>,
}

impl<'a> FigureCell<'a> {
    pub fn new(label: &'a str, value: String, level: Level) -> Self {
        FigureCell {
            label,
            value,
            level,
            series: None,
        }
    }

    pub fn history(mut self, cockpit: &'a Cockpit, figure: Figure) -> Self {
        self.series = cockpit.series(figure);
        self
    }
}

/// Lays the cells out in a grid over the rows of `area`, as many per row as fit, each cell
/// `label value ▁▂▃▅▇` with the sparkline filling what is left of it.
pub fn figure_grid(frame: &mut Frame, area: Rect, theme: &Theme, cells: &[FigureCell]) {
    if area.height == 0 || area.width == 0 || cells.is_empty() {
        return;
    }
    let per_row = grid_columns(area.width, cells.len(), area.height);
    for (chunk, row_area) in cells.chunks(per_row).zip(area.rows()) {
        let columns =
            Layout::horizontal(vec![Constraint::Ratio(1, per_row as u32); per_row]).split(row_area);
        for (cell, cell_area) in chunk.iter().zip(columns.iter()) {
            let line = figure_line(cell, cell_area.width, theme);
            frame.render_widget(fit_spans(line.spans, cell_area.width as usize), *cell_area);
        }
    }
}

/// How many figure cells share a row: cells are at least 19 columns wide unless that would
/// need more than `max_rows` rows; the cells are spread evenly over the rows.
pub fn grid_columns(width: u16, cells: usize, max_rows: u16) -> usize {
    let fit = (width as usize / 19).max(1);
    let rows = cells.div_ceil(fit).clamp(1, usize::from(max_rows.max(1)));
    cells.div_ceil(rows).max(1)
}

/// Rows the grid needs for `cells` at this width, at most `max_rows`.
pub fn grid_rows(width: u16, cells: usize, max_rows: u16) -> u16 {
    cells.div_ceil(grid_columns(width, cells, max_rows)) as u16
}

fn figure_line<'a>(cell: &'a FigureCell, cell_width: u16, theme: &Theme) -> Line<'a> {
    let mut spans = vec![
        Span::styled(cell.label, theme.muted),
        Span::raw(" "),
        Span::styled(cell.value.clone(), cell.level.style(theme)),
    ];
    let used = width(cell.label) + 1 + width(&cell.value) + 1;
    let room = (cell_width as usize).saturating_sub(used + 1);
    if let Some(series) = cell.series
        && room >= 4
    {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(sparkline(series, room.min(24)), theme.spark));
    }
    Line::from(spans)
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The series' whole history (the last hour) squeezed into `width` block characters, each
/// the mean of its slice of time. The scale spans the values shown but at least a quarter of
/// the largest, centred on them: a real change fills the height, while a few percent of noise
/// stays a steady line in the middle instead of jumping bar to bar.
pub fn sparkline(series: &Series, width: usize) -> String {
    let values = bucket_means(series, width);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let spread = max - min;
    let window = spread.max(max.abs() * 0.25);
    let mut floor = (min + max) / 2.0 - window / 2.0;
    if min >= 0.0 && floor < 0.0 {
        floor = 0.0;
    }
    values
        .iter()
        .map(|v| {
            if window.is_nan() || window <= 0.0 {
                BARS[0]
            } else {
                let index = (((v - floor) / window) * 7.0).round().max(0.0) as usize;
                BARS[index.min(7)]
            }
        })
        .collect()
}

/// Means of the series over `width` equal slices of its time span, oldest first. With fewer
/// samples than slices, the samples themselves.
fn bucket_means(series: &Series, width: usize) -> Vec<f64> {
    if width == 0 {
        return Vec::new();
    }
    if series.len() <= width {
        return series.tail(width);
    }
    let (Some((first, _)), Some((last, _))) = (series.points().next(), series.points().next_back())
    else {
        return Vec::new();
    };
    let span = (last - first).num_milliseconds().max(1) as f64;
    let mut sums = vec![0.0; width];
    let mut counts = vec![0usize; width];
    for (at, value) in series.points() {
        let position = (at - first).num_milliseconds() as f64 / span;
        let bucket = ((position * width as f64) as usize).min(width - 1);
        sums[bucket] += value;
        counts[bucket] += 1;
    }
    let mut means = Vec::with_capacity(width);
    let mut previous = series.points().next().map_or(0.0, |(_, v)| v);
    for (sum, count) in sums.into_iter().zip(counts) {
        // A slice without samples repeats the one before, so gaps do not read as zero.
        if count > 0 {
            previous = sum / count as f64;
        }
        means.push(previous);
    }
    means
}

/// One chart of a figure's history (the last hour) for the large layouts.
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub figure: Figure,
    /// Formats the y-axis labels.
    pub format: fn(f64) -> String,
    /// Draws the warning threshold as a horizontal line, when there is one.
    pub threshold: Option<f64>,
    /// The most the figure can be (1.0 for shares), so the axis never reads 110%.
    pub ceiling: Option<f64>,
}

/// Charts side by side across `area`, each with its own block.
pub fn chart_row(frame: &mut Frame, area: Rect, input: &RenderInput, charts: &[ChartSpec]) {
    if charts.is_empty() || area.height < 4 {
        return;
    }
    let columns = Layout::horizontal(vec![
        Constraint::Ratio(1, charts.len() as u32);
        charts.len()
    ])
    .split(area);
    for (spec, chart_area) in charts.iter().zip(columns.iter()) {
        chart(frame, *chart_area, input, spec);
    }
}

fn chart(frame: &mut Frame, area: Rect, input: &RenderInput, spec: &ChartSpec) {
    let theme = input.theme;
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(format!(" {} ", spec.title), theme.title));
    let (Some(series), Some(now)) = (input.cockpit.series(spec.figure), input.cockpit.now) else {
        // A source that cannot give the figure will not fill the chart by waiting.
        let empty = if input.cockpit.figure_unavailable(spec.figure) {
            "no data"
        } else {
            "no history yet"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(empty, theme.muted)).block(block),
            area,
        );
        return;
    };
    let minutes_ago = |at: Timestamp| -((now - at).num_seconds() as f64) / 60.0;
    let points: Vec<(f64, f64)> = series
        .points()
        .map(|(at, v)| (minutes_ago(at), v))
        .collect();
    let oldest = points.first().map(|(x, _)| *x).unwrap_or(-1.0).min(-1.0);
    let max = series
        .max()
        .unwrap_or(0.0)
        .max(spec.threshold.unwrap_or(0.0))
        .max(f64::EPSILON)
        * 1.1;
    let max = spec.ceiling.map_or(max, |c| max.min(c));
    let threshold_points: Vec<(f64, f64)> = spec
        .threshold
        .map(|t| vec![(oldest, t), (0.0, t)])
        .unwrap_or_default();
    let mut datasets = vec![];
    if !threshold_points.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Dot)
                .graph_type(GraphType::Line)
                .style(theme.warn)
                .data(&threshold_points),
        );
    }
    datasets.push(
        Dataset::default()
            .marker(Marker::HalfBlock)
            .graph_type(GraphType::Line)
            .style(theme.chart)
            .data(&points),
    );
    let x_labels = vec![
        Span::styled(format!("-{:.0}m", -oldest), theme.muted),
        Span::styled("now", theme.muted),
    ];
    let y_labels = vec![
        Span::styled((spec.format)(0.0), theme.muted),
        Span::styled((spec.format)(max), theme.muted),
    ];
    let widget = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([oldest, 0.0])
                .labels(x_labels)
                .style(theme.border),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(y_labels)
                .style(theme.border),
        );
    frame.render_widget(widget, area);
}

// ---------------------------------------------------------------------------------------
// Sections and tables

/// Draws a section title rule (`── CoreDNS pods (3) ───`) on the first row of `area` and
/// returns the rows under it.
pub fn section(frame: &mut Frame, area: Rect, theme: &Theme, title: Line) -> Rect {
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A section title: the name, then muted detail such as counts.
pub fn title_line<'a>(theme: &Theme, name: &'a str, detail: String) -> Line<'a> {
    let mut spans = vec![Span::raw(" "), Span::styled(name, theme.title)];
    if !detail.is_empty() {
        spans.push(Span::styled(format!(" {detail}"), theme.muted));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// A table column: heading, width and alignment.
pub struct Column {
    pub title: &'static str,
    pub width: Constraint,
    pub right: bool,
}

impl Column {
    pub const fn left(title: &'static str, width: Constraint) -> Self {
        Column {
            title,
            width,
            right: false,
        }
    }

    pub const fn right(title: &'static str, width: Constraint) -> Self {
        Column {
            title,
            width,
            right: true,
        }
    }
}

/// A table cell: text (already sanitised where it came from outside) and its style.
pub struct TableCell {
    pub text: String,
    pub style: Style,
}

impl TableCell {
    pub fn new(text: impl Into<String>, style: Style) -> Self {
        TableCell {
            text: text.into(),
            style,
        }
    }

    /// Text from the cluster or a file: sanitised here.
    pub fn outside(text: &str, style: Style) -> Self {
        TableCell {
            text: sanitize(text).into_owned(),
            style,
        }
    }
}

/// The first row shown, so that `offset` never scrolls past the last page.
pub fn clamp_offset(offset: usize, total: usize, visible: usize) -> usize {
    offset.min(total.saturating_sub(visible))
}

/// Draws `total` rows starting at `offset`, building only the rows that fit (a pane may
/// have thousands). `row(i)` builds row `i`. Returns the first row shown.
pub fn windowed_table(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    columns: &[Column],
    total: usize,
    offset: usize,
    row: impl Fn(usize) -> Vec<TableCell>,
) -> usize {
    if area.height == 0 {
        return 0;
    }
    let visible = area.height.saturating_sub(1) as usize;
    let first = clamp_offset(offset, total, visible);
    let widths: Vec<Constraint> = columns.iter().map(|c| c.width).collect();
    // Column widths are known only after layout; compute them the way Table will, so that
    // right-aligned cells can be padded and long names cut with an ellipsis.
    let column_areas = Layout::horizontal(widths.clone()).spacing(1).split(area);
    let fit = |text: &str, index: usize, right: bool| -> String {
        let cell_width = column_areas.get(index).map_or(0, |a| a.width as usize);
        let cut = truncate(text, cell_width);
        if right {
            format!("{cut:>cell_width$}")
        } else {
            cut.into_owned()
        }
    };
    let header = Row::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| Cell::from(fit(c.title, i, c.right)))
            .collect::<Vec<_>>(),
    )
    .style(theme.header);
    let rows: Vec<Row> = (first..total.min(first + visible))
        .map(|index| {
            Row::new(
                row(index)
                    .into_iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        let right = columns.get(i).is_some_and(|c| c.right);
                        Cell::from(Span::styled(fit(&cell.text, i, right), cell.style))
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .style(theme.text);
    frame.render_widget(table, area);
    first
}

/// "12 of 5,000" style detail for section titles of scrolled tables.
pub fn range_detail(first: usize, shown: usize, total: usize) -> String {
    if total == 0 {
        "(none)".to_string()
    } else if shown >= total || shown == 0 {
        format!("({})", format::count(total))
    } else {
        format!(
            "({}–{} of {})",
            format::count(first + 1),
            format::count((first + shown).min(total)),
            format::count(total)
        )
    }
}

/// A table under a section title, with the title counting what is shown.
#[allow(clippy::too_many_arguments)]
pub fn titled_table(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    name: &str,
    columns: &[Column],
    total: usize,
    offset: usize,
    row: impl Fn(usize) -> Vec<TableCell>,
) {
    if area.height == 0 {
        return;
    }
    let visible = area.height.saturating_sub(2) as usize;
    let first = clamp_offset(offset, total, visible);
    let inner = section(
        frame,
        area,
        theme,
        title_line(theme, name, range_detail(first, visible, total)),
    );
    if total == 0 {
        frame.render_widget(Paragraph::new(Span::styled("none", theme.muted)), inner);
        return;
    }
    windowed_table(frame, inner, theme, columns, total, first, row);
}

/// Rows a titled table wants: title, heading and its rows, capped.
pub fn table_height(rows: usize, cap: u16) -> u16 {
    (rows.max(1) as u16).saturating_add(2).min(cap)
}

// ---------------------------------------------------------------------------------------
// Findings

/// The findings list with the selected one highlighted and kept in view.
pub fn findings_list(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    findings: &[Finding],
    selected: usize,
    show_pane: bool,
    waiting_for_data: bool,
) {
    if area.height == 0 {
        return;
    }
    let detail = if findings.is_empty() {
        String::new()
    } else {
        format!("({})", findings.len())
    };
    let inner = section(frame, area, theme, title_line(theme, "Findings", detail));
    if inner.height == 0 {
        return;
    }
    if findings.is_empty() {
        frame.render_widget(
            // No findings means healthy only once there is data to judge.
            Paragraph::new(if waiting_for_data {
                Span::styled("none yet: waiting for data", theme.muted)
            } else {
                Span::styled("none: every figure is within its thresholds", theme.ok)
            }),
            inner,
        );
        return;
    }
    let visible = inner.height as usize;
    let selected = selected.min(findings.len() - 1);
    // Keep the selection on screen, as near the top as the list allows.
    let first = clamp_offset(
        selected.saturating_sub(visible / 2),
        findings.len(),
        visible,
    );
    let pane_width = Pane::ALL
        .iter()
        .map(|p| width(p.title()))
        .max()
        .unwrap_or(0);
    let show_object = inner.width >= 120;
    let lines: Vec<Line> = findings
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(index, finding)| {
            // The pointer shows the selection without relying on the highlight colour.
            let pointer = if index == selected { "› " } else { "  " };
            let mut spans = vec![
                Span::styled(pointer, theme.accent),
                Span::styled(
                    severity_marker(finding.severity),
                    severity_style(finding.severity, theme),
                ),
                Span::raw(" "),
            ];
            if show_pane {
                spans.push(Span::styled(
                    format!("{:<pane_width$}  ", finding.pane.title()),
                    theme.muted,
                ));
            }
            let summary = sanitize(&finding.summary).into_owned();
            if show_object {
                let object = sanitize(&finding.object.to_string()).into_owned();
                let used = 5 + if show_pane { pane_width + 2 } else { 0 };
                let column = (inner.width as usize)
                    .saturating_sub(used)
                    .saturating_mul(2)
                    / 3;
                // What the line costs and how many findings it stands for, when it says.
                let aside = aside_text(finding);
                let summary_width = column.saturating_sub(width(&aside));
                spans.push(Span::styled(
                    format!(
                        "{:<summary_width$}",
                        truncate(&summary, summary_width.saturating_sub(2))
                    ),
                    theme.text,
                ));
                if !aside.is_empty() {
                    spans.push(Span::styled(aside, theme.accent));
                }
                spans.push(Span::styled(object, theme.muted));
            } else {
                let used = 5 + if show_pane { pane_width + 2 } else { 0 };
                let room = (inner.width as usize).saturating_sub(used);
                spans.push(Span::styled(
                    truncate(&summary, room).into_owned(),
                    theme.text,
                ));
            }
            let line = Line::from(spans);
            if index == selected {
                line.patch_style(theme.selected)
            } else {
                line
            }
        })
        .collect();
    for (line, row) in lines.into_iter().zip(inner.rows()) {
        frame.render_widget(line, row);
    }
}

/// "~1,200 req/s affected, +3 folded  " after a finding's summary on a wide list, or nothing.
fn aside_text(finding: &Finding) -> String {
    let mut parts = Vec::new();
    if let Some(impact) = crate::domain::triage::impact_text(&finding.impact) {
        parts.push(impact);
    }
    if !finding.members.is_empty() {
        parts.push(format!("+{} folded", finding.members.len()));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}  ", parts.join(", "))
    }
}

/// Rows the findings section wants: a title and up to `cap` findings (one line if none).
pub fn findings_height(count: usize, cap: usize) -> u16 {
    (count.clamp(1, cap.max(1)) + 1) as u16
}

// ---------------------------------------------------------------------------------------
// Pane frame: source state and waiting

/// Draws what every pane starts with: the state of its source when it is not healthy, or
/// "waiting for data…" when nothing has arrived. Returns the area left for the pane's own
/// content, or `None` when there is nothing to draw.
pub fn pane_frame(frame: &mut Frame, area: Rect, input: &RenderInput, pane: Pane) -> Option<Rect> {
    let theme = input.theme;
    let cockpit = input.cockpit;
    let mut area = area;
    if let Some(line) = source_state_line(cockpit, pane, theme) {
        let text_width = width(&line.to_string()) as u16;
        let rows = if area.width == 0 {
            1
        } else {
            text_width.div_ceil(area.width).clamp(1, 2)
        };
        let [banner, rest] =
            Layout::vertical([Constraint::Length(rows), Constraint::Fill(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(line).wrap(ratatui::widgets::Wrap { trim: true }),
            banner,
        );
        area = rest;
    }
    if !cockpit.has_data(pane) {
        frame.render_widget(
            Paragraph::new(Span::styled(waiting_text(cockpit), theme.muted))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return None;
    }
    Some(area)
}

/// "waiting for data…", and while the first lists run, what is still being listed (on a
/// large cluster the pod list alone takes tens of seconds).
pub fn waiting_text(cockpit: &Cockpit) -> String {
    let progress = cockpit
        .health
        .get("kubernetes")
        .and_then(|h| h.detail.as_deref())
        .filter(|_| !cockpit.initial_sync_done);
    match progress {
        Some(progress) => format!("waiting for data… {}", sanitize(progress)),
        None => "waiting for data…".to_string(),
    }
}

/// `prometheus unavailable: connection refused · last good data 3m ago`, when the pane's
/// source is not healthy.
pub fn source_state_line<'a>(cockpit: &Cockpit, pane: Pane, theme: &Theme) -> Option<Line<'a>> {
    let status = cockpit.sources.get(&pane)?;
    let source = sanitize(&status.source).into_owned();
    let (marker, style, what) = match &status.state {
        SourceState::Ok => return None,
        SourceState::Degraded { cause } => (
            "~",
            theme.warn,
            format!("{source} degraded: {}", sanitize(cause)),
        ),
        SourceState::Unavailable { cause } => (
            "×",
            theme.crit,
            format!("{source} unavailable: {}", sanitize(cause)),
        ),
        SourceState::NotInstalled { what } => (
            "–",
            theme.warn,
            format!("{} is not installed in this cluster", sanitize(what)),
        ),
    };
    let last_good = match (data_time(cockpit, pane), cockpit.now) {
        (Some(at), Some(now)) => format!(" · last good data {} ago", format::age(at, now)),
        (Some(_), None) => " · showing the last good data".to_string(),
        (None, _) => " · no data received yet".to_string(),
    };
    Some(Line::from(vec![
        Span::styled(format!("{marker} {what}"), style),
        Span::styled(last_good, theme.muted),
    ]))
}

/// When the pane's data was taken.
pub fn data_time(cockpit: &Cockpit, pane: Pane) -> Option<Timestamp> {
    match pane {
        Pane::Dns => cockpit.dns.as_ref().map(|s| s.at),
        Pane::Gateways => cockpit.gateways.as_ref().map(|s| s.at),
        Pane::Flows => cockpit.flows.as_ref().map(|s| s.at),
        Pane::Nodes => cockpit.nodes.as_ref().map(|s| s.at),
        Pane::Rightsizing => cockpit.workloads.as_ref().map(|s| s.at),
        Pane::Spend => cockpit.spend.as_ref().map(|s| s.at),
    }
}

/// Cuts a list of spans to `max` columns, ending with `…` when something was cut.
pub fn fit_spans(spans: Vec<Span<'_>>, max: usize) -> Line<'_> {
    let mut used = 0;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let w = span.width();
        if used + w <= max {
            used += w;
            out.push(span);
            continue;
        }
        let room = max.saturating_sub(used);
        if room > 0 {
            let cut = truncate(&span.content, room).into_owned();
            out.push(Span::styled(cut, span.style));
        }
        break;
    }
    Line::from(out)
}
