//! Where the cluster's facts come from. Every backend (the built-in simulator, a live
//! cluster, a recorded session) sits behind the same small interface: it is started with a
//! channel to send `Update`s on, and returns a handle that takes commands.

/// SigV4 signing with the default AWS credential chain, for the APIs called without an SDK.
pub mod aws;
/// A cluster dump (`kockpit --objects DIR`), shown as it was when taken.
pub mod dump;
/// Reading files from outside within their limits.
pub mod files;
pub mod live;
/// Instance prices refreshed from AWS (`--refresh-prices`) and their cache.
pub mod pricing;
pub mod replay;
pub mod secrets;
pub mod sim;
pub mod writer;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::Update;

/// Updates flow to the app through this channel. It is bounded so a backend that
/// produces faster than the app consumes waits instead of growing memory.
pub type UpdateSender = mpsc::Sender<Update>;

/// What the app can ask of a running backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Stop advancing (the simulator's clock, a replay); live sources keep their watches.
    Pause,
    Resume,
    /// Change how fast virtual time runs (simulator and replay only).
    SetSpeed(f64),
    Shutdown,
}

/// A source of cluster facts.
pub trait Backend: Send + 'static {
    /// Starts producing updates on `updates`. Must return promptly; the work runs on
    /// tasks the backend spawns on the current tokio runtime.
    fn start(self: Box<Self>, updates: UpdateSender) -> BackendHandle;
}

/// A running backend: send it commands, or wait for it to finish.
pub struct BackendHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub task: JoinHandle<()>,
    /// Where fix plans are read, dry-run and applied; `None` when nothing can be written
    /// (a replayed recording).
    pub writer: Option<writer::ClusterWriter>,
}

impl BackendHandle {
    /// Asks the backend to stop; ignored if it already has.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}
