//! Talking to CloudWatch: the SDK clients built from the default AWS configuration chain
//! (environment, shared and SSO profiles, IMDS instance roles; `AWS_ENDPOINT_URL` honoured
//! by aws-config itself), every call bounded by a timeout, and SDK errors turned into the
//! few causes an on-call engineer can act on.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::config::{Credentials, Region};
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, ScanBy,
};

use super::CloudWatchOptions;
use super::queries::{
    Batch, DataPage, ListPage, ListRequest, ListedMetric, MetricQuery, Pages, Series, SeriesPage,
    Window,
};
use crate::domain::time::Timestamp;

/// A paginated answer longer than this is cut off: a cockpit must not loop on a token.
const MAX_PAGES: usize = crate::domain::limits::CLOUDWATCH_PAGES.max as usize;

/// Why a call gave no answer, in terms of what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudWatchError {
    #[error("no AWS region: pass --region, or set AWS_REGION or a region in the AWS profile")]
    NoRegion,
    #[error(
        "no AWS credentials: set AWS_PROFILE (after `aws sso login` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance role ({0})"
    )]
    NoCredentials(String),
    #[error("AWS rejected the credentials ({code}): {message}")]
    BadCredentials { code: String, message: String },
    #[error("access denied: the IAM identity needs {action} ({message})")]
    AccessDenied { action: String, message: String },
    #[error("throttled by CloudWatch ({0}); tried again at the next refresh")]
    Throttled(String),
    #[error("cannot reach CloudWatch: {0}")]
    Unreachable(String),
    #[error("no answer from CloudWatch within {0:?}")]
    Timeout(Duration),
    #[error("CloudWatch error {code}: {message}")]
    Service { code: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// One line, without anything a terminal would act on.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut words = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() > 300 {
        words = words.chars().take(300).collect::<String>() + "…";
    }
    words
}

/// The innermost causes of an error (the outer layers only say "dispatch failure").
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    let start = parts.len().saturating_sub(2);
    one_line(&parts[start..].join(": "))
}

/// An error body CloudWatch's protocol could not parse (a proxy's or emulator's HTML page),
/// as short readable text.
pub(crate) fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(2000)]);
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = one_line(&plain);
    match plain.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &plain[..cut]),
        None => plain,
    }
}

/// What an error response's code means. `operation` is the API action (`GetMetricData`),
/// named in the IAM permission an AccessDenied asks for.
pub fn from_code(
    operation: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> CloudWatchError {
    let message = one_line(message.unwrap_or_default());
    match (code, status) {
        (
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "NotAuthorized"
                | "UnauthorizedAccess",
            ),
            _,
        )
        | (None, Some(403)) => CloudWatchError::AccessDenied {
            // CloudWatch's own actions come bare; other services' with their prefix.
            action: if operation.contains(':') {
                operation.to_string()
            } else {
                format!("cloudwatch:{operation}")
            },
            message,
        },
        (
            Some(
                "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "SlowDown",
            ),
            _,
        )
        | (None, Some(429)) => CloudWatchError::Throttled(if message.is_empty() {
            "rate exceeded".to_string()
        } else {
            message
        }),
        (
            Some(
                code @ ("InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "InvalidAccessKeyId"
                | "MissingAuthenticationToken"),
            ),
            _,
        ) => CloudWatchError::BadCredentials {
            code: code.to_string(),
            message,
        },
        (Some(code), _) => CloudWatchError::Service {
            code: code.to_string(),
            message,
        },
        (None, Some(status)) => CloudWatchError::Service {
            code: format!("HTTP {status}"),
            message,
        },
        (None, None) => CloudWatchError::Other(message),
    }
}

/// Turns an SDK error into its cause.
pub fn classify<E>(operation: &str, error: &SdkError<E>) -> CloudWatchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = root_cause(error);
    match error {
        SdkError::TimeoutError(_) => CloudWatchError::Unreachable(format!("timed out: {text}")),
        SdkError::DispatchFailure(failure) => {
            let all = DisplayErrorContext(error).to_string().to_ascii_lowercase();
            if all.contains("credential") || all.contains("identity") {
                CloudWatchError::NoCredentials(text)
            } else if failure.is_timeout() {
                CloudWatchError::Unreachable(format!("timed out: {text}"))
            } else {
                CloudWatchError::Unreachable(text)
            }
        }
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            let code = error.code();
            let message = error.message().map(str::to_string).or_else(|| {
                // Without a parsed message, the start of the body says more than nothing.
                error
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .map(body_text)
            });
            from_code(operation, code, message.as_deref(), status)
        }
        _ => CloudWatchError::Other(one_line(&DisplayErrorContext(error).to_string())),
    }
}

/// What the scheduler needs from CloudWatch; tests wrap or replace it.
pub trait CloudWatchApi: Send + Sync + 'static {
    fn list_metrics(
        &self,
        request: &ListRequest,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<ListPage, CloudWatchError>> + Send;

    fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        window: &Window,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<DataPage, CloudWatchError>> + Send;
}

