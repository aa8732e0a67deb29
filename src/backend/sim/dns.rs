//! The simulated CoreDNS: how workloads' lookups turn into queries (search-path expansion
//! under `ndots`), how the cache profile answers them, and the latency that results.
//!
//! Cache model: a name asked `r` times a second per CoreDNS pod and kept `T` seconds misses
//! once per `T`, so its hit ratio is `rT / (1 + rT)` (Poisson arrivals); prefetch keeps
//! popular names warm; more live entries than the capacity evict and cost hits.

use super::corefile::{CacheProfile, CorefileSettings};
use super::curves::normal_cdf;
use crate::domain::scenario::{DnsSpec, DnsUsageSpec};

/// Cluster search domains in every pod's resolv.conf before the VPC's own.
const CLUSTER_SEARCH_DOMAINS: usize = 3;
/// Packets per second an ENI may send to the link-local VPC resolver.
const ENI_LINKLOCAL_PPS: f64 = 1024.0;
/// Queries per second one CoreDNS pod serves before it queues noticeably.
const POD_CAPACITY_QPS: f64 = 15_000.0;
/// Average memory of one cache entry, in MiB.
const CACHE_ENTRY_MIB: f64 = 0.0012;
/// Memory of a CoreDNS pod before its cache: the binary and the kubernetes plugin's
/// informer caches, which grow with the cluster.
const BASE_MEMORY_MIB: f64 = 34.0;
const MEMORY_PER_NODE_MIB: f64 = 0.6;

/// One workload's lookups, as CoreDNS receives them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientLoad {
    pub namespace: String,
    pub workload: String,
    /// Name lookups per second right now (each becomes A and AAAA queries per candidate).
    pub lookups_per_sec: f64,
    pub usage: DnsUsageSpec,
}

/// Where the ready CoreDNS pods run: how many share each node.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub ready_pods_per_node: Vec<u32>,
    pub cluster_nodes: usize,
}

impl Placement {
    pub fn ready(&self) -> u32 {
        self.ready_pods_per_node.iter().sum()
    }
}

/// The figures CoreDNS's metrics would show, as 5-minute rates.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsFigures {
    pub qps: f64,
    pub noerror_qps: f64,
    pub nxdomain_qps: f64,
    pub servfail_qps: f64,
    pub refused_qps: f64,
    pub cache_hit_ratio: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub upstream_qps: f64,
    pub upstream_p99_ms: f64,
    pub memory_mib_per_pod: f64,
    pub cpu_m_per_pod: f64,
    /// Link-local packets per second from the busiest CoreDNS node.
    pub busiest_node_upstream_pps: f64,
    pub clients: Vec<ClientFigures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientFigures {
    pub namespace: String,
    pub workload: String,
    pub qps: f64,
    pub nxdomain_ratio: f64,
    pub ndots: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Positive,
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Answered by the kubernetes plugin inside CoreDNS.
    Cluster,
    /// Forwarded to the VPC resolver.
    Upstream,
}

/// Queries for one search candidate of one kind of name from one workload.
#[derive(Debug, Clone, Copy)]
struct Group {
    client: usize,
    /// Queries per second (A and AAAA together).
    rate: f64,
    names: f64,
    answer: Answer,
    origin: Origin,
    record_ttl: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Search(usize),
    Absolute,
}

/// Candidates a resolver tries for a name with `dots` dots, in order.
fn candidates(dots: u8, ndots: u8, search_domains: usize) -> Vec<Candidate> {
    let search = (0..search_domains).map(Candidate::Search);
    if dots >= ndots {
        std::iter::once(Candidate::Absolute).chain(search).collect()
    } else {
        search.chain(std::iter::once(Candidate::Absolute)).collect()
    }
}

