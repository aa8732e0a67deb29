//! VPC Flow Logs as an East-West source: the record formats, the CloudWatch Logs Insights
//! queries kockpit sends, and the turning of their answers into observations between IPs
//! (on the VPC CNI, pod IPs are VPC addresses, so the join finds the pods).
//!
//! A flow between two interfaces of the same VPC is logged twice, once by each interface. The
//! receiving interface writes its own primary address as `dstaddr` when the packet was for a
//! secondary one, and every VPC CNI pod IP is a secondary address: its copy names the node,
//! not the pod, and the join leaves it out as traffic to a node. Where the format has
//! `pkt-dstaddr` (the packet's own address) both copies name the pod; then, with
//! `flow-direction`, only egress records count, and without it each (source, destination)
//! pair takes the larger of its interfaces' sums.
//!
//! Logs Insights bills by the bytes it scans, so queries are scoped to one window and one
//! result limit; an answer that fills the limit is asked again in halves.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::traffic::{Observation, Peer};

/// The fields of the default (version 2) format, in order.
pub const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// The most rows a Logs Insights query returns.
pub const MAX_ROWS: u32 = 10_000;

/// What Logs Insights charges per GB scanned (us-east-1 list price), for the cost line.
pub const USD_PER_GB_SCANNED: f64 = 0.005;

/// Why a log format string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("`{0}` is not a flow log field (write fields as ${{field-name}})")]
    NotAField(String),
    #[error("the format lacks `${{{0}}}`, which kockpit needs")]
    Missing(&'static str),
}

/// A flow log's record format: the fields of each space-separated record, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    fields: Vec<String>,
}

impl Default for LogFormat {
    fn default() -> Self {
        LogFormat {
            fields: DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect(),
        }
    }
}

impl LogFormat {
    /// Reads the format as the flow log's `LogFormat` gives it: `${version} ${srcaddr} …`.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let mut fields = Vec::new();
        for token in text.split_whitespace() {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .filter(|name| {
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
                .ok_or_else(|| FormatError::NotAField(token.chars().take(40).collect()))?;
            fields.push(name.to_string());
        }
        for needed in ["srcaddr", "dstaddr", "bytes"] {
            if !fields.iter().any(|f| f == needed) {
                return Err(FormatError::Missing(needed));
            }
        }
        Ok(LogFormat { fields })
    }

    /// The fields, in record order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The default format, whose fields Logs Insights discovers by itself (so `stats` works).
    pub fn is_default(&self) -> bool {
        self.fields.iter().map(String::as_str).eq(DEFAULT_FIELDS)
    }

    fn position(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == field)
    }

    /// Reads one record; `None` for a record without traffic (`NODATA`, `SKIPDATA`, "-").
    pub fn record(&self, line: &str) -> Option<FlowRecord> {
        let values: Vec<&str> = line.split_whitespace().collect();
        if values.len() != self.fields.len() {
            return None;
        }
        let get = |field: &str| self.position(field).map(|i| values[i]);
        let number = |field: &str| get(field).and_then(|v| v.parse::<u64>().ok());
        // The packet's own addresses where the format has them: `dstaddr` of traffic to a
        // secondary address (every VPC CNI pod IP) is the interface's primary address.
        let address = |packet: &str, interface: &str| {
            get(packet)
                .filter(|v| *v != "-")
                .or_else(|| get(interface))
                .and_then(|v| v.parse::<IpAddr>().ok())
        };
        Some(FlowRecord {
            src: address("pkt-srcaddr", "srcaddr")?,
            dst: address("pkt-dstaddr", "dstaddr")?,
            src_port: number("srcport").and_then(|p| u16::try_from(p).ok()),
            dst_port: number("dstport").and_then(|p| u16::try_from(p).ok()),
            bytes: number("bytes")?,
            packets: number("packets").unwrap_or(0),
            accepted: get("action").is_none_or(|a| a != "REJECT"),
            interface: get("interface-id")
                .filter(|i| *i != "-")
                .map(str::to_string),
            egress: get("flow-direction").and_then(|d| match d {
                "egress" => Some(true),
                "ingress" => Some(false),
                _ => None,
            }),
        })
    }
}

/// One flow log record with traffic in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub bytes: u64,
    pub packets: u64,
    /// ACCEPT (or no action field); REJECT records count as drops.
    pub accepted: bool,
    /// The interface that logged it.
    pub interface: Option<String>,
    /// `flow-direction`, when the format has it: egress from the logging interface.
    pub egress: Option<bool>,
}