impl<A: CloudWatchApi> CloudWatchApi for std::sync::Arc<A> {
    fn list_metrics(
        &self,
        request: &ListRequest,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<ListPage, CloudWatchError>> + Send {
        A::list_metrics(self, request, next_token)
    }

    fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        window: &Window,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<DataPage, CloudWatchError>> + Send {
        A::get_metric_data(self, queries, window, next_token)
    }
}

/// Every page of one GetMetricData call's answer, each page within `timeout`.
pub async fn fetch<A: CloudWatchApi, K: Clone + Ord>(
    api: &A,
    batch: &Batch<K>,
    window: &Window,
    timeout: Duration,
) -> Result<BTreeMap<K, Series>, CloudWatchError> {
    let mut pages = Pages::default();
    let mut token = None;
    loop {
        let page = tokio::time::timeout(
            timeout,
            api.get_metric_data(&batch.queries, window, token.take()),
        )
        .await
        .map_err(|_| CloudWatchError::Timeout(timeout))??;
        token = pages.add(page);
        if token.is_none() || pages.pages() >= MAX_PAGES {
            break;
        }
    }
    Ok(pages.finish(batch))
}

/// Every metric ListMetrics has for `request`, each page within `timeout`.
pub async fn list_all<A: CloudWatchApi>(
    api: &A,
    request: &ListRequest,
    timeout: Duration,
) -> Result<Vec<ListedMetric>, CloudWatchError> {
    let mut metrics = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = tokio::time::timeout(timeout, api.list_metrics(request, token.take()))
            .await
            .map_err(|_| CloudWatchError::Timeout(timeout))??;
        metrics.extend(page.metrics);
        token = page.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(metrics)
}

fn smithy_time(at: Timestamp) -> DateTime {
    DateTime::from_secs(at.timestamp())
}

fn chrono_time(at: &DateTime) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

/// The AWS SDK client.
#[derive(Debug, Clone)]
pub struct SdkApi {
    client: aws_sdk_cloudwatch::Client,
}

impl SdkApi {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        SdkApi { client }
    }
}

