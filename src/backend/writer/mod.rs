//! The write side of a cluster's API, for fixes: read the object a plan starts from, send
//! the plan's write as a server-side dry run or for real, and ask the server whether the
//! user may make it. The same code speaks to a live API server (through kube-rs) and to the
//! built-in simulator (in process, through the handlers `sim serve` answers with), so a fix
//! behaves the same on both.

mod paths;

use std::sync::Arc;

use futures::future::BoxFuture;
use hyper::Method;
use serde_json::{Value, json};

use crate::domain::fix::plan::FIELD_MANAGER;
use crate::domain::fix::{Operation, PatchType, Target};
pub use paths::object_path;

/// One HTTP request to the API server, already addressed.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: Method,
    /// Path and query, e.g. `/api/v1/namespaces/kube-system/configmaps/coredns?dryRun=All`.
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

/// The server's answer: its status code and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Carries calls to an API server: kube-rs for a live cluster, a function call for the
/// simulator.
pub trait Transport: Send + Sync {
    fn send(&self, call: ApiCall) -> BoxFuture<'_, Result<ApiReply, String>>;
}

/// Who writes, for the audit log: the kubeconfig's user and context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub user: String,
    pub context: String,
}

/// Whether a write is only checked by the server or really made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `dryRun=All`: admission and validation run, nothing is stored.
    DryRun,
    Apply,
}

/// Why a call did not do what was asked, in terms the fix flow acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// 409: the object changed since the plan was made (or already exists, for a create).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 403: the user may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// 422 or 400: the server rejected the change itself (validation, admission, a failed
    /// JSON-patch test).
    #[error("rejected by the API server: {0}")]
    Rejected(String),
    /// Anything else the server answered (5xx, 401, 429…).
    #[error("the API server answered {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer at all.
    #[error("cannot reach the API server: {0}")]
    Unreachable(String),
}

impl WriteError {
    fn from_reply(reply: &ApiReply) -> WriteError {
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(|message| crate::domain::sanitize::sanitize(message).into_owned())
            .unwrap_or_else(|| {
                crate::domain::sanitize::sanitize(&String::from_utf8_lossy(&reply.body))
                    .chars()
                    .take(200)
                    .collect()
            });
        match reply.status {
            409 => WriteError::Conflict(message),
            403 => WriteError::Forbidden(message),
            404 => WriteError::NotFound(message),
            400 | 422 => WriteError::Rejected(message),
            status => WriteError::Server { status, message },
        }
    }
}

/// What a SelfSubjectAccessReview said about one verb on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub allowed: bool,
    /// `patch deployments.apps in kube-system`, for "you would need …".
    pub needs: String,
    pub reason: Option<String>,
}

/// The cluster's API as fixes use it.
#[derive(Clone)]
pub struct ClusterWriter {
    transport: Arc<dyn Transport>,
    pub identity: Identity,
}

