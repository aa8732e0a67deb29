//! The kubeconfig's exec credential plugin (`aws eks get-token`), run by kockpit itself
//! rather than by kube-rs: a plugin that hangs is killed at a deadline, one that fails is
//! reported in its own words, the panes can say which plugin they wait for and for how
//! long, and a token the API server rejects (401) is fetched again.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use hyper::http::{HeaderValue, Request, Response, StatusCode, header::AUTHORIZATION};
use kube::config::ExecConfig;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::domain::sanitize::sanitize;
use crate::domain::time::Timestamp;

/// How long a plugin may take before it is killed (`exec_timeout` in config.toml,
/// `--exec-timeout`). `aws eks get-token` answers in about a second; SSO device flows that
/// wait for a browser never finish in a TUI anyway.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// After a failure, requests get the same error for this long instead of starting the
/// plugin again: a dozen watchers retrying would otherwise run it a dozen times a second.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// A token is fetched again this long before it expires, as client-go does.
const REFRESH_BEFORE_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// A plugin running longer than this is mentioned in the panes.
const NOTICEABLE_WAIT: Duration = Duration::from_secs(1);
/// What is read of the plugin's output; an ExecCredential is a few kilobytes.
const MAX_OUTPUT_BYTES: u64 = crate::domain::limits::PLUGIN_OUTPUT_BYTES.max;
/// How much of the plugin's command line names it in messages.
const NAME_CHARS: usize = 60;
/// How much of the plugin's own message is kept.
const MESSAGE_CHARS: usize = 300;

/// Why no token came from the plugin. The plugin's own words come first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("credential plugin `{plugin}` did not answer within {} and was stopped", seconds(*after))]
    TimedOut { plugin: String, after: Duration },
    #[error("{message} (credential plugin `{plugin}`, {status})")]
    Failed {
        plugin: String,
        /// "exit 255", "killed by signal 9".
        status: String,
        /// What the plugin said on stderr (else stdout), sanitised and clipped.
        message: String,
    },
    #[error("credential plugin `{plugin}` cannot be started: {cause}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    CannotStart {
        plugin: String,
        cause: String,
        /// The kubeconfig's `installHint`.
        hint: Option<String>,
    },
    #[error("credential plugin `{plugin}` answered something kockpit cannot read: {cause}")]
    BadAnswer { plugin: String, cause: String },
    #[error(
        "credential plugin `{plugin}` returned a client certificate; kockpit supports plugins that return a token (aws eks get-token, kubelogin)"
    )]
    ClientCertificate { plugin: String },
}

/// What the panes and the source-health view say about the plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginStatus {
    /// Not run yet, or its token is in use.
    Quiet,
    /// Running now, for this long.
    Waiting { plugin: String, for_: Duration },
    /// The last run failed.
    Failed(PluginError),
}

impl PluginStatus {
    /// One line for a pane: which plugin, how long, when it gives up. Nothing for the
    /// first second, which a plugin that works usually needs.
    pub fn waiting_note(&self, timeout: Duration) -> Option<String> {
        match self {
            PluginStatus::Waiting { plugin, for_ } if *for_ >= NOTICEABLE_WAIT => Some(format!(
                "credential plugin `{plugin}` has not answered for {}s (stopped at {})",
                for_.as_secs(),
                seconds(timeout)
            )),
            _ => None,
        }
    }
}

/// A token, with a Debug that never shows it.
#[derive(Clone, PartialEq, Eq)]
struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Debug, Clone)]
struct Credential {
    token: Token,
    expires: Option<Timestamp>,
}

impl Credential {
    fn fresh(&self, now: Timestamp) -> bool {
        self.expires
            .is_none_or(|expires| now + REFRESH_BEFORE_EXPIRY < expires)
    }
}

type Run = Shared<BoxFuture<'static, Result<Credential, PluginError>>>;

#[derive(Default)]
struct State {
    credential: Option<Credential>,
    /// The run in progress, which every request waiting for a token shares.
    running: Option<(Run, Instant)>,
    failure: Option<(PluginError, Instant)>,
}

