//! Secrets stay secret: a known value is planted in every place kockpit takes a secret from
//! (the kubeconfig's bearer token, an exec plugin's token, the Prometheus token, AWS keys and
//! session token, and so the SigV4 signatures made with them), kockpit is run the ways that
//! write things out (snapshots, the cockpit with a recording, a fix applied and audited, a
//! crash), all with `KOCKPIT_LOG=trace`, and every file and output is searched for them.
//! The tokens must have been used (the servers accepted them), or the test proves nothing.

mod support;

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};

use support::aws::{ACCESS_KEY_ID, FakeAws, Handler, SECRET_ACCESS_KEY, SESSION_TOKEN};
use support::servers::temp_dir;
use support::tmux::TmuxSession;

const KUBE_TOKEN: &str = "planted-kube-bearer-5f1c9e0d7a";
const PLUGIN_TOKEN: &str = "planted-plugin-token-77ab31c2";
const PROMETHEUS_TOKEN: &str = "planted-prometheus-token-c3d2e1";

async fn serve(token: &str) -> Server {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load("dns-storm").unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    options.speed = 0.0;
    options.token = Some(token.to_string());
    options.require_token = true;
    Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"))
}

/// A Prometheus that accepts anything and answers with an empty vector, recording the
/// requests (and so their credentials) it got.
fn prometheus_handler() -> Handler {
    Arc::new(|request| {
        let body = if request.path.ends_with("/label/__name__/values") {
            r#"{"status":"success","data":["coredns_dns_requests_total"]}"#
        } else if request.path.ends_with("/query_range") {
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#
        } else {
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        };
        (200, "application/json", body.to_string())
    })
}

