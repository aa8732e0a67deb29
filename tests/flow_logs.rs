//! VPC Flow Logs through CloudWatch Logs Insights, end to end:
//! - against moto (the AWS emulator, which runs `fields`/`sort`/`limit` queries but not
//!   `stats`): the simulated cluster's flow-log records in a custom format (with
//!   `flow-direction`) are put into a log group, and the live backend reads them back as raw
//!   records, pages through a full answer by halving the window, joins the IPs to pods,
//!   Services and zones, and shows the East-West figures within 5 % of what was generated;
//!   then topology-aware routing applied from that finding is verified by the fall in the
//!   logged cross-zone bytes;
//! - against aws-smithy-mocks: the `stats sum(bytes)` query of default-format logs, its
//!   polling, the scanned bytes, and the AccessDenied message.
//!
//! The simulator's clock stands still while records are written, so the generated rates are
//! exact; every wait polls with a deadline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use kockpit::app::fixes::{self, FixJob, FixOutcome};
use kockpit::backend::live::cloudwatch::flowlogs::{self, FlowLogsOptions, SdkLogs};
use kockpit::backend::live::{LiveBackend, LiveOptions};
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::{Backend, BackendHandle};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::fix::{self, PlanContext, Verdict};
use kockpit::domain::flow_logs::LogFormat;
use kockpit::domain::model::{FlowSnapshot, FlowSourceKind, Update};
use kockpit::domain::prices::PriceTable;
use kockpit::domain::scenario::FlowShape;
use kockpit::domain::traffic::Peer;
use kockpit::domain::{Cockpit, FixKind};
use tokio::sync::mpsc;

mod support;

const GROUP: &str = "/aws/vpc/flow-logs";
const STREAM: &str = "eni-all";
/// A custom format, as many VPCs configure to get the direction and the zone of each record.
const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${flow-direction} ${az-id}";
const DEADLINE: Duration = Duration::from_secs(120);
const TOLERANCE: f64 = 0.05;

fn credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "kockpit-tests")
}

fn logs_client(endpoint: &str) -> Client {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build();
    Client::from_conf(config)
}

async fn serve() -> (Server, PathBuf) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut scenario = scenarios::load("cross-zone").unwrap_or_else(|e| panic!("{e}"));
    // No flow metrics: the flow logs are the only source.
    scenario.observability.flow_metrics = FlowShape::None;
    let mut options = ServeOptions::new(scenario);
    options.speed = 0.0;
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let kubeconfig = support::servers::temp_dir("flow-logs").join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    (server, kubeconfig)
}

/// The simulator's flow-log records of the last `seconds` simulated seconds.
async fn records(server: &Server, seconds: u32) -> Vec<String> {
    let format: String = url_escape(FORMAT);
    let url = format!(
        "http://{}/_kockpit/flow-logs?seconds={seconds}&format={format}",
        server.addr
    );
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("flow-logs: {e}"));
    assert!(response.status().is_success(), "{}", response.status());
    let text = response.text().await.unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Puts records into the log stream, stamped `at` (milliseconds), in batches.
async fn put(client: &Client, lines: &[String], at_ms: i64) {
    for chunk in lines.chunks(5_000) {
        let events: Vec<InputLogEvent> = chunk
            .iter()
            .map(|line| {
                InputLogEvent::builder()
                    .timestamp(at_ms)
                    .message(line)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        client
            .put_log_events()
            .log_group_name(GROUP)
            .log_stream_name(STREAM)
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutLogEvents: {e:?}"));
    }
}

async fn create_group(client: &Client) {
    client
        .create_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLogGroup: {e:?}"));
    client
        .create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name(STREAM)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLogStream: {e:?}"));
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn flow_logs_options(endpoint: &str, window: Duration, every: Duration) -> FlowLogsOptions {
    let mut options = FlowLogsOptions::new(GROUP);
    options.format = LogFormat::parse(FORMAT).unwrap_or_else(|e| panic!("{e}"));
    options.window = window;
    options.every = every;
    options.lag = Duration::ZERO;
    options.region = Some("us-east-1".into());
    options.endpoint_url = Some(endpoint.into());
    options.credentials = Some(credentials());
    options
}

struct Live {
    handle: BackendHandle,
    updates: mpsc::Receiver<Update>,
    cockpit: Cockpit,
}

impl Live {
    fn start(kubeconfig: &std::path::Path, flow_logs: FlowLogsOptions) -> Live {
        let (sender, updates) = mpsc::channel(4096);
        let options = LiveOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            flow_logs: Some(flow_logs),
            ..LiveOptions::default()
        };
        Live {
            handle: Box::new(LiveBackend::new(options)).start(sender),
            updates,
            cockpit: Cockpit::new(AnalysisConfig {
                prices: PriceTable::builtin(),
                ..AnalysisConfig::default()
            }),
        }
    }

    async fn until<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&Cockpit) -> Option<T>,
        mut meanwhile: impl AsyncFnMut(),
    ) -> T {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(value) = check(&self.cockpit) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; flows {:?}; health {:?}",
                self.cockpit.flows.as_ref().map(|f| (&f.source, &f.edges)),
                self.cockpit.health.get("flow-logs")
            );
            if let Ok(Some(update)) =
                tokio::time::timeout(Duration::from_millis(500), self.updates.recv()).await
            {
                self.cockpit.apply(update);
            }
            meanwhile().await;
        }
    }
}