/// How to run the plugin: the command, its arguments and environment.
#[derive(Debug, Clone)]
struct Spec {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    exec_info: String,
    install_hint: Option<String>,
    name: String,
    timeout: Duration,
}

/// One kubeconfig user's exec plugin, shared by every request of a client.
pub struct ExecPlugin {
    spec: Spec,
    state: Mutex<State>,
}

impl std::fmt::Debug for ExecPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecPlugin")
            .field("plugin", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// `aws eks get-token --cluster-name prod`, clipped: how messages name a plugin.
fn plugin_name(command: &str, args: &[String]) -> String {
    let full = std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    clip(&sanitize(&full), NAME_CHARS)
}

/// `20s`, or `300ms` under a second.
fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs())
    }
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// The plugin's own explanation: its stderr (else stdout), lines joined, sanitised, clipped.
fn plugin_message(stderr: &[u8], stdout: &[u8]) -> String {
    let lines = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|line| sanitize(line).trim().to_string())
            .filter(|line| !line.is_empty())
            .collect()
    };
    let mut said = lines(stderr);
    if said.is_empty() {
        said = lines(stdout);
    }
    if said.is_empty() {
        return "the plugin failed without a message".to_string();
    }
    clip(&said.join(" / "), MESSAGE_CHARS)
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended abnormally".to_string(),
    }
}

#[derive(Deserialize)]
struct ExecCredential {
    status: Option<ExecCredentialStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialStatus {
    token: Option<String>,
    expiration_timestamp: Option<String>,
    client_certificate_data: Option<String>,
}

fn parse_answer(spec: &Spec, stdout: &[u8]) -> Result<Credential, PluginError> {
    let bad = |cause: String| PluginError::BadAnswer {
        plugin: spec.name.clone(),
        cause,
    };
    // client-go reads the answer with a YAML-tolerant decoder; some plugins print YAML.
    let answer: ExecCredential = serde_json::from_slice(stdout)
        .or_else(|json_error| serde_saphyr::from_slice(stdout).map_err(|_| json_error))
        .map_err(|e| bad(format!("not an ExecCredential ({e})")))?;
    let status = answer
        .status
        .ok_or_else(|| bad("the ExecCredential has no status".into()))?;
    let expires = status
        .expiration_timestamp
        .as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| bad(format!("expirationTimestamp `{}`: {e}", clip(text, 40))))
        })
        .transpose()?;
    match status.token.filter(|t| !t.is_empty()) {
        Some(token) => {
            crate::backend::secrets::register(&token);
            Ok(Credential {
                token: Token(token.trim().into()),
                expires,
            })
        }
        None if status.client_certificate_data.is_some() => Err(PluginError::ClientCertificate {
            plugin: spec.name.clone(),
        }),
        None => Err(bad("the ExecCredential has no token".into())),
    }
}

/// Kills the plugin and everything it started (`sh -c 'sleep 600'` leaves `sleep` behind
/// otherwise), when the run ends early for any reason.
struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

async fn run_plugin(spec: Spec) -> Result<Credential, PluginError> {
    let mut command = tokio::process::Command::new(&spec.command);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("KUBERNETES_EXEC_INFO", &spec.exec_info)
        // kockpit owns the terminal: the plugin can neither prompt nor draw on it.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| PluginError::CannotStart {
        plugin: spec.name.clone(),
        cause: e.to_string(),
        hint: spec
            .install_hint
            .as_deref()
            .map(|h| clip(&sanitize(h), 200)),
    })?;
    let mut group = KillGroup(child.id());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(pipe) = stdout.as_mut() {
                let _ = pipe.take(MAX_OUTPUT_BYTES).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(pipe) = stderr.as_mut() {
                let _ = pipe.take(MAX_OUTPUT_BYTES).read_to_end(&mut err).await;
            }
        };
        let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
        (status, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(spec.timeout, run).await {
        Ok(finished) => finished,
        Err(_) => {
            return Err(PluginError::TimedOut {
                plugin: spec.name.clone(),
                after: spec.timeout,
            });
        }
    };
    let status = status.map_err(|e| PluginError::CannotStart {
        plugin: spec.name.clone(),
        cause: e.to_string(),
        hint: None,
    })?;
    // It ended by itself: nothing of it is left to kill (and its pid may be reused).
    group.0 = None;
    if !status.success() {
        return Err(PluginError::Failed {
            plugin: spec.name.clone(),
            status: describe_status(status),
            message: plugin_message(&err, &out),
        });
    }
    parse_answer(&spec, &out)
}

