//! The live backend: watches a real cluster (or `kockpit sim serve`) through kube-rs, keeps
//! compact projections of the objects the panes read, and assembles the pane snapshots from
//! them at most once a second.

/// What `kockpit doctor` and the Sources window check, gathered from the cluster and sources.
pub mod checks;
pub mod client;
/// Load balancer, Container Insights and billing figures from CloudWatch (`--cloudwatch`).
pub mod cloudwatch;
pub mod crds;
pub mod credential_plugin;
pub mod discovery;
pub mod health;
/// A dump's manifests to the projections their watchers would make.
pub mod manifest;
pub mod project;
/// Metric figures from Prometheus, merged into the snapshots (`--prometheus`).
pub mod prometheus;
/// Slim decoding of the kinds a large cluster has most of (pods).
pub mod slim;
mod task;
pub mod watch;
/// About how large an object is, to leave out those over the limit.
pub mod weigh;
pub mod writer;

#[cfg(test)]
mod tests;

use tokio::sync::mpsc;

use crate::backend::{Backend, BackendHandle, UpdateSender};

pub use client::{ConnectError, LiveOptions};

/// A live Kubernetes cluster as a backend.
pub struct LiveBackend {
    options: LiveOptions,
}

impl LiveBackend {
    pub fn new(options: LiveOptions) -> Self {
        LiveBackend { options }
    }
}

impl Backend for LiveBackend {
    fn start(self: Box<Self>, updates: UpdateSender) -> BackendHandle {
        let (commands, receiver) = mpsc::unbounded_channel();
        let writer = writer::cluster_writer(&self.options);
        let task = tokio::spawn(task::run(self.options, updates, receiver));
        BackendHandle {
            commands,
            task,
            writer: Some(writer),
        }
    }
}
