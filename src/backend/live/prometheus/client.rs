//! Talking to Prometheus (or Amazon Managed Service for Prometheus): the HTTP client with
//! its credentials, and each query bounded by a timeout and by the size of its answer
//! (`answer`). Answers become domain samples.
//!
//! Requests are the Prometheus HTTP API's own (`/api/v1/query` and `query_range` as form
//! POSTs, label values as GET), sent with reqwest; with `Auth::SigV4` each is signed first.
//! The answer is read a chunk at a time up to its byte limit, never whole into memory first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};

use super::answer::{self, AnswerError, AnswerLimits, Bounded, Data};
use super::{Auth, PrometheusOptions};
use crate::backend::aws::{self, CredentialCache, Signer};
use crate::domain::promql::Sample;

pub use super::answer::RangeSeries;

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

/// What the scheduler needs from a Prometheus; a fake stands in for it in tests. Answers
/// larger than the limits come back cut, saying so in `Bounded::truncated`.
pub trait Querier: Send + Sync + 'static {
    /// The metric names Prometheus holds, for choosing between name variants.
    fn metric_names(&self) -> impl Future<Output = Result<BTreeSet<String>, QueryError>> + Send;
    fn instant(
        &self,
        promql: &str,
    ) -> impl Future<Output = Result<Bounded<Vec<Sample>>, QueryError>> + Send;
    fn range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_s: f64,
    ) -> impl Future<Output = Result<Bounded<Vec<RangeSeries>>, QueryError>> + Send;
}

/// The real client.
pub struct PrometheusClient {
    http: reqwest::Client,
    base: reqwest::Url,
    /// SigV4 (`Auth::SigV4`); plain requests carry their credentials as default headers.
    signing: Option<Signing>,
    timeout: Duration,
    limits: AnswerLimits,
}

/// Requests signed with SigV4 (service `aps`) for Amazon Managed Service for Prometheus.
struct Signing {
    /// `--region`, else the region in the workspace URL; the default chain's when `None`.
    region: Option<String>,
    /// Credentials given by the caller; the default AWS chain's when `None`.
    credentials: Option<Arc<CredentialCache>>,
    /// Built on the first query: loading the AWS configuration is asynchronous.
    signer: tokio::sync::OnceCell<Signer>,
}

/// The signing name of Amazon Managed Service for Prometheus.
const APS_SERVICE: &str = "aps";

/// The region of an AMP workspace URL: `aps-workspaces.<region>.amazonaws.com`.
pub fn workspace_region(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let rest = host.strip_prefix("aps-workspaces.")?;
    let region = rest.split('.').next()?;
    (region.contains('-') && rest[region.len()..].starts_with(".amazonaws.com"))
        .then(|| region.to_string())
}

fn headers(auth: &Auth) -> Result<HeaderMap, ClientError> {
    let mut headers = HeaderMap::new();
    let value = match auth {
        Auth::None | Auth::SigV4 { .. } => return Ok(headers),
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
        Self::build(options, None)
    }

    /// A SigV4 client (`Auth::SigV4`) signing with `credentials` instead of the default chain.
    pub fn with_credentials(
        options: &PrometheusOptions,
        credentials: Arc<CredentialCache>,
    ) -> Result<Self, ClientError> {
        Self::build(options, Some(credentials))
    }

    fn build(
        options: &PrometheusOptions,
        credentials: Option<Arc<CredentialCache>>,
    ) -> Result<Self, ClientError> {
        // reqwest's rustls verifies against the platform's roots; a whole-request timeout backs
        // up the per-query one so a stalled connection cannot hold a slot for ever.
        let http = reqwest::Client::builder()
            .default_headers(headers(&options.auth)?)
            .connect_timeout(options.query_timeout)
            .timeout(options.query_timeout + Duration::from_secs(1))
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let url_error = |reason: String| ClientError::Url {
            url: options.endpoint(),
            reason,
        };
        let base = reqwest::Url::parse(&options.url).map_err(|e| url_error(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(url_error("not an http(s) URL".to_string()));
        }
        let signing = match &options.auth {
            Auth::SigV4 { region } => {
                if !base.username().is_empty() || base.password().is_some() {
                    return Err(url_error(
                        "user information cannot be combined with SigV4".to_string(),
                    ));
                }
                Some(Signing {
                    region: region.clone().or_else(|| workspace_region(&base)),
                    credentials,
                    signer: tokio::sync::OnceCell::new(),
                })
            }
            _ => None,
        };
        Ok(PrometheusClient {
            http,
            base,
            signing,
            timeout: options.query_timeout,
            limits: options.answer_limits,
        })
    }

    /// The server's own timeout, a little under ours, so it gives up on a heavy query too.
    fn server_timeout_ms(&self) -> i64 {
        (self.timeout.as_millis() as i64 * 9 / 10).max(100)
    }

    /// `base/path`, keeping the base's own path (an AMP workspace's `/workspaces/<id>`).
    /// User information in the base URL becomes basic auth, as in a browser.
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Sends one request (signed when SigV4 is in use) and reads its answer within the
    /// limits, all within the query timeout.
    async fn send(
        &self,
        path: &str,
        form: Option<&[(&str, String)]>,
    ) -> Result<Bounded<Data>, QueryError> {
        match tokio::time::timeout(self.timeout, self.exchange(path, form)).await {
            Err(_) => Err(QueryError::Timeout(self.timeout)),
            Ok(result) => result,
        }
    }

    async fn exchange(
        &self,
        path: &str,
        form: Option<&[(&str, String)]>,
    ) -> Result<Bounded<Data>, QueryError> {
        let url = self.url(path);
        let builder = match form {
            Some(pairs) => self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form_body(pairs)),
            None => self.http.get(url.clone()),
        };
        let builder = match (url.username(), url.password()) {
            ("", None) => builder,
            (user, password) => builder.basic_auth(user, password),
        };
        let mut request = builder
            .build()
            .map_err(|e| QueryError::Http(aws::describe(&e)))?;
        if let Some(signing) = &self.signing {
            signing
                .signer()
                .await?
                .sign(&mut request)
                .await
                .map_err(|e| QueryError::Http(e.to_string()))?;
        }
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| QueryError::Http(aws::describe(&e)))?;
        let status = response.status();
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| QueryError::Http(aws::describe(&e)))?
        {
            let room = (self.limits.bytes as usize).saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        match answer::decode(&body, cut, self.limits) {
            Ok(data) => Ok(data),
            Err(AnswerError::Refused { kind, message }) => {
                Err(QueryError::Prometheus(format!("{kind}: {message}")))
            }
            // AMP's own refusals (403 for a bad signature or missing aps:QueryMetrics) are
            // `{"message": …}`, not the Prometheus envelope; so are proxies' error pages.
            Err(AnswerError::Unreadable(_)) if !status.is_success() => Err(QueryError::Http(
                format!("HTTP {status}: {}", excerpt(&body)),
            )),
            Err(AnswerError::Unreadable(error)) => Err(QueryError::Unexpected(format!(
                "{error}: {}",
                excerpt(&body)
            ))),
        }
    }
}

