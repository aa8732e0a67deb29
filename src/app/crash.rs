//! Crash reports: a panic anywhere writes `crash-<time>-<pid>.txt` into the state directory
//! (readable by its owner only, scrubbed of every secret the process holds) and says where
//! it is. The terminal is restored first: the cockpit's own panic hook runs before this one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::backend::{files, secrets};

/// What a crash report holds: enough to find the bug, nothing about the user's cluster
/// beyond what the panic message itself says.
pub fn report(info: &std::panic::PanicHookInfo<'_>, backtrace: &str) -> String {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let thread = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    let text = format!(
        "kockpit {} crashed at {}\nthread: {thread}\npanic: {message}\nat: {location}\n\nbacktrace:\n{backtrace}\n",
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    secrets::scrub(&text).into_owned()
}

/// Writes `text` as a new crash report in `dir`; returns its path.
pub fn write(dir: &Path, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("crash-{stamp}-{}.txt", std::process::id()));
    let mut file = files::create_private(&path, false)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

/// Installs the hook that writes a report into `dir` on any panic (where the state
/// directory is unknown, the report goes to stderr only).
pub fn install(dir: Option<PathBuf>) {
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        let text = report(info, &backtrace);
        let first_line = text.lines().nth(2).unwrap_or("panic");
        match dir.as_deref().map(|dir| write(dir, &text)) {
            Some(Ok(path)) => {
                eprintln!(
                    "kockpit crashed ({first_line}); a report is in {}",
                    path.display()
                );
            }
            Some(Err(error)) => {
                eprintln!("kockpit crashed; the report could not be written ({error}):\n{text}");
            }
            None => eprintln!("kockpit crashed:\n{text}"),
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_report_is_private_and_scrubbed() {
        secrets::register("crash-test-secret-token-42");
        let dir = std::env::temp_dir().join(format!("kockpit-crash-{}", std::process::id()));
        let path = write(
            &dir,
            &secrets::scrub("panic: token crash-test-secret-token-42"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text, "panic: token [redacted]");
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(files::PRIVATE_MODE));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
