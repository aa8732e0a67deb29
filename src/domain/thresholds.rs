//! The numbers findings are judged against. Defaults come from eks-domain.md §7.1; every
//! field can be overridden in the user's configuration file (`[thresholds]`).

use serde::{Deserialize, Serialize};

/// A pair of limits: above `warning` is amber, above `critical` is red (or below, for
/// figures where low is bad; each rule says which).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub warning: f64,
    pub critical: f64,
}

impl Band {
    pub const fn new(warning: f64, critical: f64) -> Self {
        Band { warning, critical }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// CoreDNS p99 latency in ms (higher is worse). Errata 14: warn 50, critical 100.
    pub dns_p99_ms: Band,
    /// Cache hit ratio (lower is worse): amber below 0.8, red below 0.5.
    pub dns_cache_hit_ratio: Band,
    /// SERVFAIL share of responses (higher is worse).
    pub dns_servfail_ratio: Band,
    /// NXDOMAIN share of responses (higher is worse). NXDOMAIN is normal with ndots:5
    /// search expansion, so these are deliberately high.
    pub dns_nxdomain_ratio: Band,
    /// CoreDNS pod memory in MiB (higher is worse); EKS default limit is 170Mi.
    pub dns_memory_mib: Band,
    /// Queries per second per CoreDNS pod above which scaling out is advised.
    pub dns_qps_per_pod: f64,
    /// Cluster size (nodes) or QPS above which NodeLocal DNSCache is advised.
    pub dns_nodelocal_nodes: u32,
    pub dns_nodelocal_qps: f64,
    /// Gateway/route 5xx share (higher is worse).
    pub gateway_5xx_ratio: Band,
    /// Cross-zone share of east-west bytes (higher is worse).
    pub cross_zone_ratio: Band,
    /// Cross-zone cost of one Service in USD per month (both directions) below which
    /// topology-aware routing is not worth suggesting.
    pub service_cross_zone_usd_per_month: f64,
    /// Provisioning latency p95 in seconds (higher is worse).
    pub provisioning_p95_s: Band,
    /// Pods pending for longer than this many seconds count as stuck.
    pub pending_pod_seconds: f64,
    /// Spot share of nodes (lower is worse): amber below 0.5, red below 0.3.
    pub spot_share: Band,
    /// Node terminations per hour (higher is worse); used for consolidation churn per NodePool.
    pub terminations_per_hour: Band,
    /// Spot interruptions in the last hour that make a wave (freeze voluntary disruption).
    pub spot_interruptions_per_hour: f64,
    /// CPU p95 / request (lower is worse): amber below 0.6, red below 0.3.
    pub cpu_use_ratio: Band,
    /// Memory p95 / request (lower is worse): amber below 0.7, red below 0.5.
    pub memory_use_ratio: Band,
    /// CPU throttling ratio (higher is worse).
    pub throttling_ratio: Band,
    /// OOM kills in 7 days (higher is worse).
    pub oom_kills_7d: Band,
    /// Monthly waste per workload in USD below which over-provisioning is not reported.
    pub min_monthly_waste_usd: f64,
    /// Days of usage history before right-sizing advice is more than provisional.
    pub min_history_days: f64,
    /// Namespace cost per hour in USD (higher is worse).
    pub namespace_usd_per_hour: f64,
    /// Idle share of cluster spend (higher is worse).
    pub idle_ratio: Band,
    /// Unallocated (unlabelled) share of spend (higher is worse).
    pub unallocated_ratio: Band,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            dns_p99_ms: Band::new(50.0, 100.0),
            dns_cache_hit_ratio: Band::new(0.8, 0.5),
            dns_servfail_ratio: Band::new(0.001, 0.01),
            dns_nxdomain_ratio: Band::new(0.3, 0.5),
            dns_memory_mib: Band::new(120.0, 150.0),
            dns_qps_per_pod: 5000.0,
            dns_nodelocal_nodes: 100,
            dns_nodelocal_qps: 5000.0,
            gateway_5xx_ratio: Band::new(0.01, 0.05),
            cross_zone_ratio: Band::new(0.3, 0.5),
            service_cross_zone_usd_per_month: 20.0,
            provisioning_p95_s: Band::new(65.0, 180.0),
            pending_pod_seconds: 60.0,
            spot_share: Band::new(0.5, 0.3),
            terminations_per_hour: Band::new(5.0, 15.0),
            spot_interruptions_per_hour: 3.0,
            cpu_use_ratio: Band::new(0.6, 0.3),
            memory_use_ratio: Band::new(0.7, 0.5),
            throttling_ratio: Band::new(0.05, 0.10),
            oom_kills_7d: Band::new(1.0, 3.0),
            min_monthly_waste_usd: 20.0,
            min_history_days: 7.0,
            namespace_usd_per_hour: 50.0,
            idle_ratio: Band::new(0.3, 0.5),
            unallocated_ratio: Band::new(0.05, 0.3),
        }
    }
}
