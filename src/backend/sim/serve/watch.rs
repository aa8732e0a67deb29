//! Watch streams (newline-delimited JSON events over a chunked response, with BOOKMARKs and
//! 410 Expired when the requested resourceVersion is older than the retained window) and
//! the `Table` rendering kubectl asks for when it prints.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::discovery::ResourceDef;
use super::router::{ApiRequest, Body};
use super::select::Selector;
use super::status::ApiError;
use super::store::Event;
use super::stored::Stored;
use crate::domain::Timestamp;

/// How often a watch looks at its timers (bookmarks, injected drops, timeout).
const WATCH_TICK: Duration = Duration::from_millis(200);
/// Watches end after this long unless the client asks for less, as the API server does.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

pub fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// What a watch stream needs after the request is gone.
struct WatchSpec {
    resource: usize,
    def: ResourceDef,
    namespace: Option<String>,
    selector: Selector,
    start: Option<u64>,
    bookmarks: bool,
    timeout: Duration,
    table: bool,
}

pub fn watch(
    shared: &Arc<Shared>,
    resource: usize,
    def: &ResourceDef,
    namespace: Option<String>,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let selector = Selector::parse(
        request.param("labelSelector"),
        request.param("fieldSelector"),
    )?;
    let start = match request.param("resourceVersion") {
        None | Some("0") => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version `{text}`")))?,
        ),
    };
    let timeout = match request.param("timeoutSeconds") {
        Some(text) => Duration::from_secs(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds `{text}`")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let spec = WatchSpec {
        resource,
        def: def.clone(),
        namespace,
        selector,
        start,
        bookmarks: request.flag("allowWatchBookmarks"),
        timeout,
        table: wants_table(&request.accept),
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    tokio::spawn(stream(shared.clone(), spec, sender));
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|bytes| {
            (
                Ok::<_, std::convert::Infallible>(Frame::data(bytes)),
                receiver,
            )
        })
    });
    let mut response = Response::new(StreamBody::new(frames).boxed());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut out = format!("{{\"type\":\"{kind}\",\"object\":").into_bytes();
    out.extend(serde_json::to_vec(object).unwrap_or_default());
    out.extend(b"}\n");
    Bytes::from(out)
}

