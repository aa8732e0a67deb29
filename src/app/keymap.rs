//! Key maps as data: `keymaps/*.toml` bind keys to actions with a description, user files
//! merge over them, and the help overlay and footer are generated from the result.

use std::collections::HashMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::message::Action;
use crate::domain::FileError;
use crate::ui::KeyHint;

const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
const VIM_KEYMAP: &str = include_str!("../../keymaps/vim.toml");

/// The names `--keymap` accepts besides a path.
pub const BUILTIN_KEYMAPS: [&str; 2] = ["default", "vim"];

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every screen, unless an overlay is open and binds the same key.
    Global,
    /// While the help or a finding's detail is open.
    Overlay,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Overlay => "overlay",
        }
    }
}

/// A key with the modifiers that matter for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    modifiers: KeyModifiers,
}

impl Key {
    /// Normalises a terminal key event: the case of a character already says whether
    /// shift was held, so shift is dropped for characters (and for BackTab, which implies it).
    pub fn from_event(event: KeyEvent) -> Self {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if event.modifiers.contains(KeyModifiers::SHIFT)
            && !matches!(event.code, KeyCode::Char(_) | KeyCode::BackTab)
        {
            modifiers |= KeyModifiers::SHIFT;
        }
        Key {
            code: event.code,
            modifiers,
        }
    }

    /// Parses `q`, `G`, `?`, `tab`, `ctrl-c`, `alt-x`, `shift-up`, `f1`, `pagedown`…
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (modifier, len) = if lower.starts_with("ctrl-") && rest.len() > 5 {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") && rest.len() > 6 {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            modifiers |= modifier;
            rest = &rest[len..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            "insert" => KeyCode::Insert,
            lower => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) => KeyCode::Char(ch),
                    _ => match lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                        Some(n @ 1..=12) => KeyCode::F(n),
                        _ => return Err(format!("`{text}` is not a key I know")),
                    },
                }
            }
        };
        if code == KeyCode::Tab && modifiers.contains(KeyModifiers::SHIFT) {
            return Ok(Key {
                code: KeyCode::BackTab,
                modifiers: modifiers - KeyModifiers::SHIFT,
            });
        }
        // Written as an event would arrive, so `shift-g` matches the `G` the terminal sends.
        let event = KeyEvent::new(code, modifiers);
        let mut key = Key::from_event(event);
        if let KeyCode::Char(ch) = code
            && modifiers.contains(KeyModifiers::SHIFT)
        {
            key.code = KeyCode::Char(ch.to_ascii_uppercase());
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(ch) => write!(f, "{ch}"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Keys bound to one action in one scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub scope: Scope,
    pub keys: Vec<Key>,
    pub action: Action,
    pub desc: String,
}

/// The resolved key map.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    /// In file order, which is the order help lists them in.
    bindings: Vec<Binding>,
    lookup: HashMap<(Scope, Key), Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    #[serde(default)]
    global: Vec<BindingFile>,
    #[serde(default)]
    overlay: Vec<BindingFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingFile {
    on: toml::Spanned<OneOrMany>,
    run: toml::Spanned<String>,
    #[serde(default)]
    desc: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(key) => vec![key],
            OneOrMany::Many(keys) => keys,
        }
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::builtin("default").unwrap_or_else(|| Keymap {
            bindings: Vec::new(),
            lookup: HashMap::new(),
        })
    }
}

impl Keymap {
    /// A key map shipped with kockpit: `default`, or `vim` (the default with vim keys merged over).
    pub fn builtin(name: &str) -> Option<Keymap> {
        let empty = Keymap {
            bindings: Vec::new(),
            lookup: HashMap::new(),
        };
        // The shipped files are tested to parse; failing here would be a build defect.
        let default = empty
            .merge_toml(DEFAULT_KEYMAP, "keymaps/default.toml")
            .ok()?;
        match name {
            "default" => Some(default),
            "vim" => default.merge_toml(VIM_KEYMAP, "keymaps/vim.toml").ok(),
            _ => None,
        }
    }