async fn generated(server: &Server) -> FlowSnapshot {
    server
        .updates()
        .await
        .into_iter()
        .find_map(|u| match u {
            Update::Flows(flows) => Some(flows),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no flows from the simulator"))
}

fn close(read: f64, generated: f64) -> bool {
    generated > 0.0 && ((read - generated) / generated).abs() <= TOLERANCE
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_logs_in_moto_read_as_generated_and_verify_topology_aware_routing() {
    let moto = support::moto::start("flow-logs");
    let client = logs_client(&moto.endpoint);
    create_group(&client).await;
    let (server, kubeconfig) = serve().await;

    // Ten minutes of records, a minute's worth stamped each minute: more records than one
    // answer holds, so the window is asked again in halves.
    let minute = records(&server, 60).await;
    assert!(minute.len() > 1_000, "{} records a minute", minute.len());
    let start = now_ms() - 590_000;
    for i in 0..10 {
        put(&client, &minute, start + i * 60_000).await;
    }
    let mut live = Live::start(
        &kubeconfig,
        flow_logs_options(
            &moto.endpoint,
            Duration::from_secs(600),
            Duration::from_secs(300),
        ),
    );
    let read = live
        .until(
            "flows from the flow logs",
            |c| c.flows.as_ref().filter(|f| f.source.is_some()).cloned(),
            async || {},
        )
        .await;
    let model = generated(&server).await;
    let source = read.source.as_ref().unwrap_or_else(|| panic!("no source"));
    assert_eq!(source.kind, FlowSourceKind::FlowLogs);
    let total = read.total_bytes_per_sec().unwrap_or_default();
    assert!(
        close(total, model.total_per_sec()),
        "total {total:.0} B/s read, {:.0} B/s generated",
        model.total_per_sec()
    );
    assert!(
        close(read.cross_zone_ratio(), model.cross_zone_ratio()),
        "share {:.3} read, {:.3} generated",
        read.cross_zone_ratio(),
        model.cross_zone_ratio()
    );
    for edge in model.edges.iter().filter(|e| e.per_sec > 500_000.0) {
        let found = read
            .edges
            .iter()
            .find(|r| r.source() == edge.source() && r.destination() == edge.destination())
            .unwrap_or_else(|| panic!("{edge:?} not read: {:?}", read.edges));
        assert!(close(found.per_sec, edge.per_sec), "{found:?} vs {edge:?}");
        assert!(
            close(found.cross_zone_per_sec, edge.cross_zone_per_sec),
            "{found:?} vs {edge:?}"
        );
    }
    let scanned = live
        .until(
            "the flow-log source's health",
            |c| c.health.get("flow-logs").and_then(|h| h.detail.clone()),
            async || {},
        )
        .await;
    assert!(scanned.contains("last query scanned"), "{scanned}");
    live.handle.shutdown();

    // Topology-aware routing from the finding, verified by the logged bytes falling. The
    // window is short now, and records keep coming, a second's worth for every second.
    let mut live = Live::start(
        &kubeconfig,
        flow_logs_options(
            &moto.endpoint,
            Duration::from_secs(20),
            Duration::from_secs(2),
        ),
    );
    // Every second of wall time gets a second's worth of records, from the window's start
    // on, so the rates read do not depend on how often this loop comes round.
    let pumped_to = std::cell::Cell::new(now_ms() - 20_000);
    let pump = async || {
        let now = now_ms();
        if now - pumped_to.get() < 1_000 {
            return;
        }
        let lines = records(&server, 1).await;
        while pumped_to.get() + 1_000 <= now {
            pumped_to.set(pumped_to.get() + 1_000);
            put(&client, &lines, pumped_to.get()).await;
        }
    };
    let finding = live
        .until(
            "a topology-aware-routing finding from flow logs",
            |c| {
                c.flows.as_ref().filter(|f| f.source.is_some())?;
                c.findings()
                    .iter()
                    .find(|f| f.fix == Some(FixKind::FlowsTopologyAwareRouting))
                    .cloned()
            },
            pump,
        )
        .await;
    let writer = live
        .handle
        .writer
        .clone()
        .unwrap_or_else(|| panic!("writer"));
    let context = PlanContext::from_cockpit(&live.cockpit, &finding);
    assert!(
        context
            .service_cross_zone
            .as_ref()
            .is_some_and(|c| c.measured),
        "{:?}",
        context.service_cross_zone
    );
    let prepared = fixes::prepare(&writer, &finding, &context, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let verification = prepared.plan.verify.clone();
    let applied_at = live.cockpit.now.unwrap_or_else(|| panic!("no clock"));
    let outcome = fixes::run(
        &writer,
        FixJob::Apply {
            prepared: Box::new(prepared),
            finding: Box::new(finding),
            context: Box::new(context),
        },
        Some(&test_audit_log()),
    )
    .await;
    assert!(matches!(outcome, FixOutcome::Applied { .. }), "{outcome:?}");
    // The simulator takes the new routing in (hints on its EndpointSlices, traffic shifts).
    server.step(6).await;
    live.until(
        "the fix verified by the logged cross-zone bytes",
        |c| match fix::evaluate(&verification.condition, c, applied_at) {
            Verdict::Succeeded { after } => Some(after),
            Verdict::Failed { why } => panic!("{why}"),
            Verdict::Pending => None,
        },
        pump,
    )
    .await;
    live.handle.shutdown();
    server.stop().await;
}

/// Default-format logs are summed by Logs Insights: the stats query, polled until complete.
#[tokio::test]
async fn stats_answers_are_polled_counted_once_and_priced() {
    let started = mock!(Client::start_query)
        .match_requests(|input| {
            input.query_string().is_some_and(|q| {
                q.contains("stats sum(bytes) as bytes") && q.contains("by srcAddr, dstAddr")
            }) && input.limit() == Some(10_000)
        })
        .then_output(|| {
            aws_sdk_cloudwatchlogs::operation::start_query::StartQueryOutput::builder()
                .query_id("q-1")
                .build()
        });
    let row = |src: &str, dst: &str, eni: &str, bytes: &str| {
        vec![
            field("srcAddr", src),
            field("dstAddr", dst),
            field("interfaceId", eni),
            field("action", "ACCEPT"),
            field("bytes", bytes),
            field("packets", "10"),
        ]
    };
    use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_cloudwatchlogs::types::{QueryStatistics, QueryStatus};
    let results = mock!(Client::get_query_results)
        .sequence()
        .output(|| {
            GetQueryResultsOutput::builder()
                .status(QueryStatus::Running)
                .build()
        })
        .times(2)
        .output(move || {
            GetQueryResultsOutput::builder()
                .status(QueryStatus::Complete)
                .results(row("10.1.0.5", "10.2.0.9", "eni-a", "60000"))
                .results(row("10.1.0.5", "10.2.0.9", "eni-b", "60000"))
                .results(row("10.2.0.9", "10.1.0.5", "eni-b", "120000"))
                .statistics(QueryStatistics::builder().bytes_scanned(2.5e9).build())
                .build()
        })
        .build();
    let mocked = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::Sequential,
        [&started, &results]
    );
    let options = FlowLogsOptions::new(GROUP);
    let (observations, scanned) = flowlogs::observe(&SdkLogs::new(mocked), &options, 0, 600)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rates: BTreeMap<String, f64> = observations
        .iter()
        .map(|o| {
            let ip = |p: &Peer| match p {
                Peer::Ip(ip) => ip.to_string(),
                other => format!("{other:?}"),
            };
            (format!("{}>{}", ip(&o.from), ip(&o.to)), o.per_sec)
        })
        .collect();
    // Logged by both interfaces, counted once: 60,000 bytes over 600 s.
    assert_eq!(rates.get("10.1.0.5>10.2.0.9"), Some(&100.0), "{rates:?}");
    assert_eq!(rates.get("10.2.0.9>10.1.0.5"), Some(&200.0), "{rates:?}");
    assert_eq!(scanned, 2.5e9);
    assert_eq!(started.num_calls(), 1);
    assert_eq!(results.num_calls(), 3, "polled until complete");
    assert!(
        kockpit::domain::flow_logs::scanned_text(scanned).contains("2.5 GB"),
        "{}",
        kockpit::domain::flow_logs::scanned_text(scanned)
    );
}

fn field(name: &str, value: &str) -> aws_sdk_cloudwatchlogs::types::ResultField {
    aws_sdk_cloudwatchlogs::types::ResultField::builder()
        .field(name)
        .value(value)
        .build()
}

#[tokio::test]
async fn a_refused_query_names_the_permission() {
    let denied = mock!(Client::start_query)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: logs:StartQuery"}"#
                    .to_string(),
            ),
        )
        .repeatedly()
        .build();
    let mocked = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::Sequential,
        [&denied],
        |config| config
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
    );
    let error = flowlogs::observe(&SdkLogs::new(mocked), &FlowLogsOptions::new(GROUP), 0, 600)
        .await
        .err()
        .unwrap_or_else(|| panic!("the query was refused"));
    assert!(error.to_string().contains("logs:StartQuery"), "{error}");
}

/// Where the fixes applied by this test are audited.
fn test_audit_log() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kockpit-test-audit-{}.jsonl", std::process::id()))
}