impl ExecPlugin {
    /// The plugin `exec` describes, stopped after `timeout`.
    pub fn new(exec: &ExecConfig, timeout: Duration) -> ExecPlugin {
        let command = exec.command.clone().unwrap_or_default();
        let args = exec.args.clone().unwrap_or_default();
        let env = exec
            .env
            .iter()
            .flatten()
            .filter_map(|pair| Some((pair.get("name")?.clone(), pair.get("value")?.clone())))
            .collect();
        let mut spec = serde_json::json!({ "interactive": false });
        if exec.provide_cluster_info
            && let Some(cluster) = &exec.cluster
            && let Ok(cluster) = serde_json::to_value(cluster)
        {
            spec["cluster"] = cluster;
        }
        let exec_info = serde_json::json!({
            "apiVersion": exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1beta1".into()),
            "kind": "ExecCredential",
            "spec": spec,
        })
        .to_string();
        ExecPlugin {
            spec: Spec {
                name: plugin_name(&command, &args),
                command,
                args,
                env,
                exec_info,
                install_hint: exec.install_hint.clone(),
                timeout,
            },
            state: Mutex::new(State::default()),
        }
    }

    /// How messages name this plugin.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A token for the next request: the cached one while it is fresh, else the plugin's
    /// next answer. Runs the plugin at most once at a time, whoever is waiting.
    async fn token(self: &Arc<Self>) -> Result<Token, PluginError> {
        let run = {
            let mut state = self.state();
            if let Some(credential) = &state.credential
                && credential.fresh(chrono::Utc::now())
            {
                return Ok(credential.token.clone());
            }
            if let Some((error, at)) = &state.failure
                && at.elapsed() < RETRY_AFTER_FAILURE
                && state.running.is_none()
            {
                return Err(error.clone());
            }
            match &state.running {
                Some((run, _)) => run.clone(),
                None => {
                    let plugin = Arc::downgrade(self);
                    let name = self.spec.name.clone();
                    // Spawned, so a request that gives up does not stop the run the others
                    // wait for; the run's own timeout ends it.
                    let task = tokio::spawn(run_plugin(self.spec.clone()));
                    let run = async move {
                        let result = task.await.unwrap_or_else(|e| {
                            Err(PluginError::CannotStart {
                                plugin: name,
                                cause: e.to_string(),
                                hint: None,
                            })
                        });
                        if let Some(plugin) = plugin.upgrade() {
                            plugin.finished(&result);
                        }
                        result
                    }
                    .boxed()
                    .shared();
                    state.running = Some((run.clone(), Instant::now()));
                    run
                }
            }
        };
        run.await.map(|credential| credential.token)
    }

    fn finished(&self, result: &Result<Credential, PluginError>) {
        let mut state = self.state();
        state.running = None;
        match result {
            Ok(credential) => {
                tracing::info!(plugin = %self.spec.name, expires = ?credential.expires, "credential plugin answered");
                state.credential = Some(credential.clone());
                state.failure = None;
            }
            Err(error) => {
                tracing::warn!(%error, "credential plugin failed");
                state.credential = None;
                state.failure = Some((error.clone(), Instant::now()));
            }
        }
    }

    /// The API server refused `token` (401): the next request asks the plugin again.
    fn rejected(&self, token: &Token) {
        let mut state = self.state();
        if state
            .credential
            .as_ref()
            .is_some_and(|credential| &credential.token == token)
        {
            tracing::info!(plugin = %self.spec.name, "token refused (401); the plugin runs again");
            state.credential = None;
        }
    }