/// A watch event around an object's stored JSON, without decoding it.
fn stored_line(kind: &str, object: &Stored) -> Bytes {
    let json = object.json();
    let mut out = Vec::with_capacity(json.len() + kind.len() + 24);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn expired_line(requested: u64, oldest: u64) -> Bytes {
    let status =
        ApiError::expired(format!("too old resource version: {requested} ({oldest})")).status();
    line("ERROR", &status)
}

impl WatchSpec {
    /// Whether an object of the watched resource is one this watch asked for. The object
    /// is decoded only when the watch filters on its fields.
    fn wants(&self, object: &Stored) -> bool {
        if self.namespace.is_none() && self.selector.is_empty() {
            return true;
        }
        let object = object.value();
        let namespace_ok = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        namespace_ok && self.selector.matches(&object)
    }

    fn render(&self, kind: &str, object: &Stored, rv: u64, now: Timestamp) -> Bytes {
        if self.table {
            line(
                kind,
                &table_at(&self.def, &[&object.value()], rv, None, now),
            )
        } else {
            stored_line(kind, object)
        }
    }
}

async fn stream(shared: Arc<Shared>, spec: WatchSpec, sender: mpsc::Sender<Bytes>) {
    if shared.faults.watch_expired() {
        let _ = sender
            .send(expired_line(spec.start.unwrap_or(0), u64::MAX))
            .await;
        return;
    }
    let mut changes = shared.changes.subscribe();
    let mut shutdown = shared.shutdown.clone();
    let began = tokio::time::Instant::now();
    let now = || shared.sim.lock().map(|s| s.now()).unwrap_or_default();
    let mut last = match spec.start {
        // A version this server never gave out (it was restarted): the client's view is
        // of another history, so it must list again, as after a 410.
        Some(rv)
            if rv
                > shared
                    .store
                    .lock()
                    .map(|s| s.resource_version())
                    .unwrap_or(0) =>
        {
            let current = shared
                .store
                .lock()
                .map(|s| s.resource_version())
                .unwrap_or(0);
            let status = ApiError::expired(format!(
                "resource version {rv} is newer than this server's {current}: it was restarted"
            ))
            .status();
            let _ = sender.send(line("ERROR", &status)).await;
            return;
        }
        Some(rv) => rv,
        None => {
            // No version: the current state as ADDED events, then changes from there.
            let (initial, rv) = {
                let Ok(store) = shared.store.lock() else {
                    return;
                };
                let objects: Vec<Stored> = store
                    .range(spec.resource, spec.namespace.as_deref(), None)
                    .map(|(_, e)| e.value.clone())
                    .filter(|v| spec.wants(v))
                    .collect();
                (objects, store.resource_version())
            };
            let at = now();
            for object in initial {
                if sender
                    .send(spec.render("ADDED", &object, rv, at))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            rv
        }
    };
    let mut last_bookmark = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(WATCH_TICK);
    loop {
        let pending: Result<Vec<Event>, _> = match shared.store.lock() {
            Ok(store) => store.events_since(last),
            Err(_) => return,
        };
        match pending {
            Err(expired) => {
                let _ = sender
                    .send(expired_line(expired.requested, expired.oldest))
                    .await;
                return;
            }
            Ok(events) => {
                let at = if events.is_empty() {
                    Timestamp::default()
                } else {
                    now()
                };
                for event in events {
                    last = event.rv;
                    if event.resource != spec.resource || !spec.wants(&event.object) {
                        continue;
                    }
                    let bytes = spec.render(event.kind.as_str(), &event.object, event.rv, at);
                    if sender.send(bytes).await.is_err() {
                        return;
                    }
                }
            }
        }
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
                _ = sender.closed() => return,
            }
            let elapsed = began.elapsed();
            if elapsed >= spec.timeout {
                return;
            }
            if shared
                .faults
                .watch_drop()
                .is_some_and(|after| elapsed >= after)
            {
                return;
            }
            if spec.bookmarks && last_bookmark.elapsed() >= shared.bookmark_interval {
                last_bookmark = tokio::time::Instant::now();
                let bookmark = json!({
                    "kind": spec.def.kind,
                    "apiVersion": spec.def.api_version(),
                    "metadata": {"resourceVersion": last.to_string()},
                });
                if sender.send(line("BOOKMARK", &bookmark)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A kubectl-style age ("45s", "12m", "3h20m", "5d").
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        format!("{m}m{}s", s % 60)
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        format!("{h}h{}m", m % 60)
    } else if d < 2 {
        format!("{h}h")
    } else if d < 8 {
        format!("{d}d{}h", h % 24)
    } else {
        format!("{d}d")
    }
}

fn text(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "<none>".to_string(),
        Some(other) => other.to_string(),
    }
}

fn condition_status(object: &Value, kind: &str) -> Option<String> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .map(str::to_string)
}

fn pod_status(object: &Value) -> String {
    let waiting = object
        .pointer("/status/containerStatuses/0/state/waiting/reason")
        .and_then(Value::as_str);
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".to_string();
    }
    waiting
        .map(str::to_string)
        .unwrap_or_else(|| text(object, "/status/phase"))
}

/// Columns per kind: (name, type, priority) and the cells of one object.
fn columns(def: &ResourceDef) -> Vec<(&'static str, &'static str, u8)> {
    match def.kind.as_str() {
        "Pod" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
        ],
        "Node" => vec![
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
        ],
        "NodeClaim" => vec![
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Capacity", "string", 0),
            ("Zone", "string", 0),
            ("Node", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
        ],
        "Deployment" | "StatefulSet" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
        ],
        "HTTPRoute" | "GRPCRoute" => vec![
            ("Name", "string", 0),
            ("Hostnames", "string", 0),
            ("Age", "string", 0),
        ],
        "Gateway" => vec![
            ("Name", "string", 0),
            ("Class", "string", 0),
            ("Address", "string", 0),
            ("Programmed", "string", 0),
            ("Age", "string", 0),
        ],
        _ => vec![("Name", "string", 0), ("Age", "string", 0)],
    }
}

