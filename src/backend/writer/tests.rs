use std::sync::Mutex;

use super::*;

/// Records every call and answers with a fixed reply.
struct Recording {
    calls: Mutex<Vec<ApiCall>>,
    reply: ApiReply,
}

impl Transport for Recording {
    fn send(&self, call: ApiCall) -> BoxFuture<'_, Result<ApiReply, String>> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        let reply = self.reply.clone();
        Box::pin(async move { Ok(reply) })
    }
}

fn writer(status: u16, body: Value) -> (ClusterWriter, Arc<Recording>) {
    let transport = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        reply: ApiReply {
            status,
            body: body.to_string().into_bytes(),
        },
    });
    (
        ClusterWriter::new(transport.clone(), Identity::default()),
        transport,
    )
}

fn coredns_deployment() -> Target {
    Target {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("kube-system".into()),
        name: "coredns".into(),
        resource: "deployments".into(),
        subresource: Some("scale".into()),
    }
}

#[test]
fn paths_for_core_and_grouped_resources() {
    let mut target = coredns_deployment();
    assert_eq!(
        object_path(&target, true, true),
        "/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale"
    );
    assert_eq!(
        object_path(&target, true, false),
        "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
    );
    target.api_version = "v1".into();
    target.kind = "Namespace".into();
    target.resource = "namespaces".into();
    target.namespace = None;
    target.name = "shop".into();
    assert_eq!(object_path(&target, true, false), "/api/v1/namespaces/shop");
    assert_eq!(object_path(&target, false, false), "/api/v1/namespaces");
    target.name = "a/../b c".into();
    assert_eq!(
        object_path(&target, true, false),
        "/api/v1/namespaces/a%2F..%2Fb%20c"
    );
}

#[tokio::test]
async fn a_dry_run_patch_says_so_in_the_query_and_content_type() {
    let (writer, calls) = writer(200, json!({"kind": "Scale"}));
    let operation = Operation::Patch {
        patch_type: PatchType::Merge,
        body: json!({"spec": {"replicas": 4}}),
    };
    let answer = writer
        .write(&coredns_deployment(), &operation, None, Mode::DryRun)
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    let calls = calls.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, Method::PATCH);
    assert_eq!(
        calls[0].path,
        "/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale?dryRun=All&fieldManager=kockpit"
    );
    assert_eq!(calls[0].content_type, Some("application/merge-patch+json"));
}

#[tokio::test]
async fn a_delete_carries_its_preconditions() {
    let (writer, calls) = writer(200, json!({}));
    let _ = writer
        .write(
            &coredns_deployment(),
            &Operation::Delete,
            Some(("42", "uid-1")),
            Mode::Apply,
        )
        .await;
    let calls = calls.calls.lock().map(|c| c.clone()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&calls[0].body).unwrap_or_default();
    assert_eq!(calls[0].method, Method::DELETE);
    assert!(!calls[0].path.contains("dryRun"));
    assert_eq!(body["preconditions"]["resourceVersion"], "42");
    assert_eq!(body["preconditions"]["uid"], "uid-1");
}

#[tokio::test]
async fn status_codes_become_errors_the_flow_can_act_on() {
    let (writer, _) = writer(
        409,
        json!({"kind": "Status", "message": "the object has been modified", "code": 409}),
    );
    let error = writer.get(&coredns_deployment()).await;
    assert_eq!(
        error,
        Err(WriteError::Conflict("the object has been modified".into()))
    );
    let (writer, _) = writer_with_text(503, "upstream \u{1b}[31mdown");
    match writer.get(&coredns_deployment()).await {
        Err(WriteError::Server { status, message }) => {
            assert_eq!(status, 503);
            assert!(!message.contains('\u{1b}'), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

fn writer_with_text(status: u16, text: &str) -> (ClusterWriter, Arc<Recording>) {
    let transport = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        reply: ApiReply {
            status,
            body: text.as_bytes().to_vec(),
        },
    });
    (
        ClusterWriter::new(transport.clone(), Identity::default()),
        transport,
    )
}

#[tokio::test]
async fn an_access_review_names_what_is_needed() {
    let (writer, calls) = writer(
        201,
        json!({"status": {"allowed": false, "reason": "no RBAC policy matched"}}),
    );
    let access = writer
        .access(&coredns_deployment(), "patch")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!access.allowed);
    assert_eq!(
        access.needs,
        "patch deployments.apps/scale in namespace kube-system"
    );
    assert_eq!(access.reason.as_deref(), Some("no RBAC policy matched"));
    let calls = calls.calls.lock().map(|c| c.clone()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&calls[0].body).unwrap_or_default();
    assert_eq!(body["spec"]["resourceAttributes"]["subresource"], "scale");
    assert_eq!(body["spec"]["resourceAttributes"]["group"], "apps");
}
