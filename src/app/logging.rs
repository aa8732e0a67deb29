//! Logs go to a file in the state directory (readable by its owner only, scrubbed of every
//! secret the process holds), never to the screen while the cockpit runs.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

pub const FILE_NAME: &str = "kockpit.log";

/// Starts logging to `<dir>/kockpit.log` (level from `KOCKPIT_LOG`, default `info`).
/// Returns the guard that flushes the log when dropped, or `None` if the file cannot be
/// opened, in which case kockpit runs without a log rather than not at all.
pub fn init(dir: &Path) -> Option<WorkerGuard> {
    std::fs::create_dir_all(dir).ok()?;
    // Created private before the appender opens it (it keeps an existing file's mode).
    crate::backend::files::create_private(&dir.join(FILE_NAME), true).ok()?;
    let appender = tracing_appender::rolling::never(dir, FILE_NAME);
    // Every secret the process holds is scrubbed from what is written, whatever logged it.
    let (writer, guard) =
        tracing_appender::non_blocking(crate::backend::secrets::Scrubbing(appender));
    let filter = EnvFilter::try_from_env("KOCKPIT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