fn groups_for(
    client_index: usize,
    client: &ClientLoad,
    spec: &DnsSpec,
    kubernetes_ttl: f64,
) -> Vec<Group> {
    let usage = &client.usage;
    let search_domains = spec.search_domains.max(CLUSTER_SEARCH_DOMAINS as u32) as usize;
    let external_share = (1.0 - usage.internal_share - usage.cross_namespace_share).max(0.0);
    // Cross-namespace names with three or more dots are fully qualified
    // (`svc.ns.svc.cluster.local`) and resolve as they are; shorter ones need a search domain.
    let cross_dots = usage.cross_namespace_dots;
    let cross_resolves_at = match cross_dots {
        0 | 1 => Candidate::Search(1),
        2 => Candidate::Search(2),
        _ => Candidate::Absolute,
    };
    // (share, distinct names, dots, where the name resolves, whether it is a cluster name)
    let kinds = [
        (
            usage.internal_share,
            usage.internal_names,
            0u8,
            Candidate::Search(0),
            true,
        ),
        (
            usage.cross_namespace_share,
            usage.internal_names,
            cross_dots,
            cross_resolves_at,
            true,
        ),
        (
            external_share,
            usage.external_names,
            usage.external_dots,
            Candidate::Absolute,
            false,
        ),
    ];
    let mut groups = Vec::new();
    for (share, names, dots, resolves_at, cluster_name) in kinds {
        let lookups = client.lookups_per_sec * share;
        if lookups <= 0.0 {
            continue;
        }
        let names = f64::from(names.max(1));
        for candidate in candidates(dots, usage.ndots, search_domains) {
            let resolved = candidate == resolves_at;
            let origin = match candidate {
                Candidate::Search(i) if i < CLUSTER_SEARCH_DOMAINS => Origin::Cluster,
                Candidate::Absolute if cluster_name => Origin::Cluster,
                _ => Origin::Upstream,
            };
            let record_ttl = match (origin, resolved) {
                (Origin::Cluster, _) => kubernetes_ttl,
                (Origin::Upstream, true) => usage.external_ttl_s,
                (Origin::Upstream, false) => spec.upstream_negative_ttl_s,
            };
            groups.push(Group {
                client: client_index,
                rate: lookups * 2.0,
                names,
                answer: if resolved {
                    Answer::Positive
                } else {
                    Answer::Negative
                },
                origin,
                record_ttl,
            });
            if resolved {
                break;
            }
        }
    }
    groups
}

/// Hit ratio and live entries of one group in a cache shared by `caches` equal instances.
fn cache_behaviour(group: &Group, profile: Option<&CacheProfile>, caches: f64) -> (f64, f64) {
    let Some(profile) = profile else {
        return (0.0, 0.0);
    };
    let (min_ttl, max_ttl) = match group.answer {
        Answer::Positive => (profile.success_min_ttl, profile.success_max_ttl),
        Answer::Negative => (profile.denial_min_ttl, profile.denial_max_ttl),
    };
    let ttl = group.record_ttl.clamp(min_ttl, max_ttl.max(min_ttl));
    // Each name is an A and an AAAA entry.
    let entries = group.names * 2.0;
    let per_entry = group.rate / (entries * caches.max(1.0));
    let warm = per_entry * ttl;
    let mut hit = warm / (1.0 + warm);
    if let Some((amount, window)) = profile.prefetch
        && per_entry * window >= amount
    {
        hit = 1.0 - (1.0 - hit) * 0.1;
    }
    let live = entries * (1.0 - (-warm).exp());
    (hit, live)
}

/// A latency component: a share of queries, lognormal with the given median and p99.
#[derive(Debug, Clone, Copy)]
struct Component {
    weight: f64,
    median_ms: f64,
    p99_ms: f64,
}

fn component_cdf(c: &Component, x_ms: f64) -> f64 {
    let sigma = ((c.p99_ms / c.median_ms).ln() / 2.326).max(0.01);
    normal_cdf((x_ms.ln() - c.median_ms.ln()) / sigma)
}

