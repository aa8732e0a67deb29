//! `e`: the view at the cursor as a snapshot report, written as Markdown and JSON files, and
//! the Markdown summary copied to the clipboard with OSC 52, which the terminal (even at
//! the far end of an SSH session) turns into a local clipboard copy. `request` is pure and
//! runs in `update`; `write` does the I/O and runs in the runner.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::domain::Cockpit;
use crate::domain::Timestamp;
use crate::domain::report::Report;
use crate::domain::timeline::FixAction;

/// Terminals cap what one OSC 52 sequence may carry (hterm and others near 75 000 bytes of
/// base64); staying under keeps the copy from being silently dropped.
pub const MAX_CLIPBOARD_BASE64: usize = 74_000;
/// Where snapshots go instead of the current directory.
pub const EXPORT_DIR_ENV: &str = "KOCKPIT_EXPORT_DIR";

/// Everything the runner needs to write a snapshot: built from the state, no I/O yet.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// `kockpit-snapshot-<cluster>-<time>`, without extension.
    pub file_stem: String,
    pub markdown: String,
    pub json: String,
    /// What goes to the clipboard: the Markdown, or its headline part when too long.
    pub clipboard: String,
    pub clipboard_truncated: bool,
}

/// Where the files went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub markdown: PathBuf,
    pub json: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the snapshot {}: {cause}", path.display())]
pub struct ExportError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

/// Builds the snapshot of `cockpit` (the one on screen). `cursor` is the instant shown
/// when it is not the live one; `newest` the newest data, to say how far back that is.
pub fn request(
    cockpit: &Cockpit,
    fixes: &[FixAction],
    cursor: Option<Timestamp>,
    newest: Option<Timestamp>,
    context: Option<&str>,
) -> ExportRequest {
    let report = Report::from_cockpit(cockpit);
    let mut markdown = report.to_markdown();
    // In a fleet, the export is of the cluster in view: it says which, as its findings
    // belong to it alone.
    if let Some(context) = context {
        let at = markdown.find('\n').map_or(markdown.len(), |end| end + 1);
        let line = format!("\n_Context {}._\n", crate::domain::report::md(context));
        markdown.insert_str(at, &line);
    }
    if let (Some(cursor), Some(newest)) = (cursor, newest)
        && cursor < newest
    {
        let behind = (newest - cursor).to_std().unwrap_or_default();
        let _ = writeln!(
            markdown,
            "\n_Viewed with the time cursor, {} before the newest data._",
            crate::domain::time::format_duration(behind)
        );
    }
    markdown.push_str(&fixes_markdown(fixes));
    let json = json_with_fixes(&report, fixes, context);
    let (clipboard, clipboard_truncated) = clipboard_text(&markdown);
    ExportRequest {
        file_stem: file_stem(context.unwrap_or(&report.cluster), report.at),
        markdown,
        json,
        clipboard,
        clipboard_truncated,
    }
}

fn fixes_markdown(fixes: &[FixAction]) -> String {
    let mut out = String::from("\n## Fixes applied\n\n");
    if fixes.is_empty() {
        out.push_str("None.\n");
        return out;
    }
    for fix in fixes {
        let verdict = fix
            .verdict
            .as_deref()
            .map(|v| format!(": {v}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- {} `{}` {} on {}{verdict}",
            fix.at.format("%H:%M:%S"),
            fix.fix.slug(),
            fix.step.as_str(),
            fix.object
        );
    }
    out
}

fn json_with_fixes(report: &Report, fixes: &[FixAction], context: Option<&str>) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "fixes".to_string(),
            serde_json::to_value(fixes).unwrap_or_default(),
        );
        if let Some(context) = context {
            object.insert("context".to_string(), serde_json::json!(context));
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| report.to_json())
}

/// The Markdown, or as many whole sections as fit, with a line saying the rest is in the file.
fn clipboard_text(markdown: &str) -> (String, bool) {
    let limit = MAX_CLIPBOARD_BASE64 / 4 * 3;
    if markdown.len() <= limit {
        return (markdown.to_string(), false);
    }
    const NOTE: &str =
        "\n_Cut short for the clipboard: the full summary is in the snapshot file._\n";
    let room = limit.saturating_sub(NOTE.len());
    // Cut before the last section heading that fits if that keeps most of the room,
    // else at the last line break: whole lines of findings read better than half a table.
    let window = &markdown[..floor_char_boundary(markdown, room)];
    let cut = window
        .rfind("\n## ")
        .filter(|at| *at >= room / 2)
        .or_else(|| window.rfind('\n'))
        .unwrap_or(0);
    let mut text = markdown[..cut].to_string();
    text.push_str(NOTE);
    (text, true)
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// `kockpit-snapshot-prod-eu-20260124T084210Z`: only characters safe in any file system.
pub fn file_stem(cluster: &str, at: Option<Timestamp>) -> String {
    let cluster: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cluster = cluster.trim_matches(['-', '.']);
    let cluster = if cluster.is_empty() {
        "cluster"
    } else {
        cluster
    };
    let time = at
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| "no-time".to_string());
    format!("kockpit-snapshot-{cluster}-{time}")
}