    pub fn status(&self) -> PluginStatus {
        let state = self.state();
        if let Some((_, since)) = &state.running {
            return PluginStatus::Waiting {
                plugin: self.spec.name.clone(),
                for_: since.elapsed(),
            };
        }
        match &state.failure {
            Some((error, _)) => PluginStatus::Failed(error.clone()),
            None => PluginStatus::Quiet,
        }
    }
}

/// Adds the plugin's token to every request of a kube client (see `ExecAuth`).
#[derive(Debug, Clone)]
pub struct ExecAuthLayer(pub Arc<ExecPlugin>);

impl<S> tower::Layer<S> for ExecAuthLayer {
    type Service = ExecAuth<S>;

    fn layer(&self, inner: S) -> ExecAuth<S> {
        ExecAuth {
            inner,
            plugin: self.0.clone(),
            fetching: None,
            ready: None,
        }
    }
}

/// The token is fetched while the service is made ready, so `call` needs no clone of the
/// inner service; a plugin failure is handed to the one request it was fetched for (an
/// error from `poll_ready` would end the client for good).
pub struct ExecAuth<S> {
    inner: S,
    plugin: Arc<ExecPlugin>,
    fetching: Option<BoxFuture<'static, Result<Token, PluginError>>>,
    ready: Option<Result<Token, PluginError>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, ReqBody> tower::Service<Request<ReqBody>> for ExecAuth<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.ready.is_none() {
            let fetching = self.fetching.get_or_insert_with(|| {
                let plugin = self.plugin.clone();
                async move { plugin.token().await }.boxed()
            });
            let fetched = std::task::ready!(fetching.poll_unpin(cx));
            self.fetching = None;
            self.ready = Some(fetched);
        }
        match &self.ready {
            Some(Ok(_)) => self.inner.poll_ready(cx).map_err(Into::into),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let token = match self.ready.take() {
            Some(Ok(token)) => token,
            Some(Err(error)) => return futures::future::ready(Err(error.into())).boxed(),
            None => {
                let error: BoxError = "credential plugin: request sent before the token".into();
                return futures::future::ready(Err(error)).boxed();
            }
        };
        match HeaderValue::try_from(format!("Bearer {}", token.0)) {
            Ok(mut value) => {
                value.set_sensitive(true);
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            Err(_) => {
                let error = PluginError::BadAnswer {
                    plugin: self.plugin.spec.name.clone(),
                    cause: "the token is not a valid header value".into(),
                };
                return futures::future::ready(Err(error.into())).boxed();
            }
        }
        let plugin = self.plugin.clone();
        let response = self.inner.call(request);
        async move {
            let response = response.await.map_err(Into::into)?;
            if response.status() == StatusCode::UNAUTHORIZED {
                plugin.rejected(&token);
            }
            Ok(response)
        }
        .boxed()
    }
}

/// The plugin error inside a kube client error, if that is what it is.
pub fn plugin_error(error: &kube::Error) -> Option<&PluginError> {
    match error {
        kube::Error::Service(inner) => inner.downcast_ref::<PluginError>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(script: &str) -> ExecConfig {
        ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1beta1".into()),
            command: Some("sh".into()),
            args: Some(vec!["-c".into(), script.into()]),
            env: None,
            drop_env: None,
            install_hint: None,
            interactive_mode: None,
            provide_cluster_info: false,
            cluster: None,
            other: Default::default(),
        }
    }

    fn credential_json(token: &str) -> String {
        format!(
            r#"printf '{{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{{"token":"{token}"}}}}'"#
        )
    }

    #[tokio::test]
    async fn a_hanging_plugin_is_stopped_at_its_timeout_and_says_which_it_was() {
        let plugin = Arc::new(ExecPlugin::new(
            &exec("sleep 600"),
            Duration::from_millis(300),
        ));
        let started = Instant::now();
        let error = plugin.token().await.expect_err("no token from sleep");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            error.to_string(),
            "credential plugin `sh -c sleep 600` did not answer within 300ms and was stopped"
        );
        assert!(matches!(plugin.status(), PluginStatus::Failed(_)));
    }

