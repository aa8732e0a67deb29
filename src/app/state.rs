//! The app's state: the cockpit's model of the cluster, what the user is looking at, the
//! key map and the messages waiting to be read. One owner, changed only by `update`.

use super::keymap::Keymap;
use super::timeline::TimeCursor;
use crate::backend::writer::Identity;
use crate::domain::Cockpit;
use crate::domain::cockpit::AnalysisConfig;
use crate::domain::timeline::Timeline;
use crate::ui::View;

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
}

impl State {
    pub fn new(config: AnalysisConfig, keymap: Keymap, speed: f64) -> Self {
        let cockpit = Cockpit::new(config);
        State {
            timeline: Timeline::new(cockpit.clone()),
            cursor: None,
            replay: false,
            cockpit,
            view: View::default(),
            keymap,
            notices: Vec::new(),
            dirty: true,
            paused: false,
            speed,
            allow_writes: false,
            identity: Identity::default(),
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
