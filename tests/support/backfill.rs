//! A real Prometheus holding an hour of history made from an upstream-shaped fixture: the
//! fixture gives each counter (and histogram or summary `_bucket`/`_sum`/`_count`) as its
//! per-second rate and each gauge as its value, its `# TYPE` lines say which; the history
//! grows the counters by their rate and holds the gauges, every 15 seconds up to now, and
//! `promtool` writes it as blocks before Prometheus starts on them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::servers::{self, require, spawn, temp_dir};

/// The history written: an hour at a 15-second scrape interval.
const HISTORY_SECONDS: i64 = 3600;
const STEP_SECONDS: i64 = 15;

/// The family a sample belongs to, for its `# TYPE`.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    if types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count", "_total"] {
        if let Some(family) = name.strip_suffix(suffix)
            && types.contains_key(family)
        {
            return family;
        }
    }
    name
}

/// The fixture as OpenMetrics history ending at `end` (unix seconds).
pub fn history(fixture: &Path, end: i64) -> String {
    let text =
        std::fs::read_to_string(fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    // sample name → [(labels, value, grows)], in file order.
    type Samples = Vec<(String, f64, bool)>;
    let mut families: Vec<(String, Samples)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                types.insert(name.to_string(), kind.to_string());
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("{}: {line}", fixture.display()));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("{}: {line}: {e}", fixture.display()));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name.to_string(), format!("{{{rest}")),
            None => (series.to_string(), String::new()),
        };
        let kind = types
            .get(family_of(&name, &types))
            .map(String::as_str)
            .unwrap_or("counter");
        // A summary's quantiles are values; everything else of a summary or histogram, and
        // every counter, grows by its rate.
        let grows = match kind {
            "gauge" => false,
            "summary" => !labels.contains("quantile="),
            _ => true,
        };
        match families.iter_mut().find(|(n, _)| *n == name) {
            Some((_, samples)) => samples.push((labels, value, grows)),
            None => families.push((name, vec![(labels, value, grows)])),
        }
    }
    let start = end - HISTORY_SECONDS;
    let mut out = String::new();
    for (name, samples) in families {
        // "unknown": any sample name is its own family, and rate() works on it as on a counter.
        out.push_str(&format!("# TYPE {name} unknown\n"));
        for (labels, value, grows) in samples {
            let mut at = start;
            while at <= end {
                let now = if grows {
                    value * (at - start) as f64
                } else {
                    value
                };
                out.push_str(&format!("{name}{labels} {now} {at}\n"));
                at += STEP_SECONDS;
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A Prometheus holding `fixture`'s history and nothing else: the guard that stops it, its
/// URL and its log.
pub fn prometheus(fixture: &Path) -> (servers::Server, String, PathBuf) {
    let tag = fixture
        .file_stem()
        .map(|s| s.to_string_lossy().replace('.', "-"))
        .unwrap_or_default();
    let dir = temp_dir(&format!("backfill-{tag}"));
    let file = dir.join("history.om");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(history(fixture, chrono::Utc::now().timestamp()).as_bytes()))
        .unwrap_or_else(|e| panic!("{e}"));
    let promtool = require("promtool", "prometheus");
    let output = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(dir.join("data"))
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}"));
    assert!(
        output.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Only promtool's input: hundreds of MB for the larger fixtures.
    let _ = std::fs::remove_file(&file);
    let binary = require("prometheus", "prometheus");
    let port = servers::free_port();
    let log = dir.join("prometheus.log");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = spawn(
        "prometheus",
        &binary,
        &[
            &format!("--config.file={}", dir.join("prometheus.yml").display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--storage.tsdb.retention.time=30d",
            "--log.level=warn",
        ],
        &log,
    )
    .owning(&dir);
    (server, format!("http://127.0.0.1:{port}"), log)
}
