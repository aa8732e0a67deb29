//! `--prometheus-sigv4`: queries to Amazon Managed Service for Prometheus signed with SigV4
//! from the default AWS credential chain, through the real query path, against a loopback
//! server that checks every signature the way AMP does and answers Prometheus JSON.

mod support;

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use kockpit::backend::aws::CredentialCache;
use kockpit::backend::live::prometheus::{
    self, Auth, PrometheusClient, PrometheusOptions, Querier, QueryError,
};
use support::aws::{
    ACCESS_KEY_ID, Answer, FakeAws, Handler, Recorded, SECRET_ACCESS_KEY, SESSION_TOKEN,
    assert_signed,
};

const REGION: &str = "eu-west-1";
const WORKSPACE: &str = "/workspaces/ws-0c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";

/// The default chain reads its credentials from the environment here: nothing else (no
/// profile files, no instance metadata) may answer instead. Set once, before any test reads.
fn aws_environment() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: every test calls this before anything reads the environment, and `Once`
        // makes the others wait until it is done.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
            std::env::set_var("AWS_SESSION_TOKEN", SESSION_TOKEN);
            std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/kockpit-test/config");
            std::env::set_var(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/kockpit-test/credentials",
            );
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::remove_var("AWS_PROFILE");
        }
    });
}

fn prometheus_answer(request: &Recorded) -> Answer {
    let json = "application/json";
    if !request.path.starts_with(WORKSPACE) {
        return (404, json, r#"{"message":"no such workspace"}"#.to_string());
    }
    let path = &request.path[WORKSPACE.len()..];
    match path {
        "/api/v1/label/__name__/values" => (
            200,
            json,
            r#"{"status":"success","data":["up","coredns_dns_requests_total"]}"#.to_string(),
        ),
        "/api/v1/query_range" => (
            200,
            json,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"coredns-a"},"values":[[1764061920,"10"],[1764061980,"12.5"]]}]}}"#
                .to_string(),
        ),
        "/api/v1/query" => {
            let query = request
                .form()
                .into_iter()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v)
                .unwrap_or_default();
            if query.contains("syntax error") {
                (
                    400,
                    json,
                    r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.to_string(),
                )
            } else {
                (
                    200,
                    json,
                    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"coredns-a"},"value":[1764061980,"42"]}]}}"#
                        .to_string(),
                )
            }
        }
        _ => (404, json, "{}".to_string()),
    }
}

fn options(server: &FakeAws, region: Option<&str>) -> PrometheusOptions {
    PrometheusOptions::new(
        format!("{}{WORKSPACE}", server.url()),
        Auth::SigV4 {
            region: region.map(str::to_string),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_is_signed_for_aps_with_the_default_chain() {
    aws_environment();
    let server = FakeAws::start(Arc::new(prometheus_answer) as Handler).await;
    let client = PrometheusClient::new(&options(&server, Some(REGION))).expect("client");

    let samples = client
        .instant("sum by (pod)(rate(coredns_dns_requests_total[5m]))")
        .await
        .expect("instant query")
        .value;
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].value, 42.0);
    assert_eq!(samples[0].labels["pod"], "coredns-a");

    let series = client
        .range("up", 1_764_061_920, 1_764_061_980, 60.0)
        .await
        .expect("range query")
        .value;
    assert_eq!(series.len(), 1);
    assert_eq!(
        series[0].1,
        vec![(1_764_061_920.0, 10.0), (1_764_061_980.0, 12.5)]
    );

    let names = client.metric_names().await.expect("names");
    assert!(names.contains("coredns_dns_requests_total"));

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_signed(request, "aps", REGION);
        let authorization = request.header("authorization");
        assert!(
            authorization.contains("SignedHeaders=")
                && authorization.contains("x-amz-security-token"),
            "{authorization}"
        );
        assert_eq!(request.header("x-amz-security-token"), SESSION_TOKEN);
    }
    // POST form queries: the body is signed too (the server recomputed it above).
    let instant = &requests[0];
    assert_eq!(instant.method, "POST");
    assert_eq!(instant.path, format!("{WORKSPACE}/api/v1/query"));
    assert_eq!(
        instant.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let form = instant.form();
    assert_eq!(
        form[0],
        (
            "query".to_string(),
            "sum by (pod)(rate(coredns_dns_requests_total[5m]))".to_string()
        )
    );
    assert_eq!(form[1], ("timeout".to_string(), "9000ms".to_string()));
    let range = requests[1].form();
    let keys: Vec<&str> = range.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["query", "start", "end", "step", "timeout"]);
    assert_eq!(requests[2].method, "GET");
    assert!(requests[2].body.is_empty());

    // Prometheus's own errors still read as such.
    let error = client.instant("syntax error(").await.unwrap_err();
    assert!(matches!(error, QueryError::Prometheus(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_signature_is_a_clear_error() {
    aws_environment();
    let server = FakeAws::start(Arc::new(prometheus_answer) as Handler).await;
    // Credentials the server does not know: AMP answers 403 with a JSON message.
    #[derive(Debug)]
    struct Wrong;
    impl aws_credential_types::provider::ProvideCredentials for Wrong {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(
                aws_credential_types::Credentials::new(ACCESS_KEY_ID, "wrong", None, None, "wrong"),
            ))
        }
    }
    let client = PrometheusClient::with_credentials(
        &options(&server, Some(REGION)),
        Arc::new(CredentialCache::new(Wrong)),
    )
    .expect("client");
    let error = client.instant("up").await.unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("HTTP 403 Forbidden: "), "{text}");
    assert!(
        text.contains("signature we calculated does not match"),
        "{text}"
    );
    assert!(!server.requests()[0].signature_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_collects_figures_over_signed_requests() {
    aws_environment();
    let server = FakeAws::start(Arc::new(prometheus_answer) as Handler).await;
    let mut options = options(&server, Some(REGION));
    options.schedule.refresh = Duration::from_millis(200);
    let handle = prometheus::start(&options).expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handle.ready() {
        assert!(
            Instant::now() < deadline,
            "no first round of signed queries: {:?}",
            handle.collected().failing
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        handle.collected().failing.is_empty(),
        "{:?}",
        handle.collected().failing
    );
    let requests = server.requests();
    assert!(requests.len() > 3);
    assert!(requests.iter().all(|r| r.signature_ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_region_anywhere_is_reported() {
    aws_environment();
    // Only meaningful where no region is configured at all.
    let region_set = std::env::var_os("AWS_REGION").is_some()
        || std::env::var_os("AWS_DEFAULT_REGION").is_some();
    if region_set {
        return;
    }
    let server = FakeAws::start(Arc::new(prometheus_answer) as Handler).await;
    let client = PrometheusClient::new(&options(&server, None)).expect("client");
    let error = client.instant("up").await.unwrap_err();
    assert!(error.to_string().contains("pass --region"), "{error}");
    assert!(server.requests().is_empty());
}
