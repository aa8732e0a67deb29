//! One-shot reading of a backend for `kockpit snapshot`: start it, apply what it sends until
//! it says its initial state is complete (or a deadline passes), and hand back the model.

use std::time::Duration;

use tokio::sync::mpsc;

use super::runner::UPDATE_QUEUE;
use crate::backend::{Backend, BackendHandle};
use crate::domain::Cockpit;
use crate::domain::cockpit::AnalysisConfig;

/// How long a backend has to stop by itself once the snapshot is taken.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// What the collection ended with.
pub struct Collected {
    pub cockpit: Cockpit,
    /// False when the deadline passed or the backend stopped before its initial state was
    /// complete; the report then shows what arrived and says so.
    pub complete: bool,
}

pub async fn collect(
    backend: Box<dyn Backend>,
    analysis: AnalysisConfig,
    deadline: Duration,
) -> Collected {
    let mut session = open(backend, analysis, deadline).await;
    session.handle.shutdown();
    // A backend stuck in a request must not hold the command past its deadline.
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut session.handle.task)
        .await
        .is_err()
    {
        session.handle.task.abort();
    }
    Collected {
        cockpit: session.cockpit,
        complete: session.complete,
    }
}

/// A backend read up to its initial state and kept running, for commands that go on to
/// use it (`kockpit fix` plans on the cockpit and writes through the backend's writer).
pub struct Session {
    pub cockpit: Cockpit,
    pub complete: bool,
    pub handle: BackendHandle,
    pub updates: mpsc::Receiver<crate::domain::Update>,
}

pub async fn open(
    backend: Box<dyn Backend>,
    analysis: AnalysisConfig,
    deadline: Duration,
) -> Session {
    let (sender, mut updates) = mpsc::channel(UPDATE_QUEUE);
    let handle = backend.start(sender);
    let mut cockpit = Cockpit::new(analysis);
    let until = tokio::time::Instant::now() + deadline;
    // Analysed once, at the end: during the sync of a large cluster the backend sends many
    // partial snapshots of its node fleet, and only the last one matters here.
    let complete = loop {
        match tokio::time::timeout_at(until, updates.recv()).await {
            Ok(Some(update)) => {
                cockpit.take_in(update);
                if cockpit.initial_sync_done {
                    break true;
                }
            }
            Ok(None) | Err(_) => break false,
        }
    };
    cockpit.settle();
    Session {
        cockpit,
        complete,
        handle,
        updates,
    }
}
