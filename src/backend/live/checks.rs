//! Gathers the facts behind the checks `kockpit doctor` prints and the Sources window shows:
//! reads the kubeconfig, runs its credential plugin with a deadline, asks the API server for
//! its version, its optional APIs and a SelfSubjectAccessReview per permission, asks
//! Prometheus which exporters it holds, and resolves the AWS credentials and region. The
//! words of each line come from `domain::checks`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Client;
use kube::config::{ExecConfig, Kubeconfig};
use serde_json::{Value, json};

use super::LiveOptions;
use super::client;
use super::cloudwatch::{self, CloudWatchOptions};
use super::crds;
use super::discovery::{self, Installed};
use super::prometheus::{PrometheusClient, PrometheusOptions, Querier};
use crate::backend::writer::{ACCESS_REVIEW_PATH, access_review, review_answer};
use crate::domain::assemble::ObjectKind;
use crate::domain::checks::{
    self, ApiFamily, Area, Check, Checks, Review, Status, api_family, skipped,
};
use crate::domain::model::Pane;
use crate::domain::permissions::{self, Permission};
use crate::domain::{exporters, sanitize::sanitize};

/// How long one step (a plugin run, one request) may take: doctor answers in seconds.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Access reviews asked at once.
const REVIEWS_IN_FLIGHT: usize = 8;

/// What to check, as the command line gives it.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub live: LiveOptions,
    /// Also check the permissions each fix writes with.
    pub allow_writes: bool,
    /// How long a credential plugin may run.
    pub plugin_timeout: Option<Duration>,
    /// Ask the server about each permission (SelfSubjectAccessReviews). The cockpit does not:
    /// without --allow-writes the server sees only its reads and dry runs.
    pub ask_access: bool,
}

/// Runs every check. Never fails: what cannot be checked is a line saying why.
pub async fn run(options: &CheckOptions) -> Checks {
    run_with(options, None).await
}

/// The API server the live backend is already connected to: its client and URL. Checks made
/// through it run no credential plugin of their own (a second `aws eks get-token`, or a
/// second MFA prompt, for a window's worth of lines would be a cost the user did not ask for).
pub struct Connected {
    pub client: kube::Client,
    pub endpoint: String,
}

/// [`run`], through `connected` when the caller already has a connection.
pub async fn run_with(options: &CheckOptions, connected: Option<Connected>) -> Checks {
    let mut out = Vec::new();
    let kubernetes_ok = kubernetes(options, connected, &mut out).await;
    if !kubernetes_ok {
        // The API-dependent areas are named, so the user sees what was not checked.
        for area in [Area::ReadAccess, Area::Apis] {
            out.push(skipped(
                area,
                area.title(),
                "the API server cannot be reached",
            ));
        }
    }
    if let Some(prometheus) = &options.live.prometheus {
        prometheus_checks(prometheus, &mut out).await;
    }
    if options.live.cloudwatch || options.live.flow_logs.is_some() {
        out.push(cloudwatch_check(&options.live).await);
    }
    Checks::new(out)
}

/// Kubeconfig, credentials, API server, access and optional APIs. False when the API server
/// could not be reached (nothing further about it was checked).
async fn kubernetes(
    options: &CheckOptions,
    connected: Option<Connected>,
    out: &mut Vec<Check>,
) -> bool {
    let live = &options.live;
    let source = client::kubeconfig_source(live);
    let kubeconfig = match client::read_kubeconfig(live) {
        Ok(kubeconfig) => kubeconfig,
        Err(error) => {
            out.push(Check::new(
                Area::Kubeconfig,
                Status::Fail,
                source,
                format!("cannot be read: {error}"),
            ));
            return false;
        }
    };
    let Some(context) = context_check(&kubeconfig, live, &source, out) else {
        return false;
    };
    out.push(credentials_check(&kubeconfig, &context, options, connected.is_some()).await);

    let connection = match connected {
        Some(connected) => connected,
        None => match client::connect(live).await {
            Ok(connection) => Connected {
                client: connection.client,
                endpoint: connection.endpoint,
            },
            Err(error) => {
                out.push(Check::new(
                    Area::ApiServer,
                    Status::Fail,
                    "API server",
                    error.to_string(),
                ));
                return false;
            }
        },
    };
    let started = Instant::now();
    let version = tokio::time::timeout(STEP_TIMEOUT, connection.client.apiserver_version()).await;
    let version = match version {
        Ok(Ok(info)) => info.git_version,
        Ok(Err(error)) => {
            out.push(Check::new(
                Area::ApiServer,
                Status::Fail,
                &connection.endpoint,
                format!("no answer: {error}"),
            ));
            return false;
        }
        Err(_) => {
            out.push(Check::new(
                Area::ApiServer,
                Status::Fail,
                &connection.endpoint,
                format!("no answer within {}s", STEP_TIMEOUT.as_secs()),
            ));
            return false;
        }
    };
    out.push(
        Check::new(
            Area::ApiServer,
            Status::Ok,
            &connection.endpoint,
            format!("Kubernetes {version}"),
        )
        .took(started.elapsed()),
    );

    let installed =
        match tokio::time::timeout(STEP_TIMEOUT, discovery::discover(&connection.client)).await {
            Ok(Ok(installed)) => installed,
            Ok(Err(error)) => {
                out.push(Check::new(
                    Area::Apis,
                    Status::Fail,
                    "API discovery",
                    error.to_string(),
                ));
                Installed::default()
            }
            Err(_) => {
                out.push(Check::new(
                    Area::Apis,
                    Status::Fail,
                    "API discovery",
                    format!("no answer within {}s", STEP_TIMEOUT.as_secs()),
                ));
                Installed::default()
            }
        };
    out.extend(families(&installed).iter().map(api_family));
    if options.ask_access {
        out.extend(access_checks(&connection.client, &installed, options).await);
    } else {
        out.push(skipped(
            Area::ReadAccess,
            Area::ReadAccess.title(),
            "a refused list or watch shows on its pane (kockpit doctor asks the server)",
        ));
    }
    true
}

