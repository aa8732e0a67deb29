//! Fix requests to a live API server through kube-rs, with the kubeconfig's credentials.
//! The client is built on first use, so a cockpit that never applies a fix never opens it.

use futures::future::BoxFuture;
use http_body_util::BodyExt;
use kube::Client;
use tokio::sync::OnceCell;

use super::client::{self, LiveOptions};
use crate::backend::writer::{ApiCall, ApiReply, ClusterWriter, Transport};

/// How long one fix request may take before the user is told.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct KubeTransport {
    options: LiveOptions,
    client: OnceCell<Client>,
}

impl KubeTransport {
    async fn client(&self) -> Result<&Client, String> {
        self.client
            .get_or_try_init(|| async {
                client::connect(&self.options)
                    .await
                    .map(|connection| connection.client)
                    .map_err(|e| e.to_string())
            })
            .await
    }

    async fn send_call(&self, call: ApiCall) -> Result<ApiReply, String> {
        let client = self.client().await?;
        let mut request = hyper::Request::builder()
            .method(call.method)
            .uri(call.path)
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(content_type) = call.content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(kube::client::Body::from(call.body))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = client.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(ApiReply { status, body })
    }
}

impl Transport for KubeTransport {
    fn send(&self, call: ApiCall) -> BoxFuture<'_, Result<ApiReply, String>> {
        Box::pin(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, self.send_call(call))
                .await
                .unwrap_or_else(|_| {
                    Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
                })
        })
    }
}

/// The transport to the cluster `options` name, for a writer (or a test's wrapper of one).
pub fn transport(options: &LiveOptions) -> std::sync::Arc<dyn Transport> {
    std::sync::Arc::new(KubeTransport {
        options: options.clone(),
        client: OnceCell::new(),
    })
}

/// The writer for the cluster `options` name.
pub fn cluster_writer(options: &LiveOptions) -> ClusterWriter {
    ClusterWriter::new(transport(options), client::identity(options))
}