    /// Merges a key map file over this one. A key bound in the file replaces its binding
    /// here; `run = "none"` unbinds it; keys for an action already bound join that binding.
    pub fn merge_toml(&self, text: &str, origin: &str) -> Result<Keymap, FileError> {
        let file: KeymapFile =
            toml::from_str(text).map_err(|e| FileError::from_toml(origin, text, &e))?;
        let mut merged = self.bindings.clone();
        for (scope, entries) in [(Scope::Global, file.global), (Scope::Overlay, file.overlay)] {
            for entry in entries {
                let action = parse_action(entry.run.get_ref()).map_err(|problem| {
                    FileError::at_offset(origin, text, entry.run.span().start, problem)
                })?;
                let on_span = entry.on.span();
                let mut keys = Vec::new();
                for name in entry.on.into_inner().into_vec() {
                    let key = Key::parse(&name).map_err(|problem| {
                        FileError::at_offset(origin, text, on_span.start, problem)
                    })?;
                    keys.push(key);
                }
                if keys.is_empty() {
                    return Err(FileError::at_offset(
                        origin,
                        text,
                        on_span.start,
                        "`on` lists no keys",
                    ));
                }
                for binding in merged.iter_mut().filter(|b| b.scope == scope) {
                    binding.keys.retain(|k| !keys.contains(k));
                }
                merged.retain(|b| !b.keys.is_empty());
                if action == Action::None {
                    continue;
                }
                match merged
                    .iter_mut()
                    .find(|b| b.scope == scope && b.action == action)
                {
                    Some(existing) => existing.keys.extend(keys),
                    None => merged.push(Binding {
                        scope,
                        keys,
                        action,
                        desc: entry.desc,
                    }),
                }
            }
        }
        Ok(Keymap::from_bindings(merged))
    }

    fn from_bindings(bindings: Vec<Binding>) -> Keymap {
        let lookup = bindings
            .iter()
            .flat_map(|b| b.keys.iter().map(move |k| ((b.scope, *k), b.action)))
            .collect();
        Keymap { bindings, lookup }
    }

    /// The action a key press asks for. With an overlay open, overlay bindings win and
    /// global ones still apply (so quit works everywhere).
    pub fn resolve(&self, overlay_open: bool, event: KeyEvent) -> Option<Action> {
        let key = Key::from_event(event);
        if overlay_open && let Some(action) = self.lookup.get(&(Scope::Overlay, key)) {
            return Some(*action);
        }
        self.lookup.get(&(Scope::Global, key)).copied()
    }

    /// The keys bound to an action, formatted for display ("Tab/→"), if any.
    pub fn keys_for(&self, scope: Scope, action: Action) -> Option<String> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.action == action)
            .map(|b| join_keys(&b.keys))
    }

    /// Every binding, for the help overlay.
    pub fn hints(&self) -> Vec<KeyHint> {
        self.bindings
            .iter()
            .map(|b| KeyHint {
                keys: join_keys(&b.keys),
                desc: b.desc.clone(),
                scope: b.scope.name().to_string(),
            })
            .collect()
    }

    /// Short hints for the given actions (skipping unbound ones), for the footer.
    pub fn footer(&self, scope: Scope, actions: &[(Action, &str)]) -> Vec<KeyHint> {
        actions
            .iter()
            .filter_map(|(action, label)| {
                let binding = self
                    .bindings
                    .iter()
                    .find(|b| b.scope == scope && b.action == *action)?;
                let first = binding.keys.first()?;
                Some(KeyHint {
                    keys: first.to_string(),
                    desc: (*label).to_string(),
                    scope: scope.name().to_string(),
                })
            })
            .collect()
    }
}

