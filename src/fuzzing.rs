//! One entry point per fuzz target: each takes arbitrary bytes, hands them to a parser that
//! reads what comes from outside (files, the cluster, Prometheus, AWS), and panics only when
//! an invariant is broken. The targets under `fuzz/` call these, and `tests/fuzz_corpus.rs`
//! replays the checked-in corpus through the same functions on the stable toolchain.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::app::keymap::Keymap;
use crate::backend::dump::{DumpBackend, manifests};
use crate::backend::live::cloudwatch::{billing, client, insights, loadbalancers, queries};
use crate::backend::live::prometheus::answer::{self, AnswerLimits};
use crate::backend::replay::format::{self, FORMAT_VERSION, MAGIC};
use crate::backend::sim::serve::patch::{Overlay, PatchKind};
use crate::backend::sim::{catalog, scenarios};
use crate::domain::assemble::quantity;
use crate::domain::corefile::{self, CacheSettings};
use crate::domain::fix::apply;
use crate::domain::fix::plan::{Operation, PatchType};
use crate::domain::flow_logs::{self, LogFormat};
use crate::domain::sanitize::sanitize;
use crate::domain::scenario::{self, ParseContext};
use crate::ui::theme::Theme;

/// A target's name (its file under `fuzz/fuzz_targets/` and its corpus directory) and entry.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("corefile", corefile),
    ("scenario", scenario),
    ("config", config),
    ("keymap", keymap),
    ("theme", theme),
    ("recording", recording),
    ("objects_dump", objects_dump),
    ("prometheus_answer", prometheus_answer),
    ("cloudwatch_answers", cloudwatch_answers),
    ("flow_records", flow_records),
    ("quantity", quantity),
    ("patch", patch),
    ("sanitize", sanitize_text),
];

/// Text as a file reader would see it: invalid UTF-8 is refused before any parser runs.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A Corefile parses, renders back to the same text, and every edit a fix makes renders to
/// a Corefile that parses again.
pub fn corefile(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let Ok(parsed) = corefile::parse(text) else {
        return;
    };
    assert_eq!(parsed.render(), text, "a parsed Corefile renders as it was");
    let settings = parsed.settings();
    let _ = (
        settings.cache_summary(),
        settings.effective_kubernetes_ttl(),
    );
    let mut edited = parsed.clone();
    let edits = [
        edited.set_cache(&CacheSettings::recommended_over(settings.cache.as_ref())),
        edited.set_kubernetes_ttl(30),
        edited.set_forward_max_concurrent(1000),
        edited.set_lameduck(std::time::Duration::from_secs(5)),
    ];
    if edits.iter().any(Result::is_ok) {
        let rendered = edited.render();
        if let Err(error) = corefile::parse(&rendered) {
            panic!("an edited Corefile does not parse again ({error}):\n{rendered}");
        }
    }
}

/// A scenario file: parents only from the built-in scenarios (never the disk).
pub fn scenario(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let known = catalog::names();
    let mut builtin_only = |parent: &str, _: &str| scenarios::builtin_parent(parent);
    let _ = scenario::parse_with(
        text,
        "fuzz.toml",
        &mut ParseContext {
            resolve_parent: &mut builtin_only,
            known_instance_types: Some(&known),
        },
    );
}

/// The configuration file.
pub fn config(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = crate::app::config::config_notices(text, "config.toml");
}

/// A user key map merged over the built-in one.
pub fn keymap(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let Some(base) = Keymap::builtin("default") else {
        return;
    };
    if let Ok(merged) = base.merge_toml(text, "keymap.toml") {
        let _ = merged.hints();
    }
}

/// A user theme merged over the dark one.
pub fn theme(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(merged) = Theme::dark().merge_toml(text, "theme.toml") {
        let _ = merged.without_color();
    }
}

/// A session recording. Bytes that do not start with the recording header are taken as the
/// record stream itself and wrapped in a header and gzip, so the fuzzer reaches the records
/// instead of spending itself on the compression.
pub fn recording(data: &[u8]) {
    let file = if data.starts_with(MAGIC) {
        data.to_vec()
    } else {
        use std::io::Write;
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        if gzip.write_all(data).is_err() {
            return;
        }
        match gzip.finish() {
            Ok(file) => file,
            Err(_) => return,
        }
    };
    if let Ok(recording) = format::read_recording(file.as_slice()) {
        let _ = recording.damage.map(|damage| damage.to_string());
    }
}

