//! Sanitising text that came from the cluster or a file. Everything such text reaches (the
//! screen, a Markdown report pasted into an incident channel) goes through `sanitize`, so a
//! pod name or an event message can never drive a terminal (move the cursor, set the
//! title, rewrite the clipboard) or reorder what the reader sees.

use std::borrow::Cow;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// The 8-bit String Terminator that ends OSC, DCS and friends.
const ST_C1: char = '\u{9c}';

/// Removes control characters (C0, DEL, C1), escape sequences (CSI, OSC, DCS, SOS, PM, APC
/// and two-character escapes) and bidirectional overrides; tabs and line breaks become
/// spaces. Returns the input unchanged (borrowed) when it is already clean.
pub fn sanitize(input: &str) -> Cow<'_, str> {
    if !input.chars().any(needs_attention) {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(' ')
            }
            ESC => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // ESC, intermediates (space to '/'), then one final character.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next();
                }
                Some(_) | None => {}
            },
            // 8-bit forms of CSI and the string introducers.
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if is_control(c) || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_attention(ch: char) -> bool {
    is_control(ch) || is_bidi_control(ch) || ch == '\u{2028}' || ch == '\u{2029}'
}

fn is_control(ch: char) -> bool {
    matches!(ch, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Characters that reorder or hide text (Trojan Source): embeddings, overrides, isolates
/// and the invisible direction marks.
fn is_bidi_control(ch: char) -> bool {
    matches!(
        ch,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
    )
}

/// Parameters and intermediates, then one final byte. Stops early at anything that cannot
/// belong to a CSI, dropping it too, so a broken sequence cannot swallow the rest.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{20}'..='\u{3f}').contains(&c) {
            continue;
        }
        break;
    }
}

/// OSC, DCS, SOS, PM and APC run to BEL, ESC \ or the 8-bit ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST_C1 => return,
            ESC => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}