/// The stats query for default-format logs: sums per pair, interface and action, so that
/// each pair can be counted once afterwards. Only records with traffic.
pub fn stats_query(limit: u32) -> String {
    format!(
        "filter logStatus = \"OK\" | stats sum(bytes) as bytes, sum(packets) as packets by srcAddr, dstAddr, interfaceId, action | limit {}",
        limit.min(MAX_ROWS)
    )
}

/// The query for custom formats, which Logs Insights does not parse: the records themselves.
pub fn raw_query(limit: u32) -> String {
    format!(
        "fields @timestamp, @message | sort @timestamp asc | limit {}",
        limit.min(MAX_ROWS)
    )
}

/// Bytes and packets of one pair as one interface logged them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    bytes: f64,
    rejected_packets: f64,
}

/// (src, dst, reply?) → interface (or direction marker) → sums.
type PairSums = BTreeMap<(IpAddr, IpAddr, Option<bool>), BTreeMap<String, Sums>>;

fn add(
    sums: &mut PairSums,
    pair: (IpAddr, IpAddr, Option<bool>),
    interface: String,
    bytes: f64,
    rejected: f64,
) {
    let entry = sums.entry(pair).or_default().entry(interface).or_default();
    entry.bytes += bytes;
    entry.rejected_packets += rejected;
}

/// A client connects from an ephemeral port to the server's lower, listening one: bytes
/// from the lower port are a reply.
fn reply_by_ports(record: &FlowRecord) -> Option<bool> {
    match (record.src_port?, record.dst_port?) {
        (src, dst) if src < dst => Some(true),
        (src, dst) if src > dst => Some(false),
        _ => None,
    }
}

/// Each pair counted once (see the module's note), as rates over `window_seconds`.
fn observations(sums: PairSums, window_seconds: f64) -> Vec<Observation> {
    let window = window_seconds.max(1.0);
    sums.into_iter()
        .map(|((src, dst, reply), by_interface)| {
            let once = by_interface.values().fold(Sums::default(), |most, s| Sums {
                bytes: most.bytes.max(s.bytes),
                rejected_packets: most.rejected_packets.max(s.rejected_packets),
            });
            let mut observation =
                Observation::new(Peer::Ip(src), Peer::Ip(dst), once.bytes / window);
            observation.drops_per_sec = once.rejected_packets / window;
            observation.reply = reply;
            observation
        })
        .collect()
}

/// Observations from raw records of one window.
pub fn from_records<'a>(
    records: impl IntoIterator<Item = &'a FlowRecord>,
    window_seconds: f64,
) -> Vec<Observation> {
    let mut sums = PairSums::new();
    for record in records {
        // With a direction, the egress record alone stands for the flow.
        if record.egress == Some(false) {
            continue;
        }
        let key = match record.egress {
            Some(true) => "egress".to_string(),
            _ => record.interface.clone().unwrap_or_default(),
        };
        let (bytes, rejected) = if record.accepted {
            (record.bytes as f64, 0.0)
        } else {
            (0.0, record.packets as f64)
        };
        let pair = (record.src, record.dst, reply_by_ports(record));
        add(&mut sums, pair, key, bytes, rejected);
    }
    observations(sums, window_seconds)
}

/// Observations from the rows of [`stats_query`] (field name → value) over one window.
/// Rows that do not parse are skipped.
pub fn from_stats(rows: &[BTreeMap<String, String>], window_seconds: f64) -> Vec<Observation> {
    let mut sums = PairSums::new();
    for row in rows {
        let get = |field: &str| row.get(field).map(String::as_str);
        let (Some(src), Some(dst)) = (
            get("srcAddr").and_then(|v| v.parse().ok()),
            get("dstAddr").and_then(|v| v.parse().ok()),
        ) else {
            continue;
        };
        let number = |field: &str| {
            get(field)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0)
        };
        let rejected = get("action") == Some("REJECT");
        let (bytes, packets) = if rejected {
            (0.0, number("packets"))
        } else {
            (number("bytes"), 0.0)
        };
        let interface = get("interfaceId").unwrap_or_default().to_string();
        add(&mut sums, (src, dst, None), interface, bytes, packets);
    }
    observations(sums, window_seconds)
}

