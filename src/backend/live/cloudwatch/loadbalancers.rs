//! From a Gateway's address to its load balancer's CloudWatch figures, as pure functions.
//!
//! The AWS Load Balancer Controller (and the Gateway API controller built on it) publishes
//! the load balancer's DNS name as the Gateway's `status.addresses[].value`, e.g.
//! `k8s-shop-web-1a2b3c4d5e-1234567890.us-east-1.elb.amazonaws.com` (ALB) or
//! `k8s-shop-web-1a2b3c4d5e-0123456789abcdef.elb.us-east-1.amazonaws.com` (NLB). CloudWatch
//! knows the same load balancer by its `LoadBalancer` dimension, `app/NAME/ID` or
//! `net/NAME/ID`, where NAME is the DNS name's first label without its `-DNSID` suffix (and
//! without `internal-` for an internal one). ListMetrics gives the dimension values; the
//! name links the two.

use std::collections::{BTreeMap, BTreeSet};

use super::queries::{ListRequest, ListedMetric, MetricSpec, Series, Stat, Window};
use crate::domain::model::{LoadBalancerKind, LoadBalancerMetrics};
use crate::domain::time::Timestamp;

pub const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
pub const NLB_NAMESPACE: &str = "AWS/NetworkELB";
pub const LOAD_BALANCER: &str = "LoadBalancer";
pub const TARGET_GROUP: &str = "TargetGroup";
/// CloudWatch's resolution for load balancer metrics.
pub const PERIOD_S: i32 = 60;
/// How many minutes back to look for the newest complete one (CloudWatch lags 1–3 min).
pub const LOOKBACK_MINUTES: i64 = 5;

pub fn namespace(kind: LoadBalancerKind) -> &'static str {
    match kind {
        LoadBalancerKind::Application => ALB_NAMESPACE,
        LoadBalancerKind::Network => NLB_NAMESPACE,
    }
}

/// What a load balancer hostname says: the load balancer's name, and its kind when the
/// hostname's shape tells (`NAME-ID.REGION.elb…` is an ALB, `NAME-ID.elb.REGION…` an NLB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname {
    pub name: String,
    pub kind: Option<LoadBalancerKind>,
}

/// The load balancer name in an ELB DNS name; `None` for anything else (an IP address,
/// a custom domain, a VPC Lattice or CloudFront name).
pub fn parse_hostname(hostname: &str) -> Option<Hostname> {
    let hostname = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    let rest = hostname
        .strip_suffix(".amazonaws.com")
        .or_else(|| hostname.strip_suffix(".amazonaws.com.cn"))?;
    let mut labels: Vec<&str> = rest.split('.').collect();
    if labels.first() == Some(&"dualstack") {
        labels.remove(0);
    }
    // NAME-ID.elb.REGION (NLB) or NAME-ID.REGION.elb (ALB, classic ELB).
    let kind = match labels.as_slice() {
        [_, "elb", _] => Some(LoadBalancerKind::Network),
        [_, _, "elb"] => Some(LoadBalancerKind::Application),
        _ => return None,
    };
    let first = labels[0];
    let first = first.strip_prefix("internal-").unwrap_or(first);
    let (name, dns_id) = first.rsplit_once('-')?;
    if name.is_empty() || dns_id.is_empty() {
        return None;
    }
    Some(Hostname {
        name: name.to_string(),
        kind,
    })
}

/// The kind and name in a `LoadBalancer` dimension value (`app/NAME/ID`, `net/NAME/ID`).
pub fn parse_dimension(value: &str) -> Option<(LoadBalancerKind, &str)> {
    let mut parts = value.split('/');
    let kind = match parts.next()? {
        "app" => LoadBalancerKind::Application,
        "net" => LoadBalancerKind::Network,
        _ => return None,
    };
    let name = parts.next().filter(|n| !n.is_empty())?;
    let _id = parts.next().filter(|id| !id.is_empty())?;
    parts.next().is_none().then_some((kind, name))
}

