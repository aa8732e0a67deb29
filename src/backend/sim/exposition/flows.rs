//! The simulator's east-west traffic in the shape of the flow exporter the scenario names,
//! with the metric names and labels each exporter publishes (and the target labels a usual
//! scrape adds): Kubecost/OpenCost network-costs, Istio, Linkerd, Hubble with pod context or
//! workload labels, or nothing at all. No zone labels are added anywhere: kockpit must find
//! zones the way it does on a real cluster.

use std::collections::BTreeMap;

use super::{Kind, Out, Value, labels};
use crate::backend::sim::engine::SimCluster;
use crate::backend::sim::traffic::{PodTraffic, pod_traffic};
use crate::domain::scenario::FlowShape;

/// The simulator's flow events are this many bytes on average (Hubble counts events).
const BYTES_PER_FLOW_EVENT: f64 = 4096.0;

pub(super) fn series(out: &mut Out, cluster: &SimCluster) {
    let shape = cluster.spec().observability.flow_metrics;
    if shape == FlowShape::None {
        return;
    }
    let traffic = pod_traffic(cluster);
    match shape {
        FlowShape::NetworkCosts => network_costs(out, &traffic),
        FlowShape::Istio => istio(out, &traffic),
        FlowShape::Linkerd => linkerd(out, &traffic),
        FlowShape::Hubble => hubble(out, &traffic, true),
        FlowShape::HubbleWorkload => hubble(out, &traffic, false),
        FlowShape::None => {}
    }
}

/// Network-costs (0.17 and later, snake-case labels): each pod's egress in the region, split by
/// whether it stayed in its zone.
/// Callers send the requests, the Service's pods the responses.
fn network_costs(out: &mut Out, traffic: &PodTraffic) {
    let mut egress: BTreeMap<(usize, bool), f64> = BTreeMap::new();
    for flow in &traffic.flows {
        let same = !traffic.crossed(flow);
        *egress.entry((flow.client, same)).or_default() += flow.request_bytes();
        *egress.entry((flow.server, same)).or_default() += flow.response_bytes();
    }
    for ((pod, same), bytes) in egress {
        let pod = &traffic.pods[pod];
        out.push(
            "kubecost_pod_network_egress_bytes_total",
            Kind::Counter,
            labels(&[
                ("namespace", &pod.namespace),
                ("pod_name", &pod.pod),
                ("internet", "false"),
                ("same_region", "true"),
                ("same_zone", if same { "true" } else { "false" }),
                ("service", ""),
            ]),
            Value::Rate(bytes),
        );
    }
}

/// Istio: TCP bytes between workloads, reported by the caller's proxy and by the callee's,
/// each series scraped from one proxy (its `namespace` and `pod` target labels).
fn istio(out: &mut Out, traffic: &PodTraffic) {
    /// (reporting pod, reporter, caller workload, service, callee workload)
    type Report<'a> = (usize, &'a str, String, (String, String), String);
    let mut reports: BTreeMap<Report<'_>, (f64, f64)> = BTreeMap::new();
    for flow in &traffic.flows {
        let (client, server) = (&traffic.pods[flow.client], &traffic.pods[flow.server]);
        for (reporting, reporter) in [(flow.client, "source"), (flow.server, "destination")] {
            let entry = reports
                .entry((
                    reporting,
                    reporter,
                    client.workload.clone(),
                    flow.service.clone(),
                    server.workload.clone(),
                ))
                .or_default();
            entry.0 += flow.request_bytes();
            entry.1 += flow.response_bytes();
        }
    }
    for ((reporting, reporter, caller, (service_ns, service), callee), (sent, received)) in reports
    {
        let pod = &traffic.pods[reporting];
        let caller_ns = if reporter == "source" {
            pod.namespace.clone()
        } else {
            traffic
                .pods
                .iter()
                .find(|p| p.workload == caller)
                .map(|p| p.namespace.clone())
                .unwrap_or_default()
        };
        let host = format!("{service}.{service_ns}.svc.cluster.local");
        let policy = if reporter == "source" {
            "unknown"
        } else {
            "mutual_tls"
        };
        let common = [
            ("namespace", pod.namespace.as_str()),
            ("pod", pod.pod.as_str()),
            ("reporter", reporter),
            ("source_workload", caller.as_str()),
            ("source_workload_namespace", caller_ns.as_str()),
            ("source_app", caller.as_str()),
            ("source_principal", "unknown"),
            ("destination_workload", callee.as_str()),
            ("destination_workload_namespace", service_ns.as_str()),
            ("destination_app", callee.as_str()),
            ("destination_service", host.as_str()),
            ("destination_service_name", service.as_str()),
            ("destination_service_namespace", service_ns.as_str()),
            ("request_protocol", "tcp"),
            ("response_flags", "-"),
            ("connection_security_policy", policy),
        ];
        for (family, bytes) in [
            ("istio_tcp_sent_bytes_total", sent),
            ("istio_tcp_received_bytes_total", received),
        ] {
            out.push(family, Kind::Counter, labels(&common), Value::Rate(bytes));
        }
    }
}

