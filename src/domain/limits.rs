//! Every bound kockpit puts on what comes from outside (files, the command line, the cluster,
//! Prometheus), in one place: a number is checked against its limit before anything is
//! allocated from it. README's "Limits" section lists the same table (a test keeps them in
//! step). A million-pod cluster is within every limit; a hundred-million-replica scenario is not.

/// One documented limit: what it bounds, the bound, and its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Where it applies, as the README names it.
    pub what: &'static str,
    pub max: u64,
    pub unit: &'static str,
}

impl Limit {
    const fn new(what: &'static str, max: u64, unit: &'static str) -> Limit {
        Limit { what, max, unit }
    }

    /// `100000 replicas`, `1 MiB`: the bound as the user reads it.
    pub fn shown(&self) -> String {
        const GIB: u64 = 1 << 30;
        const MIB: u64 = 1 << 20;
        const KIB: u64 = 1 << 10;
        match (self.unit, self.max) {
            ("bytes", max) if max % GIB == 0 => format!("{} GiB", max / GIB),
            ("bytes", max) if max % MIB == 0 => format!("{} MiB", max / MIB),
            ("bytes", max) if max % KIB == 0 => format!("{} KiB", max / KIB),
            (unit, max) => format!("{max} {unit}"),
        }
    }

    /// Whether `value` is within the limit.
    pub fn allows(&self, value: u64) -> bool {
        value <= self.max
    }

    /// `replicas 100000000 is over the limit of 100000 replicas (a workload's replicas)`.
    pub fn exceeded(&self, name: &str, value: impl std::fmt::Display) -> String {
        format!(
            "{name} {value} is over kockpit's limit of {} ({})",
            self.shown(),
            self.what
        )
    }
}

// Files the user hands kockpit.

/// A scenario, configuration, key map, theme or price table file.
pub const USER_FILE_BYTES: Limit = Limit::new(
    "a scenario, config, key map or theme file",
    1 << 20,
    "bytes",
);
/// The price cache `--refresh-prices` writes.
pub const PRICE_CACHE_BYTES: Limit = Limit::new("the price cache", 64 << 20, "bytes");
/// One file of a cluster dump (`--objects`).
pub const DUMP_FILE_BYTES: Limit = Limit::new("one file of an objects dump", 1 << 30, "bytes");
/// One record of a session recording (a whole-cluster snapshot of a big cluster).
pub const RECORD_BYTES: Limit = Limit::new("one record of a recording", 256 << 20, "bytes");
/// Everything a recording holds once decompressed (a gzip bomb stops here).
pub const RECORDING_BYTES: Limit = Limit::new("a recording, decompressed", 4 << 30, "bytes");

// Scenarios: the simulated cluster a file describes.

/// Replicas of one workload, and the maximum of its HPA.
pub const WORKLOAD_REPLICAS: Limit =
    Limit::new("a workload's replicas or HPA maximum", 100_000, "replicas");
/// Pods of a whole scenario: every workload at its largest, DaemonSets on every node group node.
pub const SCENARIO_PODS: Limit = Limit::new("the pods of a whole scenario", 1_000_000, "pods");
/// Nodes of one node group, and nodes a disruption wave takes at once.
pub const NODE_GROUP_NODES: Limit = Limit::new(
    "a node group's nodes, or a disruption's count",
    100_000,
    "nodes",
);
/// CoreDNS replicas.
pub const DNS_REPLICAS: Limit = Limit::new("CoreDNS replicas", 1_000, "replicas");
/// Names one workload looks up (internal plus external).
pub const DNS_NAMES: Limit = Limit::new("the names one workload looks up", 100_000, "names");
/// The shortest disruption wave, and the shortest repeat, in minutes: anything shorter
/// makes the simulator schedule waves faster than it steps.
pub const DISRUPTION_MINUTES_MIN: f64 = 1.0;

// The command line.

/// `--speed`: virtual seconds per real second.
pub const SPEED: Limit = Limit::new("--speed", 100_000, "virtual seconds per second");
/// `--at`: how far the simulated clock is advanced before a snapshot.
pub const SNAPSHOT_AT_SECONDS: Limit = Limit::new("--at", 7 * 24 * 3600, "seconds");
/// `sim serve --scale NODES,PODS`.
pub const SCALE_NODES: Limit = Limit::new("sim serve --scale nodes", 100_000, "nodes");
pub const SCALE_PODS: Limit = Limit::new("sim serve --scale pods", 2_000_000, "pods");
/// Clusters watched at once (`--context` repeated, `--all-contexts`, `[fleet] contexts`,
/// several scenarios): each has its own connections, watches and model.
pub const FLEET_CLUSTERS: Limit = Limit::new("clusters watched at once", 32, "clusters");

