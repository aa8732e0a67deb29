//! Talking to Prometheus (or Amazon Managed Service for Prometheus): the HTTP client with
//! its credentials, and each query bounded by a timeout. Answers become domain samples.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prometheus_http_query::Client;
use prometheus_http_query::response::Data;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{Auth, PrometheusOptions};
use crate::domain::promql::Sample;

/// Why a query gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Http(String),
    #[error("Prometheus refused the query: {0}")]
    Prometheus(String),
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the Prometheus URL `{url}` is not usable: {reason}")]
    Url { url: String, reason: String },
    #[error("the Prometheus credentials cannot be sent as a header")]
    Header,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// One series of a range query: its labels and (unix seconds, value) points.
pub type RangeSeries = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// What the scheduler needs from a Prometheus; a fake stands in for it in tests.
pub trait Querier: Send + Sync + 'static {
    /// The metric names Prometheus holds, for choosing between name variants.
    fn metric_names(&self) -> impl Future<Output = Result<BTreeSet<String>, QueryError>> + Send;
    fn instant(&self, promql: &str)
    -> impl Future<Output = Result<Vec<Sample>, QueryError>> + Send;
    fn range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_s: f64,
    ) -> impl Future<Output = Result<Vec<RangeSeries>, QueryError>> + Send;
}

/// The real client.
pub struct PrometheusClient {
    client: Client,
    timeout: Duration,
}

fn headers(auth: &Auth) -> Result<HeaderMap, ClientError> {
    let mut headers = HeaderMap::new();
    let value = match auth {
        Auth::None => return Ok(headers),
        Auth::Bearer(token) => format!("Bearer {token}"),
        Auth::Basic { username, password } => {
            use base64::Engine as _;
            let pair = format!("{username}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| ClientError::Header)?;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

impl PrometheusClient {
    pub fn new(options: &PrometheusOptions) -> Result<Self, ClientError> {
        // reqwest's rustls verifies against the platform's roots; a whole-request timeout backs
        // up the per-query one so a stalled connection cannot hold a slot for ever.
        let http = reqwest::Client::builder()
            .default_headers(headers(&options.auth)?)
            .connect_timeout(options.query_timeout)
            .timeout(options.query_timeout + Duration::from_secs(1))
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let client = Client::from(http, &options.url).map_err(|e| ClientError::Url {
            url: options.url.clone(),
            reason: e.to_string(),
        })?;
        Ok(PrometheusClient {
            client,
            timeout: options.query_timeout,
        })
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, prometheus_http_query::Error>>,
    ) -> Result<T, QueryError> {
        match tokio::time::timeout(self.timeout, work).await {
            Err(_) => Err(QueryError::Timeout(self.timeout)),
            Ok(Err(prometheus_http_query::Error::Prometheus(e))) => {
                Err(QueryError::Prometheus(e.to_string()))
            }
            Ok(Err(e)) => Err(QueryError::Http(describe(&e))),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// The server's own timeout, a little under ours, so it gives up on a heavy query too.
    fn server_timeout_ms(&self) -> i64 {
        (self.timeout.as_millis() as i64 * 9 / 10).max(100)
    }
}

/// The error with its causes, which is where reqwest says "connection refused".
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn labels(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Querier for PrometheusClient {
    async fn metric_names(&self) -> Result<BTreeSet<String>, QueryError> {
        let names = self
            .bounded(self.client.label_values("__name__").get())
            .await?;
        Ok(names.into_iter().collect())
    }

    async fn instant(&self, promql: &str) -> Result<Vec<Sample>, QueryError> {
        let result = self
            .bounded(
                self.client
                    .query(promql)
                    .timeout(self.server_timeout_ms())
                    .post(),
            )
            .await?;
        match result.data() {
            Data::Vector(vector) => Ok(vector
                .iter()
                .map(|v| Sample {
                    labels: labels(v.metric()),
                    value: v.sample().value(),
                })
                .collect()),
            Data::Scalar(sample) => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value: sample.value(),
            }]),
            Data::Matrix(_) => Err(QueryError::Unexpected(
                "a range vector for an instant query".to_string(),
            )),
        }
    }

    async fn range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_s: f64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let result = self
            .bounded(
                self.client
                    .query_range(promql, start, end, step_s)
                    .timeout(self.server_timeout_ms())
                    .post(),
            )
            .await?;
        match result.data() {
            Data::Matrix(matrix) => Ok(matrix
                .iter()
                .map(|series| {
                    (
                        labels(series.metric()),
                        series
                            .samples()
                            .iter()
                            .map(|s| (s.timestamp(), s.value()))
                            .collect(),
                    )
                })
                .collect()),
            _ => Err(QueryError::Unexpected(
                "no range vector for a range query".to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_become_one_sensitive_header() {
        let bearer = headers(&Auth::Bearer("abc".to_string())).expect("header");
        let value = bearer.get(AUTHORIZATION).expect("authorization");
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().expect("ascii"), "Bearer abc");
        let basic = headers(&Auth::Basic {
            username: "u".to_string(),
            password: "p".to_string(),
        })
        .expect("header");
        assert_eq!(
            basic.get(AUTHORIZATION).and_then(|v| v.to_str().ok()),
            Some("Basic dTpw")
        );
        assert!(headers(&Auth::None).expect("none").is_empty());
    }
}
