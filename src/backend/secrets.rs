//! The secret values this process has come to hold (bearer tokens, passwords, exec-plugin
//! tokens, AWS secret keys and session tokens), so that whatever kockpit writes out (its
//! log, a crash report) can be scrubbed of them. Every source of a secret registers it
//! where it is read; the types that carry secrets also print them redacted, so this is the
//! second line of defence, not the only one.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not registered: they could be any word of a log line.
const SHORTEST_SECRET: usize = 8;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers `value` as a secret (a no-op for short or already known values).
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < SHORTEST_SECRET {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|known| known == value) {
        secrets.push(value.to_string());
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by `REDACTED`; borrowed when it holds none.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
        }
    }
    out
}

/// A writer that scrubs what passes through it: the log file's.
pub struct Scrubbing<W>(pub W);

impl<W: std::io::Write> std::io::Write for Scrubbing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes one event per call; a secret split across calls is not
        // expected (and the types that hold secrets print them redacted anyway).
        match std::str::from_utf8(buf) {
            Ok(text) => match scrub(text) {
                Cow::Borrowed(_) => self.0.write_all(buf)?,
                Cow::Owned(clean) => self.0.write_all(clean.as_bytes())?,
            },
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn registered_secrets_are_scrubbed_from_text_and_writes() {
        register("planted-token-0123456789");
        register("short");
        assert_eq!(
            scrub("Authorization: Bearer planted-token-0123456789, short"),
            "Authorization: Bearer [redacted], short"
        );
        assert!(matches!(scrub("nothing secret"), Cow::Borrowed(_)));
        let mut out = Scrubbing(Vec::new());
        out.write_all(b"token=planted-token-0123456789\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.0, b"token=[redacted]\n");
    }
}