impl std::fmt::Debug for ClusterWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterWriter")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl ClusterWriter {
    pub fn new(transport: Arc<dyn Transport>, identity: Identity) -> Self {
        ClusterWriter {
            transport,
            identity,
        }
    }

    async fn call(&self, call: ApiCall) -> Result<Value, WriteError> {
        let reply = self
            .transport
            .send(call)
            .await
            .map_err(WriteError::Unreachable)?;
        if !(200..300).contains(&reply.status) {
            return Err(WriteError::from_reply(&reply));
        }
        serde_json::from_slice(&reply.body).map_err(|e| WriteError::Server {
            status: reply.status,
            message: format!("the answer is not JSON: {e}"),
        })
    }

    /// The object as the server has it now (the whole object, not a subresource).
    pub async fn get(&self, target: &Target) -> Result<Value, WriteError> {
        self.call(ApiCall {
            method: Method::GET,
            path: object_path(target, true, false),
            content_type: None,
            body: Vec::new(),
        })
        .await
    }

    /// Sends `operation` to `target`. A delete carries `delete_preconditions` (resourceVersion,
    /// left out when empty, and uid) in its DeleteOptions. Returns the object the server
    /// answered with (for a dry run, what it would store).
    pub async fn write(
        &self,
        target: &Target,
        operation: &Operation,
        delete_preconditions: Option<(&str, &str)>,
        mode: Mode,
    ) -> Result<Value, WriteError> {
        let dry_run = mode == Mode::DryRun;
        let call = match operation {
            Operation::Patch { patch_type, body } => ApiCall {
                method: Method::PATCH,
                path: with_query(object_path(target, true, true), dry_run, true),
                content_type: Some(patch_content_type(*patch_type)),
                body: body.to_string().into_bytes(),
            },
            Operation::Create { body } => ApiCall {
                method: Method::POST,
                path: with_query(object_path(target, false, false), dry_run, true),
                content_type: Some("application/json"),
                body: body.to_string().into_bytes(),
            },
            Operation::Delete => {
                let mut options = json!({
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                });
                if let Some((rv, uid)) = delete_preconditions {
                    let mut preconditions = json!({"uid": uid});
                    if !rv.is_empty() {
                        preconditions["resourceVersion"] = json!(rv);
                    }
                    options["preconditions"] = preconditions;
                }
                if dry_run {
                    options["dryRun"] = json!(["All"]);
                }
                ApiCall {
                    method: Method::DELETE,
                    path: with_query(object_path(target, true, false), dry_run, false),
                    content_type: Some("application/json"),
                    body: options.to_string().into_bytes(),
                }
            }
        };
        self.call(call).await
    }

    /// Asks the server (SelfSubjectAccessReview) whether the user may `verb` the target.
    pub async fn access(&self, target: &Target, verb: &str) -> Result<Access, WriteError> {
        let group = target.group();
        let mut attributes = json!({
            "verb": verb,
            "group": group,
            "resource": target.resource,
            "name": target.name,
        });
        if let Some(namespace) = &target.namespace {
            attributes["namespace"] = json!(namespace);
        }
        if let Some(sub) = &target.subresource {
            attributes["subresource"] = json!(sub);
        }
        let answer = self
            .call(ApiCall {
                method: Method::POST,
                path: ACCESS_REVIEW_PATH.into(),
                content_type: Some("application/json"),
                body: access_review(attributes).to_string().into_bytes(),
            })
            .await?;
        let (allowed, reason) = review_answer(&answer);
        Ok(Access {
            allowed,
            needs: paths::describe_permission(target, verb),
            reason,
        })
    }
}

/// Where SelfSubjectAccessReviews are posted.
pub const ACCESS_REVIEW_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// A SelfSubjectAccessReview asking about `attributes` (verb, group, resource, and optionally
/// namespace, name and subresource).
pub fn access_review(attributes: Value) -> Value {
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    })
}

/// Whether the review allowed it, and the server's reason (sanitised), from its answer.
pub fn review_answer(answer: &Value) -> (bool, Option<String>) {
    let allowed = answer
        .pointer("/status/allowed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let reason = answer
        .pointer("/status/reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(|reason| crate::domain::sanitize::sanitize(reason).into_owned());
    (allowed, reason)
}

/// The verb a write needs in RBAC terms.
pub fn verb_of(operation: &Operation) -> &'static str {
    match operation {
        Operation::Patch { .. } => "patch",
        Operation::Create { .. } => "create",
        Operation::Delete => "delete",
    }
}

fn patch_content_type(patch_type: PatchType) -> &'static str {
    patch_type.content_type()
}

fn with_query(mut path: String, dry_run: bool, field_manager: bool) -> String {
    let mut params = Vec::new();
    if dry_run {
        params.push("dryRun=All".to_string());
    }
    if field_manager {
        params.push(format!("fieldManager={FIELD_MANAGER}"));
    }
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

#[cfg(test)]
mod tests;