    #[tokio::test]
    async fn the_panes_can_say_how_long_the_plugin_has_been_waited_for() {
        let plugin = Arc::new(ExecPlugin::new(&exec("sleep 600"), Duration::from_secs(20)));
        let waiting = tokio::spawn({
            let plugin = plugin.clone();
            async move { plugin.token().await }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let note = loop {
            if let Some(note) = plugin.status().waiting_note(plugin.timeout()) {
                break note;
            }
            assert!(Instant::now() < deadline, "the plugin never started");
            tokio::task::yield_now().await;
        };
        assert!(
            note.starts_with("credential plugin `sh -c sleep 600` has not answered for"),
            "{note}"
        );
        assert!(note.ends_with("(stopped at 20s)"), "{note}");
        waiting.abort();
    }

    #[tokio::test]
    async fn a_failing_plugin_is_reported_in_its_own_words_first() {
        let plugin = Arc::new(ExecPlugin::new(
            &exec("echo 'error: SSO session expired, run aws sso login' >&2; exit 255"),
            DEFAULT_TIMEOUT,
        ));
        let error = plugin.token().await.expect_err("the plugin fails");
        let text = error.to_string();
        assert!(
            text.starts_with("error: SSO session expired, run aws sso login"),
            "{text}"
        );
        assert!(text.contains("exit 255"), "{text}");
        assert!(!text.contains("KUBERNETES_EXEC_INFO"), "{text}");
    }

    #[tokio::test]
    async fn a_token_is_kept_until_the_server_refuses_it() {
        let dir = std::env::temp_dir().join(format!("kockpit-plugin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let runs = dir.join("runs");
        let _ = std::fs::remove_file(&runs);
        let script = format!("echo run >> {}; {}", runs.display(), credential_json("t-1"));
        let plugin = Arc::new(ExecPlugin::new(&exec(&script), DEFAULT_TIMEOUT));
        let first = plugin.token().await.expect("a token");
        assert_eq!(&*first.0, "t-1");
        let again = plugin.token().await.expect("the cached token");
        assert_eq!(first, again);
        let count = || {
            std::fs::read_to_string(&runs)
                .unwrap_or_default()
                .lines()
                .count()
        };
        assert_eq!(count(), 1, "cached, not run again");
        plugin.rejected(&first);
        plugin.token().await.expect("a new token");
        assert_eq!(count(), 2, "run again after a 401");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn answers_are_read_as_client_go_reads_them() {
        let plugin = ExecPlugin::new(&exec("true"), DEFAULT_TIMEOUT);
        let spec = &plugin.spec;
        let ok = parse_answer(
            spec,
            br#"{"kind":"ExecCredential","status":{"token":"abc","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#,
        )
        .expect("a token");
        assert!(ok.expires.is_some());
        let yaml = parse_answer(spec, b"kind: ExecCredential\nstatus:\n  token: abc\n");
        assert!(yaml.is_ok());
        let cert = parse_answer(
            spec,
            br#"{"status":{"clientCertificateData":"x","clientKeyData":"y"}}"#,
        );
        assert!(matches!(cert, Err(PluginError::ClientCertificate { .. })));
        let garbage = parse_answer(spec, b"\x00\x01 not json");
        assert!(matches!(garbage, Err(PluginError::BadAnswer { .. })));
        assert_eq!(format!("{:?}", ok.token), "Token(<redacted>)");
    }

    #[test]
    fn messages_are_sanitised_and_clipped() {
        let message = plugin_message(b"\x1b[31mboom\x1b[0m\n\nsecond line\n", b"");
        assert_eq!(message, "boom / second line");
        assert_eq!(
            plugin_message(b"", b""),
            "the plugin failed without a message"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            plugin_message(long.as_bytes(), b"").chars().count(),
            MESSAGE_CHARS
        );
    }
}