/// A plain-HTTP Prometheus stand-in that records the Authorization header it receives.
async fn bearer_prometheus() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let record = record.clone();
                    async move {
                        let auth = request
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        record
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(auth);
                        let body =
                            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(body)),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn kubeconfig_with_token(server: &Server, dir: &Path) -> PathBuf {
    let path = dir.join("kubeconfig-token");
    std::fs::write(&path, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn kubeconfig_with_plugin(server: &Server, dir: &Path) -> PathBuf {
    let token_line = format!("    token: {}\n", server.token);
    let exec = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: sh\n      args:\n      - -c\n      - 'printf ''{{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"status\":{{\"token\":\"{PLUGIN_TOKEN}\"}}}}'''\n"
    );
    let path = dir.join("kubeconfig-plugin");
    std::fs::write(&path, server.kubeconfig().replace(&token_line, &exec))
        .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// kockpit with the test's state directory, trace logging, AWS credentials planted and
/// every other AWS source of configuration out of the way.
fn kockpit(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kockpit"));
    command
        .env("KOCKPIT_STATE_DIR", state)
        .env("KOCKPIT_CONFIG_DIR", state.join("config"))
        .env("KOCKPIT_CACHE_DIR", state.join("cache"))
        .env("KOCKPIT_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", state.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            state.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("KUBECONFIG")
        .env_remove("KOCKPIT_PROMETHEUS_USERNAME")
        .env_remove("KOCKPIT_PROMETHEUS_PASSWORD");
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir`, recordings decompressed, as (path, text).
fn written(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(written(&path));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = if path.extension().is_some_and(|e| e == "kock") {
            // Header (10 bytes), then one gzip stream.
            let mut decoded = String::new();
            let _ = flate2::read::GzDecoder::new(&bytes[10.min(bytes.len())..])
                .read_to_string(&mut decoded);
            decoded
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        out.push((path, text));
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default()
}

#[test]
fn planted_secrets_appear_in_nothing_kockpit_writes() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir("secrets");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("{e}"));
    let kube_server = runtime.block_on(serve(KUBE_TOKEN));
    let plugin_server = runtime.block_on(serve(PLUGIN_TOKEN));
    let signed_prometheus = runtime.block_on(FakeAws::start(prometheus_handler()));
    let (bearer_prometheus, bearer_seen) = runtime.block_on(bearer_prometheus());
    let moto = support::moto::start("secrets");
    let kube_config = kubeconfig_with_token(&kube_server, &dir);
    let plugin_config = kubeconfig_with_plugin(&plugin_server, &dir);
    let mut outputs: Vec<(String, String)> = Vec::new();

    // 1. A snapshot with the kubeconfig's token and a Prometheus bearer token.
    let snapshot = kockpit(&state)
        .args(["snapshot", "--kubeconfig"])
        .arg(&kube_config)
        .args(["--prometheus", &bearer_prometheus])
        .env("KOCKPIT_PROMETHEUS_TOKEN", PROMETHEUS_TOKEN)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snapshot.status.code(), Some(0), "{}", text(&snapshot));
    outputs.push(("snapshot with tokens".into(), text(&snapshot)));

    // 2. A snapshot through an exec plugin, SigV4-signed Prometheus queries and CloudWatch.
    let signed = kockpit(&state)
        .args(["snapshot", "--kubeconfig"])
        .arg(&plugin_config)
        .args([
            "--prometheus",
            &signed_prometheus.url(),
            "--prometheus-sigv4",
        ])
        .args(["--cloudwatch", "--region", "us-east-1"])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed));
    outputs.push(("snapshot with plugin and AWS".into(), text(&signed)));

    // 3. A fix applied: its audit line is written.
    let list = kockpit(&state)
        .args(["fix", "list", "--kubeconfig"])
        .arg(&kube_config)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = text(&list);
    // Any fix the live cluster offers will do: only its audit line matters here.
    let fix_id = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|id| id.contains('#'))
        .unwrap_or_else(|| panic!("no fix to apply:\n{listed}"))
        .to_string();
    let apply = kockpit(&state)
        .args([
            "fix",
            "apply",
            &fix_id,
            "--yes",
            "--allow-writes",
            "--kubeconfig",
        ])
        .arg(&kube_config)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(apply.status.success(), "{}", text(&apply));
    outputs.push(("fix list".into(), listed));
    outputs.push(("fix apply".into(), text(&apply)));

    // 4. The cockpit with a recording, quit; then a crash.
    let recording = state.join("session.kock");
    let kube_arg = kube_config.display().to_string();
    let recording_arg = recording.display().to_string();
    let state_arg = state.display().to_string();
    let base_env: Vec<(&str, &str)> = vec![
        ("KOCKPIT_STATE_DIR", state_arg.as_str()),
        ("KOCKPIT_LOG", "trace"),
    ];
    let cockpit = TmuxSession::start(
        "secrets-record",
        100,
        30,
        &["--kubeconfig", &kube_arg, "--record", &recording_arg],
        &base_env,
    );
    cockpit.wait_for("the live cluster", |s| s.contains("LIVE"));
    cockpit.send(&["q"]);
    let screen = cockpit.wait_for("kockpit to exit", |s| s.contains("KOCKPIT-EXITED-0"));
    outputs.push(("cockpit screen".into(), screen));
    drop(cockpit);

    let mut crash_env = base_env.clone();
    crash_env.push(("KOCKPIT_TEST_PANIC", "1"));
    let crashing = TmuxSession::start(
        "secrets-crash",
        100,
        30,
        &["--kubeconfig", &kube_arg],
        &crash_env,
    );
    crashing.wait_for("the live cluster", |s| s.contains("LIVE"));
    crashing.send(&["!"]);
    let screen = crashing.wait_for("the crash to be reported on a restored terminal", |s| {
        s.contains("a report is in") && s.contains("KOCKPIT-EXITED-101")
    });
    outputs.push(("crash screen".into(), screen));
    drop(crashing);

    // The secrets were used: the servers accepted them.
    let signatures: Vec<String> = signed_prometheus
        .requests()
        .iter()
        .filter_map(|r| {
            r.header("authorization")
                .split("Signature=")
                .nth(1)
                .map(str::to_string)
        })
        .collect();
    assert!(
        !signatures.is_empty(),
        "no signed Prometheus request was made"
    );
    let bearer = bearer_seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(
        bearer
            .iter()
            .any(|a| a == &format!("Bearer {PROMETHEUS_TOKEN}")),
        "the Prometheus token was not sent: {bearer:?}"
    );

    let files = written(&state);
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for expected in ["kockpit.log", "audit.jsonl", "session.kock"] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} in {names:?}"
        );
    }
    let crash_report = files
        .iter()
        .find(|(p, _)| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("crash-"))
        })
        .unwrap_or_else(|| panic!("no crash report in {names:?}"));
    assert!(
        crash_report.1.contains("a test panic"),
        "{}",
        crash_report.1
    );
    let log = &files
        .iter()
        .find(|(p, _)| p.ends_with("kockpit.log"))
        .unwrap_or_else(|| panic!("no log"))
        .1;
    assert!(
        log.lines().count() > 100,
        "trace logging ran: {} lines",
        log.lines().count()
    );

    let planted = [
        KUBE_TOKEN,
        PLUGIN_TOKEN,
        PROMETHEUS_TOKEN,
        SECRET_ACCESS_KEY,
        SESSION_TOKEN,
    ];
    let mut everything: Vec<(String, &str)> = files
        .iter()
        .map(|(p, t)| (p.display().to_string(), t.as_str()))
        .collect();
    everything.extend(outputs.iter().map(|(what, t)| (what.clone(), t.as_str())));
    for (place, content) in &everything {
        for secret in planted
            .iter()
            .copied()
            .chain(signatures.iter().map(String::as_str))
        {
            assert!(!content.contains(secret), "`{secret}` appears in {place}");
        }
    }
    // What is written is the owner's only.
    for (path, _) in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "kockpit.log"
            || name == "audit.jsonl"
            || name.ends_with(".kock")
            || name.starts_with("crash-")
        {
            assert_eq!(
                mode(path),
                0o600,
                "{} is mode {:o}",
                path.display(),
                mode(path)
            );
        }
    }
    runtime.block_on(kube_server.stop());
    runtime.block_on(plugin_server.stop());
    drop(moto);
    let _ = std::fs::remove_dir_all(&dir);
}