fn join_keys(keys: &[Key]) -> String {
    keys.iter()
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_action(name: &str) -> Result<Action, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
        format!(
            "unknown action `{name}`; known actions: {}",
            Action::NAMES.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn builtin_keymaps_parse() {
        for name in BUILTIN_KEYMAPS {
            assert!(Keymap::builtin(name).is_some(), "{name} should parse");
        }
        assert!(Keymap::builtin("emacs").is_none());
    }

    #[test]
    fn default_keys_resolve() {
        let keymap = Keymap::default();
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(keymap.resolve(false, q), Some(Action::Quit));
        // Inside an overlay, q closes the overlay rather than quitting.
        assert_eq!(keymap.resolve(true, q), Some(Action::Close));
        let help = press(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(keymap.resolve(false, help), Some(Action::Help));
        let back = press(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(keymap.resolve(false, back), Some(Action::PrevScreen));
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(keymap.resolve(true, ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn vim_adds_keys_without_losing_defaults() {
        let keymap = Keymap::builtin("vim").expect("vim keymap");
        let l = press(KeyCode::Char('l'), KeyModifiers::NONE);
        assert_eq!(keymap.resolve(false, l), Some(Action::NextScreen));
        let tab = press(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(keymap.resolve(false, tab), Some(Action::NextScreen));
        let big_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(keymap.resolve(false, big_g), Some(Action::SelectLast));
        assert_eq!(
            keymap
                .keys_for(Scope::Global, Action::NextScreen)
                .as_deref(),
            Some("Tab/→/l")
        );
    }

    #[test]
    fn user_file_rebinds_and_unbinds() {
        let user = r#"
[[global]]
on = "x"
run = "quit"

[[global]]
on = "q"
run = "none"
"#;
        let keymap = Keymap::default()
            .merge_toml(user, "keymap.toml")
            .expect("merges");
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        let x = press(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(keymap.resolve(false, q), None);
        assert_eq!(keymap.resolve(false, x), Some(Action::Quit));
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(keymap.resolve(false, ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn unknown_action_names_file_and_line() {
        let user = "[[global]]\non = \"x\"\nrun = \"explode\"\n";
        let error = Keymap::default()
            .merge_toml(user, "/home/me/.config/kockpit/keymap.toml")
            .unwrap_err();
        assert_eq!(error.line, 3);
        let message = error.to_string();
        assert!(message.starts_with("/home/me/.config/kockpit/keymap.toml: line 3"));
        assert!(message.contains("unknown action `explode`"));
    }

    #[test]
    fn bad_key_and_bad_toml_are_reported() {
        let bad_key = "[[global]]\non = \"hyper-x\"\nrun = \"quit\"\n";
        let error = Keymap::default().merge_toml(bad_key, "k.toml").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.problem.contains("hyper-x"));

        let bad_toml = "[[global]\non = \"x\"\n";
        let error = Keymap::default()
            .merge_toml(bad_toml, "k.toml")
            .unwrap_err();
        assert_eq!(error.line, 1);

        let unknown_field = "[[global]]\non = \"x\"\nrun = \"quit\"\nwhen = \"always\"\n";
        let error = Keymap::default()
            .merge_toml(unknown_field, "k.toml")
            .unwrap_err();
        assert!(error.problem.contains("when"), "{error}");
    }

    #[test]
    fn keys_display_readably() {
        assert_eq!(Key::parse("ctrl-c").unwrap().to_string(), "Ctrl-c");
        assert_eq!(Key::parse("shift-tab").unwrap().to_string(), "S-Tab");
        assert_eq!(Key::parse("G").unwrap().to_string(), "G");
        assert_eq!(Key::parse("shift-g").unwrap(), Key::parse("G").unwrap());
        assert_eq!(Key::parse("pagedown").unwrap().to_string(), "PgDn");
        assert_eq!(Key::parse("f5").unwrap().to_string(), "F5");
        assert!(Key::parse("f13").is_err());
    }

    #[test]
    fn help_lists_every_binding_with_its_description() {
        let hints = Keymap::default().hints();
        assert!(
            hints
                .iter()
                .any(|h| h.keys == "q/Ctrl-c" && h.desc == "Quit kockpit")
        );
        assert!(hints.iter().all(|h| !h.desc.is_empty()));
    }
}
