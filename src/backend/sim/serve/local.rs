//! The served API without a socket: the in-process simulator answers fix requests with the
//! same handlers `sim serve` uses, so dry runs, conflicts and write-back behave the same in
//! `--demo` as against a served cluster.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use http_body_util::BodyExt;

use super::Shared;
use super::router::{self, ApiRequest};
use crate::backend::writer::{ApiCall, ApiReply, Transport};

/// The simulator once the backend has built it (building an hour of history takes a moment;
/// the writer exists from the start).
pub(crate) type SharedSlot = Arc<OnceLock<Arc<Shared>>>;

/// A transport to the simulator the demo runs.
pub struct LocalTransport {
    slot: SharedSlot,
}

impl LocalTransport {
    pub(crate) fn new(slot: SharedSlot) -> Self {
        LocalTransport { slot }
    }
}

impl Transport for LocalTransport {
    fn send(&self, call: ApiCall) -> BoxFuture<'_, Result<ApiReply, String>> {
        Box::pin(async move {
            let shared = self
                .slot
                .get()
                .cloned()
                .ok_or_else(|| "the simulator is still starting".to_string())?;
            // The store is rendered on demand: the demo steps the simulator without it.
            let rendering = shared.clone();
            tokio::task::spawn_blocking(move || rendering.render())
                .await
                .map_err(|e| format!("the simulator failed: {e}"))?;
            let (path, query) = match call.path.split_once('?') {
                Some((path, query)) => (path.to_string(), Some(query.to_string())),
                None => (call.path.clone(), None),
            };
            let request = ApiRequest {
                method: call.method,
                segments: router::path_segments(&path),
                query: router::parse_query(query.as_deref()),
                content_type: call.content_type.unwrap_or_default().to_string(),
                accept: "application/json".to_string(),
                body: bytes::Bytes::from(call.body),
            };
            let response = router::answer(&shared, request).await;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|collected| collected.to_bytes().to_vec())
                .unwrap_or_default();
            Ok(ApiReply { status, body })
        })
    }
}
