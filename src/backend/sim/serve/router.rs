//! HTTP plumbing: accepts connections, checks the bearer token, applies injected faults,
//! and sends each request to discovery, the admin endpoint, `/metrics` or the resource
//! handlers. Every failure leaves as a `Status` body; nothing a client sends can panic us.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use super::Shared;
use super::discovery::Registry;
use super::faults::Fault;
use super::status::ApiError;
use super::stored::Stored;

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (a big apply or create).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    full(
        status,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// An object from the store, sent as it was encoded when written.
pub fn stored_response(status: StatusCode, stored: &Stored) -> Response<Body> {
    full(status, "application/json", stored.bytes())
}

pub fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &error.status())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

/// A request, read in full (watch bodies are empty, so this never waits on a stream).
pub struct ApiRequest {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub accept: String,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.param(name).is_some_and(|v| v == "1" || v == "true")
    }

    pub fn dry_run(&self) -> bool {
        self.param("dryRun").is_some_and(|v| v == "All")
    }
}

/// Every response carries the simulated clock in `Date`: clients (kockpit's live mode
/// among them) measure object ages and the last hour's churn on the server's clock, and
/// the objects are stamped with the simulation's time, not the wall clock.
/// The `reset` fault: the connection is dropped without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection reset (an injected fault)")]
pub struct ResetConnection;

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ResetConnection> {
    if shared.faults.reset() && !request.uri().path().starts_with("/_kockpit") {
        return Err(ResetConnection);
    }
    let now = shared.now();
    let Ok(mut response) = handle_request(shared, request).await;
    if let Ok(date) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        response.headers_mut().insert(hyper::header::DATE, date);
    }
    Ok(response)
}

async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    if path == "/metrics" {
        // Open to scrapers, like a metrics port on a private network.
        let text = shared
            .sim
            .lock()
            .map(|sim| (shared.metrics)(&sim))
            .unwrap_or_default();
        return Ok(full(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            text,
        ));
    }
    // client-go (kubectl) never sends credentials over plain HTTP, so a request without any
    // is let through unless the server was told to insist; a wrong token is always refused.
    let authorised = match request
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => !shared.require_token,
        Some(value) => value.strip_prefix("Bearer ").is_some_and(|token| {
            shared
                .token
                .lock()
                .is_ok_and(|current| token.trim() == *current)
        }),
    };
    if !authorised {
        return Ok(error_response(&ApiError::new(
            401,
            "Unauthorized",
            "Unauthorized",
        )));
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header("content-type");
    let accept = header("accept");
    let method = request.method().clone();
    let query = parse_query(request.uri().query());
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error_response(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                "request body too large or unreadable",
            )));
        }
    };
    let request = ApiRequest {
        method,
        segments: path_segments(&path),
        query,
        content_type,
        accept,
        body,
    };
    Ok(answer(&shared, request).await)
}

/// The decoded segments of a request path.
pub fn path_segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

/// Answers an authorised request, counting it by what it could do to the cluster.
pub async fn answer(shared: &Arc<Shared>, request: ApiRequest) -> Response<Body> {
    if request.segments.first().is_none_or(|s| s != "_kockpit") {
        shared
            .requests
            .count(&request.method, &request.segments, request.dry_run());
    }
    route(shared, request)
        .await
        .unwrap_or_else(|error| error_response(&error))
}

