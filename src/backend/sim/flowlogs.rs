//! The simulated cluster's VPC Flow Logs: the records the VPC would deliver to CloudWatch
//! Logs for the last stretch of simulated traffic, in the flow log's format (the default
//! version 2, or a custom one). Each flow between two pods is logged by both interfaces, and
//! both directions (request and response) are separate flows, as in a real VPC; the receiving
//! interface records its own primary address (the node's) as `dstaddr`, pod IPs being
//! secondary addresses, and the pod's in `pkt-dstaddr`. Tests put
//! these records into a log group (moto) and read them back through kockpit's flow-log source.

use super::engine::SimCluster;
use super::rng::hash_str;
use super::traffic::{PodEnd, PodTraffic, pod_traffic};
use crate::domain::flow_logs::LogFormat;

const ACCOUNT: &str = "123456789012";
/// Average packet size, to count packets from bytes.
const BYTES_PER_PACKET: f64 = 900.0;

fn interface(pod: &PodEnd) -> String {
    format!("eni-{:017x}", hash_str(&pod.node) >> 4)
}

struct Record<'a> {
    from: &'a PodEnd,
    to: &'a PodEnd,
    /// The interface that logged it, and whether the flow leaves through it.
    logged_by: &'a PodEnd,
    egress: bool,
    source_port: u16,
    destination_port: u16,
    bytes: u64,
    accepted: bool,
}

fn field(record: &Record<'_>, name: &str, start: i64, end: i64, zones: &[String]) -> String {
    match name {
        "version" => "5".to_string(),
        "account-id" => ACCOUNT.to_string(),
        "interface-id" => interface(record.logged_by),
        "srcaddr" | "pkt-srcaddr" => record.from.ip.clone(),
        "dstaddr" if !record.egress => record.to.node_ip.clone(),
        "dstaddr" | "pkt-dstaddr" => record.to.ip.clone(),
        "srcport" => record.source_port.to_string(),
        "dstport" => record.destination_port.to_string(),
        "protocol" => "6".to_string(),
        "packets" => ((record.bytes as f64 / BYTES_PER_PACKET).ceil() as u64).to_string(),
        "bytes" => record.bytes.to_string(),
        "start" => start.to_string(),
        "end" => end.to_string(),
        "action" => if record.accepted { "ACCEPT" } else { "REJECT" }.to_string(),
        "log-status" => "OK".to_string(),
        "flow-direction" => if record.egress { "egress" } else { "ingress" }.to_string(),
        "az-id" | "sublocation-id" => zones
            .get(record.logged_by.zone)
            .cloned()
            .unwrap_or_else(|| "-".to_string()),
        "traffic-path" => "1".to_string(),
        _ => "-".to_string(),
    }
}

/// The records of the last `seconds` of traffic as of the cluster's clock, one per line.
pub fn records(cluster: &SimCluster, seconds: u32, format: &LogFormat) -> Vec<String> {
    let traffic: PodTraffic = pod_traffic(cluster);
    let end = cluster.now().timestamp();
    let start = end - i64::from(seconds);
    let default = format.is_default();
    let mut lines = Vec::new();
    for (n, flow) in traffic.flows.iter().enumerate() {
        let (client, server) = (&traffic.pods[flow.client], &traffic.pods[flow.server]);
        let port = 40_000 + (n % 20_000) as u16;
        let secs = f64::from(seconds);
        let mut flows = vec![
            (
                client,
                server,
                port,
                8080,
                flow.request_bytes() * secs,
                true,
            ),
            (
                server,
                client,
                8080,
                port,
                flow.response_bytes() * secs,
                true,
            ),
        ];
        if flow.drops_per_sec > 0.0 {
            let bytes = flow.drops_per_sec * secs * BYTES_PER_PACKET;
            flows.push((client, server, port, 8080, bytes, false));
        }
        for (from, to, source_port, destination_port, bytes, accepted) in flows {
            let bytes = bytes.round() as u64;
            if bytes == 0 {
                continue;
            }
            for (logged_by, egress) in [(from, true), (to, false)] {
                let record = Record {
                    from,
                    to,
                    logged_by,
                    egress,
                    source_port,
                    destination_port,
                    bytes,
                    accepted,
                };
                let values: Vec<String> = format
                    .fields()
                    .iter()
                    .map(|name| {
                        // The default format says version 2.
                        if default && name == "version" {
                            "2".to_string()
                        } else {
                            field(&record, name, start, end, &traffic.zones)
                        }
                    })
                    .collect();
                lines.push(values.join(" "));
            }
        }
    }
    lines
}
