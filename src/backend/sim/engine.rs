//! The simulation engine: the spec (desired state, as the scenario says and later fixes
//! patch it) and the state derived from it, advanced in fixed virtual steps, and the pane
//! snapshots read from that state.

use std::collections::BTreeMap;

use chrono::TimeZone;

use super::catalog::shape_of;
use super::corefile::{self, CorefileSettings};
use super::dns::{self, ClientLoad, DnsFigures, Placement};
use super::flows::{self, FlowInputs};
use super::gateways;
use super::karpenter::{self, Clock, Karpenter};
use super::names::{pod_name, unique_node_name};
use super::rng::{SplitMix64, hash_str, mix, smooth_noise};
use super::scheduler;
use super::state::{Node, Specs, State, WorkloadSource, seconds};
use super::workloads;
use crate::domain::Timestamp;
use crate::domain::model::{
    Capacity, ClusterInfo, DnsClient, DnsMetrics, DnsPod, DnsSnapshot, RcodeRate, SourceHealth,
    Update, ZoneRouting,
};
use crate::domain::scenario::{
    DnsSpec, EKS_DEFAULT_COREFILE, PdbSpec, Scenario, WorkloadKind, WorkloadSpec,
};

/// One engine step of virtual time.
pub const STEP_SECONDS: i64 = 5;
/// Metrics are 5-minute rates: a change shows with about this time constant.
const METRIC_SMOOTHING_S: f64 = 120.0;
/// The DNS model is re-evaluated every this many steps (its figures move slowly anyway).
const DNS_PERIOD_STEPS: u64 = 2;
/// How many of the workloads causing the most NXDOMAIN answers the DNS pane is told about.
const NXDOMAIN_SOURCES: usize = 5;

/// The instant every scenario's story is told around: Monday 2 March 2026, 09:00 UTC.
pub fn scenario_t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// CoreDNS as a workload: the Deployment EKS installs, sized by `[dns]`.
fn coredns_workload(dns: &DnsSpec) -> WorkloadSpec {
    WorkloadSpec {
        namespace: "kube-system".to_string(),
        kind: WorkloadKind::Deployment,
        container: Some("coredns".to_string()),
        replicas: dns.replicas,
        nodepool: dns.nodepool.clone(),
        cpu_request_m: dns.cpu_request_m,
        cpu_limit_m: None,
        memory_request_mib: dns.memory_request_mib,
        memory_limit_mib: Some(dns.memory_limit_mib),
        cpu_usage_m: 10.0,
        memory_usage_mib: 20.0,
        diurnal: 0.3,
        noise: 0.05,
        startup_seconds: 8.0,
        pdb: Some(PdbSpec {
            min_available: None,
            max_unavailable: Some("1".to_string()),
        }),
        dns: crate::domain::scenario::DnsUsageSpec {
            lookups_per_sec: 0.0,
            ..Default::default()
        },
        ..WorkloadSpec::default()
    }
}

/// A simulated EKS cluster at one instant.
#[derive(Debug, Clone)]
pub struct SimCluster {
    seed: u64,
    t0: Timestamp,
    spec: Scenario,
    /// CoreDNS's workload description, derived from `spec.dns` (usage follows the DNS load).
    coredns: WorkloadSpec,
    state: State,
    karpenter: Karpenter,
    rng: SplitMix64,
    dns: DnsFigures,
    /// The Corefile last read, and what it said (re-read only when the text changes).
    corefile: (String, CorefileSettings),
    steps: u64,
    /// Tells this cluster apart from others in the same process (its metric counters).
    instance: u64,
}

