//! The app's state: the cockpit's model of the cluster, what the user is looking at, the
//! key map and the messages waiting to be read. One owner, changed only by `update`.
//!
//! With several clusters the app holds one model per cluster and one view on top. The model
//! of the cluster in view sits in `State` itself, so every screen, overlay and fix reads it
//! as it would with one cluster; the others wait in `Fleet`, and `app::fleet` swaps them.

use super::keymap::Keymap;
use super::timeline::TimeCursor;
use crate::backend::writer::Identity;
use crate::domain::Cockpit;
use crate::domain::cockpit::AnalysisConfig;
pub use crate::domain::fleet::ClusterId;
use crate::domain::timeline::Timeline;
use crate::ui::{FixesView, View};

/// How many notices are kept for the footer and the log of messages.
const MAX_NOTICES: usize = 20;

pub struct State {
    /// The live model: every update is applied here, whatever the screen shows.
    pub cockpit: Cockpit,
    /// The retained hour of updates behind the time cursor.
    pub timeline: Timeline,
    /// Set while the screen shows a past or frozen instant instead of `cockpit`.
    pub cursor: Option<TimeCursor>,
    /// Replaying a recording: nothing may be applied to a cluster.
    pub replay: bool,
    pub view: View,
    pub keymap: Keymap,
    /// Messages for the user, newest last (bad config files, backend trouble).
    pub notices: Vec<String>,
    /// Something changed since the last frame was drawn.
    pub dirty: bool,
    /// The simulator's clock is paused by the user.
    pub paused: bool,
    /// Virtual seconds per real second, for backends that have a clock.
    pub speed: f64,
    /// Fixes may be applied (`--allow-writes`); otherwise they are previewed and exported.
    pub allow_writes: bool,
    /// Who writes, for the audit log.
    pub identity: Identity,
    /// Every cluster watched, and the models of those not in view.
    pub fleet: Fleet,
}

/// What the app knows of one cluster besides the view: its model, its retained hour, where
/// its time cursor stands, who writes to it, and its fixes.
pub struct ClusterModel {
    pub cockpit: Cockpit,
    pub timeline: Timeline,
    pub cursor: Option<TimeCursor>,
    pub identity: Identity,
    pub fixes: FixesView,
}

impl ClusterModel {
    pub fn new(config: AnalysisConfig) -> Self {
        let cockpit = Cockpit::new(config);
        ClusterModel {
            timeline: Timeline::new(cockpit.clone()),
            cockpit,
            cursor: None,
            identity: Identity::default(),
            fixes: FixesView::default(),
        }
    }
}

/// The clusters of the session, in the order their contexts were given.
pub struct Fleet {
    /// Each cluster's context; one empty name when a single cluster is watched.
    pub(super) contexts: Vec<String>,
    /// The cluster whose model `State` holds: the one in view, except for the moment a
    /// cluster in the background takes in its own updates (`app::fleet::in_background`).
    pub(super) current: ClusterId,
    /// The models of the other clusters; `None` at `current`.
    pub(super) parked: Vec<Option<ClusterModel>>,
}

impl Fleet {
    fn single() -> Self {
        Fleet {
            contexts: vec![String::new()],
            current: ClusterId::FIRST,
            parked: vec![None],
        }
    }

    /// More than one cluster is watched: the fleet screen and cluster switching apply.
    pub fn is_fleet(&self) -> bool {
        self.contexts.len() > 1
    }

    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    pub fn current(&self) -> ClusterId {
        self.current
    }

    /// The context a cluster was named by (empty for a single unnamed cluster).
    pub fn context(&self, cluster: ClusterId) -> &str {
        self.contexts.get(cluster.0).map_or("", String::as_str)
    }

    pub fn contexts(&self) -> &[String] {
        &self.contexts
    }
}

impl State {
    pub fn new(config: AnalysisConfig, keymap: Keymap, speed: f64) -> Self {
        let ClusterModel {
            cockpit,
            timeline,
            cursor,
            identity,
            fixes,
        } = ClusterModel::new(config);
        State {
            cockpit,
            timeline,
            cursor,
            replay: false,
            view: View {
                fixes,
                ..View::default()
            },
            keymap,
            notices: Vec::new(),
            dirty: true,
            paused: false,
            speed,
            allow_writes: false,
            identity,
            fleet: Fleet::single(),
        }
    }

    pub fn notify(&mut self, notice: impl Into<String>) {
        self.notices.push(notice.into());
        if self.notices.len() > MAX_NOTICES {
            self.notices.remove(0);
        }
        self.dirty = true;
    }
}
