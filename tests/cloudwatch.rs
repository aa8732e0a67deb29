//! The CloudWatch source against a real moto server: metric data put with the SDK for an
//! ALB, an NLB, Container Insights and billing, then kockpit's own collection (ListMetrics
//! discovery of the load balancers, GetMetricData in batches of at most 500 queries) merged
//! into the pane snapshots. What moto cannot do (percentiles) and error answers (AccessDenied,
//! throttling) are tested with SDK clients whose responses aws-smithy-mocks supplies.
//!
//! moto is `$KOCKPIT_MOTO_SERVER` or `moto_server` on PATH; `scripts/test` installs it.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Region};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataInput, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataResult, MetricDatum, StatusCode};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use kockpit::backend::live::cloudwatch::client::{self, CloudWatchApi, CloudWatchError, SdkApi};
use kockpit::backend::live::cloudwatch::queries::{
    DataPage, ListPage, ListRequest, MetricQuery, Window,
};
use kockpit::backend::live::cloudwatch::{self, CloudWatchHandle, CloudWatchOptions};
use kockpit::domain::model::{
    BilledSpend, GatewaySnapshot, GatewayStatus, LoadBalancerKind, Pane, SourceState, Update,
    WorkloadSnapshot, WorkloadUsage,
};
use kockpit::domain::time::Timestamp;

const DEADLINE: Duration = Duration::from_secs(90);
const REGION: &str = "us-west-2";
const CLUSTER: &str = "prod";

const ALB: &str = "app/k8s-shop-web-1a2b3c4d5e/50dc6c495c0c9188";
const ALB_HOST: &str = "k8s-shop-web-1a2b3c4d5e-1234567890.us-west-2.elb.amazonaws.com";
const ALB_TG: &str = "targetgroup/k8s-shop-web-80/6d0ecf831eec9f09";
const NLB: &str = "net/k8s-shop-tcp-0a1b2c3d4e/0123456789abcdef";
const NLB_HOST: &str = "k8s-shop-tcp-0a1b2c3d4e-fedcba9876543210.elb.us-west-2.amazonaws.com";
const NLB_TG: &str = "targetgroup/k8s-shop-tcp-443/0f1e2d3c4b5a6978";
/// An ELB hostname whose load balancer CloudWatch has no metrics for.
const GONE_HOST: &str = "k8s-shop-gone-99-1111.us-west-2.elb.amazonaws.com";

fn now() -> Timestamp {
    chrono::Utc::now()
}

fn floor(at: Timestamp, period_s: i64) -> Timestamp {
    let s = at.timestamp().div_euclid(period_s) * period_s;
    chrono::DateTime::from_timestamp(s, 0).unwrap_or(at)
}

fn sdk_client(endpoint: &str, region: &str) -> Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(client::static_credentials("AKIDMOTO", "moto-secret"))
        .build();
    Client::from_conf(config)
}

fn datum(metric: &str, dims: &[(&str, &str)], at: Timestamp, value: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .set_dimensions(Some(
            dims.iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                .collect(),
        ))
        .timestamp(DateTime::from_secs(at.timestamp()))
        .value(value)
        .build()
}

async fn put(client: &Client, namespace: &str, data: Vec<MetricDatum>) {
    for chunk in data.chunks(500) {
        client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PutMetricData to moto failed: {}",
                    aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
                )
            });
    }
}

fn gateway(index: usize, address: &str) -> GatewayStatus {
    GatewayStatus {
        namespace: "shop".into(),
        name: format!("gw{index}"),
        class: "alb".into(),
        address: Some(address.into()),
        accepted: None,
        programmed: None,
        attached_routes: 1,
        requests_per_sec: None,
        error_5xx_ratio: None,
        load_balancer: None,
    }
}

fn gateways(addresses: &[String]) -> GatewaySnapshot {
    GatewaySnapshot {
        at: now(),
        gateways: addresses
            .iter()
            .enumerate()
            .map(|(i, a)| gateway(i, a))
            .collect(),
        routes: Vec::new(),
    }
}

fn workload(name: &str) -> WorkloadUsage {
    WorkloadUsage {
        namespace: "shop".into(),
        name: name.into(),
        kind: "Deployment".into(),
        container: "app".into(),
        replicas: 3,
        cpu_request_m: 1000.0,
        cpu_limit_m: None,
        memory_request_mib: 512.0,
        memory_limit_mib: None,
        oom_kills_7d: 0,
        restarts_24h: 0,
        vpa: None,
        hpa_on_cpu: false,
        usage: None,
    }
}