impl SimCluster {
    /// Builds the cluster as it stands at `start`: nodes up, pods running.
    pub fn new(scenario: &Scenario, seed: u64, start: Timestamp) -> Self {
        let zones: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|z| format!("{}{z}", scenario.region))
            .collect();
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut cluster = SimCluster {
            instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            seed,
            t0: scenario_t0(),
            spec: scenario.clone(),
            coredns: coredns_workload(&scenario.dns),
            state: State::new(start, zones),
            karpenter: Karpenter::default(),
            rng: SplitMix64::new(mix(seed, 0xC1u64)),
            dns: DnsFigures {
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
                memory_mib_per_pod: 0.0,
                cpu_m_per_pod: 0.0,
                busiest_node_upstream_pps: 0.0,
                clients: Vec::new(),
            },
            corefile: (
                scenario.dns.corefile.clone(),
                // A scenario whose Corefile does not parse runs on the EKS default's settings.
                corefile::read(&scenario.dns.corefile)
                    .or_else(|| corefile::read(EKS_DEFAULT_COREFILE))
                    .unwrap_or(CorefileSettings {
                        cache: None,
                        kubernetes_ttl: 5.0,
                        max_concurrent: None,
                    }),
            ),
            steps: 0,
        };
        cluster.bootstrap();
        cluster
    }

    fn clock(&self) -> Clock {
        Clock {
            t0: self.t0,
            seed: self.seed,
            step_s: STEP_SECONDS as f64,
        }
    }

    fn specs(&self) -> Specs<'_> {
        Specs {
            scenario: &self.spec,
            coredns: &self.coredns,
        }
    }

    fn bootstrap(&mut self) {
        let start = self.state.now;
        let (daemon_cpu, daemon_memory, daemon_pods) = self.specs().daemon_requests();
        let mut names: std::collections::HashSet<String> =
            self.state.nodes.values().map(|n| n.name.clone()).collect();
        for (group_name, group) in &self.spec.node_groups {
            let shape = shape_of(&group.instance_type);
            for i in 0..group.nodes as usize {
                let id = self.state.next_node_id;
                self.state.next_node_id += 1;
                let zone = i % self.state.zones.len();
                let created = start - seconds(self.rng.range(48.0, 480.0) * 3600.0);
                let name = unique_node_name(&self.spec.region, zone, mix(self.seed, id), &|n| {
                    names.contains(n)
                });
                names.insert(name.clone());
                self.state.add_node(Node {
                    id,
                    name,
                    claim: None,
                    pool: group_name.clone(),
                    karpenter: false,
                    instance_type: group.instance_type.clone(),
                    capacity: Capacity::OnDemand,
                    zone,
                    created,
                    registered_at: created + seconds(40.0),
                    initialized_at: created + seconds(70.0),
                    disruption: None,
                    cpu_allocatable_m: shape.allocatable_cpu_m(),
                    memory_allocatable_mib: shape.allocatable_memory_mib(),
                    max_pods: shape.max_pods,
                    cpu_requested_m: daemon_cpu,
                    memory_requested_mib: daemon_memory,
                    pods: 0,
                    daemon_pods,
                    empty_since: Some(created),
                });
            }
        }
        let zones = self.state.zones.len();
        // CoreDNS is system-cluster-critical: it is placed before anything else.
        let mut runtimes = vec![workloads::new_runtime(
            WorkloadSource::CoreDns,
            "coredns",
            &self.coredns,
            &self.spec,
            (zones, self.seed, start),
        )];
        for (name, spec) in self
            .spec
            .workloads
            .iter()
            .filter(|(_, w)| w.kind != WorkloadKind::DaemonSet)
        {
            runtimes.push(workloads::new_runtime(
                WorkloadSource::Spec(name.clone()),
                name,
                spec,
                &self.spec,
                (zones, self.seed, start),
            ));
        }
        self.state.set_workloads(runtimes);
        let specs = Specs {
            scenario: &self.spec,
            coredns: &self.coredns,
        };
        for w in 0..self.state.workloads.len() {
            let desired = self.state.workloads[w].desired;
            if let Some(spec) = specs.workload(&self.state.workloads[w].source) {
                for _ in 0..desired {
                    self.state
                        .add_pod(w, spec.cpu_request_m, spec.memory_request_mib);
                }
            }
        }
        let clock = self.clock();
        scheduler::schedule(
            &mut self.state,
            specs,
            &mut self.karpenter,
            &mut self.rng,
            &clock,
            true,
        );
        // Everything placed at the start has been running for a while.
        for runtime in &mut self.state.workloads {
            for pod in runtime.pods.iter_mut().filter(|p| p.bound) {
                pod.ready_at = Some(start);
            }
        }
        self.dns = self.dns_target();
        self.follow_dns_load();
    }

    pub fn now(&self) -> Timestamp {
        self.state.now
    }

    /// This cluster's number in the process.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Steps taken since the cluster was built.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The desired state everything else is derived from.
    pub fn spec(&self) -> &Scenario {
        &self.spec
    }

    /// The derived state (nodes, pods), for rendering Kubernetes objects.
    pub(super) fn state(&self) -> &State {
        &self.state
    }

    /// Karpenter's churn log, for rendering disruption Events.
    pub(super) fn karpenter(&self) -> &Karpenter {
        &self.karpenter
    }

    /// The desired state, for changes made through the served Kubernetes API: the next
    /// step derives everything else from it.
    pub(crate) fn spec_mut(&mut self) -> &mut Scenario {
        &mut self.spec
    }

    /// Gateway and route status as the simulated controller reports it now.
    pub(super) fn gateway_status(&self) -> crate::domain::model::GatewaySnapshot {
        self.gateway_snapshot(&self.state.ready_by_zone())
    }

    /// Advances virtual time by one step.
    pub fn step(&mut self) {
        self.steps += 1;
        self.state.now += chrono::Duration::seconds(STEP_SECONDS);
        let clock = self.clock();
        let specs = Specs {
            scenario: &self.spec,
            coredns: &self.coredns,
        };
        karpenter::remove_gone(&mut self.state);
        let startup: Vec<f64> = self
            .state
            .workloads
            .iter()
            .map(|r| {
                specs
                    .workload(&r.source)
                    .map(|s| s.startup_seconds)
                    .unwrap_or(20.0)
            })
            .collect();
        self.state.bind_nominated(&startup);
        karpenter::disruptions(
            &mut self.state,
            specs,
            &mut self.karpenter,
            &mut self.rng,
            &clock,
        );
        workloads::reconcile_replicas(
            &mut self.state,
            specs,
            workloads::hpa_due(self.steps, STEP_SECONDS),
        );
        workloads::roll_out(&mut self.state, specs);
        workloads::health_events(&mut self.state, specs, &mut self.rng, clock.step_s);
        if self.steps.is_multiple_of(12) {
            karpenter::consolidate(&mut self.state, specs, &mut self.karpenter);
        }
        scheduler::schedule(
            &mut self.state,
            specs,
            &mut self.karpenter,
            &mut self.rng,
            &clock,
            false,
        );
        if self.steps.is_multiple_of(DNS_PERIOD_STEPS) {
            if self.corefile.0 != self.spec.dns.corefile {
                // Like CoreDNS's reload: a Corefile that does not parse leaves the running
                // configuration in place.
                let settings = corefile::read(&self.spec.dns.corefile).unwrap_or(self.corefile.1);
                self.corefile = (self.spec.dns.corefile.clone(), settings);
            }
            let target = self.dns_target();
            let period = (STEP_SECONDS as u64 * DNS_PERIOD_STEPS) as f64;
            self.dns
                .approach(&target, 1.0 - (-period / METRIC_SMOOTHING_S).exp());
            self.follow_dns_load();
        }
        self.karpenter.trim(self.state.now);
    }

    pub fn advance(&mut self, steps: u64) {
        for _ in 0..steps {
            self.step();
        }
    }

    /// Steps until the next step would pass `at`.
    pub fn advance_to(&mut self, at: Timestamp) {
        while self.state.now + chrono::Duration::seconds(STEP_SECONDS) <= at {
            self.step();
        }
    }

    /// CoreDNS's workload follows `[dns]` (replicas, resources) and its usage follows the
    /// queries it serves.
    fn follow_dns_load(&mut self) {
        self.coredns = coredns_workload(&self.spec.dns);
        let key = self
            .state
            .workloads
            .iter()
            .find(|r| r.source == WorkloadSource::CoreDns)
            .map(|r| r.key)
            .unwrap_or(0);
        let load = workloads::curve(&self.spec, &self.coredns, key).load(self.state.now);
        self.coredns.cpu_usage_m = self.dns.cpu_m_per_pod / load;
        self.coredns.memory_usage_mib = self.dns.memory_mib_per_pod;
    }

    fn dns_clients(&self) -> Vec<ClientLoad> {
        let now = self.state.now;
        let specs = self.specs();
        self.state
            .workloads
            .iter()
            .filter_map(|runtime| {
                let WorkloadSource::Spec(name) = &runtime.source else {
                    return None;
                };
                let spec = specs.workload(&runtime.source)?;
                if spec.dns.lookups_per_sec <= 0.0 || runtime.ready_pods(now) == 0 {
                    return None;
                }
                let load = workloads::curve(&self.spec, spec, runtime.key).load(now);
                Some(ClientLoad {
                    namespace: runtime.namespace.clone(),
                    workload: name.clone(),
                    lookups_per_sec: spec.dns.lookups_per_sec * f64::from(spec.replicas) * load,
                    usage: spec.dns.clone(),
                })
            })
            .collect()
    }

    fn coredns_index(&self) -> Option<usize> {
        self.state
            .workloads
            .iter()
            .position(|r| r.source == WorkloadSource::CoreDns)
    }

    fn dns_placement(&self) -> Placement {
        let now = self.state.now;
        let mut per_node: BTreeMap<u64, u32> = BTreeMap::new();
        if let Some(index) = self.coredns_index() {
            for pod in self.state.workloads[index]
                .pods
                .iter()
                .filter(|p| p.ready(now))
            {
                if let Some(node) = pod.node {
                    *per_node.entry(node).or_default() += 1;
                }
            }
        }
        Placement {
            ready_pods_per_node: per_node.into_values().collect(),
            cluster_nodes: self
                .state
                .nodes
                .values()
                .filter(|n| n.initialized(now))
                .count(),
        }
    }

    fn dns_target(&self) -> DnsFigures {
        dns::compute(
            &self.spec.dns,
            &self.corefile.1,
            &self.dns_clients(),
            &self.dns_placement(),
        )
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            name: format!("sim-{}", self.spec.name),
            region: self.spec.region.clone(),
            source: "simulated".to_string(),
            detail: format!("scenario {}, seed {}", self.spec.name, self.seed),
        }
    }

    /// The simulator as the source-health view shows it: it always answers, at once.
    pub fn health(&self) -> SourceHealth {
        let mut health = SourceHealth::new(
            "simulator",
            &format!("built in: scenario {}, seed {}", self.spec.name, self.seed),
        );
        health.last_success = Some(self.now());
        health
    }

    /// The East-West pane's snapshot now (the simulator's own traffic model).
    pub(super) fn flows_now(&self) -> crate::domain::model::FlowSnapshot {
        self.flow_snapshot(&self.state.ready_by_zone())
    }

    /// The current snapshot of every pane.
    pub fn updates(&self) -> Vec<Update> {
        let ready_by_zone = self.state.ready_by_zone();
        vec![
            Update::Dns(self.dns_snapshot()),
            Update::Gateways(self.gateway_snapshot(&ready_by_zone)),
            Update::Flows(self.flow_snapshot(&ready_by_zone)),
            Update::Nodes(karpenter::snapshot(
                &self.state,
                self.specs(),
                &self.karpenter,
            )),
            Update::Workloads(self.workload_snapshot()),
        ]
    }

    fn dns_snapshot(&self) -> DnsSnapshot {
        let now = self.state.now;
        let figures = &self.dns;
        let placement = self.dns_placement();
        let ready = placement.ready();
        let mut pods = Vec::new();
        if let Some(index) = self.coredns_index() {
            let runtime = &self.state.workloads[index];
            for pod in runtime.pods.iter().filter(|p| p.bound) {
                let Some(node) = pod.node.and_then(|id| self.state.nodes.get(&id)) else {
                    continue;
                };
                let key = mix(runtime.key, pod.serial);
                let wobble = smooth_noise(key, now.timestamp() as f64, 300.0);
                let serving = pod.ready(now) && ready > 0;
                pods.push(DnsPod {
                    name: pod_name("coredns", false, pod.template_key, pod.serial),
                    node: node.name.clone(),
                    zone: self.state.zones.get(node.zone).cloned().unwrap_or_default(),
                    qps: Some(if serving {
                        figures.qps / f64::from(ready) * (1.0 + 0.04 * wobble)
                    } else {
                        0.0
                    }),
                    memory_mib: Some(figures.memory_mib_per_pod * (1.0 + 0.03 * wobble)),
                    cpu_millicores: Some(if serving {
                        figures.cpu_m_per_pod * (1.0 + 0.04 * wobble)
                    } else {
                        1.0
                    }),
                    ip: None,
                });
            }
        }
        let mut sources: Vec<&dns::ClientFigures> = figures
            .clients
            .iter()
            .filter(|c| c.qps > 0.0 && c.nxdomain_ratio > 0.05)
            .collect();
        sources.sort_by(|a, b| (b.qps * b.nxdomain_ratio).total_cmp(&(a.qps * a.nxdomain_ratio)));
        let rcode = |name: &str, qps: f64| RcodeRate {
            rcode: name.to_string(),
            qps,
        };
        let metrics = DnsMetrics {
            qps: figures.qps,
            p50_ms: figures.p50_ms,
            p99_ms: figures.p99_ms,
            cache_hit_ratio: figures.cache_hit_ratio,
            rcodes: vec![
                rcode("NOERROR", figures.noerror_qps),
                rcode("NXDOMAIN", figures.nxdomain_qps),
                rcode("SERVFAIL", figures.servfail_qps),
                rcode("REFUSED", figures.refused_qps),
            ],
            upstream_p99_ms: Some(figures.upstream_p99_ms),
            upstream_qps: Some(figures.upstream_qps),
            nxdomain_sources: sources
                .into_iter()
                .take(NXDOMAIN_SOURCES)
                .map(|c| DnsClient {
                    namespace: c.namespace.clone(),
                    workload: c.workload.clone(),
                    qps: c.qps,
                    nxdomain_ratio: c.nxdomain_ratio,
                    ndots: c.ndots,
                })
                .collect(),
            panics_last_hour: 0,
        };
        DnsSnapshot {
            at: now,
            replicas: self.spec.dns.replicas,
            ready_replicas: ready,
            memory_limit_mib: Some(self.spec.dns.memory_limit_mib),
            pods,
            corefile: Some(self.spec.dns.corefile.clone()),
            nodelocal_dns: self.spec.dns.nodelocal_dns,
            metrics: Some(metrics),
        }
    }

    /// Ready pods per zone of the workload behind a Service, if both exist.
    fn service_endpoints(
        &self,
        ready_by_zone: &[Vec<u32>],
        namespace: &str,
        service: &str,
    ) -> Option<(u32, u32)> {
        let spec = self
            .spec
            .services
            .get(service)
            .filter(|s| s.namespace == namespace)?;
        let workload = spec.workload.as_deref().unwrap_or(service);
        match self.state.workload_index(namespace, workload) {
            Some(index) => Some((
                ready_by_zone
                    .get(index)
                    .map(|z| z.iter().sum())
                    .unwrap_or(0),
                self.state.workloads[index].pods.len() as u32,
            )),
            None => Some((0, 0)),
        }
    }

    fn gateway_snapshot(
        &self,
        ready_by_zone: &[Vec<u32>],
    ) -> crate::domain::model::GatewaySnapshot {
        let lookup = |namespace: &str, service: &str| {
            self.service_endpoints(ready_by_zone, namespace, service)
        };
        gateways::snapshot(&self.spec, &lookup, self.state.now, self.seed)
    }

    fn flow_snapshot(&self, ready_by_zone: &[Vec<u32>]) -> crate::domain::model::FlowSnapshot {
        let now = self.state.now;
        let by_zone = |namespace: &str, name: &str| {
            self.state
                .workload_index(namespace, name)
                .and_then(|i| ready_by_zone.get(i).cloned())
        };
        let by_node = |namespace: &str, name: &str| {
            let mut nodes = BTreeMap::new();
            if let Some(i) = self.state.workload_index(namespace, name) {
                for pod in self.state.workloads[i].pods.iter().filter(|p| p.ready(now)) {
                    if let Some(node) = pod.node {
                        *nodes.entry(node).or_insert(0u32) += 1;
                    }
                }
            }
            nodes
        };
        let load = |namespace: &str, name: &str| {
            let key = self
                .state
                .workload_index(namespace, name)
                .map(|i| self.state.workloads[i].key)
                .unwrap_or_else(|| hash_str(name));
            self.spec
                .workloads
                .get(name)
                .map(|spec| workloads::curve(&self.spec, spec, key).load(now))
                .unwrap_or(1.0)
        };
        let inputs = FlowInputs {
            zones: &self.state.zones,
            ready_by_zone: &by_zone,
            ready_by_node: &by_node,
            load: &load,
        };
        let kube_dns = self
            .coredns_index()
            .and_then(|i| ready_by_zone.get(i))
            .map(|counts| {
                flows::topology(
                    "kube-system",
                    "kube-dns",
                    ZoneRouting::Default,
                    &self.state.zones,
                    counts,
                )
            });
        flows::snapshot(&self.spec, &inputs, now, kube_dns.into_iter().collect())
    }

    fn workload_snapshot(&self) -> crate::domain::model::WorkloadSnapshot {
        let now = self.state.now;
        let ready_nodes = self
            .state
            .nodes
            .values()
            .filter(|n| n.initialized(now))
            .count() as u32;
        workloads::snapshot(&self.state, self.specs(), ready_nodes, self.seed)
    }
}