/// One file of an objects dump (`--objects`), projected and assembled into every pane. The
/// first byte says whether the rest is JSON (odd) or YAML (even).
pub fn objects_dump(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Some(text) = text(rest) else { return };
    let json = first % 2 == 1;
    let dump = manifests::from_text(if json { "fuzz.json" } else { "fuzz.yaml" }, text, json);
    let backend = DumpBackend::from_dump(Path::new("fuzz"), dump);
    let _ = backend.report();
    let _ = backend.updates();
}

/// A Prometheus HTTP API answer, within the default limits and within small ones that cut it.
pub fn prometheus_answer(data: &[u8]) {
    let _ = answer::decode(data, false, AnswerLimits::default());
    let small = AnswerLimits {
        bytes: data.len() as u64,
        series: 3,
        points: 4,
    };
    let _ = answer::decode(data, true, small);
}

/// A ListMetrics entry: namespace, metric name, dimensions.
type ListedMetric = (String, String, Vec<(String, String)>);

/// One GetMetricData page as (query id, unix seconds, values, status) per series.
type RawPage = Vec<(String, Vec<i64>, Vec<f64>, String)>;

/// What kockpit reads out of CloudWatch and CloudWatch Logs answers once the SDK has decoded
/// them: metric pages merged per query and turned into load balancer, usage and billing
/// figures, listed metrics, Logs Insights rows, and error codes and bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CloudWatchAnswers {
    /// Load balancer dimension values (`app/name/id`) and their listed metrics.
    load_balancers: Vec<String>,
    listed: Vec<ListedMetric>,
    hostnames: Vec<String>,
    /// GetMetricData pages.
    pages: Vec<RawPage>,
    now: i64,
    /// Workloads (namespace, name) whose Container Insights usage is asked for.
    workloads: Vec<(String, String)>,
    /// Logs Insights rows of the stats query, and raw records with a format.
    rows: Vec<BTreeMap<String, String>>,
    window_seconds: f64,
    /// An error answer: (code, message, HTTP status).
    errors: Vec<(Option<String>, Option<String>, Option<u16>)>,
    body: String,
}

/// CloudWatch and CloudWatch Logs answers as JSON (see `CloudWatchAnswers`); bytes that are
/// not such JSON are still an error body to read.
pub fn cloudwatch_answers(data: &[u8]) {
    let _ = client::body_text(data);
    let Ok(answers) = serde_json::from_slice::<CloudWatchAnswers>(data) else {
        return;
    };
    let at = |seconds: i64| chrono::DateTime::from_timestamp(seconds, 0);
    let Some(now) = at(answers.now) else { return };
    let to_page = |page: &RawPage| queries::DataPage {
        series: page
            .iter()
            .map(|(id, times, values, status)| queries::SeriesPage {
                id: id.clone(),
                timestamps: times.iter().filter_map(|t| at(*t)).collect(),
                values: values.clone(),
                status: status.clone(),
            })
            .collect(),
        next_token: None,
    };
    let mut catalogue = loadbalancers::Catalogue::default();
    for (namespace, metric_name, dimensions) in &answers.listed {
        catalogue.add(&queries::ListedMetric {
            namespace: namespace.clone(),
            metric_name: metric_name.clone(),
            dimensions: dimensions.clone(),
        });
    }
    for hostname in &answers.hostnames {
        let _ = loadbalancers::parse_hostname(hostname);
        let _ = catalogue.find(hostname);
    }
    let window = queries::Window::last(now, 60, 5);
    for load_balancer in &answers.load_balancers {
        let wanted = loadbalancers::traffic_specs(load_balancer, &catalogue);
        let series = merged(&answers.pages, &to_page, wanted);
        let latency = merged(
            &answers.pages,
            &to_page,
            loadbalancers::latency_specs(load_balancer),
        );
        let _ = loadbalancers::assemble(load_balancer, Some(&series), Some(&latency), &window);
    }
    let workloads = answers
        .workloads
        .iter()
        .map(|(namespace, name)| insights::WorkloadKey {
            namespace: namespace.clone(),
            name: name.clone(),
        })
        .collect();
    let usage_wanted = insights::specs("cluster", &workloads);
    let usage = merged(&answers.pages, &to_page, usage_wanted);
    let _ = insights::usage(&usage);
    let billed = merged(&answers.pages, &to_page, vec![((), billing::spec())]);
    let _ = billing::billed(&billed, now);
    let _ = flow_logs::from_stats(&answers.rows, answers.window_seconds);
    let raw: Vec<_> = answers
        .rows
        .iter()
        .filter_map(|row| LogFormat::default().record(row.get("@message")?))
        .collect();
    let _ = flow_logs::from_records(&raw, answers.window_seconds);
    for (code, message, status) in &answers.errors {
        let _ = client::from_code(
            "GetMetricData",
            code.as_deref(),
            message.as_deref(),
            *status,
        )
        .to_string();
    }
    let _ = client::body_text(answers.body.as_bytes());
}

