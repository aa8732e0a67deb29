//! Sanitising and fitting text for the terminal. Anything from the cluster or a file goes
//! through `sanitize` before it is drawn, so a pod name or an event message can never drive
//! the user's terminal (move the cursor, set the title, rewrite the clipboard, reorder text).

use std::borrow::Cow;

use ratatui::text::Span;

pub use crate::domain::sanitize::sanitize;

/// Cuts `text` to at most `width` terminal columns, ending with `…` when something was cut.
pub fn truncate(text: &str, width: usize) -> Cow<'_, str> {
    if self::width(text) <= width {
        return Cow::Borrowed(text);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let mut buf = [0u8; 4];
        let w = self::width(ch.encode_utf8(&mut buf));
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(ch);
    }
    out.push('…');
    Cow::Owned(out)
}

/// Sanitises and cuts in one go: what every cell of cluster text goes through.
pub fn clean(text: &str, width: usize) -> String {
    truncate(&sanitize(text), width).into_owned()
}

/// Display width in terminal columns.
pub fn width(text: &str) -> usize {
    Span::raw(text).width()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("coredns-5d78c9869d-abcde"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(sanitize("ünïcødé 名前 ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn removes_csi_sequences() {
        assert_eq!(sanitize("pod\u{1b}[2J\u{1b}[1;1Hname"), "podname");
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(sanitize("a\u{9b}6nb"), "ab");
        assert_eq!(sanitize("x\u{1b}[?1049hy"), "xy");
    }

    #[test]
    fn removes_osc_dcs_and_apc_strings() {
        // Window title, hyperlinks and clipboard writes.
        assert_eq!(sanitize("a\u{1b}]0;pwned\u{07}b"), "ab");
        assert_eq!(
            sanitize("\u{1b}]8;;http://evil\u{1b}\\click\u{1b}]8;;\u{1b}\\"),
            "click"
        );
        assert_eq!(sanitize("a\u{1b}]52;c;ZXZpbA==\u{07}b"), "ab");
        assert_eq!(sanitize("a\u{1b}Pq#0;2;0;0;0\u{1b}\\b"), "ab");
        assert_eq!(sanitize("a\u{1b}_secret\u{9c}b"), "ab");
        assert_eq!(sanitize("a\u{9d}0;t\u{07}b"), "ab");
        // An unterminated string swallows the rest rather than leaking it.
        assert_eq!(sanitize("ok\u{1b}]0;never ends"), "ok");
    }

    #[test]
    fn removes_short_escapes_and_lone_esc() {
        assert_eq!(sanitize("a\u{1b}cb"), "ab"); // full reset
        assert_eq!(sanitize("a\u{1b}(0b"), "ab"); // line-drawing charset
        assert_eq!(sanitize("a\u{1b}#8b"), "ab"); // screen alignment test
        assert_eq!(sanitize("trailing\u{1b}"), "trailing");
    }

    #[test]
    fn removes_controls_and_keeps_layout_readable() {
        assert_eq!(sanitize("a\u{0}b\u{7}c\u{8}d\u{7f}e\u{85}f"), "abcde f");
        assert_eq!(
            sanitize("line one\nline two\tend\r"),
            "line one line two end "
        );
        assert_eq!(sanitize("\u{90}x"), "");
    }

    #[test]
    fn removes_bidi_overrides() {
        assert_eq!(sanitize("admin\u{202e}gnp.exe"), "admingnp.exe");
        assert_eq!(sanitize("\u{2066}a\u{2069}\u{200f}b\u{61c}"), "ab");
    }

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("名前名前", 5), "名前…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(clean("a\u{1b}[2Jbcdef", 3), "ab…");
    }
}
