//! One watcher per kind: runs `kube::runtime::watcher` with Kubernetes' default backoff (which
//! relists after 410 Gone), turns each object into its projection on the spot, and reports to
//! the backend task. The initial list (and every relist) is delivered a page at a time, so a
//! large cluster's list is never held whole twice (as objects here and in the store); the
//! store drops what a relist did not deliver when it is complete. Failures and recoveries
//! are reported as they happen.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, DefaultBackoff, Event};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::weigh::Weigh;
use crate::domain::assemble::{ObjectKey, ObjectKind, Projection};
use crate::domain::limits;

/// Objects per page of the initial list: big clusters list in many small requests instead of
/// one response that may take minutes (and hold the whole list in memory at once).
pub const PAGE_SIZE: u32 = 500;

/// How long a watcher must stay free of errors after its backoff delay before it counts as
/// recovered. A re-established watch is silent until something changes, so silence after a
/// retry is the only sign that the retry worked.
const SETTLE: Duration = Duration::from_secs(4);

/// What a watcher tells the backend task.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchMessage {
    /// A (re)list of the kind begins: what it does not deliver is gone once it is `Listed`.
    Relisting {
        kind: ObjectKind,
    },
    /// Objects of the (re)list so far.
    Page {
        kind: ObjectKind,
        objects: Vec<Projection>,
    },
    /// The (re)list is complete; these are its last objects.
    Listed {
        kind: ObjectKind,
        objects: Vec<Projection>,
    },
    Applied(Box<Projection>),
    Deleted {
        kind: ObjectKind,
        key: ObjectKey,
    },
    Failed {
        kind: ObjectKind,
        failure: WatchFailure,
    },
    /// The watch works again after a failure.
    Recovered {
        kind: ObjectKind,
    },
    /// An object of the kind is over `limits::OBJECT_BYTES` and left out (`bytes` about its
    /// size); `bytes` 0: an object left out before is gone or small enough again.
    Oversized {
        kind: ObjectKind,
        key: ObjectKey,
        bytes: u64,
    },
}

/// Why a watch failed, in the terms the pane states use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchFailure {
    /// RBAC denied the list or watch (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The resource does not exist (HTTP 404): its CRD was removed.
    #[error("not found: {0}")]
    NotFound(String),
    /// The watch's resourceVersion expired (HTTP 410); the watcher relists.
    #[error("resource version expired (410 Gone); relisting")]
    Gone,
    /// The kubeconfig's credential plugin gave no token; its own message.
    #[error("{0}")]
    Credentials(String),
    /// Anything else: connection refused, timeouts, 5xx, malformed responses.
    #[error("{0}")]
    Other(String),
}

fn from_status(code: u16, message: &str) -> WatchFailure {
    match code {
        403 => WatchFailure::Forbidden(message.to_string()),
        404 => WatchFailure::NotFound(message.to_string()),
        410 => WatchFailure::Gone,
        _ => WatchFailure::Other(format!("HTTP {code}: {message}")),
    }
}

fn from_client_error(error: &kube::Error) -> WatchFailure {
    if let Some(plugin) = super::credential_plugin::plugin_error(error) {
        return WatchFailure::Credentials(plugin.to_string());
    }
    match error {
        kube::Error::Api(status) => from_status(status.code, &status.message),
        other => WatchFailure::Other(other.to_string()),
    }
}

pub fn classify(error: &watcher::Error) -> WatchFailure {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => from_client_error(e),
        watcher::Error::WatchError(status) => from_status(status.code, &status.message),
        watcher::Error::NoResourceVersion => WatchFailure::Other(error.to_string()),
    }
}

/// Kubernetes' default watcher backoff, with the last delay it chose made visible so the
/// watcher knows when a retry has had its chance.
struct ObservedBackoff {
    inner: DefaultBackoff,
    last_delay_ms: Arc<AtomicU64>,
}

impl Iterator for ObservedBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.inner.next();
        if let Some(delay) = delay {
            let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            self.last_delay_ms.store(millis, Ordering::Relaxed);
        }
        delay
    }
}

impl Backoff for ObservedBackoff {
    fn reset(&mut self) {
        self.inner.reset();
    }
}