/// Linkerd (2.17 and later): bytes the calling pods' proxies wrote (requests) and read
/// (responses) on their connections to each endpoint, with the endpoint's pod and zone.
fn linkerd(out: &mut Out, traffic: &PodTraffic) {
    for flow in &traffic.flows {
        let (client, server) = (&traffic.pods[flow.client], &traffic.pods[flow.server]);
        let zone = traffic
            .zones
            .get(server.zone)
            .map(String::as_str)
            .unwrap_or_default();
        let common = [
            ("namespace", client.namespace.as_str()),
            ("pod", client.pod.as_str()),
            ("deployment", client.workload.as_str()),
            ("direction", "outbound"),
            ("peer", "dst"),
            ("tls", "true"),
            ("target_ip", server.ip.as_str()),
            ("dst_namespace", flow.service.0.as_str()),
            ("dst_service", flow.service.1.as_str()),
            ("dst_deployment", server.workload.as_str()),
            ("dst_pod", server.pod.as_str()),
            ("dst_zone", zone),
            (
                "dst_zone_locality",
                if traffic.crossed(flow) {
                    "remote"
                } else {
                    "local"
                },
            ),
        ];
        out.push(
            "tcp_write_bytes_total",
            Kind::Counter,
            labels(&common),
            Value::Rate(flow.request_bytes()),
        );
        out.push(
            "tcp_read_bytes_total",
            Kind::Counter,
            labels(&common),
            Value::Rate(flow.response_bytes()),
        );
    }
}

/// Hubble: flow events both ways (requests, and replies from the Service's pods) where they
/// are delivered (`to-endpoint`), with pod context (`source="namespace/pod"`) or workload
/// labels only, and the connection's direction at the receiving endpoint.
fn hubble(out: &mut Out, traffic: &PodTraffic, pods: bool) {
    let mut events: BTreeMap<Vec<(String, String)>, (f64, f64)> = BTreeMap::new();
    for flow in &traffic.flows {
        let (client, server) = (&traffic.pods[flow.client], &traffic.pods[flow.server]);
        for (from, to, bytes, direction) in [
            (client, server, flow.request_bytes(), "ingress"),
            (server, client, flow.response_bytes(), "egress"),
        ] {
            let mut key = if pods {
                vec![
                    (
                        "source".to_string(),
                        format!("{}/{}", from.namespace, from.pod),
                    ),
                    (
                        "destination".to_string(),
                        format!("{}/{}", to.namespace, to.pod),
                    ),
                ]
            } else {
                vec![
                    ("source_namespace".to_string(), from.namespace.clone()),
                    ("source_workload".to_string(), from.workload.clone()),
                    ("destination_namespace".to_string(), to.namespace.clone()),
                    ("destination_workload".to_string(), to.workload.clone()),
                ]
            };
            key.push(("traffic_direction".to_string(), direction.to_string()));
            let entry = events.entry(key).or_default();
            entry.0 += bytes / BYTES_PER_FLOW_EVENT;
            if std::ptr::eq(from, client) {
                entry.1 += flow.drops_per_sec;
            }
        }
    }
    for (context, (flows, drops)) in events {
        let context: Vec<(&str, &str)> = context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut flow_labels = vec![
            ("type", "Trace"),
            ("subtype", "to-endpoint"),
            ("verdict", "FORWARDED"),
        ];
        flow_labels.extend(context.iter().copied());
        out.push(
            "hubble_flows_processed_total",
            Kind::Counter,
            labels(&flow_labels),
            Value::Rate(flows),
        );
        if drops > 0.0 {
            let mut drop_labels = vec![("reason", "POLICY_DENIED"), ("protocol", "TCP")];
            drop_labels.extend(context.iter().copied());
            out.push(
                "hubble_drop_total",
                Kind::Counter,
                labels(&drop_labels),
                Value::Rate(drops),
            );
        }
    }
}