/// The context in use, and the cluster it names. None (with a failed line) when missing.
fn context_check(
    kubeconfig: &Kubeconfig,
    live: &LiveOptions,
    source: &str,
    out: &mut Vec<Check>,
) -> Option<String> {
    let Some(name) = live
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    else {
        out.push(Check::new(
            Area::Kubeconfig,
            Status::Fail,
            source,
            "no current context: pass --context NAME",
        ));
        return None;
    };
    let Some(context) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
    else {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        out.push(Check::new(
            Area::Kubeconfig,
            Status::Fail,
            source,
            format!(
                "context `{name}` is not in it (it has: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
        return None;
    };
    let server = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_else(|| "no server".to_string());
    out.push(Check::new(
        Area::Kubeconfig,
        Status::Ok,
        source,
        format!("context {name}, cluster {} at {server}", context.cluster),
    ));
    Some(name)
}

/// How the context's user proves who it is; an exec plugin is run and timed.
async fn credentials_check(
    kubeconfig: &Kubeconfig,
    context: &str,
    options: &CheckOptions,
    connected: bool,
) -> Check {
    let user = client::context_user(kubeconfig, context);
    let auth = kubeconfig
        .auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.as_ref());
    let Some(auth) = auth else {
        return Check::new(
            Area::Credentials,
            Status::Warn,
            format!("user `{user}`"),
            "not in the kubeconfig: requests go without credentials",
        );
    };
    let how = if auth.token.is_some() || auth.token_file.is_some() {
        "a bearer token"
    } else if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() {
        "a client certificate"
    } else if auth.username.is_some() {
        "a user name and password"
    } else if let Some(exec) = &auth.exec
        && connected
    {
        return Check::new(
            Area::Credentials,
            Status::Ok,
            format!("exec credential plugin `{}`", plugin_name(exec)),
            "run by the live connection (its waits and failures show on the panes)",
        );
    } else if let Some(exec) = &auth.exec {
        let timeout = options.plugin_timeout.unwrap_or(STEP_TIMEOUT);
        return exec_plugin_check(exec, timeout).await;
    } else if auth.auth_provider.is_some() {
        "an auth provider"
    } else {
        "nothing (anonymous)"
    };
    Check::new(
        Area::Credentials,
        Status::Ok,
        format!("user `{user}`"),
        format!("authenticates with {how}"),
    )
}

/// `aws eks get-token --cluster-name prod`, as messages name the plugin.
fn plugin_name(exec: &ExecConfig) -> String {
    let mut words = vec![exec.command.clone().unwrap_or_default()];
    words.extend(exec.args.clone().unwrap_or_default());
    let name = sanitize(&words.join(" ")).into_owned();
    if name.chars().count() > 60 {
        format!("{}…", name.chars().take(59).collect::<String>())
    } else {
        name
    }
}

/// Runs the exec credential plugin once, stopped at `timeout`, and says how long it took
/// and whether it gave a token.
async fn exec_plugin_check(exec: &ExecConfig, timeout: Duration) -> Check {
    let name = plugin_name(exec);
    let subject = format!("exec credential plugin `{name}`");
    let Some(command) = exec.command.as_deref() else {
        return Check::new(Area::Credentials, Status::Fail, subject, "no command given");
    };
    let mut process = tokio::process::Command::new(command);
    process
        .args(exec.args.clone().unwrap_or_default())
        .env(
            "KUBERNETES_EXEC_INFO",
            json!({
                "apiVersion": exec.api_version.clone().unwrap_or_default(),
                "kind": "ExecCredential",
                "spec": {"interactive": false},
            })
            .to_string(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for pair in exec.env.iter().flatten() {
        if let (Some(key), Some(value)) = (pair.get("name"), pair.get("value")) {
            process.env(key, value);
        }
    }
    let started = Instant::now();
    let output = match tokio::time::timeout(timeout, process.output()).await {
        Err(_) => {
            return Check::new(
                Area::Credentials,
                Status::Fail,
                subject,
                format!(
                    "did not answer within {}s and was stopped",
                    timeout.as_secs()
                ),
            )
            .took(started.elapsed());
        }
        Ok(Err(error)) => {
            let hint = exec
                .install_hint
                .as_deref()
                .map(|h| format!(" ({})", h.trim()))
                .unwrap_or_default();
            return Check::new(
                Area::Credentials,
                Status::Fail,
                subject,
                format!("cannot be started: {error}{hint}"),
            );
        }
        Ok(Ok(output)) => output,
    };
    let took = started.elapsed();
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>();
        let message: String = said.join(" / ").chars().take(300).collect();
        return Check::new(
            Area::Credentials,
            Status::Fail,
            subject,
            format!("failed ({}): {message}", output.status),
        )
        .took(took);
    }
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let has_token = answer
        .pointer("/status/token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let has_certificate = answer.pointer("/status/clientCertificateData").is_some();
    let (status, detail) = if has_token {
        let expires = answer
            .pointer("/status/expirationTimestamp")
            .and_then(Value::as_str)
            .map(|at| format!(", expires {at}"))
            .unwrap_or_default();
        (Status::Ok, format!("gave a token{expires}"))
    } else if has_certificate {
        (Status::Ok, "gave a client certificate".to_string())
    } else {
        (
            Status::Fail,
            "answered without a token (not an ExecCredential)".to_string(),
        )
    };
    Check::new(Area::Credentials, status, subject, detail).took(took)
}

/// Gateway API, Karpenter and the VPA as the server serves them.
fn families(installed: &Installed) -> Vec<ApiFamily> {
    let served = |group: &'static str| {
        (
            group,
            installed.groups.get(group).cloned().unwrap_or_default(),
        )
    };
    vec![
        ApiFamily {
            name: "Gateway API",
            wanted: vec![(crds::GATEWAY.group, crds::GATEWAY.version)],
            served: vec![served(crds::GATEWAY.group)],
            pane: Pane::Gateways,
            release: None,
        },
        ApiFamily {
            name: "Karpenter",
            wanted: vec![
                (crds::NODE_POOL.group, crds::NODE_POOL.version),
                (crds::EC2_NODE_CLASS.group, crds::EC2_NODE_CLASS.version),
            ],
            served: vec![
                served(crds::NODE_POOL.group),
                served(crds::EC2_NODE_CLASS.group),
            ],
            pane: Pane::Nodes,
            release: None,
        },
        ApiFamily {
            name: "Vertical Pod Autoscaler",
            wanted: vec![(crds::VPA.group, crds::VPA.version)],
            served: vec![served(crds::VPA.group)],
            pane: Pane::Rightsizing,
            release: None,
        },
    ]
}

/// Asks the server whether the user may do what `permission` names.
async fn review(client: &Client, permission: &Permission) -> Review {
    let mut attributes = json!({
        "verb": permission.verb,
        "group": permission.group,
        "resource": permission.resource,
    });
    if let Some(namespace) = &permission.namespace {
        attributes["namespace"] = json!(namespace);
    }
    if let Some(sub) = permission.subresource {
        attributes["subresource"] = json!(sub);
    }
    let body = serde_json::to_vec(&access_review(attributes)).map_err(|e| e.to_string())?;
    let request = hyper::Request::post(ACCESS_REVIEW_PATH)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    let answer: Value = tokio::time::timeout(STEP_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {}s", STEP_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    Ok(review_answer(&answer))
}

/// A review per permission kockpit reads with (core kinds, and the CRD kinds installed),
/// and with writes allowed, per permission each fix writes with.
async fn access_checks(
    client: &Client,
    installed: &Installed,
    options: &CheckOptions,
) -> Vec<Check> {
    let mut kinds: Vec<ObjectKind> = ObjectKind::CORE.to_vec();
    kinds.extend(
        installed
            .kinds
            .iter()
            .filter_map(|crd| ObjectKind::find(crd.group, crd.plural)),
    );
    let reads = permissions::reads(&kinds, options.live.namespace.as_deref());
    // Owned values in the stream: the future stays Send for the live task's spawn.
    let permissions: Vec<Permission> = reads.iter().map(|r| r.permission.clone()).collect();
    let answers: Vec<Review> = futures::stream::iter(permissions)
        .map(|permission| {
            let client = client.clone();
            async move { review(&client, &permission).await }
        })
        .buffered(REVIEWS_IN_FLIGHT)
        .collect()
        .await;
    let mut out: Vec<Check> = reads
        .iter()
        .zip(&answers)
        .map(|(read, answer)| checks::read_access(read, answer))
        .collect();
    if options.allow_writes {
        let writes: Vec<_> = permissions::FIX_KINDS
            .into_iter()
            .flat_map(|fix| {
                permissions::fix_writes(fix)
                    .into_iter()
                    .map(move |permission| (fix, permission))
            })
            .collect();
        // One review per distinct permission; every fix that needs it gets its line.
        let mut distinct: BTreeMap<String, Review> = BTreeMap::new();
        for (_, permission) in &writes {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                distinct.entry(permission.describe())
            {
                slot.insert(review(client, permission).await);
            }
        }
        for (fix, permission) in &writes {
            if let Some(answer) = distinct.get(&permission.describe()) {
                out.push(checks::write_access(*fix, permission, answer));
            }
        }
    }
    out
}

/// Reachability, the time it took, and the exporters found.
async fn prometheus_checks(options: &PrometheusOptions, out: &mut Vec<Check>) {
    let endpoint = options.endpoint();
    let mut options = options.clone();
    options.query_timeout = options.query_timeout.min(STEP_TIMEOUT);
    let client = match PrometheusClient::new(&options) {
        Ok(client) => client,
        Err(error) => {
            out.push(Check::new(
                Area::Prometheus,
                Status::Fail,
                endpoint,
                error.to_string(),
            ));
            return;
        }
    };
    let started = Instant::now();
    let names = match client.metric_names().await {
        Ok(names) => names,
        Err(error) => {
            out.push(
                Check::new(
                    Area::Prometheus,
                    Status::Fail,
                    endpoint,
                    format!("unreachable: {error}"),
                )
                .took(started.elapsed()),
            );
            return;
        }
    };
    out.push(
        Check::new(
            Area::Prometheus,
            Status::Ok,
            endpoint,
            format!("answers, {} metric names", names.len()),
        )
        .took(started.elapsed()),
    );
    // Versions are a nicety: without them the names still tell the generation.
    let versions = client
        .instant(exporters::VERSION_QUERY)
        .await
        .map(|answer| answer.value)
        .unwrap_or_default();
    out.extend(
        exporters::detect(&names, &versions)
            .iter()
            .map(checks::exporter),
    );
}

/// The AWS credentials and region CloudWatch (and flow logs) would use, proven with one
/// ListMetrics call.
async fn cloudwatch_check(live: &LiveOptions) -> Check {
    let mut options = CloudWatchOptions::new(live.region.clone());
    options.call_timeout = STEP_TIMEOUT;
    options.max_attempts = 1;
    let started = Instant::now();
    let clients = match cloudwatch::client::build(&options).await {
        Ok(clients) => clients,
        Err(error) => {
            return Check::new(
                Area::Cloudwatch,
                Status::Fail,
                "AWS credentials and region",
                error.to_string(),
            );
        }
    };
    let request = cloudwatch::queries::ListRequest {
        namespace: "AWS/ApplicationELB".to_string(),
        metric_name: Some("RequestCount".to_string()),
        dimension_name: None,
    };
    use cloudwatch::client::CloudWatchApi;
    let subject = format!("region {} ({})", clients.region, clients.endpoint);
    match tokio::time::timeout(STEP_TIMEOUT, clients.regional.list_metrics(&request, None)).await {
        Ok(Ok(_)) => Check::new(
            Area::Cloudwatch,
            Status::Ok,
            subject,
            "credentials accepted (ListMetrics answered)",
        )
        .took(started.elapsed()),
        Ok(Err(error)) => Check::new(Area::Cloudwatch, Status::Fail, subject, error.to_string())
            .took(started.elapsed()),
        Err(_) => Check::new(
            Area::Cloudwatch,
            Status::Fail,
            subject,
            format!("no answer within {}s", STEP_TIMEOUT.as_secs()),
        ),
    }
}
