//! AWS requests kockpit makes without an SDK client (Amazon Managed Prometheus queries, the
//! Price List API, EC2 spot price history): credentials from the default chain, cached until
//! shortly before they expire, and SigV4 signatures over method, path, query, headers and body.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::header::{HeaderName, HeaderValue};

/// Credentials are fetched again this long before they expire, so a request signed now is
/// not rejected in flight.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Why an AWS request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials ({0}); kockpit uses the default chain: environment, SSO and shared profiles, web identity, instance and container roles"
    )]
    Credentials(String),
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

/// The default chain's credentials, fetched on first use and again as they near expiry.
pub struct CredentialCache {
    provider: Option<SharedCredentialsProvider>,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for CredentialCache {
    // Neither the key id nor the secret belong in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialCache(<redacted>)")
    }
}

impl CredentialCache {
    pub fn new(provider: impl ProvideCredentials + 'static) -> Self {
        CredentialCache {
            provider: Some(SharedCredentialsProvider::new(provider)),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    fn from_shared(provider: Option<SharedCredentialsProvider>) -> Self {
        CredentialCache {
            provider,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Credentials good for at least a few more minutes. One caller fetches while the others
    /// wait for its answer, so an expiry never sends a burst of calls to the provider.
    pub async fn get(&self) -> Result<Credentials, AwsError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref()
            && still_good(credentials, SystemTime::now())
        {
            return Ok(credentials.clone());
        }
        let Some(provider) = &self.provider else {
            return Err(AwsError::Credentials(
                "no credentials provider is configured".to_string(),
            ));
        };
        let fresh = provider
            .provide_credentials()
            .await
            .map_err(|error| AwsError::Credentials(describe(&error)))?;
        crate::backend::secrets::register(fresh.secret_access_key());
        if let Some(session) = fresh.session_token() {
            crate::backend::secrets::register(session);
        }
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
}

/// Whether `credentials` can still sign a request sent at `now`.
fn still_good(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + REFRESH_BEFORE_EXPIRY)
}

/// The error with its causes: the credential chain, and reqwest ("connection refused"), put
/// the useful part in a source.
pub fn describe(error: &dyn std::error::Error) -> String {
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

/// What the default AWS configuration chain gives: credentials and, when configured, a region.
#[derive(Debug, Clone)]
pub struct AwsEnvironment {
    pub credentials: Arc<CredentialCache>,
    pub region: Option<String>,
}

/// Loads the default chain (environment, SSO and shared profiles, web identity, IMDS). The
/// credentials themselves are only fetched when a request is first signed.
pub async fn default_environment(region: Option<&str>) -> AwsEnvironment {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let config = loader.load().await;
    AwsEnvironment {
        credentials: Arc::new(CredentialCache::from_shared(config.credentials_provider())),
        region: config.region().map(|r| r.to_string()),
    }
}

/// An endpoint set in the environment the way the AWS SDKs read it:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true. `service` is e.g. `EC2` or `PRICING`.
pub fn endpoint_from_env(service: &str, get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let ignore = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignore {
        return None;
    }
    get(&format!("AWS_ENDPOINT_URL_{service}"))
        .or_else(|| get("AWS_ENDPOINT_URL"))
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
}

/// Signs requests for one service in one region.
#[derive(Clone)]
pub struct Signer {
    service: &'static str,
    region: String,
    credentials: Arc<CredentialCache>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} in {})", self.service, self.region)
    }
}

impl Signer {
    /// `service` is the signing name: `aps`, `pricing`, `ec2`.
    pub fn new(
        service: &'static str,
        region: impl Into<String>,
        credentials: Arc<CredentialCache>,
    ) -> Self {
        Signer {
            service,
            region: region.into(),
            credentials,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Adds `authorization`, `x-amz-date` and (with temporary credentials)
    /// `x-amz-security-token` to a fully built request.
    pub async fn sign(&self, request: &mut reqwest::Request) -> Result<(), AwsError> {
        let credentials = self.credentials.get().await?;
        sign_request(
            request,
            &credentials,
            &self.region,
            self.service,
            SystemTime::now(),
        )
    }
}

/// Signs `request` as it stands (method, URL with its query, every header already set, and
/// the body) with SigV4 at `time`. The request must not change afterwards, except for the
/// `host` and `content-length` headers the HTTP client adds from the URL and body.
pub fn sign_request(
    request: &mut reqwest::Request,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), AwsError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| AwsError::Signing(e.to_string()))?
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            value
                .to_str()
                .map(|value| (name.as_str().to_string(), value.to_string()))
                .map_err(|_| AwsError::Signing(format!("header {name} is not text")))
        })
        .collect::<Result<_, _>>()?;
    let body = match request.body() {
        None => &[][..],
        Some(body) => body
            .as_bytes()
            .ok_or_else(|| AwsError::Signing("a streamed body cannot be signed".to_string()))?,
    };
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| AwsError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| AwsError::Signing(e.to_string()))?
        .into_parts();
    let (signed_headers, _query) = instructions.into_parts();
    for header in signed_headers {
        let name = HeaderName::from_bytes(header.name().as_bytes())
            .map_err(|e| AwsError::Signing(e.to_string()))?;
        let mut value =
            HeaderValue::from_str(header.value()).map_err(|e| AwsError::Signing(e.to_string()))?;
        value.set_sensitive(
            header.sensitive()
                || name == reqwest::header::AUTHORIZATION
                || name == "x-amz-security-token",
        );
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::future;

    fn time(text: &str) -> SystemTime {
        let at: chrono::DateTime<chrono::Utc> = text.parse().expect("time");
        SystemTime::from(at)
    }

    #[test]
    fn matches_the_aws_sigv4_test_suite() {
        // "get-vanilla" from the AWS Signature Version 4 test suite.
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let client = reqwest::Client::new();
        let mut request = client
            .get("https://example.amazonaws.com/")
            .build()
            .expect("request");
        sign_request(
            &mut request,
            &credentials,
            "us-east-1",
            "service",
            time("2015-08-30T12:36:00Z"),
        )
        .expect("signed");
        assert_eq!(
            request.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(request.headers()["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn a_post_form_query_is_signed_with_its_session_token() {
        let credentials = Credentials::new(
            "AKID",
            "SECRET",
            Some("SESSION-TOKEN".to_string()),
            None,
            "test",
        );
        let client = reqwest::Client::new();
        let build = |body: &'static str| {
            client
                .post("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/query")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .build()
                .expect("request")
        };
        let at = time("2026-11-25T09:12:00Z");
        let mut request = build("query=up&timeout=9000ms");
        sign_request(&mut request, &credentials, "eu-west-1", "aps", at).expect("signed");
        let authorization = request.headers()["authorization"].to_str().expect("text");
        let prefix = "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-1/aps/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=";
        assert!(authorization.starts_with(prefix), "{authorization}");
        let signature = &authorization[prefix.len()..];
        assert_eq!(signature.len(), 64);
        assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(request.headers()["x-amz-date"], "20261125T091200Z");
        assert_eq!(request.headers()["x-amz-security-token"], "SESSION-TOKEN");
        assert!(request.headers()["authorization"].is_sensitive());
        assert!(request.headers()["x-amz-security-token"].is_sensitive());
        // Nothing secret in the request's debug output.
        let debug = format!("{request:?}");
        assert!(
            !debug.contains("SECRET") && !debug.contains("SESSION-TOKEN"),
            "{debug}"
        );

        // The body is part of the signature.
        let mut other = build("query=down&timeout=9000ms");
        sign_request(&mut other, &credentials, "eu-west-1", "aps", at).expect("signed");
        assert_ne!(
            other.headers()["authorization"],
            request.headers()["authorization"]
        );

        // Permanent credentials send no token.
        let permanent = Credentials::new("AKID", "SECRET", None, None, "test");
        let mut plain = build("query=up");
        sign_request(&mut plain, &permanent, "eu-west-1", "aps", at).expect("signed");
        assert!(plain.headers().get("x-amz-security-token").is_none());
        assert!(
            plain.headers()["authorization"]
                .to_str()
                .expect("text")
                .contains("SignedHeaders=content-type;host;x-amz-date, ")
        );
    }

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.lifetime.map(|l| SystemTime::now() + l);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID", "SECRET", None, expiry, "counting",
            )))
        }
    }

    #[tokio::test]
    async fn credentials_are_fetched_again_only_near_expiry() {
        let calls = Arc::new(AtomicUsize::new(0));
        let long = CredentialCache::new(Counting {
            calls: calls.clone(),
            lifetime: Some(Duration::from_secs(3600)),
        });
        for _ in 0..3 {
            long.get().await.expect("credentials");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = Arc::new(AtomicUsize::new(0));
        let expiring = CredentialCache::new(Counting {
            calls: calls.clone(),
            lifetime: Some(Duration::from_secs(60)),
        });
        for _ in 0..3 {
            expiring.get().await.expect("credentials");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = Arc::new(AtomicUsize::new(0));
        let permanent = CredentialCache::new(Counting {
            calls: calls.clone(),
            lifetime: None,
        });
        permanent.get().await.expect("credentials");
        permanent.get().await.expect("credentials");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{permanent:?}"), "CredentialCache(<redacted>)");

        let none = CredentialCache::from_shared(None);
        assert!(matches!(none.get().await, Err(AwsError::Credentials(_))));
    }

    #[test]
    fn endpoints_come_from_the_sdk_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(endpoint_from_env("EC2", env(&[])), None);
        assert_eq!(
            endpoint_from_env("EC2", env(&[("AWS_ENDPOINT_URL", "http://a")])).as_deref(),
            Some("http://a")
        );
        assert_eq!(
            endpoint_from_env(
                "EC2",
                env(&[
                    ("AWS_ENDPOINT_URL", "http://a"),
                    ("AWS_ENDPOINT_URL_EC2", "http://b")
                ])
            )
            .as_deref(),
            Some("http://b")
        );
        assert_eq!(
            endpoint_from_env(
                "EC2",
                env(&[
                    ("AWS_ENDPOINT_URL", "http://a"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
                ])
            ),
            None
        );
    }

    #[test]
    fn still_good_leaves_a_margin() {
        let now = time("2026-11-25T09:12:00Z");
        let expiring = |after: u64| {
            Credentials::new("A", "S", None, Some(now + Duration::from_secs(after)), "t")
        };
        assert!(still_good(&expiring(3600), now));
        assert!(!still_good(&expiring(120), now));
        assert!(still_good(
            &Credentials::new("A", "S", None, None, "t"),
            now
        ));
    }
}