fn sdk_query(query: &MetricQuery) -> MetricDataQuery {
    let spec = &query.spec;
    let metric = Metric::builder()
        .namespace(&spec.namespace)
        .metric_name(&spec.metric_name)
        .set_dimensions(Some(
            spec.dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .build();
    MetricDataQuery::builder()
        .id(&query.id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(spec.period_s)
                .stat(&spec.stat.0)
                .build(),
        )
        .return_data(true)
        .build()
}

impl CloudWatchApi for SdkApi {
    async fn list_metrics(
        &self,
        request: &ListRequest,
        next_token: Option<String>,
    ) -> Result<ListPage, CloudWatchError> {
        let mut call = self
            .client
            .list_metrics()
            .namespace(&request.namespace)
            .set_metric_name(request.metric_name.clone())
            .set_next_token(next_token);
        if let Some(dimension) = &request.dimension_name {
            call = call.dimensions(DimensionFilter::builder().name(dimension).build());
        }
        let output = call.send().await.map_err(|e| classify("ListMetrics", &e))?;
        let metrics = output
            .metrics()
            .iter()
            .map(|m| ListedMetric {
                namespace: m.namespace().unwrap_or_default().to_string(),
                metric_name: m.metric_name().unwrap_or_default().to_string(),
                dimensions: m
                    .dimensions()
                    .iter()
                    .map(|d| {
                        (
                            d.name().unwrap_or_default().to_string(),
                            d.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Ok(ListPage {
            metrics,
            next_token: output.next_token().map(str::to_string),
        })
    }

    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        window: &Window,
        next_token: Option<String>,
    ) -> Result<DataPage, CloudWatchError> {
        let output = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.iter().map(sdk_query).collect()))
            .start_time(smithy_time(window.start))
            .end_time(smithy_time(window.end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| classify("GetMetricData", &e))?;
        let series = output
            .metric_data_results()
            .iter()
            .map(|result| {
                let (timestamps, values): (Vec<Timestamp>, Vec<f64>) = result
                    .timestamps()
                    .iter()
                    .zip(result.values())
                    .filter_map(|(t, v)| chrono_time(t).map(|t| (t, *v)))
                    .unzip();
                SeriesPage {
                    id: result.id().unwrap_or_default().to_string(),
                    timestamps,
                    values,
                    status: result
                        .status_code()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Ok(DataPage {
            series,
            next_token: output.next_token().map(str::to_string),
        })
    }
}

/// The clients of one run: the cluster's region, and us-east-1 for billing.
#[derive(Debug, Clone)]
pub struct Clients {
    pub regional: SdkApi,
    pub billing: SdkApi,
    pub region: String,
    /// Where the calls go, for the source-health view.
    pub endpoint: String,
}

/// Loads the AWS configuration (default chain) and builds the clients. The region is
/// `--region`, else the chain's, else the cluster's (from its EKS ARN or endpoint).
pub async fn build(options: &CloudWatchOptions) -> Result<Clients, CloudWatchError> {
    let timeouts = aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder()
        .connect_timeout(options.call_timeout.min(Duration::from_secs(5)))
        .operation_attempt_timeout(options.call_timeout)
        .operation_timeout(options.call_timeout)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(
            aws_sdk_cloudwatch::config::retry::RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1)),
        );
    if let Some(region) = options.region.clone().filter(|r| !r.is_empty()) {
        loader = loader.region(Region::new(region));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(credentials) = &options.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .or_else(|| options.cluster_region.clone())
        .filter(|r| !r.is_empty())
        .ok_or(CloudWatchError::NoRegion)?;
    let endpoint = config
        .endpoint_url()
        .map(str::to_string)
        .unwrap_or_else(|| format!("monitoring.{region}.amazonaws.com"));
    let regional = aws_sdk_cloudwatch::config::Builder::from(&config)
        .region(Region::new(region.clone()))
        .build();
    let billing = aws_sdk_cloudwatch::config::Builder::from(&config)
        .region(Region::new(super::billing::REGION))
        .build();
    Ok(Clients {
        regional: SdkApi::new(aws_sdk_cloudwatch::Client::from_conf(regional)),
        billing: SdkApi::new(aws_sdk_cloudwatch::Client::from_conf(billing)),
        region,
        endpoint,
    })
}

/// Fixed credentials, for tools and tests that must not read the environment's.
pub fn static_credentials(access_key: &str, secret_key: &str) -> Credentials {
    Credentials::new(access_key, secret_key, None, None, "kockpit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_become_causes_to_act_on() {
        assert_eq!(
            from_code(
                "GetMetricData",
                Some("AccessDenied"),
                Some("User: arn:aws:iam::1:user/x is not authorized"),
                Some(403)
            ),
            CloudWatchError::AccessDenied {
                action: "cloudwatch:GetMetricData".into(),
                message: "User: arn:aws:iam::1:user/x is not authorized".into()
            }
        );
        assert!(matches!(
            from_code("ListMetrics", None, None, Some(403)),
            CloudWatchError::AccessDenied { action, .. } if action == "cloudwatch:ListMetrics"
        ));
        assert_eq!(
            from_code(
                "GetMetricData",
                Some("Throttling"),
                Some("Rate exceeded"),
                Some(400)
            ),
            CloudWatchError::Throttled("Rate exceeded".into())
        );
        assert!(matches!(
            from_code("GetMetricData", None, None, Some(429)),
            CloudWatchError::Throttled(_)
        ));
        assert!(matches!(
            from_code("GetMetricData", Some("ExpiredToken"), None, Some(403)),
            CloudWatchError::BadCredentials { .. }
        ));
        assert_eq!(
            from_code("GetMetricData", None, Some("<html>\n500</html>"), Some(500)).to_string(),
            "CloudWatch error HTTP 500: <html> 500</html>"
        );
        let text = CloudWatchError::AccessDenied {
            action: "cloudwatch:GetMetricData".into(),
            message: "no".into(),
        }
        .to_string();
        assert!(text.contains("cloudwatch:GetMetricData"), "{text}");
    }

    #[test]
    fn an_html_error_page_becomes_short_text() {
        let page = b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>";
        assert_eq!(
            body_text(page),
            "500 Internal Server Error Internal Server Error"
        );
        assert_eq!(body_text("x".repeat(300).as_bytes()).chars().count(), 121);
    }

    #[test]
    fn messages_are_one_bounded_line() {
        assert_eq!(one_line("a\n\u{1b}[31mb\tc"), "a [31mb c");
        assert_eq!(one_line(&"x".repeat(400)).chars().count(), 301);
    }

    #[tokio::test]
    async fn missing_credentials_and_an_unreachable_endpoint_are_told_apart() {
        // Nothing listens on port 9; the client has no credential provider at all.
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let anonymous = SdkApi::new(aws_sdk_cloudwatch::Client::from_conf(config));
        let request = ListRequest {
            namespace: "AWS/ApplicationELB".into(),
            metric_name: None,
            dimension_name: None,
        };
        let error = anonymous.list_metrics(&request, None).await.err();
        assert!(
            matches!(error, Some(CloudWatchError::NoCredentials(_))),
            "{error:?}"
        );

        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(static_credentials("AKIDEXAMPLE", "secret"))
            .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
            .build();
        let unreachable = SdkApi::new(aws_sdk_cloudwatch::Client::from_conf(config));
        let error = unreachable.list_metrics(&request, None).await.err();
        assert!(
            matches!(&error, Some(CloudWatchError::Unreachable(_))),
            "{error:?}"
        );
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.starts_with("cannot reach CloudWatch"), "{text}");
        assert!(text.contains("Connection refused"), "{text}");
        assert!(!text.contains("DispatchFailure {"), "{text}");
    }
}