/// The cost line of the Sources window: `scanned 1.2 GB (≈ $0.006)`.
pub fn scanned_text(bytes_scanned: f64) -> String {
    let gb = bytes_scanned.max(0.0) / 1e9;
    format!(
        "last query scanned {} (≈ ${:.4} at ${USD_PER_GB_SCANNED}/GB)",
        super::format::bytes(bytes_scanned),
        gb * USD_PER_GB_SCANNED
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_RECORDS: &str = "\
2 123456789012 eni-0a1 10.0.32.11 10.0.64.21 43152 8080 6 20 4000 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0b2 10.0.32.11 10.0.64.21 43152 8080 6 20 4000 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0b2 10.0.64.21 10.0.32.11 8080 43152 6 30 9000 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0a1 10.0.64.21 10.0.32.11 8080 43152 6 30 9000 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0c3 10.0.96.5 10.0.64.21 51000 5432 6 7 420 1700000000 1700000060 REJECT OK
2 123456789012 eni-0d4 - - - - - - - 1700000000 1700000060 - NODATA
";

    #[test]
    fn default_records_count_each_flow_once() {
        let format = LogFormat::default();
        assert!(format.is_default());
        let records: Vec<FlowRecord> = DEFAULT_RECORDS
            .lines()
            .filter_map(|line| format.record(line))
            .collect();
        assert_eq!(records.len(), 5, "NODATA carries no traffic");
        let observed = from_records(&records, 60.0);
        let rate = |src: &str, dst: &str| {
            observed
                .iter()
                .find(|o| {
                    o.from == Peer::Ip(src.parse().expect("ip"))
                        && o.to == Peer::Ip(dst.parse().expect("ip"))
                })
                .map(|o| (o.per_sec, o.drops_per_sec))
        };
        // Both interfaces logged 4,000 bytes: 4,000 once, over a minute.
        assert_eq!(rate("10.0.32.11", "10.0.64.21"), Some((4000.0 / 60.0, 0.0)));
        assert_eq!(rate("10.0.64.21", "10.0.32.11"), Some((9000.0 / 60.0, 0.0)));
        assert_eq!(rate("10.0.96.5", "10.0.64.21"), Some((0.0, 7.0 / 60.0)));
    }

    #[test]
    fn custom_formats_with_a_direction_count_egress_only() {
        let format = LogFormat::parse(
            "${version} ${interface-id} ${srcaddr} ${dstaddr} ${bytes} ${packets} ${action} ${flow-direction} ${az-id}",
        )
        .expect("format");
        assert!(!format.is_default());
        let records: Vec<FlowRecord> = [
            "5 eni-1 10.0.32.11 10.0.64.21 1000 3 ACCEPT egress use1-az1",
            "5 eni-2 10.0.32.11 10.0.64.21 1000 3 ACCEPT ingress use1-az2",
            "5 eni-1 10.0.32.11 10.0.64.21 500 1 ACCEPT egress use1-az1",
        ]
        .iter()
        .filter_map(|line| format.record(line))
        .collect();
        let observed = from_records(&records, 10.0);
        assert_eq!(observed.len(), 1);
        assert!((observed[0].per_sec - 150.0).abs() < 1e-9);
    }

    #[test]
    fn bad_formats_say_why() {
        assert_eq!(
            LogFormat::parse("${version} ${srcaddr} ${dstaddr}"),
            Err(FormatError::Missing("bytes"))
        );
        assert!(matches!(
            LogFormat::parse("${srcaddr} $dstaddr ${bytes}"),
            Err(FormatError::NotAField(_))
        ));
        // A record of the wrong width is not misread.
        let format = LogFormat::default();
        assert_eq!(
            format.record("2 123 eni-1 10.0.0.1 10.0.0.2 1 2 6 3 400"),
            None
        );
        assert_eq!(format.record(""), None);
    }

    #[test]
    fn stats_rows_are_deduplicated_like_records() {
        let row = |src: &str, dst: &str, eni: &str, action: &str, bytes: &str, packets: &str| {
            BTreeMap::from([
                ("srcAddr".to_string(), src.to_string()),
                ("dstAddr".to_string(), dst.to_string()),
                ("interfaceId".to_string(), eni.to_string()),
                ("action".to_string(), action.to_string()),
                ("bytes".to_string(), bytes.to_string()),
                ("packets".to_string(), packets.to_string()),
            ])
        };
        let rows = vec![
            row("10.0.32.11", "10.0.64.21", "eni-1", "ACCEPT", "6000", "10"),
            row("10.0.32.11", "10.0.64.21", "eni-2", "ACCEPT", "6000", "10"),
            row("10.0.32.11", "10.0.64.21", "eni-2", "REJECT", "300", "6"),
            row("garbage", "10.0.64.21", "eni-2", "ACCEPT", "1", "1"),
        ];
        let observed = from_stats(&rows, 600.0);
        assert_eq!(observed.len(), 1);
        assert!((observed[0].per_sec - 10.0).abs() < 1e-9);
        assert!((observed[0].drops_per_sec - 0.01).abs() < 1e-9);
        assert!(stats_query(50_000).ends_with("limit 10000"));
    }
}