/// The `q` quantile of a mixture of lognormal components.
fn mixture_quantile(components: &[Component], q: f64) -> f64 {
    let total: f64 = components.iter().map(|c| c.weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let cdf = |x: f64| {
        components
            .iter()
            .map(|c| c.weight * component_cdf(c, x))
            .sum::<f64>()
            / total
    };
    let (mut low, mut high) = (1e-3f64.ln(), 1e5f64.ln());
    for _ in 0..40 {
        let mid = 0.5 * (low + high);
        if cdf(mid.exp()) < q {
            low = mid;
        } else {
            high = mid;
        }
    }
    (0.5 * (low + high)).exp()
}

/// What CoreDNS would report right now for this load, spec and placement.
pub fn compute(
    spec: &DnsSpec,
    settings: &CorefileSettings,
    clients: &[ClientLoad],
    placement: &Placement,
) -> DnsFigures {
    let ready = f64::from(placement.ready());
    let mut groups: Vec<Group> = clients
        .iter()
        .enumerate()
        .flat_map(|(i, c)| groups_for(i, c, spec, settings.kubernetes_ttl))
        .collect();
    if spec.nodelocal_dns {
        // NodeLocal DNSCache answers repeats on every node; CoreDNS sees what it misses.
        let nodes = placement.cluster_nodes.max(1) as f64;
        for group in &mut groups {
            let (hit, _) = cache_behaviour(group, settings.cache.as_ref(), nodes);
            group.rate *= 1.0 - hit;
        }
    }
    let mut per_group = Vec::with_capacity(groups.len());
    let (mut success_live, mut denial_live) = (0.0, 0.0);
    for group in &groups {
        let (hit, live) = cache_behaviour(group, settings.cache.as_ref(), ready);
        match group.answer {
            Answer::Positive => success_live += live,
            Answer::Negative => denial_live += live,
        }
        per_group.push(hit);
    }
    // Evictions: beyond the capacity, entries are gone before their TTL runs out.
    if let Some(profile) = &settings.cache {
        let success_keep = (profile.success_capacity / success_live.max(1.0)).min(1.0);
        let denial_keep = (profile.denial_capacity / denial_live.max(1.0)).min(1.0);
        for (group, hit) in groups.iter().zip(per_group.iter_mut()) {
            *hit *= match group.answer {
                Answer::Positive => success_keep,
                Answer::Negative => denial_keep,
            };
        }
        success_live = success_live.min(profile.success_capacity);
        denial_live = denial_live.min(profile.denial_capacity);
    }

    let qps: f64 = groups.iter().map(|g| g.rate).sum();
    let mut hits = 0.0;
    let mut cluster_misses = 0.0;
    let mut upstream_misses = 0.0;
    let mut upstream_negative_misses = 0.0;
    let mut nxdomain = 0.0;
    for (group, hit) in groups.iter().zip(&per_group) {
        hits += group.rate * hit;
        let misses = group.rate * (1.0 - hit);
        match group.origin {
            Origin::Cluster => cluster_misses += misses,
            Origin::Upstream => {
                upstream_misses += misses;
                if group.answer == Answer::Negative {
                    upstream_negative_misses += misses;
                }
            }
        }
        if group.answer == Answer::Negative {
            nxdomain += group.rate;
        }
    }
    if ready <= 0.0 || qps <= 0.0 {
        return DnsFigures::idle(clients, ready > 0.0);
    }

    let per_pod_qps = qps / ready;
    let queueing = 1.0 / (1.0 - (per_pod_qps / POD_CAPACITY_QPS).min(0.9));
    let upstream_per_pod = upstream_misses / ready;
    // Link-local allowance: pods sharing a node share its ENI.
    let (mut drop_share, mut slowdown, mut busiest) = (0.0, 0.0, 0.0f64);
    for &pods in &placement.ready_pods_per_node {
        let pps = upstream_per_pod * f64::from(pods);
        busiest = busiest.max(pps);
        let use_ratio = pps / ENI_LINKLOCAL_PPS;
        let weight = f64::from(pods) / ready;
        drop_share += weight
            * if use_ratio > 1.0 {
                0.5 * (1.0 - 1.0 / use_ratio)
            } else {
                0.0
            };
        slowdown += weight * (1.0 + 12.0 * (use_ratio - 0.6).max(0.0).powf(1.5)).min(20.0);
    }
    let upstream_median = spec.upstream_p50_ms * slowdown * queueing;
    let upstream_p99 = spec.upstream_p99_ms * slowdown * queueing;
    let mean_upstream_s = upstream_median * 1.4 / 1000.0 + drop_share * 0.5;
    let refused_share = match settings.max_concurrent {
        Some(limit) => {
            let concurrent = upstream_per_pod * mean_upstream_s;
            if concurrent > limit {
                1.0 - limit / concurrent
            } else {
                0.0
            }
        }
        None => 0.0,
    };
    let failed_share = drop_share * 0.35;
    let servfail = upstream_misses * (failed_share + 0.0002);
    let refused = upstream_misses * refused_share;
    let nxdomain =
        (nxdomain - upstream_negative_misses * (failed_share + refused_share + 0.0002)).max(0.0);
    let noerror = (qps - nxdomain - servfail - refused).max(0.0);

    let answered_upstream = (1.0 - drop_share - refused_share).max(0.0);
    let components = [
        Component {
            weight: hits,
            median_ms: 0.05 * queueing,
            p99_ms: 0.4 * queueing,
        },
        Component {
            weight: cluster_misses,
            median_ms: 0.2 * queueing,
            p99_ms: 1.5 * queueing,
        },
        Component {
            weight: upstream_misses * answered_upstream,
            median_ms: upstream_median,
            p99_ms: upstream_p99,
        },
        Component {
            // Dropped packets are retried after the forward plugin's timeout.
            weight: upstream_misses * drop_share,
            median_ms: 350.0,
            p99_ms: 1500.0,
        },
        Component {
            weight: upstream_misses * refused_share,
            median_ms: 0.1,
            p99_ms: 1.0,
        },
    ];
    let upstream_only = [components[2], components[3]];

    let mut client_qps = vec![0.0; clients.len()];
    let mut client_nx = vec![0.0; clients.len()];
    for group in &groups {
        client_qps[group.client] += group.rate;
        if group.answer == Answer::Negative {
            client_nx[group.client] += group.rate;
        }
    }
    let clients = clients
        .iter()
        .enumerate()
        .map(|(i, c)| ClientFigures {
            namespace: c.namespace.clone(),
            workload: c.workload.clone(),
            qps: client_qps[i],
            nxdomain_ratio: if client_qps[i] > 0.0 {
                client_nx[i] / client_qps[i]
            } else {
                0.0
            },
            ndots: c.usage.ndots,
        })
        .collect();

    let concurrent = upstream_per_pod * mean_upstream_s;
    DnsFigures {
        qps,
        noerror_qps: noerror,
        nxdomain_qps: nxdomain,
        servfail_qps: servfail,
        refused_qps: refused,
        cache_hit_ratio: hits / qps,
        p50_ms: mixture_quantile(&components, 0.5),
        p99_ms: mixture_quantile(&components, 0.99),
        upstream_qps: upstream_misses,
        upstream_p99_ms: mixture_quantile(&upstream_only, 0.99),
        memory_mib_per_pod: BASE_MEMORY_MIB
            + MEMORY_PER_NODE_MIB * placement.cluster_nodes as f64
            + (success_live + denial_live) * CACHE_ENTRY_MIB
            + per_pod_qps * 0.004
            + concurrent * 0.002,
        cpu_m_per_pod: 3.0 + per_pod_qps * 0.045 + upstream_per_pod * 0.03,
        busiest_node_upstream_pps: busiest,
        clients,
    }
}

impl DnsFigures {
    /// No ready replicas (or no lookups): nothing is answered.
    fn idle(clients: &[ClientLoad], serving: bool) -> Self {
        DnsFigures {
            qps: 0.0,
            noerror_qps: 0.0,
            nxdomain_qps: 0.0,
            servfail_qps: 0.0,
            refused_qps: 0.0,
            cache_hit_ratio: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            upstream_qps: 0.0,
            upstream_p99_ms: 0.0,
            memory_mib_per_pod: if serving { BASE_MEMORY_MIB } else { 0.0 },
            cpu_m_per_pod: if serving { 3.0 } else { 0.0 },
            busiest_node_upstream_pps: 0.0,
            clients: clients
                .iter()
                .map(|c| ClientFigures {
                    namespace: c.namespace.clone(),
                    workload: c.workload.clone(),
                    qps: 0.0,
                    nxdomain_ratio: 0.0,
                    ndots: c.usage.ndots,
                })
                .collect(),
        }
    }

    /// Moves `self` towards `target` by `alpha` (0..1): metrics are 5-minute rates, so a
    /// change in the cluster shows up over a few minutes, not at once.
    pub fn approach(&mut self, target: &DnsFigures, alpha: f64) {
        let blend = |current: &mut f64, next: f64| *current += (next - *current) * alpha;
        blend(&mut self.qps, target.qps);
        blend(&mut self.noerror_qps, target.noerror_qps);
        blend(&mut self.nxdomain_qps, target.nxdomain_qps);
        blend(&mut self.servfail_qps, target.servfail_qps);
        blend(&mut self.refused_qps, target.refused_qps);
        blend(&mut self.cache_hit_ratio, target.cache_hit_ratio);
        blend(&mut self.p50_ms, target.p50_ms);
        blend(&mut self.p99_ms, target.p99_ms);
        blend(&mut self.upstream_qps, target.upstream_qps);
        blend(&mut self.upstream_p99_ms, target.upstream_p99_ms);
        blend(&mut self.memory_mib_per_pod, target.memory_mib_per_pod);
        blend(&mut self.cpu_m_per_pod, target.cpu_m_per_pod);
        blend(
            &mut self.busiest_node_upstream_pps,
            target.busiest_node_upstream_pps,
        );
        self.clients = target.clients.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::corefile;
    use crate::domain::scenario::EKS_DEFAULT_COREFILE;

    fn client(name: &str, lookups: f64, usage: DnsUsageSpec) -> ClientLoad {
        ClientLoad {
            namespace: "shop".into(),
            workload: name.into(),
            lookups_per_sec: lookups,
            usage,
        }
    }

    fn two_nodes() -> Placement {
        Placement {
            ready_pods_per_node: vec![1, 1],
            cluster_nodes: 15,
        }
    }

    #[test]
    fn ndots_expands_external_names() {
        assert_eq!(candidates(2, 5, 4).len(), 5);
        assert_eq!(candidates(2, 5, 4).last(), Some(&Candidate::Absolute));
        assert_eq!(candidates(2, 2, 4).first(), Some(&Candidate::Absolute));
        let spec = DnsSpec::default();
        let external = DnsUsageSpec {
            internal_share: 0.0,
            cross_namespace_share: 0.0,
            ..DnsUsageSpec::default()
        };
        let groups = groups_for(0, &client("x", 10.0, external.clone()), &spec, 5.0);
        let negative = groups
            .iter()
            .filter(|g| g.answer == Answer::Negative)
            .count();
        assert_eq!(negative, 4, "each search domain answers NXDOMAIN first");
        let tuned = DnsUsageSpec {
            ndots: 2,
            ..external
        };
        assert_eq!(
            groups_for(0, &client("x", 10.0, tuned), &spec, 5.0).len(),
            1
        );
    }

    #[test]
    fn a_busy_internal_mix_caches_well_and_external_storms_do_not() {
        let spec = DnsSpec::default();
        let settings = corefile::read(EKS_DEFAULT_COREFILE).expect("the EKS default parses");
        let calm = compute(
            &spec,
            &settings,
            &[client(
                "web",
                200.0,
                DnsUsageSpec {
                    external_names: 5,
                    ..DnsUsageSpec::default()
                },
            )],
            &two_nodes(),
        );
        assert!(calm.cache_hit_ratio > 0.8, "{calm:?}");
        let storm_usage = DnsUsageSpec {
            internal_share: 0.05,
            cross_namespace_share: 0.0,
            external_names: 20_000,
            ..DnsUsageSpec::default()
        };
        let storm = compute(
            &spec,
            &settings,
            &[client("crawler", 800.0, storm_usage)],
            &two_nodes(),
        );
        assert!(storm.cache_hit_ratio < 0.5, "{storm:?}");
        assert!(storm.nxdomain_qps / storm.qps > 0.5, "{storm:?}");
        assert!(storm.p99_ms > calm.p99_ms);
    }

    #[test]
    fn a_longer_ttl_raises_the_hit_ratio() {
        let spec = DnsSpec::default();
        let usage = DnsUsageSpec::default();
        let default = compute(
            &spec,
            &corefile::read(EKS_DEFAULT_COREFILE).expect("the EKS default parses"),
            &[client("web", 20.0, usage.clone())],
            &two_nodes(),
        );
        let tuned_text = EKS_DEFAULT_COREFILE
            .replace(
                "fallthrough in-addr.arpa ip6.arpa",
                "fallthrough in-addr.arpa ip6.arpa\n        ttl 30",
            )
            .replace("cache 30", "cache 30 {\n        prefetch 5 60s\n    }");
        let tuned = compute(
            &spec,
            &corefile::read(&tuned_text).expect("the tuned profile parses"),
            &[client("web", 20.0, usage)],
            &two_nodes(),
        );
        assert!(
            tuned.cache_hit_ratio > default.cache_hit_ratio + 0.05,
            "{default:?} {tuned:?}"
        );
    }

    #[test]
    fn mixture_quantiles_are_sane() {
        let single = [Component {
            weight: 1.0,
            median_ms: 2.0,
            p99_ms: 40.0,
        }];
        assert!((mixture_quantile(&single, 0.5) - 2.0).abs() < 0.01);
        assert!((mixture_quantile(&single, 0.99) - 40.0).abs() < 0.5);
        assert_eq!(mixture_quantile(&[], 0.99), 0.0);
    }
}
