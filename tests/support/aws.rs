//! A loopback stand-in for AWS endpoints. It records every request, checks its SigV4
//! signature the way AWS does (signing what it received again, with the same secret and the
//! request's own `x-amz-date`), refuses a bad signature with 403, and otherwise answers with
//! the test's handler.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http_body_util::BodyExt as _;

pub const ACCESS_KEY_ID: &str = "AKIDKOCKPITTEST";
pub const SECRET_ACCESS_KEY: &str = "kockpit/test/secret/key";
pub const SESSION_TOKEN: &str = "kockpit-test-session-token";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The authorization header matched the one the server computed.
    pub signature_ok: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The decoded pairs of a form body.
    pub fn form(&self) -> Vec<(String, String)> {
        reqwest::Url::parse(&format!("http://x/?{}", self.body_text()))
            .map(|url| {
                url.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `AKID/DATE/REGION/SERVICE/aws4_request` from the authorization header.
    pub fn credential_scope(&self) -> Vec<String> {
        self.header("authorization")
            .strip_prefix("AWS4-HMAC-SHA256 Credential=")
            .and_then(|rest| rest.split(',').next())
            .map(|scope| scope.split('/').map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// What the handler answers: status, content type, body.
pub type Answer = (u16, &'static str, String);
pub type Handler = Arc<dyn Fn(&Recorded) -> Answer + Send + Sync>;

pub struct FakeAws {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAws {
    /// Serves on a free loopback port, on the current tokio runtime.
    pub async fn start(handler: Handler) -> FakeAws {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake AWS listens");
        let addr = listener.local_addr().expect("address");
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, handler.clone(), recorded.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeAws {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    handler: Handler,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let mut seen = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
        signature_ok: false,
    };
    seen.signature_ok = expected_authorization(&seen)
        .is_some_and(|expected| expected == seen.header("authorization"));
    recorded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(seen.clone());
    let (status, content_type, text) = if seen.signature_ok {
        handler(&seen)
    } else {
        (
            403,
            "application/json",
            r#"{"message":"The request signature we calculated does not match the signature you provided."}"#
                .to_string(),
        )
    };
    let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(text)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    Ok(response)
}

/// The authorization header AWS would expect for `request`, signed with the test secret at
/// the request's `x-amz-date`, for the region and service its credential scope names.
pub fn expected_authorization(request: &Recorded) -> Option<String> {
    let authorization = request.headers.get("authorization")?;
    let scope = request.credential_scope();
    if scope.len() != 5 || scope[0] != ACCESS_KEY_ID {
        return None;
    }
    let signed_headers = authorization
        .split("SignedHeaders=")
        .nth(1)?
        .split(',')
        .next()?;
    let time =
        chrono::NaiveDateTime::parse_from_str(request.headers.get("x-amz-date")?, "%Y%m%dT%H%M%SZ")
            .ok()?
            .and_utc();
    let credentials = Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        request.headers.get("x-amz-security-token").cloned(),
        None,
        "fake-aws",
    );
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&scope[2])
        .name(&scope[3])
        .time(time.into())
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    // The signer adds the date and token itself.
    let headers: Vec<(&str, &str)> = signed_headers
        .split(';')
        .filter(|h| !matches!(*h, "x-amz-date" | "x-amz-security-token"))
        .filter_map(|h| request.headers.get(h).map(|v| (h, v.as_str())))
        .collect();
    let uri = format!(
        "http://{}{}{}",
        request.headers.get("host")?,
        request.path,
        request
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let signable = SignableRequest::new(
        &request.method,
        uri,
        headers.into_iter(),
        SignableBody::Bytes(&request.body),
    )
    .ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    instructions
        .headers()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, value)| value.to_string())
}

/// Checks the shape of a SigV4 authorization header for `service` in `region`.
pub fn assert_signed(request: &Recorded, service: &str, region: &str) {
    let authorization = request.header("authorization");
    let scope = request.credential_scope();
    assert_eq!(
        scope.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            ACCESS_KEY_ID,
            &request.header("x-amz-date")[..8],
            region,
            service,
            "aws4_request"
        ],
        "{authorization}"
    );
    let signature = authorization.split("Signature=").nth(1).unwrap_or_default();
    assert_eq!(signature.len(), 64, "{authorization}");
    assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        authorization.contains(", SignedHeaders="),
        "{authorization}"
    );
    assert!(authorization.contains("host"), "{authorization}");
    assert_eq!(request.header("x-amz-date").len(), 16);
    assert!(
        request.signature_ok,
        "the signature does not verify: {authorization}"
    );
}