/// The load balancers CloudWatch has metrics for, and their target groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    /// `LoadBalancer` dimension values.
    pub load_balancers: BTreeSet<String>,
    /// `TargetGroup` values seen with each load balancer in host-count metrics (published
    /// per target group, not per load balancer).
    pub target_groups: BTreeMap<String, BTreeSet<String>>,
}

/// What ListMetrics is asked, per namespace: a traffic metric (every load balancer with
/// traffic) and the healthy-host count (every load balancer with a target group, and those
/// target groups).
pub fn discovery_requests() -> Vec<ListRequest> {
    let request = |namespace: &str, metric: &str| ListRequest {
        namespace: namespace.to_string(),
        metric_name: Some(metric.to_string()),
        dimension_name: Some(LOAD_BALANCER.to_string()),
    };
    vec![
        request(ALB_NAMESPACE, "RequestCount"),
        request(ALB_NAMESPACE, "HealthyHostCount"),
        request(NLB_NAMESPACE, "ProcessedBytes"),
        request(NLB_NAMESPACE, "HealthyHostCount"),
    ]
}

impl Catalogue {
    pub fn add(&mut self, metric: &ListedMetric) {
        let Some(load_balancer) = metric.dimension(LOAD_BALANCER) else {
            return;
        };
        if parse_dimension(load_balancer).is_none() {
            return;
        }
        self.load_balancers.insert(load_balancer.to_string());
        // Only the (LoadBalancer, TargetGroup) pair: per-zone series would count hosts twice.
        if let Some(target_group) = metric.dimension(TARGET_GROUP)
            && metric.dimensions.len() == 2
        {
            self.target_groups
                .entry(load_balancer.to_string())
                .or_default()
                .insert(target_group.to_string());
        }
    }

    /// The `LoadBalancer` dimension of the load balancer behind `hostname`.
    pub fn find(&self, hostname: &str) -> Option<String> {
        let parsed = parse_hostname(hostname)?;
        let mut matches = self.load_balancers.iter().filter_map(|value| {
            let (kind, name) = parse_dimension(value)?;
            name.eq_ignore_ascii_case(&parsed.name)
                .then_some((kind, value))
        });
        let first = matches.next()?;
        // Names are unique per region, but prefer the kind the hostname's shape suggests.
        let preferred = std::iter::once(first)
            .chain(matches)
            .find(|(kind, _)| Some(*kind) == parsed.kind)
            .unwrap_or(first);
        Some(preferred.1.clone())
    }
}

/// One figure of one load balancer (and target group, for host counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LbFigure {
    Requests,
    Target5xx,
    Elb5xx,
    P99ResponseTime,
    HealthyHosts,
    UnhealthyHosts,
    ActiveFlows,
    ProcessedBytes,
}

/// What a series of a load balancer call answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbKey {
    pub load_balancer: String,
    pub figure: LbFigure,
    pub target_group: Option<String>,
}

/// The plain-statistic queries (Sum, Average) for one load balancer.
pub fn traffic_specs(load_balancer: &str, catalogue: &Catalogue) -> Vec<(LbKey, MetricSpec)> {
    let Some((kind, _)) = parse_dimension(load_balancer) else {
        return Vec::new();
    };
    let ns = namespace(kind);
    let key = |figure, target_group: Option<&String>| LbKey {
        load_balancer: load_balancer.to_string(),
        figure,
        target_group: target_group.cloned(),
    };
    let one = |figure, metric: &str, stat: Stat| {
        (
            key(figure, None),
            MetricSpec::new(
                ns,
                metric,
                &[(LOAD_BALANCER, load_balancer)],
                stat,
                PERIOD_S,
            ),
        )
    };
    let mut specs = match kind {
        LoadBalancerKind::Application => vec![
            one(LbFigure::Requests, "RequestCount", Stat::sum()),
            one(
                LbFigure::Target5xx,
                "HTTPCode_Target_5XX_Count",
                Stat::sum(),
            ),
            one(LbFigure::Elb5xx, "HTTPCode_ELB_5XX_Count", Stat::sum()),
        ],
        LoadBalancerKind::Network => vec![
            one(LbFigure::ActiveFlows, "ActiveFlowCount", Stat::average()),
            one(LbFigure::ProcessedBytes, "ProcessedBytes", Stat::sum()),
        ],
    };
    for target_group in catalogue
        .target_groups
        .get(load_balancer)
        .into_iter()
        .flatten()
    {
        for (figure, metric) in [
            (LbFigure::HealthyHosts, "HealthyHostCount"),
            (LbFigure::UnhealthyHosts, "UnHealthyHostCount"),
        ] {
            specs.push((
                key(figure, Some(target_group)),
                MetricSpec::new(
                    ns,
                    metric,
                    &[(LOAD_BALANCER, load_balancer), (TARGET_GROUP, target_group)],
                    Stat::average(),
                    PERIOD_S,
                ),
            ));
        }
    }
    specs
}

