//! `kockpit sim serve` over the wire: a plain HTTP/1.1 client checks discovery, paging,
//! watches, patches, conflicts, dry runs, expiry and every fault; the preinstalled kubectl
//! checks that a real client accepts the protocol. Servers listen on 127.0.0.1:0 only and
//! are stopped at the end; every wait polls with a deadline.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod support;

use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{Fault, ServeOptions, Server};
use serde_json::{Value, json};
use support::servers::{KUBECTL, kubectl};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(20);

async fn serve(configure: impl FnOnce(&mut ServeOptions)) -> Server {
    let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    // A still clock: objects change only when a test changes them or steps the simulator.
    options.speed = 0.0;
    configure(&mut options);
    Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("server did not start: {e}"))
}

struct Reply {
    status: u16,
    body: Value,
    /// The response's `Date` header, if any.
    date: Option<String>,
}

/// One request over a fresh connection (`Connection: close`), body decoded as JSON.
async fn call(
    server: &Server,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    call_with_token(
        server,
        Some(&server.token),
        method,
        path,
        content_type,
        body,
    )
    .await
}

async fn call_with_token(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(server.addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no reply in time"))
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let date = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("date")
            .then(|| value.trim().to_string())
    });
    Reply {
        status,
        body: serde_json::from_str(&content).unwrap_or(Value::String(content)),
        date,
    }
}

/// Clients measure ages and the last hour's churn on the server's clock, so the server
/// must tell the simulated time, not the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_date_header_is_the_simulated_clock() {
    let server = serve(|_| {}).await;
    let reply = call(&server, "GET", "/version", None, "").await;
    assert_eq!(reply.status, 200);
    let date = reply.date.unwrap_or_else(|| panic!("no Date header"));
    let served = chrono::DateTime::parse_from_rfc2822(&date)
        .unwrap_or_else(|e| panic!("{date}: {e}"))
        .with_timezone(&chrono::Utc);
    assert_eq!(served, kockpit::backend::sim::scenario_t0(), "Date: {date}");
    server.stop().await;
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// A watch stream: events are read chunk by chunk as they arrive.
struct Watch {
    reader: BufReader<TcpStream>,
    pending: String,
    ended: bool,
}

impl Watch {
    async fn open(server: &Server, path: &str) -> Watch {
        let mut stream = TcpStream::connect(server.addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\n\r\n",
            server.addr, server.token
        );
        stream
            .write_all(head.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            let read = tokio::time::timeout(DEADLINE, reader.read_line(&mut line))
                .await
                .unwrap_or_else(|_| panic!("watch {path}: no headers in time"))
                .unwrap_or(0);
            if read == 0 || line == "\r\n" {
                break;
            }
            if line.starts_with("HTTP/1.1") {
                assert!(line.contains(" 200 "), "watch {path}: {line}");
            }
        }
        Watch {
            reader,
            pending: String::new(),
            ended: false,
        }
    }

    /// The next event, or `None` if the stream ended or `wait` passed.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        let until = Instant::now() + wait;
        loop {
            if let Some((event, rest)) = self.pending.split_once('\n') {
                let event = serde_json::from_str(event).unwrap_or(Value::Null);
                self.pending = rest.to_string();
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let left = until.checked_duration_since(Instant::now())?;
            let mut size = String::new();
            match tokio::time::timeout(left, self.reader.read_line(&mut size)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.ended = true;
                    continue;
                }
                Ok(Ok(_)) => {}
            }
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                self.ended = true;
                continue;
            }
            let mut chunk = vec![0; size + 2];
            if tokio::time::timeout(left, self.reader.read_exact(&mut chunk))
                .await
                .ok()
                .and_then(Result::ok)
                .is_none()
            {
                self.ended = true;
                continue;
            }
            self.pending
                .push_str(&String::from_utf8_lossy(&chunk[..size]));
        }
    }

    /// Waits for an event matching `wanted`, skipping others.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + DEADLINE;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.next(left).await {
                Some(event) if wanted(&event) => return event,
                Some(_) => continue,
                None => break,
            }
        }
        panic!("no matching watch event in time");
    }

    /// True when the server closes the stream within `wait`.
    async fn closes_within(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if self.next(left).await.is_none() {
                return self.ended;
            }
        }
        false
    }
}

