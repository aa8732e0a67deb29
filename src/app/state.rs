//! The app's state: the cockpit's model of the cluster, what the user is looking at, the
//! key map and the messages waiting to be read. One owner, changed only by `update`.

use super::keymap::Keymap;
use crate::domain::Cockpit;
use crate::domain::cockpit::AnalysisConfig;
use crate::ui::View;

/// How many notices are kept for the footer and the log of messages.
const MAX_NOTICES: usize = 20;

pub struct State {
    pub cockpit: Cockpit,
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
}

impl State {
    pub fn new(config: AnalysisConfig, keymap: Keymap, speed: f64) -> Self {
        State {
            cockpit: Cockpit::new(config),
            view: View::default(),
            keymap,
            notices: Vec::new(),
            dirty: true,
            paused: false,
            speed,
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