fn workloads(names: &[&str]) -> WorkloadSnapshot {
    WorkloadSnapshot {
        at: now(),
        window: String::new(),
        workloads: names.iter().map(|n| workload(n)).collect(),
        namespaces: Vec::new(),
    }
}

/// Decorates fresh batches until the scheduler has had its round for them and `done`
/// holds for a decorated batch; fails with what the scheduler knows at the deadline. The
/// bill goes out once, in whichever batch follows its arrival: like the cockpit, the last
/// one seen is kept (and added to the batch returned).
async fn decorated(
    handle: &mut CloudWatchHandle,
    make: impl Fn() -> Vec<Update>,
    done: impl Fn(&[Update]) -> bool,
) -> Vec<Update> {
    let deadline = Instant::now() + DEADLINE;
    let mut bill = None;
    loop {
        let mut batch = make();
        batch.push(Update::Clock { at: now() });
        handle.decorate(&mut batch, now());
        if let Some(billed) = billing(&batch) {
            bill = Some(billed.clone());
        }
        if handle.ready() && done(&batch) {
            if billing(&batch).is_none()
                && let Some(billed) = bill
            {
                batch.push(Update::Billing(billed));
            }
            return batch;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out; the scheduler knows {:#?}\nlast batch {batch:#?}",
                handle.collected()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn gateway_snapshot(batch: &[Update]) -> Option<&GatewaySnapshot> {
    batch.iter().find_map(|u| match u {
        Update::Gateways(s) => Some(s),
        _ => None,
    })
}

fn workload_snapshot(batch: &[Update]) -> Option<&WorkloadSnapshot> {
    batch.iter().find_map(|u| match u {
        Update::Workloads(s) => Some(s),
        _ => None,
    })
}

fn billing(batch: &[Update]) -> Option<&BilledSpend> {
    batch.iter().find_map(|u| match u {
        Update::Billing(b) => Some(b),
        _ => None,
    })
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|a| (a - expected).abs() < 1e-6)
}

/// Puts a minute of ALB and NLB figures, a week-long stretch of Container Insights usage
/// and two billing estimates.
async fn put_fixture(regional: &Client, billing: &Client) {
    // Inside the newest complete minute, whenever the collection runs within four minutes.
    let minute = floor(now(), 60) - chrono::Duration::seconds(59);
    let alb = [("LoadBalancer", ALB)];
    let alb_tg = [("LoadBalancer", ALB), ("TargetGroup", ALB_TG)];
    put(
        regional,
        "AWS/ApplicationELB",
        vec![
            datum("RequestCount", &alb, minute, 1200.0),
            datum("HTTPCode_Target_5XX_Count", &alb, minute, 12.0),
            datum("HTTPCode_ELB_5XX_Count", &alb, minute, 6.0),
            datum("TargetResponseTime", &alb, minute, 0.08),
            datum("HealthyHostCount", &alb_tg, minute, 3.0),
            datum("UnHealthyHostCount", &alb_tg, minute, 1.0),
        ],
    )
    .await;
    let nlb = [("LoadBalancer", NLB)];
    let nlb_tg = [("LoadBalancer", NLB), ("TargetGroup", NLB_TG)];
    put(
        regional,
        "AWS/NetworkELB",
        vec![
            datum("ActiveFlowCount", &nlb, minute, 42.0),
            datum("ProcessedBytes", &nlb, minute, 6_000_000.0),
            datum("HealthyHostCount", &nlb_tg, minute, 2.0),
            datum("UnHealthyHostCount", &nlb_tg, minute, 0.0),
        ],
    )
    .await;
    // Twenty 5-minute points: 10..200 millicores, 1..20 MiB.
    let dims = [
        ("ClusterName", CLUSTER),
        ("Namespace", "shop"),
        ("PodName", "web"),
    ];
    let five = floor(now(), 300);
    let mut usage = Vec::new();
    for i in 1..=20i64 {
        let at = five - chrono::Duration::seconds(300 * i) + chrono::Duration::seconds(1);
        usage.push(datum(
            "pod_cpu_usage_total",
            &dims,
            at,
            (21 - i) as f64 * 10.0,
        ));
        usage.push(datum(
            "pod_memory_working_set",
            &dims,
            at,
            (21 - i) as f64 * 1024.0 * 1024.0,
        ));
    }
    put(regional, "ContainerInsights", usage).await;
    let usd = [("Currency", "USD")];
    put(
        billing,
        "AWS/Billing",
        vec![
            datum(
                "EstimatedCharges",
                &usd,
                now() - chrono::Duration::hours(13),
                100.0,
            ),
            datum(
                "EstimatedCharges",
                &usd,
                now() - chrono::Duration::seconds(60),
                123.45,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn load_balancers_usage_and_bill_come_from_cloudwatch() {
    let moto = support::moto::start("figures");
    let regional = sdk_client(&moto.endpoint, REGION);
    let billing_client = sdk_client(&moto.endpoint, "us-east-1");
    put_fixture(&regional, &billing_client).await;

    let mut options = CloudWatchOptions::new(Some(REGION.to_string()));
    options.endpoint_url = Some(moto.endpoint.clone());
    options.credentials = Some(client::static_credentials("AKIDMOTO", "moto-secret"));
    options.cluster_name = Some(CLUSTER.to_string());
    options.max_attempts = 1;
    let mut handle = cloudwatch::start(options);
    let addresses = [ALB_HOST, NLB_HOST, GONE_HOST, "10.0.0.7"].map(String::from);
    let batch = decorated(
        &mut handle,
        || {
            vec![
                Update::Gateways(gateways(&addresses)),
                Update::Workloads(workloads(&["web", "idle"])),
            ]
        },
        |batch| {
            gateway_snapshot(batch).is_some_and(|s| {
                s.gateways[0].load_balancer.is_some() && s.gateways[1].load_balancer.is_some()
            }) && workload_snapshot(batch).is_some_and(|s| s.workloads[0].usage.is_some())
        },
    )
    .await;

    let snapshot = gateway_snapshot(&batch).unwrap_or_else(|| panic!("gateways"));
    let alb = &snapshot.gateways[0];
    let figures = alb
        .load_balancer
        .clone()
        .unwrap_or_else(|| panic!("ALB figures"));
    assert_eq!(figures.name, ALB);
    assert_eq!(figures.kind, LoadBalancerKind::Application);
    assert_eq!(figures.source, "CloudWatch AWS/ApplicationELB");
    assert!(close(figures.requests_per_sec, 20.0), "{figures:?}");
    assert!(close(figures.target_5xx_per_sec, 0.2), "{figures:?}");
    assert!(close(figures.elb_5xx_per_sec, 0.1), "{figures:?}");
    assert!(close(figures.healthy_hosts, 3.0), "{figures:?}");
    assert!(close(figures.unhealthy_hosts, 1.0), "{figures:?}");
    // moto cannot compute percentiles: only that figure is missing.
    assert_eq!(figures.p99_response_ms, None);
    // The Gateway's own figures, which the findings read, are the load balancer's.
    assert!(close(alb.requests_per_sec, 20.0));
    assert!(close(alb.error_5xx_ratio, 0.3 / 20.0));

    let nlb = snapshot.gateways[1]
        .load_balancer
        .clone()
        .unwrap_or_else(|| panic!("NLB figures"));
    assert_eq!(nlb.name, NLB);
    assert_eq!(nlb.kind, LoadBalancerKind::Network);
    assert!(close(nlb.active_flows, 42.0), "{nlb:?}");
    assert!(close(nlb.processed_bytes_per_sec, 100_000.0), "{nlb:?}");
    assert!(close(nlb.healthy_hosts, 2.0), "{nlb:?}");
    assert!(close(nlb.unhealthy_hosts, 0.0), "{nlb:?}");
    assert_eq!(nlb.requests_per_sec, None);
    assert_eq!(snapshot.gateways[2].load_balancer, None);
    assert_eq!(snapshot.gateways[3].load_balancer, None);

    let usage = workload_snapshot(&batch).unwrap_or_else(|| panic!("workloads"));
    let web = usage.workloads[0]
        .usage
        .clone()
        .unwrap_or_else(|| panic!("web usage"));
    assert!((web.cpu_p95_m - 190.0).abs() < 1e-6, "{web:?}");
    assert!((web.memory_p95_mib - 19.0).abs() < 1e-6, "{web:?}");
    assert!((web.memory_p99_mib - 20.0).abs() < 1e-6, "{web:?}");
    assert!(
        web.history_days > 0.06 && web.history_days < 0.08,
        "{web:?}"
    );
    assert_eq!(usage.workloads[1].usage, None);
    assert_eq!(usage.window, cloudwatch::insights::WINDOW_LABEL);

    let billed = billing(&batch).unwrap_or_else(|| panic!("a Billing update in {batch:#?}"));
    assert!(
        (billed.month_to_date_usd - 123.45).abs() < 1e-9,
        "{billed:?}"
    );
    assert_eq!(billed.source, "CloudWatch AWS/Billing EstimatedCharges");
    // Sent once, not with every flush.
    let mut again = vec![Update::Clock { at: now() }];
    handle.decorate(&mut again, now());
    assert!(billing(&again).is_none());

    let states = handle.pane_states();
    match states.get(&Pane::Gateways) {
        Some(SourceState::Degraded { cause }) => {
            assert!(
                cause.starts_with("CloudWatch: no p99 response time"),
                "{cause}"
            );
            assert!(cause.contains("HTTP 500"), "{cause}");
        }
        other => panic!("Gateways should be degraded by the failing p99: {other:?}"),
    }
    assert_eq!(states.get(&Pane::Rightsizing), Some(&SourceState::Ok));
    assert_eq!(states.get(&Pane::Spend), Some(&SourceState::Ok));
    let health = handle.health();
    assert_eq!(health.source, "cloudwatch");
    assert!(health.endpoint.contains("127.0.0.1"), "{health:?}");
    assert!(
        health.queries_ok >= 4 && health.queries_failed >= 1,
        "{health:?}"
    );
    drop(handle);
    drop(moto);
}

/// The SDK client, counting the calls and the largest batch.
struct Counting {
    inner: SdkApi,
    plain_calls: Arc<AtomicUsize>,
    percentile_calls: Arc<AtomicUsize>,
    list_calls: Arc<AtomicUsize>,
    largest: Arc<AtomicUsize>,
}

impl CloudWatchApi for Counting {
    async fn list_metrics(
        &self,
        request: &ListRequest,
        next_token: Option<String>,
    ) -> Result<ListPage, CloudWatchError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list_metrics(request, next_token).await
    }

    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        window: &Window,
        next_token: Option<String>,
    ) -> Result<DataPage, CloudWatchError> {
        if queries.iter().all(|q| q.spec.stat.is_percentile()) {
            self.percentile_calls.fetch_add(1, Ordering::SeqCst);
        } else {
            self.plain_calls.fetch_add(1, Ordering::SeqCst);
        }
        self.largest.fetch_max(queries.len(), Ordering::SeqCst);
        self.inner
            .get_metric_data(queries, window, next_token)
            .await
    }
}

#[tokio::test]
async fn six_hundred_queries_go_in_two_calls_and_every_figure_arrives() {
    const LOAD_BALANCERS: usize = 120;
    let moto = support::moto::start("batches");
    let regional = sdk_client(&moto.endpoint, REGION);
    let minute = floor(now(), 60) - chrono::Duration::seconds(59);
    let mut data = Vec::new();
    let mut hosts = Vec::new();
    for i in 0..LOAD_BALANCERS {
        let name = format!("k8s-fleet-gw{i:03}");
        let lb = format!("app/{name}/{i:016x}");
        let tg = format!("targetgroup/{name}/{i:016x}");
        hosts.push(format!(
            "{name}-{}.{REGION}.elb.amazonaws.com",
            1_000_000 + i
        ));
        let lb_dims = [("LoadBalancer", lb.as_str())];
        let tg_dims = [("LoadBalancer", lb.as_str()), ("TargetGroup", tg.as_str())];
        // Gateway i serves i requests per second.
        data.push(datum("RequestCount", &lb_dims, minute, (i * 60) as f64));
        data.push(datum("HTTPCode_Target_5XX_Count", &lb_dims, minute, 0.0));
        data.push(datum("HTTPCode_ELB_5XX_Count", &lb_dims, minute, 0.0));
        data.push(datum("HealthyHostCount", &tg_dims, minute, 2.0));
        data.push(datum("UnHealthyHostCount", &tg_dims, minute, 0.0));
    }
    put(&regional, "AWS/ApplicationELB", data).await;

    let plain_calls = Arc::new(AtomicUsize::new(0));
    let percentile_calls = Arc::new(AtomicUsize::new(0));
    let list_calls = Arc::new(AtomicUsize::new(0));
    let largest = Arc::new(AtomicUsize::new(0));
    let counting = |client: Client| Counting {
        inner: SdkApi::new(client),
        plain_calls: plain_calls.clone(),
        percentile_calls: percentile_calls.clone(),
        list_calls: list_calls.clone(),
        largest: largest.clone(),
    };
    let mut options = CloudWatchOptions::new(Some(REGION.to_string()));
    options.container_insights = false;
    let mut handle = cloudwatch::start_with(
        counting(regional.clone()),
        counting(sdk_client(&moto.endpoint, "us-east-1")),
        &options,
        moto.endpoint.clone(),
    );
    let batch = decorated(
        &mut handle,
        || vec![Update::Gateways(gateways(&hosts))],
        |batch| {
            gateway_snapshot(batch)
                .is_some_and(|s| s.gateways.iter().all(|g| g.load_balancer.is_some()))
        },
    )
    .await;
    let snapshot = gateway_snapshot(&batch).unwrap_or_else(|| panic!("gateways"));
    for (i, gateway) in snapshot.gateways.iter().enumerate() {
        assert!(
            close(gateway.requests_per_sec, i as f64),
            "gateway {i}: {gateway:?}"
        );
        let figures = gateway.load_balancer.as_ref();
        assert!(
            close(figures.and_then(|f| f.healthy_hosts), 2.0),
            "{figures:?}"
        );
    }
    // 120 × (3 counts + 2 host counts) = 600 plain queries: 500 + 100. The billing call
    // (one query) is the third plain call; the p99 queries go apart.
    assert_eq!(plain_calls.load(Ordering::SeqCst), 3);
    assert_eq!(percentile_calls.load(Ordering::SeqCst), 1);
    assert_eq!(largest.load(Ordering::SeqCst), 500);
    // Discovery: RequestCount and HealthyHostCount listings per namespace, 240 metrics
    // each fitting one page.
    assert_eq!(list_calls.load(Ordering::SeqCst), 4);
    drop(handle);
    drop(moto);
}

fn mocked_options() -> CloudWatchOptions {
    let mut options = CloudWatchOptions::new(Some(REGION.to_string()));
    options.cluster_name = Some(CLUSTER.to_string());
    options
}

fn stat_of(input: &GetMetricDataInput) -> Vec<(String, String)> {
    input
        .metric_data_queries()
        .iter()
        .filter_map(|q| {
            let stat = q.metric_stat()?;
            Some((
                stat.metric()?.metric_name()?.to_string(),
                stat.stat()?.to_string(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn p99_response_time_comes_from_a_percentile_call_of_its_own() {
    let listed = mock!(Client::list_metrics).then_compute_output(|input| {
        let metrics = if input.namespace() == Some("AWS/ApplicationELB")
            && input.metric_name() == Some("RequestCount")
        {
            vec![
                Metric::builder()
                    .namespace("AWS/ApplicationELB")
                    .metric_name("RequestCount")
                    .dimensions(Dimension::builder().name("LoadBalancer").value(ALB).build())
                    .build(),
            ]
        } else {
            Vec::new()
        };
        ListMetricsOutput::builder()
            .set_metrics(Some(metrics))
            .build()
    });
    // Percentile queries must come alone: a mixed call would not match either rule.
    let percentile = mock!(Client::get_metric_data)
        .match_requests(|input| stat_of(input).iter().all(|(_, stat)| stat == "p99"))
        .then_compute_output(|input| answer(input, |_, _| Some(0.25)));
    let plain = mock!(Client::get_metric_data)
        .match_requests(|input| stat_of(input).iter().all(|(_, stat)| stat != "p99"))
        .then_compute_output(|input| {
            answer(input, |metric, _| match metric {
                "RequestCount" => Some(600.0),
                "EstimatedCharges" => Some(77.0),
                _ => None,
            })
        });
    let mocked = mock_client!(
        aws_sdk_cloudwatch,
        RuleMode::MatchAny,
        [&listed, &percentile, &plain]
    );
    let mut options = mocked_options();
    options.container_insights = false;
    let mut handle = cloudwatch::start_with(
        SdkApi::new(mocked.clone()),
        SdkApi::new(mocked),
        &options,
        "mock".into(),
    );
    let addresses = [ALB_HOST.to_string()];
    let batch = decorated(
        &mut handle,
        || vec![Update::Gateways(gateways(&addresses))],
        |batch| gateway_snapshot(batch).is_some_and(|s| s.gateways[0].load_balancer.is_some()),
    )
    .await;
    let figures = gateway_snapshot(&batch)
        .and_then(|s| s.gateways[0].load_balancer.clone())
        .unwrap_or_else(|| panic!("ALB figures"));
    assert!(close(figures.p99_response_ms, 250.0), "{figures:?}");
    assert!(close(figures.requests_per_sec, 10.0), "{figures:?}");
    assert!(close(figures.elb_5xx_per_sec, 0.0), "{figures:?}");
    assert!(percentile.num_calls() >= 1);
    assert!(
        billing(&batch).is_some_and(|b| (b.month_to_date_usd - 77.0).abs() < 1e-9),
        "{batch:#?}"
    );
    assert_eq!(
        handle.pane_states().get(&Pane::Gateways),
        Some(&SourceState::Ok)
    );
}

/// One point per query, at the last minute of the window, where `value` has one.
fn answer(
    input: &GetMetricDataInput,
    value: impl Fn(&str, &str) -> Option<f64>,
) -> GetMetricDataOutput {
    let end = input.end_time().map(|t| t.secs()).unwrap_or_default();
    let point = DateTime::from_secs(end - 60);
    let results = input
        .metric_data_queries()
        .iter()
        .map(|q| {
            let (metric, stat) = q
                .metric_stat()
                .map(|s| {
                    (
                        s.metric().and_then(|m| m.metric_name()).unwrap_or_default(),
                        s.stat().unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            let found = value(metric, stat);
            MetricDataResult::builder()
                .id(q.id().unwrap_or_default())
                .set_timestamps(found.map(|_| vec![point]))
                .set_values(found.map(|v| vec![v]))
                .status_code(StatusCode::Complete)
                .build()
        })
        .collect();
    GetMetricDataOutput::builder()
        .set_metric_data_results(Some(results))
        .build()
}

/// An error as CloudWatch's query protocol sends it.
fn error_body(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>6f1e2d3c</RequestId></ErrorResponse>"#
    )
}

#[tokio::test]
async fn access_denied_and_throttling_degrade_only_their_figures() {
    let denied_list = mock!(Client::list_metrics)
        .sequence()
        .http_status(
            403,
            Some(error_body(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: cloudwatch:ListMetrics",
            )),
        )
        .repeatedly()
        .build();
    let throttled_bill = mock!(Client::get_metric_data)
        .match_requests(|input| {
            stat_of(input)
                .iter()
                .any(|(metric, _)| metric == "EstimatedCharges")
        })
        .sequence()
        .http_status(400, Some(error_body("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let denied_data = mock!(Client::get_metric_data)
        .sequence()
        .http_status(
            403,
            Some(error_body(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: cloudwatch:GetMetricData",
            )),
        )
        .repeatedly()
        .build();
    let mocked = mock_client!(
        aws_sdk_cloudwatch,
        RuleMode::MatchAny,
        [&denied_list, &throttled_bill, &denied_data],
        |config| config.retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
    );
    let mut handle = cloudwatch::start_with(
        SdkApi::new(mocked.clone()),
        SdkApi::new(mocked),
        &mocked_options(),
        "mock".into(),
    );
    let addresses = [ALB_HOST.to_string()];
    let batch = decorated(
        &mut handle,
        || {
            vec![
                Update::Gateways(gateways(&addresses)),
                Update::Workloads(workloads(&["web"])),
            ]
        },
        |_| true,
    )
    .await;
    // The Kubernetes facts still go out, without CloudWatch figures.
    let snapshot = gateway_snapshot(&batch).unwrap_or_else(|| panic!("gateways"));
    assert_eq!(snapshot.gateways[0].address.as_deref(), Some(ALB_HOST));
    assert_eq!(snapshot.gateways[0].load_balancer, None);
    assert!(billing(&batch).is_none());

    let states: BTreeMap<Pane, SourceState> = handle.pane_states();
    let cause = |pane| match states.get(&pane) {
        Some(SourceState::Degraded { cause }) => cause.clone(),
        other => panic!("{pane:?} should be degraded: {other:?}"),
    };
    let gateways_cause = cause(Pane::Gateways);
    assert!(
        gateways_cause.starts_with("CloudWatch: no load balancer list: access denied: the IAM identity needs cloudwatch:ListMetrics"),
        "{gateways_cause}"
    );
    let usage_cause = cause(Pane::Rightsizing);
    assert!(
        usage_cause.starts_with("CloudWatch: no Container Insights usage: access denied: the IAM identity needs cloudwatch:GetMetricData"),
        "{usage_cause}"
    );
    assert!(usage_cause.contains("user/oncall"), "{usage_cause}");
    assert_eq!(
        cause(Pane::Spend),
        "CloudWatch: no billed month-to-date: throttled by CloudWatch (Rate exceeded); tried again at the next refresh"
    );
    assert_eq!(states.get(&Pane::Dns), None);
    let health = handle.health();
    assert!(health.queries_failed >= 3, "{health:?}");
    assert!(health.last_error.is_some());
}

/// The simulator's first updates of its calm scenario.
fn baseline() -> Vec<Update> {
    let scenario = kockpit::backend::sim::scenarios::load("baseline")
        .unwrap_or_else(|e| panic!("scenario: {e}"));
    kockpit::backend::sim::initial_updates(&scenario, 7, Duration::from_secs(600)).1
}

/// The pane text at 160×48 of a simulated cockpit given CloudWatch figures.
fn rendered(pane: Pane, updates: Vec<Update>) -> String {
    use kockpit::app::keymap::Keymap;
    use kockpit::app::state::State;
    use kockpit::app::update::footer_hints;
    use kockpit::domain::cockpit::AnalysisConfig;
    use kockpit::ui::theme::Theme;
    use kockpit::ui::{RenderInput, Screen, View, render};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    let initial = baseline();
    let mut state = State::new(AnalysisConfig::default(), Keymap::default(), 1.0);
    for update in initial.into_iter().chain(updates) {
        state.cockpit.apply(update);
    }
    state.view = View {
        screen: Screen::Pane(pane),
        ..View::default()
    };
    let keys = state.keymap.hints();
    let footer = footer_hints(&state);
    let theme = Theme::default();
    let mut terminal =
        Terminal::new(TestBackend::new(160, 48)).unwrap_or_else(|never| match never {});
    let input = RenderInput {
        cockpit: &state.cockpit,
        view: &state.view,
        theme: &theme,
        keys: &keys,
        footer: &footer,
        notices: &state.notices,
        fleet: None,
    };
    terminal
        .draw(|frame| render(frame, &input))
        .unwrap_or_else(|e| panic!("draw: {e}"));
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

#[test]
fn the_panes_say_which_figures_come_from_cloudwatch() {
    let initial = baseline();
    let mut snapshot = initial
        .iter()
        .rev()
        .find_map(|u| match u {
            Update::Gateways(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the simulator sends gateways"));
    snapshot.at += chrono::Duration::seconds(1);
    snapshot.gateways[0].load_balancer = Some(kockpit::domain::model::LoadBalancerMetrics {
        name: ALB.into(),
        kind: LoadBalancerKind::Application,
        source: "CloudWatch AWS/ApplicationELB".into(),
        minute: now(),
        requests_per_sec: Some(20.0),
        target_5xx_per_sec: Some(0.2),
        elb_5xx_per_sec: Some(0.1),
        p99_response_ms: Some(250.0),
        healthy_hosts: Some(3.0),
        unhealthy_hosts: Some(1.0),
        active_flows: None,
        processed_bytes_per_sec: None,
    });
    let gateways = rendered(Pane::Gateways, vec![Update::Gateways(snapshot)]);
    assert!(
        gateways.contains("load balancer (CloudWatch)"),
        "{gateways}"
    );
    assert!(gateways.contains("ALB · p99 250"), "{gateways}");
    assert!(gateways.contains("hosts 3 ok 1 bad"), "{gateways}");

    let bill = BilledSpend {
        at: now(),
        as_of: now(),
        month_to_date_usd: 1234.0,
        source: "CloudWatch AWS/Billing EstimatedCharges".into(),
    };
    let spend = rendered(Pane::Spend, vec![Update::Billing(bill)]);
    assert!(
        spend.contains("billed this month $1,234 (CloudWatch,"),
        "{spend}"
    );
    // Without CloudWatch, neither shows.
    let plain = rendered(Pane::Gateways, Vec::new());
    assert!(!plain.contains("CloudWatch"), "{plain}");
}