/// Every page merged into the series of the keys `wanted` asks for.
fn merged<K: Clone + Ord>(
    pages: &[RawPage],
    to_page: &impl Fn(&RawPage) -> queries::DataPage,
    wanted: Vec<(K, queries::MetricSpec)>,
) -> BTreeMap<K, queries::Series> {
    let mut out = BTreeMap::new();
    for batch in queries::batches(wanted, queries::MAX_QUERIES_PER_CALL) {
        let mut merged = queries::Pages::default();
        for page in pages {
            let _ = merged.add(to_page(page));
        }
        out.extend(merged.finish(&batch));
    }
    out
}

/// VPC flow log records: the first line is the log format (`${version} ${srcaddr} …`, or
/// empty for the default), every other line a record.
pub fn flow_records(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut lines = text.lines();
    let format = match lines.next().map(str::trim) {
        None | Some("") => LogFormat::default(),
        Some(line) => match LogFormat::parse(line) {
            Ok(format) => format,
            Err(error) => {
                let _ = error.to_string();
                return;
            }
        },
    };
    let records: Vec<_> = lines.filter_map(|line| format.record(line)).collect();
    let _ = flow_logs::from_records(&records, 600.0);
}

/// Kubernetes quantities and the other small values read from objects and files.
pub fn quantity(data: &[u8]) {
    let Some(text) = text(data) else { return };
    for value in [quantity::cpu_millicores(text), quantity::memory_mib(text)] {
        assert!(value.is_none_or(f64::is_finite), "{text:?} gave {value:?}");
    }
    let as_value = Value::String(text.to_string());
    let _ = crate::domain::fix::object::cpu_cores(&as_value);
    let _ = crate::domain::fix::object::memory_mib(&as_value);
    let _ = scenario::parse_int_or_percent(text);
    let _ = crate::domain::time::parse_duration(text);
    let _ = crate::app::config::check_exec_timeout(text);
}

/// A patch applied to an object, as a fix applies it and as `sim serve` serves a PATCH. The
/// first byte picks the patch type; the first line of the rest is the object (JSON), the
/// other lines the patch.
pub fn patch(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (object, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    let Ok(object) = serde_json::from_slice::<Value>(object) else {
        return;
    };
    let served = [
        PatchKind::Merge,
        PatchKind::Json,
        PatchKind::Strategic,
        PatchKind::Apply,
    ][usize::from(kind % 4)];
    if let Ok(overlay) = Overlay::parse(served, body) {
        let mut target = object.clone();
        let _ = overlay.apply(&mut target);
        let mut again = object.clone();
        overlay.reapply(&mut again);
    }
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let patch_type =
        [PatchType::Merge, PatchType::Json, PatchType::StrategicMerge][usize::from(kind % 3)];
    let operation = Operation::Patch {
        patch_type,
        body: patch.clone(),
    };
    let Ok(after) = apply::apply_to(&object, &operation) else {
        return;
    };
    let _ = apply::still_applied(&after, &operation);
    if patch_type != PatchType::Json {
        let inverse =
            apply::inverse_patch(&object, &patch, patch_type == PatchType::StrategicMerge);
        let undo = Operation::Patch {
            patch_type,
            body: inverse,
        };
        let _ = apply::apply_to(&after, &undo);
    }
}

/// The terminal-text sanitiser: what it returns drives no terminal, and a second pass
/// changes nothing.
pub fn sanitize_text(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let once = sanitize(&input);
    assert!(
        !once
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{input:?} sanitised to {once:?}"
    );
    assert_eq!(sanitize(&once), once, "sanitising {input:?} twice");
}
