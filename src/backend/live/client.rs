//! Connecting to the cluster: the kubeconfig from `--kubeconfig`, `KUBECONFIG` or
//! `~/.kube/config`, the chosen context, and timeouts that suit watches and long paginated
//! lists. An exec credential plugin (EKS's `aws eks get-token`) is run by kockpit's own
//! `credential_plugin`, with a deadline, instead of kube's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use super::credential_plugin::{self, ExecAuthLayer, ExecPlugin};
use crate::domain::model::ClusterInfo;

/// How long to wait for a TCP/TLS connection to the API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why kockpit could not reach the cluster at all.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(#[from] KubeconfigError),
    #[error("context `{0}` is not in the kubeconfig")]
    UnknownContext(String),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// What the live backend connects to; all optional, as on the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Watch only this namespace (namespaced kinds); all namespaces when `None`.
    pub namespace: Option<String>,
    /// Where metric figures come from; the panes show Kubernetes facts only without it.
    pub prometheus: Option<super::prometheus::PrometheusOptions>,
    /// The AWS region for CloudWatch and Amazon Managed Prometheus signing; the default
    /// credential chain's region (AWS_REGION, the profile) when `None`.
    pub region: Option<String>,
    /// Read load balancer, Container Insights and billing figures from CloudWatch.
    pub cloudwatch: bool,
    /// Read east-west bytes from VPC Flow Logs in CloudWatch Logs (`--flow-logs`).
    pub flow_logs: Option<super::cloudwatch::flowlogs::FlowLogsOptions>,
    /// How long the kubeconfig's exec credential plugin may take (`--exec-timeout`);
    /// `credential_plugin::DEFAULT_TIMEOUT` when `None`.
    pub exec_timeout: Option<Duration>,
}

pub struct Connection {
    pub client: Client,
    pub cluster: ClusterInfo,
    /// The API server's URL, for the source-health view.
    pub endpoint: String,
    /// The kubeconfig user's exec credential plugin, when it has one: the panes say when
    /// they wait for it or it failed.
    pub plugin: Option<Arc<ExecPlugin>>,
}

/// Where the kubeconfig is read from, as the user would name it.
pub fn kubeconfig_source(options: &LiveOptions) -> String {
    match &options.kubeconfig {
        Some(path) => path.display().to_string(),
        None => match std::env::var("KUBECONFIG") {
            Ok(paths) if !paths.is_empty() => format!("KUBECONFIG={paths}"),
            _ => "~/.kube/config".to_string(),
        },
    }
}

pub fn read_kubeconfig(options: &LiveOptions) -> Result<Kubeconfig, KubeconfigError> {
    match &options.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        // Honours KUBECONFIG (several files merged), else ~/.kube/config.
        None => Kubeconfig::read(),
    }
}

/// The kubeconfig's context and the user it names, for the audit log. Unknown parts stay
/// empty: a missing kubeconfig is reported when the client is built.
pub fn identity(options: &LiveOptions) -> crate::backend::writer::Identity {
    let Ok(kubeconfig) = read_kubeconfig(options) else {
        return crate::backend::writer::Identity::default();
    };
    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let user = context_user(&kubeconfig, &context);
    crate::backend::writer::Identity { user, context }
}

/// The user the kubeconfig's `context` names; empty when either is missing.
pub fn context_user(kubeconfig: &Kubeconfig, context: &str) -> String {
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap_or_default()
}