const QUERY_PATH: &str = "api/v1/query";
const QUERY_RANGE_PATH: &str = "api/v1/query_range";
const NAMES_PATH: &str = "api/v1/label/__name__/values";

/// How much of an unexpected answer goes into an error message.
const ERROR_EXCERPT: usize = 200;

impl Signing {
    async fn signer(&self) -> Result<&Signer, QueryError> {
        self.signer
            .get_or_try_init(|| async {
                let (credentials, chain_region) = match &self.credentials {
                    Some(credentials) if self.region.is_some() => (credentials.clone(), None),
                    given => {
                        let environment = aws::default_environment(self.region.as_deref()).await;
                        (
                            given.clone().unwrap_or(environment.credentials),
                            environment.region,
                        )
                    }
                };
                let region = self.region.clone().or(chain_region).ok_or_else(|| {
                    QueryError::Http(
                        "no AWS region to sign Prometheus queries with: pass --region or set AWS_REGION"
                            .to_string(),
                    )
                })?;
                Ok(Signer::new(APS_SERVICE, region, credentials))
            })
            .await
    }
}

/// `application/x-www-form-urlencoded`, as reqwest's `form` would encode it.
fn form_body(pairs: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("a fixed, valid URL");
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    url.query().unwrap_or_default().to_string()
}

/// The start of an answer, on one line, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_EXCERPT * 4)]);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ERROR_EXCERPT)
        .collect();
    line.trim().to_string()
}

impl Querier for PrometheusClient {
    async fn metric_names(&self) -> Result<BTreeSet<String>, QueryError> {
        let answer = self.send(NAMES_PATH, None).await?;
        // Part of the list cannot tell which exporters are missing, nor which name variant
        // a cluster uses: the lookup counts as failed and the current names are assumed.
        if let Some(note) = answer.truncated {
            return Err(QueryError::Unexpected(format!(
                "the list of metric names was {note}"
            )));
        }
        match answer.value {
            Data::Strings(names) => Ok(names.into_iter().collect()),
            // An empty list decodes as an empty vector.
            Data::Vector(samples) if samples.is_empty() => Ok(BTreeSet::new()),
            _ => Err(QueryError::Unexpected(
                "no list of names for a label-values request".to_string(),
            )),
        }
    }

    async fn instant(&self, promql: &str) -> Result<Bounded<Vec<Sample>>, QueryError> {
        let form = [
            ("query", promql.to_string()),
            ("timeout", format!("{}ms", self.server_timeout_ms())),
        ];
        let answer = self.send(QUERY_PATH, Some(&form)).await?;
        let truncated = answer.truncated;
        let samples = match answer.value {
            Data::Vector(samples) => samples,
            Data::Scalar(value) => vec![Sample {
                labels: BTreeMap::new(),
                value,
            }],
            Data::Matrix(_) | Data::Strings(_) => {
                return Err(QueryError::Unexpected(
                    "a range vector for an instant query".to_string(),
                ));
            }
        };
        Ok(Bounded {
            value: samples,
            truncated,
        })
    }

    async fn range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_s: f64,
    ) -> Result<Bounded<Vec<RangeSeries>>, QueryError> {
        let form = [
            ("query", promql.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step_s.to_string()),
            ("timeout", format!("{}ms", self.server_timeout_ms())),
        ];
        let answer = self.send(QUERY_RANGE_PATH, Some(&form)).await?;
        match answer.value {
            Data::Matrix(series) => Ok(Bounded {
                value: series,
                truncated: answer.truncated,
            }),
            // No series at all reads as an empty vector.
            Data::Vector(samples) if samples.is_empty() => Ok(Bounded::whole(Vec::new())),
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