async fn route(shared: &Arc<Shared>, request: ApiRequest) -> Result<Response<Body>, ApiError> {
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let get = request.method == Method::GET;
    let registry = || {
        shared
            .store
            .lock()
            .map(|s| s.registry.clone())
            .unwrap_or_default()
    };
    // A slow server is slow for everything, discovery and /version included (the live
    // backend's liveness probe asks /version); the resource handlers wait for their own.
    let resource = matches!(
        segments.as_slice(),
        ["api", _, _, ..] | ["apis", _, _, _, ..]
    );
    if !resource && segments.first() != Some(&"_kockpit") {
        let delay = shared.faults.delay(None);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    match segments.as_slice() {
        ["version"] if get => Ok(json_response(StatusCode::OK, &Registry::version_doc())),
        ["healthz" | "livez" | "readyz"] if get => Ok(full(StatusCode::OK, "text/plain", "ok")),
        ["api"] if get => Ok(json_response(
            StatusCode::OK,
            &Registry::api_versions(&shared.addr.to_string()),
        )),
        ["apis"] if get => Ok(json_response(StatusCode::OK, &registry().group_list())),
        ["api", "v1"] if get => registry()
            .resource_list("", "v1")
            .map(|doc| json_response(StatusCode::OK, &doc))
            .ok_or_else(|| ApiError::not_found_path("/api/v1")),
        ["apis", group] if get => registry()
            .group(group)
            .map(|doc| json_response(StatusCode::OK, &doc))
            .ok_or_else(|| ApiError::not_found_path(&format!("/apis/{group}"))),
        ["apis", group, version] if get => registry()
            .resource_list(group, version)
            .map(|doc| json_response(StatusCode::OK, &doc))
            .ok_or_else(|| ApiError::not_found_path(&format!("/apis/{group}/{version}"))),
        ["_kockpit", "faults"] => admin_faults(shared, &request),
        ["_kockpit", "churn"] => super::scale::admin_churn(shared, &request),
        ["_kockpit", "flow-logs"] if get => flow_logs(shared, &request),
        ["_kockpit", "requests"] if get => Ok(json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.requests.tally()).unwrap_or_default(),
        )),
        ["api", "v1", rest @ ..] => super::api::resource(shared, "", "v1", rest, &request).await,
        ["apis", group, version, rest @ ..] => {
            super::api::resource(shared, group, version, rest, &request).await
        }
        _ => Err(ApiError::not_found_path(&format!(
            "/{}",
            request.segments.join("/")
        ))),
    }
}

/// `GET /_kockpit/flow-logs?seconds=N[&format=FORMAT]`: the VPC Flow Log records of the last
/// N simulated seconds (default 60), one per line, in the default format or the one given.
fn flow_logs(shared: &Shared, request: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let seconds = match request.param("seconds") {
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .ok_or_else(|| ApiError::bad_request("seconds must be 1 to 3600"))?,
        None => 60,
    };
    let format = match request.param("format") {
        Some(text) => crate::domain::flow_logs::LogFormat::parse(text)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => crate::domain::flow_logs::LogFormat::default(),
    };
    let lines = shared
        .sim
        .lock()
        .map(|sim| crate::backend::sim::flowlogs::records(&sim, seconds, &format))
        .map_err(|_| ApiError::new(500, "InternalError", "the simulator is unavailable"))?;
    Ok(full(StatusCode::OK, "text/plain", lines.join("\n")))
}

/// `GET` lists the faults in force, `PUT`/`POST` replaces them (one spec per line),
/// `DELETE` clears them.
fn admin_faults(shared: &Shared, request: &ApiRequest) -> Result<Response<Body>, ApiError> {
    match request.method {
        Method::GET => {}
        Method::PUT | Method::POST => {
            let text = std::str::from_utf8(&request.body)
                .map_err(|_| ApiError::bad_request("fault specs must be UTF-8"))?;
            let faults = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(Fault::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            shared.faults.set(faults);
        }
        Method::DELETE => shared.faults.set(Vec::new()),
        _ => return Err(ApiError::method_not_allowed()),
    }
    let listed: Vec<String> = shared
        .faults
        .list()
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"faults": listed}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let query = parse_query(Some("labelSelector=app%3Dweb%2Ctier&limit=5&watch"));
        assert_eq!(query["labelSelector"], "app=web,tier");
        assert_eq!(query["limit"], "5");
        assert_eq!(query["watch"], "");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