// What the cluster and the metric sources answer.

/// One Kubernetes object (its metadata and the fields kockpit reads); larger ones are
/// skipped with a finding. etcd itself refuses objects over 1.5 MiB by default.
pub const OBJECT_BYTES: Limit = Limit::new("one Kubernetes object", 3 << 20, "bytes");
/// A label or annotation value kept from the cluster or Prometheus; longer ones are clipped.
pub const LABEL_VALUE_CHARS: Limit = Limit::new("a label value", 1_024, "characters");
/// One Prometheus answer; a larger one is cut there, with a "truncated" note.
pub const PROMETHEUS_ANSWER_BYTES: Limit = Limit::new("one Prometheus answer", 256 << 20, "bytes");
/// Series of one Prometheus answer; the rest are dropped, with a "truncated" note.
pub const PROMETHEUS_SERIES: Limit =
    Limit::new("series in one Prometheus answer", 2_000_000, "series");
/// Points of one range series (an hour at 30 s steps is 120).
pub const PROMETHEUS_POINTS: Limit = Limit::new("points in one range series", 11_000, "points");
/// Pages of one CloudWatch request (ListMetrics, GetMetricData); AWS bounds each page.
pub const CLOUDWATCH_PAGES: Limit = Limit::new("pages of one CloudWatch request", 100, "pages");
/// What an exec credential plugin may print.
pub const PLUGIN_OUTPUT_BYTES: Limit =
    Limit::new("what a credential plugin prints", 1 << 20, "bytes");

/// Every limit, for the README and its test.
pub const ALL: &[Limit] = &[
    USER_FILE_BYTES,
    PRICE_CACHE_BYTES,
    DUMP_FILE_BYTES,
    RECORD_BYTES,
    RECORDING_BYTES,
    WORKLOAD_REPLICAS,
    SCENARIO_PODS,
    NODE_GROUP_NODES,
    DNS_REPLICAS,
    DNS_NAMES,
    SPEED,
    SNAPSHOT_AT_SECONDS,
    SCALE_NODES,
    SCALE_PODS,
    FLEET_CLUSTERS,
    OBJECT_BYTES,
    LABEL_VALUE_CHARS,
    PROMETHEUS_ANSWER_BYTES,
    PROMETHEUS_SERIES,
    PROMETHEUS_POINTS,
    CLOUDWATCH_PAGES,
    PLUGIN_OUTPUT_BYTES,
];

/// `text` cut to `LABEL_VALUE_CHARS` characters (with `…`), borrowed when it fits.
pub fn clip_label(text: &str) -> std::borrow::Cow<'_, str> {
    let max = LABEL_VALUE_CHARS.max as usize;
    // Bytes bound characters from above: most values need no counting at all.
    if text.len() <= max || text.chars().count() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut clipped: String = text.chars().take(max - 1).collect();
    clipped.push('…');
    std::borrow::Cow::Owned(clipped)
}

/// `text` cut to at most `LABEL_VALUE_CHARS` bytes at a character boundary, without
/// copying: for values read by key from objects, which are short unless something is wrong.
pub fn clip_label_bytes(text: &str) -> &str {
    let mut end = text.len().min(LABEL_VALUE_CHARS.max as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_the_user_reads_them() {
        assert_eq!(WORKLOAD_REPLICAS.shown(), "100000 replicas");
        assert_eq!(USER_FILE_BYTES.shown(), "1 MiB");
        assert_eq!(RECORDING_BYTES.shown(), "4 GiB");
        assert_eq!(
            WORKLOAD_REPLICAS.exceeded("replicas", 100_000_000),
            "replicas 100000000 is over kockpit's limit of 100000 replicas (a workload's replicas or HPA maximum)"
        );
        assert!(WORKLOAD_REPLICAS.allows(100_000) && !WORKLOAD_REPLICAS.allows(100_001));
    }

    #[test]
    fn long_label_values_are_clipped() {
        assert_eq!(clip_label("web"), "web");
        let long = "x".repeat(5_000);
        let clipped = clip_label(&long);
        assert_eq!(clipped.chars().count(), LABEL_VALUE_CHARS.max as usize);
        assert!(clipped.ends_with('…'));
        let wide = "é".repeat(2_000);
        assert!(clip_label_bytes(&wide).len() <= LABEL_VALUE_CHARS.max as usize);
        assert_eq!(clip_label_bytes("web"), "web");
    }

    #[test]
    fn the_readme_lists_every_limit() {
        let readme = include_str!("../../README.md");
        for limit in ALL {
            let row = format!("| {} | {} |", limit.what, limit.shown());
            assert!(readme.contains(&row), "README lacks the row `{row}`");
        }
    }
}