fn key_of<K: Resource>(object: &K) -> ObjectKey {
    let meta = object.meta();
    ObjectKey::new(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

/// The projection of an object within the size limit; an object over it is reported
/// (once) and treated as absent, and one that comes back within it is reported again.
fn within_limit<K: Resource + Weigh>(
    kind: ObjectKind,
    project: &impl Fn(&K) -> Option<Projection>,
    object: &K,
    oversized: &mut HashSet<ObjectKey>,
    messages: &mut Vec<WatchMessage>,
) -> Option<Projection> {
    let projection = project(object)?;
    let key = key_of(object);
    let bytes = object.approx_bytes() as u64;
    if limits::OBJECT_BYTES.allows(bytes) {
        if oversized.remove(&key) {
            messages.push(WatchMessage::Oversized {
                kind,
                key,
                bytes: 0,
            });
        }
        return Some(projection);
    }
    tracing::warn!(resource = kind.resource(), object = ?key, bytes, "object over the size limit left out");
    if oversized.insert(key.clone()) {
        messages.push(WatchMessage::Oversized { kind, key, bytes });
    }
    None
}

/// Starts watching `api` on its own task. `project` keeps what the panes need, or `None` for
/// objects kockpit does not track (those are then also dropped from the store).
pub fn spawn<K, F>(
    api: Api<K>,
    kind: ObjectKind,
    config: watcher::Config,
    project: F,
    sender: mpsc::Sender<WatchMessage>,
) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Weigh + 'static,
    F: Fn(&K) -> Option<Projection> + Send + 'static,
{
    tokio::spawn(async move {
        // Keys of objects left out for their size, to say when they are gone.
        let mut oversized: HashSet<ObjectKey> = HashSet::new();
        let last_delay_ms = Arc::new(AtomicU64::new(0));
        let backoff = ObservedBackoff {
            inner: DefaultBackoff::default(),
            last_delay_ms: last_delay_ms.clone(),
        };
        let stream = watcher::watcher(api, config.page_size(PAGE_SIZE)).backoff(backoff);
        let mut stream = std::pin::pin!(stream);
        let mut batch: Vec<Projection> = Vec::new();
        // Set while failing: when the watcher may count as recovered if no new error comes.
        let mut recovers_at: Option<tokio::time::Instant> = None;
        loop {
            let settle = async {
                match recovers_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let item = tokio::select! {
                item = stream.next() => item,
                () = settle => {
                    recovers_at = None;
                    if sender.send(WatchMessage::Recovered { kind }).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let Some(item) = item else { return };
            let mut extra = Vec::new();
            let message = match item {
                Ok(event) => {
                    if recovers_at.take().is_some()
                        && sender.send(WatchMessage::Recovered { kind }).await.is_err()
                    {
                        return;
                    }
                    match event {
                        Event::Init => {
                            batch.clear();
                            Some(WatchMessage::Relisting { kind })
                        }
                        Event::InitApply(object) => {
                            batch.extend(within_limit(
                                kind,
                                &project,
                                &object,
                                &mut oversized,
                                &mut extra,
                            ));
                            (batch.len() >= PAGE_SIZE as usize).then(|| WatchMessage::Page {
                                kind,
                                objects: std::mem::take(&mut batch),
                            })
                        }
                        Event::InitDone => Some(WatchMessage::Listed {
                            kind,
                            objects: std::mem::take(&mut batch),
                        }),
                        Event::Apply(object) => Some(
                            match within_limit(kind, &project, &object, &mut oversized, &mut extra)
                            {
                                Some(projection) => WatchMessage::Applied(Box::new(projection)),
                                None => WatchMessage::Deleted {
                                    kind,
                                    key: key_of(&object),
                                },
                            },
                        ),
                        Event::Delete(object) => {
                            let key = key_of(&object);
                            if oversized.remove(&key) {
                                extra.push(WatchMessage::Oversized {
                                    kind,
                                    key: key.clone(),
                                    bytes: 0,
                                });
                            }
                            Some(WatchMessage::Deleted { kind, key })
                        }
                    }
                }
                Err(error) => {
                    let failure = classify(&error);
                    tracing::warn!(resource = kind.resource(), %error, "watch failed");
                    let delay = Duration::from_millis(last_delay_ms.load(Ordering::Relaxed));
                    recovers_at = Some(tokio::time::Instant::now() + delay + SETTLE);
                    Some(WatchMessage::Failed { kind, failure })
                }
            };
            for message in extra.into_iter().chain(message) {
                if sender.send(message).await.is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn corefile_map(corefile_bytes: usize) -> ConfigMap {
        let mut map = ConfigMap::default();
        map.metadata.namespace = Some("kube-system".into());
        map.metadata.name = Some("coredns".into());
        map.data = Some(
            [("Corefile".to_string(), "#".repeat(corefile_bytes))]
                .into_iter()
                .collect(),
        );
        map
    }

    #[test]
    fn an_object_over_the_limit_is_left_out_once_and_back_when_it_shrinks() {
        let project =
            |o: &ConfigMap| Some(Projection::ConfigMap(super::super::project::config_map(o)));
        let mut oversized = HashSet::new();
        let mut messages = Vec::new();
        let huge = corefile_map(limits::OBJECT_BYTES.max as usize + 1);
        let kept = within_limit(
            ObjectKind::ConfigMap,
            &project,
            &huge,
            &mut oversized,
            &mut messages,
        );
        assert!(kept.is_none());
        let key = ObjectKey::new("kube-system", "coredns");
        assert!(matches!(
            messages.as_slice(),
            [WatchMessage::Oversized { kind: ObjectKind::ConfigMap, key: k, bytes }] if *k == key && *bytes > limits::OBJECT_BYTES.max
        ));
        // Modified and still too large: not reported again.
        messages.clear();
        assert!(
            within_limit(
                ObjectKind::ConfigMap,
                &project,
                &huge,
                &mut oversized,
                &mut messages
            )
            .is_none()
        );
        assert!(messages.is_empty());
        // Small again: kept, and the finding can end.
        let small = corefile_map(100);
        assert!(
            within_limit(
                ObjectKind::ConfigMap,
                &project,
                &small,
                &mut oversized,
                &mut messages
            )
            .is_some()
        );
        assert_eq!(
            messages,
            vec![WatchMessage::Oversized {
                kind: ObjectKind::ConfigMap,
                key,
                bytes: 0
            }]
        );
    }
}