/// The percentile queries (ALB `TargetResponseTime` p99), sent apart from the rest.
pub fn latency_specs(load_balancer: &str) -> Vec<(LbKey, MetricSpec)> {
    match parse_dimension(load_balancer) {
        Some((LoadBalancerKind::Application, _)) => vec![(
            LbKey {
                load_balancer: load_balancer.to_string(),
                figure: LbFigure::P99ResponseTime,
                target_group: None,
            },
            MetricSpec::new(
                ALB_NAMESPACE,
                "TargetResponseTime",
                &[(LOAD_BALANCER, load_balancer)],
                Stat::percentile(99),
                PERIOD_S,
            ),
        )],
        _ => Vec::new(),
    }
}

/// One load balancer's figures from the series of its calls. `traffic` is `None` when the
/// plain-statistic call failed, `latency` when the percentile call did: those figures stay
/// unknown. A count CloudWatch has no point for in the reference minute is zero (it
/// publishes none for a minute without requests or errors).
pub fn assemble(
    load_balancer: &str,
    traffic: Option<&BTreeMap<LbKey, Series>>,
    latency: Option<&BTreeMap<LbKey, Series>>,
    window: &Window,
) -> Option<LoadBalancerMetrics> {
    let (kind, _) = parse_dimension(load_balancer)?;
    let period = f64::from(PERIOD_S);
    let series_of = |map: Option<&BTreeMap<LbKey, Series>>, figure| {
        map.and_then(|m| {
            m.get(&LbKey {
                load_balancer: load_balancer.to_string(),
                figure,
                target_group: None,
            })
        })
        .cloned()
    };
    let primary = match kind {
        LoadBalancerKind::Application => LbFigure::Requests,
        LoadBalancerKind::Network => LbFigure::ProcessedBytes,
    };
    let last_minute = window.end - chrono::Duration::seconds(i64::from(PERIOD_S));
    let newest_any = traffic
        .into_iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.load_balancer == load_balancer)
        .filter_map(|(_, s)| s.newest().map(|(t, _)| t))
        .max();
    let minute: Timestamp = series_of(traffic, primary)
        .and_then(|s| s.newest().map(|(t, _)| t))
        .or(newest_any)
        .unwrap_or(last_minute);
    let count_per_sec = |figure| {
        traffic?;
        Some(
            series_of(traffic, figure)
                .and_then(|s| s.at(minute))
                .unwrap_or(0.0)
                / period,
        )
    };
    let gauge = |figure| series_of(traffic, figure).and_then(|s| s.newest().map(|(_, v)| v));
    let hosts = |figure| {
        let values: Vec<f64> = traffic?
            .iter()
            .filter(|(k, _)| {
                k.load_balancer == load_balancer && k.figure == figure && k.target_group.is_some()
            })
            .filter_map(|(_, s)| s.newest().map(|(_, v)| v))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    let p99_ms = series_of(latency, LbFigure::P99ResponseTime)
        .and_then(|s| s.at(minute).or_else(|| s.newest().map(|(_, v)| v)))
        .map(|seconds| seconds * 1000.0);
    let application = kind == LoadBalancerKind::Application;
    Some(LoadBalancerMetrics {
        name: load_balancer.to_string(),
        kind,
        source: format!("CloudWatch {}", namespace(kind)),
        minute,
        requests_per_sec: if application {
            count_per_sec(LbFigure::Requests)
        } else {
            None
        },
        target_5xx_per_sec: if application {
            count_per_sec(LbFigure::Target5xx)
        } else {
            None
        },
        elb_5xx_per_sec: if application {
            count_per_sec(LbFigure::Elb5xx)
        } else {
            None
        },
        p99_response_ms: if application { p99_ms } else { None },
        healthy_hosts: hosts(LbFigure::HealthyHosts),
        unhealthy_hosts: hosts(LbFigure::UnhealthyHosts),
        active_flows: if application {
            None
        } else {
            gauge(LbFigure::ActiveFlows)
        },
        processed_bytes_per_sec: if application {
            None
        } else {
            count_per_sec(LbFigure::ProcessedBytes)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn alb_and_nlb_hostnames_give_the_load_balancer_name() {
        let alb = parse_hostname("k8s-shop-web-1a2b3c4d5e-1234567890.us-east-1.elb.amazonaws.com");
        assert_eq!(
            alb,
            Some(Hostname {
                name: "k8s-shop-web-1a2b3c4d5e".into(),
                kind: Some(LoadBalancerKind::Application)
            })
        );
        let nlb =
            parse_hostname("k8s-shop-tcp-0a1b2c3d4e-0123456789abcdef.elb.eu-west-1.amazonaws.com");
        assert_eq!(
            nlb,
            Some(Hostname {
                name: "k8s-shop-tcp-0a1b2c3d4e".into(),
                kind: Some(LoadBalancerKind::Network)
            })
        );
        // Internal, dual-stack, upper case, a trailing dot, China regions.
        assert_eq!(
            parse_hostname("internal-k8s-shop-api-99aa-42.us-east-1.elb.amazonaws.com")
                .map(|h| h.name),
            Some("k8s-shop-api-99aa".into())
        );
        assert_eq!(
            parse_hostname("dualstack.K8S-Edge-7-1.us-west-2.elb.amazonaws.com.").map(|h| h.name),
            Some("k8s-edge-7".into())
        );
        assert_eq!(
            parse_hostname("web-1.elb.cn-north-1.amazonaws.com.cn").map(|h| h.name),
            Some("web".into())
        );
        // Not load balancers.
        for other in [
            "10.0.3.7",
            "shop.example.com",
            "my-svc-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws",
            "d111111abcdef8.cloudfront.net",
            "noid.us-east-1.elb.amazonaws.com",
            "s3.us-east-1.amazonaws.com",
        ] {
            assert_eq!(parse_hostname(other), None, "{other}");
        }
    }

    #[test]
    fn dimension_values_name_kind_and_load_balancer() {
        assert_eq!(
            parse_dimension("app/k8s-shop-web-1a2b3c4d5e/50dc6c495c0c9188"),
            Some((LoadBalancerKind::Application, "k8s-shop-web-1a2b3c4d5e"))
        );
        assert_eq!(
            parse_dimension("net/tcp/0123"),
            Some((LoadBalancerKind::Network, "tcp"))
        );
        assert_eq!(parse_dimension("gwy/x/1"), None);
        assert_eq!(parse_dimension("app/x"), None);
        assert_eq!(parse_dimension("app//1"), None);
        assert_eq!(parse_dimension("app/x/1/extra"), None);
    }

    fn listed(metric: &str, dims: &[(&str, &str)]) -> ListedMetric {
        ListedMetric {
            namespace: ALB_NAMESPACE.into(),
            metric_name: metric.into(),
            dimensions: dims
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn gateways_are_matched_to_listed_load_balancers() {
        let mut catalogue = Catalogue::default();
        for metric in [
            listed(
                "RequestCount",
                &[(LOAD_BALANCER, "app/k8s-shop-web-1a2b3c4d5e/50dc")],
            ),
            listed("RequestCount", &[(LOAD_BALANCER, "app/k8s-shop-web/77")]),
            listed(
                "HealthyHostCount",
                &[
                    (LOAD_BALANCER, "app/k8s-shop-web-1a2b3c4d5e/50dc"),
                    (TARGET_GROUP, "targetgroup/k8s-shop-web/aa"),
                ],
            ),
            // The per-zone series must not add a target group twice.
            listed(
                "HealthyHostCount",
                &[
                    (LOAD_BALANCER, "app/k8s-shop-web-1a2b3c4d5e/50dc"),
                    (TARGET_GROUP, "targetgroup/k8s-shop-zonal/bb"),
                    ("AvailabilityZone", "us-east-1a"),
                ],
            ),
            listed(
                "ProcessedBytes",
                &[(LOAD_BALANCER, "net/k8s-shop-tcp-0a1b/99")],
            ),
            listed("RequestCount", &[("TargetGroup", "targetgroup/x/1")]),
        ] {
            catalogue.add(&metric);
        }
        assert_eq!(catalogue.load_balancers.len(), 3);
        assert_eq!(
            catalogue.find("k8s-shop-web-1a2b3c4d5e-1234567890.us-east-1.elb.amazonaws.com"),
            Some("app/k8s-shop-web-1a2b3c4d5e/50dc".into())
        );
        // A name that is a prefix of another is no match for it.
        assert_eq!(
            catalogue.find("k8s-shop-web-42.us-east-1.elb.amazonaws.com"),
            Some("app/k8s-shop-web/77".into())
        );
        assert_eq!(
            catalogue.find("k8s-shop-tcp-0a1b-0123456789abcdef.elb.us-east-1.amazonaws.com"),
            Some("net/k8s-shop-tcp-0a1b/99".into())
        );
        assert_eq!(
            catalogue.find("k8s-gone-1-2.us-east-1.elb.amazonaws.com"),
            None
        );
        assert_eq!(catalogue.find("10.0.0.1"), None);
        assert_eq!(
            catalogue
                .target_groups
                .get("app/k8s-shop-web-1a2b3c4d5e/50dc")
                .map(|t| t.len()),
            Some(1)
        );
    }

    #[test]
    fn the_kind_the_hostname_suggests_wins_a_tie() {
        let mut catalogue = Catalogue::default();
        catalogue.add(&listed("RequestCount", &[(LOAD_BALANCER, "app/twin/1")]));
        catalogue.add(&listed("ProcessedBytes", &[(LOAD_BALANCER, "net/twin/2")]));
        assert_eq!(
            catalogue.find("twin-abc.elb.us-east-1.amazonaws.com"),
            Some("net/twin/2".into())
        );
        assert_eq!(
            catalogue.find("twin-abc.us-east-1.elb.amazonaws.com"),
            Some("app/twin/1".into())
        );
    }

    fn series(points: &[(i64, f64)]) -> Series {
        Series {
            points: points.iter().map(|(s, v)| (at(*s), *v)).collect(),
        }
    }

    #[test]
    fn alb_figures_come_from_the_newest_request_minute() {
        let lb = "app/web/1";
        let mut catalogue = Catalogue::default();
        catalogue
            .target_groups
            .insert(lb.into(), ["tg/a".to_string(), "tg/b".to_string()].into());
        let specs = traffic_specs(lb, &catalogue);
        assert_eq!(specs.len(), 3 + 4);
        assert!(specs.iter().all(|(_, s)| !s.stat.is_percentile()));
        assert_eq!(latency_specs(lb)[0].1.stat, Stat::percentile(99));
        assert!(latency_specs("net/tcp/1").is_empty());

        let key = |figure, tg: Option<&str>| LbKey {
            load_balancer: lb.into(),
            figure,
            target_group: tg.map(str::to_string),
        };
        let traffic: BTreeMap<LbKey, Series> = [
            (
                key(LbFigure::Requests, None),
                series(&[(0, 600.0), (60, 1200.0)]),
            ),
            // No ELB 5xx point in the newest minute: none happened.
            (key(LbFigure::Elb5xx, None), series(&[(0, 6.0)])),
            (key(LbFigure::Target5xx, None), series(&[(60, 12.0)])),
            (
                key(LbFigure::HealthyHosts, Some("tg/a")),
                series(&[(60, 3.0)]),
            ),
            (
                key(LbFigure::HealthyHosts, Some("tg/b")),
                series(&[(0, 1.0), (60, 2.0)]),
            ),
            (
                key(LbFigure::UnhealthyHosts, Some("tg/a")),
                series(&[(60, 1.0)]),
            ),
        ]
        .into();
        let latency: BTreeMap<LbKey, Series> =
            [(key(LbFigure::P99ResponseTime, None), series(&[(60, 0.25)]))].into();
        let window = Window {
            start: at(-180),
            end: at(120),
        };
        let figures = assemble(lb, Some(&traffic), Some(&latency), &window)
            .unwrap_or_else(|| panic!("an ALB"));
        assert_eq!(figures.minute, at(60));
        assert_eq!(figures.requests_per_sec, Some(20.0));
        assert_eq!(figures.target_5xx_per_sec, Some(0.2));
        assert_eq!(figures.elb_5xx_per_sec, Some(0.0));
        assert_eq!(figures.p99_response_ms, Some(250.0));
        assert_eq!(figures.healthy_hosts, Some(5.0));
        assert_eq!(figures.unhealthy_hosts, Some(1.0));
        assert_eq!(figures.active_flows, None);
        assert_eq!(figures.source, "CloudWatch AWS/ApplicationELB");
        assert!((figures.error_5xx_ratio().unwrap_or(0.0) - 0.01).abs() < 1e-9);

        // The percentile call failed: only that figure is missing.
        let without = assemble(lb, Some(&traffic), None, &window);
        assert_eq!(without.as_ref().and_then(|f| f.p99_response_ms), None);
        assert_eq!(without.and_then(|f| f.requests_per_sec), Some(20.0));
        // The plain call failed: only the p99 is known.
        let only_latency = assemble(lb, None, Some(&latency), &window);
        assert_eq!(only_latency.as_ref().and_then(|f| f.requests_per_sec), None);
        assert_eq!(only_latency.and_then(|f| f.p99_response_ms), Some(250.0));
    }

    #[test]
    fn an_idle_alb_serves_zero_requests_and_an_nlb_counts_flows_and_bytes() {
        let window = Window {
            start: at(-240),
            end: at(60),
        };
        let idle = assemble("app/quiet/1", Some(&BTreeMap::new()), None, &window);
        assert_eq!(idle.as_ref().map(|f| f.minute), Some(at(0)));
        assert_eq!(idle.as_ref().and_then(|f| f.requests_per_sec), Some(0.0));
        assert_eq!(idle.and_then(|f| f.error_5xx_ratio()), None);

        let lb = "net/tcp/1";
        let key = |figure| LbKey {
            load_balancer: lb.into(),
            figure,
            target_group: None,
        };
        let traffic: BTreeMap<LbKey, Series> = [
            (key(LbFigure::ActiveFlows), series(&[(0, 42.0)])),
            (key(LbFigure::ProcessedBytes), series(&[(0, 6_000_000.0)])),
        ]
        .into();
        let nlb = assemble(lb, Some(&traffic), None, &window).unwrap_or_else(|| panic!("an NLB"));
        assert_eq!(nlb.kind, LoadBalancerKind::Network);
        assert_eq!(nlb.active_flows, Some(42.0));
        assert_eq!(nlb.processed_bytes_per_sec, Some(100_000.0));
        assert_eq!(nlb.requests_per_sec, None);
        assert_eq!(nlb.source, "CloudWatch AWS/NetworkELB");
        assert_eq!(assemble("gwy/x/1", None, None, &window), None);
    }
}