pub async fn connect(options: &LiveOptions) -> Result<Connection, ConnectError> {
    let kubeconfig = read_kubeconfig(options)?;
    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    if options.context.is_some() && !kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Err(ConnectError::UnknownContext(context));
    }
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .unwrap_or_default();
    let config_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &config_options).await?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // No whole-response timeout: the initial list of a big cluster is many pages and a watch
    // stays open for minutes; the watcher has its own idle timeout for dead streams.
    config.read_timeout = None;
    let server = config.cluster_url.host().unwrap_or_default().to_string();
    let endpoint = config.cluster_url.to_string();
    let name = if context.is_empty() {
        cluster_name.clone()
    } else {
        context.clone()
    };
    let region = region_from_names(&[&cluster_name, &context, &server]).unwrap_or_default();
    let detail = match &options.namespace {
        Some(namespace) => format!("{server}, namespace {namespace}"),
        None => server,
    };
    // kube would run the plugin itself, synchronously and with no deadline: it is taken out
    // of the config and run by kockpit instead (only where kube would have used it: no
    // token, password or auth provider comes before it).
    let auth = &config.auth_info;
    for secret in [&auth.token, &auth.password].into_iter().flatten() {
        crate::backend::secrets::register(secrecy::ExposeSecret::expose_secret(secret));
    }
    let uses_exec = auth.auth_provider.is_none()
        && auth.token.is_none()
        && auth.token_file.is_none()
        && auth.password.is_none();
    let exec = if uses_exec {
        config.auth_info.exec.take()
    } else {
        None
    };
    let builder = kube::client::ClientBuilder::try_from(config)?;
    let (client, plugin) = match exec {
        Some(exec) => {
            let timeout = options
                .exec_timeout
                .unwrap_or(credential_plugin::DEFAULT_TIMEOUT);
            let plugin = Arc::new(ExecPlugin::new(&exec, timeout));
            let client = builder.with_layer(&ExecAuthLayer(plugin.clone())).build();
            (client, Some(plugin))
        }
        None => (builder.build(), None),
    };
    Ok(Connection {
        client,
        plugin,
        endpoint,
        cluster: ClusterInfo {
            name,
            region,
            source: "live".to_string(),
            detail,
        },
    })
}

/// How far the API server's clock is ahead of ours, from the `Date` header of one request.
/// Object timestamps are the server's; ages and the churn window must be measured on its
/// clock (a skewed bastion, or `sim serve`'s virtual clock). Under two seconds counts as
/// none, since the header has one-second resolution.
pub async fn server_clock_offset(client: &Client) -> Option<chrono::Duration> {
    let request = hyper::Request::get("/version")
        .body(kube::client::Body::from(Vec::new()))
        .ok()?;
    let response = client.send(request).await.ok()?;
    let date = response.headers().get(hyper::header::DATE)?.to_str().ok()?;
    let server = chrono::DateTime::parse_from_rfc2822(date).ok()?;
    let offset = server.with_timezone(&chrono::Utc) - chrono::Utc::now();
    (offset.num_seconds().abs() >= 2).then_some(offset)
}

/// Whether the API server answers at all: `GET /version`, whose answer (any status) is
/// cheap for the server. A plugin that gave no token is named in its own words.
pub async fn probe(client: &Client) -> Result<(), String> {
    let request = hyper::Request::get("/version")
        .body(kube::client::Body::from(Vec::new()))
        .map_err(|e| e.to_string())?;
    match client.send(request).await {
        Ok(_) => Ok(()),
        Err(error) => Err(match credential_plugin::plugin_error(&error) {
            Some(plugin) => plugin.to_string(),
            None => error.to_string(),
        }),
    }
}

/// The AWS region in an EKS cluster ARN (`arn:aws:eks:eu-west-1:…`) or API endpoint
/// (`….gr7.eu-west-1.eks.amazonaws.com`), until node labels tell.
pub fn region_from_names(names: &[&str]) -> Option<String> {
    for name in names {
        if let Some(rest) = name.strip_prefix("arn:")
            && let Some(region) = rest.split(':').nth(2).filter(|r| !r.is_empty())
        {
            return Some(region.to_string());
        }
        if let Some(prefix) = name.strip_suffix(".eks.amazonaws.com")
            && let Some(region) = prefix.rsplit('.').next().filter(|r| r.contains('-'))
        {
            return Some(region.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_region_in_eks_names() {
        assert_eq!(
            region_from_names(&["arn:aws:eks:eu-west-1:123456789012:cluster/prod"]),
            Some("eu-west-1".to_string())
        );
        assert_eq!(
            region_from_names(&["prod-eu", "ABCDEF.gr7.eu-central-1.eks.amazonaws.com"]),
            Some("eu-central-1".to_string())
        );
        assert_eq!(region_from_names(&["kind-dev", "127.0.0.1"]), None);
    }
}