fn rv_of(value: &Value) -> String {
    value["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_paginated_lists() {
    let server = serve(|_| {}).await;
    let core = call(&server, "GET", "/api/v1", None, "").await;
    assert_eq!(core.status, 200);
    let pods = core.body["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "pods"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(pods["shortNames"], json!(["po"]));
    let karpenter = call(&server, "GET", "/apis/karpenter.sh/v1", None, "").await;
    assert!(karpenter.body.to_string().contains("nodeclaims"));
    let groups = call(&server, "GET", "/apis", None, "").await;
    assert!(
        groups
            .body
            .to_string()
            .contains("gateway.networking.k8s.io")
    );

    let everything = call(&server, "GET", "/api/v1/pods", None, "").await;
    let total = everything.body["items"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(total > 20, "only {total} pods");
    let mut seen = Vec::new();
    let mut path = "/api/v1/pods?limit=7".to_string();
    loop {
        let page = call(&server, "GET", &path, None, "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 7);
        for item in items {
            seen.push(format!(
                "{}/{}",
                item["metadata"]["namespace"].as_str().unwrap_or(""),
                item["metadata"]["name"].as_str().unwrap_or("")
            ));
        }
        // The first page says how many are left after it, as the API server does.
        let left = page.body["metadata"]["remainingItemCount"].as_u64();
        if seen.len() == 7 {
            assert_eq!(left, Some((total - 7) as u64), "{}", page.body);
        }
        match page.body["metadata"]["continue"].as_str() {
            Some(token) => path = format!("/api/v1/pods?limit=7&continue={token}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), total, "pages overlap");

    let dns = call(
        &server,
        "GET",
        "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns",
        None,
        "",
    )
    .await;
    let dns_pods = dns.body["items"].as_array().cloned().unwrap_or_default();
    assert!(dns_pods.len() >= 2);
    let node = dns_pods[0]["spec"]["nodeName"].as_str().unwrap_or("");
    let on_node = call(
        &server,
        "GET",
        &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"),
        None,
        "",
    )
    .await;
    assert!(
        on_node.body["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|p| p["spec"]["nodeName"] == node))
    );
    let missing = call(
        &server,
        "GET",
        "/api/v1/namespaces/shop/pods/nope",
        None,
        "",
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["kind"], "Status");
    assert_eq!(missing.body["reason"], "NotFound");
    let wrong = call_with_token(&server, Some("wrong"), "GET", "/api/v1/pods", None, "").await;
    assert_eq!(wrong.status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_reaches_watchers_and_the_simulator() {
    let server = serve(|o| o.bookmark_interval = Duration::from_millis(300)).await;
    let list = call(
        &server,
        "GET",
        "/api/v1/namespaces/kube-system/configmaps",
        None,
        "",
    )
    .await;
    let rv = rv_of(&list.body);
    let mut watch = Watch::open(
        &server,
        &format!("/api/v1/namespaces/kube-system/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"),
    )
    .await;
    let bookmark = watch.until(|e| e["type"] == "BOOKMARK").await;
    assert_eq!(bookmark["object"]["metadata"]["resourceVersion"], json!(rv));

    let corefile = ".:53 {\n    errors\n    cache 300\n    forward . /etc/resolv.conf\n}\n";
    let started = Instant::now();
    let patched = call(
        &server,
        "PATCH",
        "/api/v1/namespaces/kube-system/configmaps/coredns",
        Some("application/merge-patch+json"),
        &json!({"data": {"Corefile": corefile}}).to_string(),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let event = watch.until(|e| e["type"] == "MODIFIED").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(event["object"]["data"]["Corefile"], corefile);
    // The change sticks through the simulator's next steps.
    server.step(3).await;
    let after = call(
        &server,
        "GET",
        "/api/v1/namespaces/kube-system/configmaps/coredns",
        None,
        "",
    )
    .await;
    assert_eq!(after.body["data"]["Corefile"], corefile);

    // Scaling CoreDNS makes the simulator start a third pod.
    let mut pods = Watch::open(
        &server,
        &format!(
            "/api/v1/namespaces/kube-system/pods?watch=true&labelSelector=k8s-app%3Dkube-dns&resourceVersion={}",
            server.resource_version()
        ),
    )
    .await;
    let scaled = call(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
        Some("application/strategic-merge-patch+json"),
        r#"{"spec":{"replicas":3}}"#,
    )
    .await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    assert_eq!(scaled.body["metadata"]["generation"], 2);
    // CoreDNS's replicas are re-read every other step: a few steps see the change through.
    server.step(4).await;
    let added = pods.until(|e| e["type"] == "ADDED").await;
    assert_eq!(added["object"]["metadata"]["labels"]["k8s-app"], "kube-dns");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_dry_runs_and_creates() {
    let server = serve(|_| {}).await;
    let path = "/apis/apps/v1/namespaces/kube-system/deployments/coredns";
    let before = call(&server, "GET", path, None, "").await;
    let rv = rv_of(&before.body);
    let stale = call(
        &server,
        "PATCH",
        path,
        Some("application/merge-patch+json"),
        r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":5}}"#,
    )
    .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.body["reason"], "Conflict");
    let failed_test = call(
        &server,
        "PATCH",
        path,
        Some("application/json-patch+json"),
        r#"[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":5}]"#,
    )
    .await;
    assert_eq!(failed_test.status, 422, "{}", failed_test.body);
    let fresh = call(
        &server,
        "PATCH",
        &format!("{path}?dryRun=All"),
        Some("application/json-patch+json"),
        &json!([{"op":"test","path":"/metadata/resourceVersion","value": rv},{"op":"replace","path":"/spec/replicas","value":5}]).to_string(),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.body["spec"]["replicas"], 5);
    let unchanged = call(&server, "GET", path, None, "").await;
    assert_eq!(unchanged.body, before.body, "a dry run changed the object");

    let applied = call(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=test"),
        Some("application/apply-patch+yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: coredns\n        resources:\n          limits:\n            memory: 300Mi\n",
    )
    .await;
    assert_eq!(applied.status, 200, "{}", applied.body);
    let container = &applied.body["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["memory"], "300Mi");
    assert_eq!(container["resources"]["requests"]["cpu"], "100m");
    let no_manager = call(
        &server,
        "PATCH",
        path,
        Some("application/apply-patch+yaml"),
        "spec: {}\n",
    )
    .await;
    assert_eq!(no_manager.status, 422);

    let scale_path = "/apis/apps/v1/namespaces/shop/deployments/checkout/scale";
    let scale = call(&server, "GET", scale_path, None, "").await;
    assert_eq!(scale.body["kind"], "Scale", "{}", scale.body);
    let scaled = call(
        &server,
        "PATCH",
        scale_path,
        Some("application/merge-patch+json"),
        r#"{"spec":{"replicas":4}}"#,
    )
    .await;
    assert_eq!(scaled.body["spec"]["replicas"], 4, "{}", scaled.body);

    let grant = json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "allow-search", "namespace": "shop"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "search"}], "to": [{"group": "", "kind": "Service"}]},
    })
    .to_string();
    let grants = "/apis/gateway.networking.k8s.io/v1beta1/namespaces/shop/referencegrants";
    let created = call(&server, "POST", grants, Some("application/json"), &grant).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = call(&server, "POST", grants, Some("application/json"), &grant).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["reason"], "AlreadyExists");
    let review = call(
        &server,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        Some("application/json"),
        r#"{"spec":{"resourceAttributes":{"verb":"patch","resource":"configmaps","namespace":"kube-system"}}}"#,
    )
    .await;
    assert_eq!(review.body["status"]["allowed"], true);
    let rules = call(
        &server,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        Some("application/json"),
        r#"{"spec":{"namespace":"default"}}"#,
    )
    .await;
    assert_eq!(rules.status, 201);
    assert!(rules.body["status"]["resourceRules"].is_array());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_old_watch_is_expired() {
    let server = serve(|_| {}).await;
    let mut watch = Watch::open(&server, "/api/v1/pods?watch=1&resourceVersion=1").await;
    let event = watch.until(|_| true).await;
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    assert!(watch.closes_within(DEADLINE).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_shows_and_clears() {
    let server = serve(|o| {
        o.faults = vec![Fault::Forbidden {
            resource: "pods".into(),
        }]
    })
    .await;
    let forbidden = call(&server, "GET", "/api/v1/pods", None, "").await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.body["reason"], "Forbidden");
    let review = call(
        &server,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        Some("application/json"),
        r#"{"spec":{"resourceAttributes":{"verb":"list","resource":"pods"}}}"#,
    )
    .await;
    assert_eq!(review.body["status"]["allowed"], false);

    // Switched at runtime over the admin endpoint.
    let set = call(
        &server,
        "PUT",
        "/_kockpit/faults",
        Some("text/plain"),
        "500:nodes:0.5\nslow:httproutes:300ms\n",
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        call(&server, "GET", "/api/v1/pods", None, "").await.status,
        200
    );
    let mut codes: Vec<u16> = Vec::new();
    for _ in 0..4 {
        codes.push(call(&server, "GET", "/api/v1/nodes", None, "").await.status);
    }
    assert_eq!(codes.iter().filter(|c| **c == 500).count(), 2, "{codes:?}");
    let started = Instant::now();
    let slow = call(
        &server,
        "GET",
        "/apis/gateway.networking.k8s.io/v1/httproutes",
        None,
        "",
    )
    .await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let bad = call(
        &server,
        "PUT",
        "/_kockpit/faults",
        Some("text/plain"),
        "teapot\n",
    )
    .await;
    assert_eq!(bad.status, 400);

    server.faults.set(vec![Fault::WatchDrop {
        after: Duration::from_millis(400),
    }]);
    let mut dropped = Watch::open(
        &server,
        &format!(
            "/api/v1/nodes?watch=1&resourceVersion={}",
            server.resource_version()
        ),
    )
    .await;
    assert!(
        dropped.closes_within(DEADLINE).await,
        "the watch was not dropped"
    );

    server.faults.set(vec![Fault::WatchExpired]);
    let mut expired = Watch::open(
        &server,
        &format!(
            "/api/v1/nodes?watch=1&resourceVersion={}",
            server.resource_version()
        ),
    )
    .await;
    let event = expired.until(|_| true).await;
    assert_eq!(event["object"]["code"], 410);

    let cleared = call(&server, "DELETE", "/_kockpit/faults", None, "").await;
    assert_eq!(cleared.body["faults"], json!([]));
    assert_eq!(
        call(&server, "GET", "/api/v1/nodes", None, "").await.status,
        200
    );
    server.stop().await;
}

fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kockpit-serve-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_and_scale() {
    let dir = scratch("objects");
    std::fs::write(
        dir.join("dump.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: app-settings\n    namespace: shop\n  data:\n    mode: offline\n- apiVersion: example.com/v1\n  kind: Widget\n  metadata:\n    name: w1\n    namespace: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: coredns\n  namespace: kube-system\ndata:\n  Corefile: from-the-dump\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = serve(|o| {
        o.objects = Some(dir.clone());
        o.scale = Some((40, 800));
    })
    .await;
    let settings = call(
        &server,
        "GET",
        "/api/v1/namespaces/shop/configmaps/app-settings",
        None,
        "",
    )
    .await;
    assert_eq!(settings.body["data"]["mode"], "offline");
    let coredns = call(
        &server,
        "GET",
        "/api/v1/namespaces/kube-system/configmaps/coredns",
        None,
        "",
    )
    .await;
    assert_eq!(
        coredns.body["data"]["Corefile"], "from-the-dump",
        "loaded objects win"
    );
    let widgets = call(
        &server,
        "GET",
        "/apis/example.com/v1/namespaces/shop/widgets",
        None,
        "",
    )
    .await;
    assert_eq!(widgets.body["items"].as_array().map(Vec::len), Some(1));
    let pods = call(&server, "GET", "/api/v1/pods?labelSelector=app", None, "").await;
    let count = pods.body["items"].as_array().map(Vec::len).unwrap_or(0);
    assert!(count >= 800, "only {count} pods");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_watches_and_dry_runs() {
    let dir = scratch("kubectl");
    let kubeconfig = dir.join("kubeconfig");
    let server = serve(|o| o.kubeconfig_out = Some(kubeconfig.clone())).await;
    let config = kubeconfig.clone();
    let listed = tokio::task::spawn_blocking(move || {
        kubectl(&config, &["get", "pods,nodes,nodeclaims,httproutes", "-A"])
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for expected in [
        "pod/coredns-",
        "node/ip-10-0-",
        "nodeclaim.karpenter.sh/",
        "httproute.gateway.networking.k8s.io/storefront",
    ] {
        assert!(
            listed.contains(expected),
            "missing {expected} in:\n{listed}"
        );
    }

    let config = kubeconfig.clone();
    let dry = tokio::task::spawn_blocking(move || {
        kubectl(
            &config,
            &[
                "patch",
                "configmap",
                "coredns",
                "-n",
                "kube-system",
                "--type",
                "merge",
                "-p",
                r#"{"data":{"Corefile":"dry run"}}"#,
                "--dry-run=server",
                "-o",
                "jsonpath={.data.Corefile}",
            ],
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dry, "dry run");
    let stored = call(
        &server,
        "GET",
        "/api/v1/namespaces/kube-system/configmaps/coredns",
        None,
        "",
    )
    .await;
    assert_ne!(stored.body["data"]["Corefile"], "dry run");

    // `get -w`: read the header and a couple of rows, then stop kubectl.
    let config = kubeconfig.clone();
    let lines = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&config)
            .args(["get", "pods", "-n", "kube-system", "-w"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("kubectl: {e}"));
        let mut lines = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            use std::io::BufRead;
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
            let until = Instant::now() + DEADLINE;
            while !lines.iter().any(|l: &String| l.starts_with("coredns-")) {
                let Some(left) = until.checked_duration_since(Instant::now()) else {
                    break;
                };
                match receiver.recv_timeout(left) {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        lines
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(lines.len() >= 3, "kubectl get -w printed {lines:?}");
    assert!(lines[0].starts_with("NAME"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("coredns-")), "{lines:?}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