fn cells(def: &ResourceDef, object: &Value, now: Timestamp) -> Vec<Value> {
    let name = text(object, "/metadata/name");
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| age((now - t.with_timezone(&chrono::Utc)).num_seconds()))
        .unwrap_or_else(|| "<unknown>".to_string());
    match def.kind.as_str() {
        "Pod" => {
            let statuses = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let ready = statuses
                .map(|s| {
                    s.iter()
                        .filter(|c| c.get("ready") == Some(&json!(true)))
                        .count()
                })
                .unwrap_or(0);
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            let restarts: u64 = statuses
                .map(|s| {
                    s.iter()
                        .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                        .sum()
                })
                .unwrap_or(0);
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(pod_status(object)),
                json!(restarts.to_string()),
                json!(created),
                json!(text(object, "/status/podIP")),
                json!(text(object, "/spec/nodeName")),
            ]
        }
        "Node" => {
            let ready = match condition_status(object, "Ready").as_deref() {
                Some("True") => "Ready",
                _ => "NotReady",
            };
            vec![
                json!(name),
                json!(ready),
                json!("<none>"),
                json!(created),
                json!(text(object, "/status/nodeInfo/kubeletVersion")),
            ]
        }
        "NodeClaim" => vec![
            json!(name),
            json!(text(
                object,
                "/metadata/labels/node.kubernetes.io~1instance-type"
            )),
            json!(text(object, "/metadata/labels/karpenter.sh~1capacity-type")),
            json!(text(
                object,
                "/metadata/labels/topology.kubernetes.io~1zone"
            )),
            json!(
                object
                    .pointer("/status/nodeName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
            json!(condition_status(object, "Ready").unwrap_or_else(|| "Unknown".into())),
            json!(created),
        ],
        "Deployment" | "StatefulSet" => {
            let ready = object
                .pointer("/status/readyReplicas")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let wanted = object
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            vec![
                json!(name),
                json!(format!("{ready}/{wanted}")),
                json!(created),
            ]
        }
        "HTTPRoute" | "GRPCRoute" => {
            let hosts: Vec<String> = object
                .pointer("/spec/hostnames")
                .and_then(Value::as_array)
                .map(|h| {
                    h.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                json!(name),
                json!(format!("[\"{}\"]", hosts.join("\",\""))),
                json!(created),
            ]
        }
        "Gateway" => vec![
            json!(name),
            json!(text(object, "/spec/gatewayClassName")),
            json!(text(object, "/status/addresses/0/value")),
            json!(condition_status(object, "Programmed").unwrap_or_else(|| "Unknown".into())),
            json!(created),
        ],
        _ => vec![json!(name), json!(created)],
    }
}

/// A `meta.k8s.io/v1` Table of the objects, rows carrying the objects' metadata.
pub fn table_at(
    def: &ResourceDef,
    objects: &[&Value],
    rv: u64,
    next: Option<String>,
    now: Timestamp,
) -> Value {
    let definitions: Vec<Value> = columns(def)
        .into_iter()
        .map(|(name, kind, priority)| {
            let mut column = json!({"name": name, "type": kind, "format": "", "description": name, "priority": priority});
            if name == "Name" {
                column["format"] = json!("name");
            }
            column
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            json!({
                "cells": cells(def, object, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object.get("metadata").cloned().unwrap_or_default(),
                },
            })
        })
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = next {
        metadata["continue"] = json!(token);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(45), "45s");
        assert_eq!(age(300), "5m0s");
        assert_eq!(age(3600 * 5 + 120), "5h2m");
        assert_eq!(age(86400 * 30), "30d");
    }
}