/// The OSC 52 sequence that puts `text` on the clipboard: `ESC ] 52 ; c ; <base64> BEL`.
pub fn osc52(text: &str) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = Vec::with_capacity(encoded.len() + 8);
    out.extend_from_slice(b"\x1b]52;c;");
    out.extend_from_slice(encoded.as_bytes());
    out.push(0x07);
    out
}

/// The directory snapshots go to: `$KOCKPIT_EXPORT_DIR`, else the current directory.
pub fn export_dir() -> PathBuf {
    std::env::var_os(EXPORT_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Writes the two files into `dir`.
pub fn write(request: &ExportRequest, dir: &Path) -> Result<Exported, ExportError> {
    let markdown = dir.join(format!("{}.md", request.file_stem));
    let json = dir.join(format!("{}.json", request.file_stem));
    for (path, content) in [(&markdown, &request.markdown), (&json, &request.json)] {
        std::fs::write(path, content).map_err(|cause| ExportError {
            path: path.clone(),
            cause,
        })?;
    }
    Ok(Exported { markdown, json })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::{ClusterInfo, Update};

    #[test]
    fn osc52_is_esc_52_c_base64_bel() {
        assert_eq!(osc52("hello"), b"\x1b]52;c;aGVsbG8=\x07".to_vec());
        assert_eq!(
            osc52("# kockpit: ü"),
            b"\x1b]52;c;IyBrb2NrcGl0OiDDvA==\x07".to_vec()
        );
        assert_eq!(osc52(""), b"\x1b]52;c;\x07".to_vec());
    }

    #[test]
    fn file_names_are_safe_and_carry_cluster_and_time() {
        use chrono::TimeZone;
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 1, 24, 8, 42, 10)
            .single();
        assert_eq!(
            file_stem("prod/eu west", at),
            "kockpit-snapshot-prod-eu-west-20260124T084210Z"
        );
        assert_eq!(file_stem("../", None), "kockpit-snapshot-cluster-no-time");
    }

    #[test]
    fn summary_names_the_cluster_and_says_no_fixes_yet() {
        let mut cockpit = Cockpit::new(AnalysisConfig::default());
        cockpit.apply(Update::Cluster(ClusterInfo {
            name: "prod-eu".into(),
            region: "eu-west-1".into(),
            source: "simulated".into(),
            detail: String::new(),
        }));
        let request = request(&cockpit, &[], None, None, None);
        assert!(request.markdown.starts_with("# kockpit snapshot: prod-eu"));
        assert!(request.markdown.contains("## Fixes applied\n\nNone."));
        assert!(request.json.contains("\"fixes\": []"));
        assert_eq!(request.clipboard, request.markdown);
        assert!(!request.clipboard_truncated);
    }

    #[test]
    fn an_export_from_a_fleet_names_its_context_under_the_title_and_in_the_json() {
        let cockpit = Cockpit::new(AnalysisConfig::default());
        let request = request(&cockpit, &[], None, None, Some("prod-euc1"));
        let mut lines = request.markdown.lines();
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("# kockpit snapshot"))
        );
        assert_eq!(lines.nth(1), Some("_Context prod-euc1._"));
        assert!(request.json.contains("\"context\": \"prod-euc1\""));
        assert!(
            request.file_stem.contains("-prod-euc1-"),
            "{}",
            request.file_stem
        );
    }

    #[test]
    fn a_long_summary_is_cut_at_a_section_for_the_clipboard() {
        let mut markdown = String::from("# title\n\n## Findings\n\n");
        for i in 0..5000 {
            markdown.push_str(&format!("- finding number {i} with some words\n"));
        }
        markdown.push_str("\n## DNS\n\nfigures\n");
        let (text, truncated) = clipboard_text(&markdown);
        assert!(truncated);
        assert!(osc52(&text).len() < MAX_CLIPBOARD_BASE64 + 16);
        assert!(text.ends_with("in the snapshot file._\n"));
        assert!(text.starts_with("# title"));
    }

    #[test]
    fn writes_both_files() {
        let dir = std::env::temp_dir().join(format!("kockpit-export-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let cockpit = Cockpit::new(AnalysisConfig::default());
        let request = request(&cockpit, &[], None, None, None);
        let written = write(&request, &dir).unwrap_or_else(|e| panic!("{e}"));
        let markdown = std::fs::read_to_string(&written.markdown).unwrap_or_default();
        assert_eq!(markdown, request.markdown);
        assert!(written.json.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
