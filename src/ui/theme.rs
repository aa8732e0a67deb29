//! Colour themes: semantic roles (ok, warn, crit, muted…) mapped to styles, loaded from
//! `themes/*.toml` and user files that override them by merging.

use std::ops::Range;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The names `--theme` accepts without a file.
pub const BUILTIN_THEMES: [&str; 4] = ["dark", "light", "high-contrast", "mono"];

const DARK: &str = include_str!("../../themes/dark.toml");
const LIGHT: &str = include_str!("../../themes/light.toml");
const HIGH_CONTRAST: &str = include_str!("../../themes/high-contrast.toml");
const MONO: &str = include_str!("../../themes/mono.toml");

/// The styles every part of the UI draws with, one per semantic role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Ordinary text: names, values without a verdict.
    pub text: Style,
    /// Secondary text: labels, units, hints, ages.
    pub muted: Style,
    /// Emphasis that is not a verdict: the product name, links between things.
    pub accent: Style,
    /// Section and overlay titles.
    pub title: Style,
    pub border: Style,
    pub tab_active: Style,
    pub tab_inactive: Style,
    /// Table column headings.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// Verdicts: within thresholds, amber, red, and informational.
    pub ok: Style,
    pub warn: Style,
    pub crit: Style,
    pub info: Style,
    pub spark: Style,
    pub chart: Style,
    /// Keys in the footer and the help overlay.
    pub key: Style,
    /// The source banner (SIMULATED / LIVE / REPLAY).
    pub banner: Style,
    /// Messages for the user in the footer.
    pub notice: Style,
}

/// The role names a theme file may set, in the order the files list them.
pub const ROLES: [&str; 18] = [
    "text",
    "muted",
    "accent",
    "title",
    "border",
    "tab_active",
    "tab_inactive",
    "header",
    "selected",
    "ok",
    "warn",
    "crit",
    "info",
    "spark",
    "chart",
    "key",
    "banner",
    "notice",
];

/// A theme file that could not be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: line {line}, column {column}: {message}")]
pub struct ThemeError {
    /// The file (or built-in name) the text came from.
    pub origin: String,
    /// 1-based line and column of the offending text.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Theme {
    /// One of the themes shipped in the binary, by name (see `BUILTIN_THEMES`).
    pub fn builtin(name: &str) -> Option<Theme> {
        let text = match name {
            "dark" => DARK,
            "light" => LIGHT,
            "high-contrast" => HIGH_CONTRAST,
            "mono" => MONO,
            _ => return None,
        };
        // The embedded files are checked by the tests, so a failure here cannot ship.
        Theme::blank().merge_toml(text, name).ok()
    }

    /// Every role unstyled: what the terminal draws by default.
    pub fn blank() -> Theme {
        Theme {
            text: Style::new(),
            muted: Style::new(),
            accent: Style::new(),
            title: Style::new(),
            border: Style::new(),
            tab_active: Style::new(),
            tab_inactive: Style::new(),
            header: Style::new(),
            selected: Style::new(),
            ok: Style::new(),
            warn: Style::new(),
            crit: Style::new(),
            info: Style::new(),
            spark: Style::new(),
            chart: Style::new(),
            key: Style::new(),
            banner: Style::new(),
            notice: Style::new(),
        }
    }

    /// The dark theme, or unstyled text if it could not be read.
    pub fn dark() -> Theme {
        Theme::builtin("dark").unwrap_or_else(Theme::blank)
    }

    /// This theme with a (partial) theme file laid over it. A role given as a colour string
    /// sets its foreground; a role given as a table changes only the fields it names.
    /// `origin` names the file in error messages.
    pub fn merge_toml(&self, text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let error_at = |span: Range<usize>, message: String| ThemeError {
            origin: origin.to_string(),
            line: line_col(text, span.start).0,
            column: line_col(text, span.start).1,
            message,
        };
        let table = DeTable::parse(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            error_at(span, first_line(err.message()))
        })?;
        let mut theme = self.clone();
        for (key, value) in table.get_ref() {
            let name: &str = key.get_ref();
            let Some(style) = theme.role_mut(name) else {
                return Err(error_at(
                    key.span(),
                    format!(
                        "unknown role `{}`; known roles: {}",
                        name.escape_default(),
                        ROLES.join(", ")
                    ),
                ));
            };
            apply_style(style, value).map_err(|(span, message)| error_at(span, message))?;
        }
        Ok(theme)
    }

    /// The theme for `NO_COLOR`: every colour removed, modifiers kept. A role that stood out
    /// only by its background (a selection, the active tab) is reversed instead, so it still
    /// stands out.
    pub fn without_color(&self) -> Theme {
        let mut theme = self.clone();
        for name in ROLES {
            if let Some(style) = theme.role_mut(name) {
                let had_background = matches!(style.bg, Some(bg) if bg != Color::Reset);
                let mut plain = Style::new().add_modifier(style.add_modifier);
                if had_background {
                    plain = plain.add_modifier(Modifier::REVERSED);
                }
                *style = plain;
            }
        }
        theme
    }

    /// The style of a role by its file name.
    pub fn role(&self, name: &str) -> Option<Style> {
        Some(match name {
            "text" => self.text,
            "muted" => self.muted,
            "accent" => self.accent,
            "title" => self.title,
            "border" => self.border,
            "tab_active" => self.tab_active,
            "tab_inactive" => self.tab_inactive,
            "header" => self.header,
            "selected" => self.selected,
            "ok" => self.ok,
            "warn" => self.warn,
            "crit" => self.crit,
            "info" => self.info,
            "spark" => self.spark,
            "chart" => self.chart,
            "key" => self.key,
            "banner" => self.banner,
            "notice" => self.notice,
            _ => return None,
        })
    }

    fn role_mut(&mut self, name: &str) -> Option<&mut Style> {
        Some(match name {
            "text" => &mut self.text,
            "muted" => &mut self.muted,
            "accent" => &mut self.accent,
            "title" => &mut self.title,
            "border" => &mut self.border,
            "tab_active" => &mut self.tab_active,
            "tab_inactive" => &mut self.tab_inactive,
            "header" => &mut self.header,
            "selected" => &mut self.selected,
            "ok" => &mut self.ok,
            "warn" => &mut self.warn,
            "crit" => &mut self.crit,
            "info" => &mut self.info,
            "spark" => &mut self.spark,
            "chart" => &mut self.chart,
            "key" => &mut self.key,
            "banner" => &mut self.banner,
            "notice" => &mut self.notice,
            _ => return None,
        })
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

/// Lays one role's value from a file over `style`.
fn apply_style(
    style: &mut Style,
    value: &Spanned<DeValue<'_>>,
) -> Result<(), (Range<usize>, String)> {
    match value.get_ref() {
        DeValue::String(colour) => {
            style.fg = Some(parse_colour(colour).map_err(|m| (value.span(), m))?);
            Ok(())
        }
        DeValue::Table(fields) => {
            for (field, field_value) in fields {
                apply_field(style, field, field_value)?;
            }
            Ok(())
        }
        other => Err((
            value.span(),
            format!(
                "expected a colour string or a style table, found {}",
                other.type_str()
            ),
        )),
    }
}

fn apply_field(
    style: &mut Style,
    field: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Result<(), (Range<usize>, String)> {
    let name: &str = field.get_ref();
    let colour = |value: &Spanned<DeValue<'_>>| -> Result<Color, (Range<usize>, String)> {
        match value.get_ref() {
            DeValue::String(text) => parse_colour(text).map_err(|m| (value.span(), m)),
            other => Err((
                value.span(),
                format!(
                    "`{name}` must be a colour string, found {}",
                    other.type_str()
                ),
            )),
        }
    };
    let modifier = match name {
        "fg" => {
            style.fg = Some(colour(value)?);
            return Ok(());
        }
        "bg" => {
            style.bg = Some(colour(value)?);
            return Ok(());
        }
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        _ => {
            return Err((
                field.span(),
                format!(
                    "unknown style field `{}`; expected fg, bg, bold, dim, italic, underlined or reversed",
                    name.escape_default()
                ),
            ));
        }
    };
    match value.get_ref() {
        DeValue::Boolean(true) => style.add_modifier.insert(modifier),
        DeValue::Boolean(false) => style.add_modifier.remove(modifier),
        other => {
            return Err((
                value.span(),
                format!("`{name}` must be true or false, found {}", other.type_str()),
            ));
        }
    }
    Ok(())
}

/// Accepts named colours (`red`, `light-blue`), `#rrggbb`, an indexed colour (`"123"`) and
/// `reset`.
fn parse_colour(text: &str) -> Result<Color, String> {
    if text.trim().is_empty() {
        return Err("empty colour; expected a name, #rrggbb, 0-255 or reset".to_string());
    }
    Color::from_str(text.trim()).map_err(|_| {
        format!(
            "bad colour `{}`; expected a name (e.g. red, light-blue), #rrggbb, 0-255 or reset",
            text.escape_default()
        )
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses_and_sets_every_role() {
        for name in BUILTIN_THEMES {
            let result = Theme::blank().merge_toml(
                match name {
                    "dark" => DARK,
                    "light" => LIGHT,
                    "high-contrast" => HIGH_CONTRAST,
                    _ => MONO,
                },
                name,
            );
            let theme = match result {
                Ok(theme) => theme,
                Err(err) => panic!("{err}"),
            };
            for role in ROLES {
                let text = match name {
                    "dark" => DARK,
                    "light" => LIGHT,
                    "high-contrast" => HIGH_CONTRAST,
                    _ => MONO,
                };
                assert!(
                    text.lines().any(|l| l.starts_with(&format!("{role} "))),
                    "{name} does not set {role}"
                );
            }
            assert_eq!(Theme::builtin(name), Some(theme));
        }
        assert_eq!(Theme::builtin("solarized"), None);
        assert_eq!(Some(Theme::default()), Theme::builtin("dark"));
    }

    #[test]
    fn mono_uses_modifiers_only() {
        let mono = Theme::builtin("mono").expect("mono theme");
        assert_eq!(mono, mono.without_color());
        assert_ne!(mono.crit, Style::new());
        assert_ne!(mono.selected, Style::new());
    }

    #[test]
    fn without_color_removes_every_colour_and_keeps_modifiers() {
        for name in BUILTIN_THEMES {
            let theme = Theme::builtin(name).expect("builtin");
            let plain = theme.without_color();
            for role in ROLES {
                let before = theme.role(role).expect("role");
                let after = plain.role(role).expect("role");
                assert_eq!(after.fg, None, "{name}.{role} keeps fg");
                assert_eq!(after.bg, None, "{name}.{role} keeps bg");
                assert!(
                    after.add_modifier.contains(before.add_modifier),
                    "{name}.{role} lost modifiers"
                );
            }
            // The selection must stay visible without colour.
            assert_ne!(plain.selected, Style::new(), "{name}.selected vanishes");
            assert_ne!(
                plain.tab_active, plain.tab_inactive,
                "{name} tabs look alike"
            );
        }
    }

    #[test]
    fn merge_overrides_only_what_the_file_names() {
        let base = Theme::dark();
        let merged = base
            .merge_toml(
                "# mine\nwarn = \"#ff8800\"\ncrit = { bg = \"red\", bold = false }\n",
                "mine.toml",
            )
            .expect("valid file");
        assert_eq!(merged.warn.fg, Some(Color::Rgb(0xff, 0x88, 0)));
        assert_eq!(merged.warn.add_modifier, base.warn.add_modifier);
        assert_eq!(merged.crit.bg, Some(Color::Red));
        assert_eq!(merged.crit.fg, base.crit.fg);
        assert!(!merged.crit.add_modifier.contains(Modifier::BOLD));
        assert_eq!(merged.ok, base.ok);
    }

    #[test]
    fn colours_in_every_accepted_form() {
        let theme = Theme::blank()
            .merge_toml(
                "ok = \"green\"\nwarn = \"light-yellow\"\ncrit = \"#FF0000\"\ninfo = \"123\"\ntext = { fg = \"reset\", bg = \"reset\" }\n",
                "t",
            )
            .expect("valid");
        assert_eq!(theme.ok.fg, Some(Color::Green));
        assert_eq!(theme.warn.fg, Some(Color::LightYellow));
        assert_eq!(theme.crit.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(theme.info.fg, Some(Color::Indexed(123)));
        assert_eq!(theme.text.bg, Some(Color::Reset));
    }

    #[test]
    fn unknown_role_names_line_and_column() {
        let err = Theme::dark()
            .merge_toml("ok = \"green\"\n\n  wran = \"red\"\n", "theme.toml")
            .expect_err("unknown role");
        assert_eq!((err.line, err.column), (3, 3));
        let shown = err.to_string();
        assert!(
            shown.starts_with("theme.toml: line 3, column 3: unknown role `wran`"),
            "{shown}"
        );
    }

    #[test]
    fn bad_colour_points_at_the_value() {
        let err = Theme::dark()
            .merge_toml(
                "ok = \"green\"\ncrit = { fg = \"#ff00zz\" }\n",
                "theme.toml",
            )
            .expect_err("bad colour");
        assert_eq!((err.line, err.column), (2, 15));
        assert!(err.message.contains("bad colour `#ff00zz`"), "{err}");

        let err = Theme::dark()
            .merge_toml("muted = \"\"\n", "t.toml")
            .expect_err("empty colour");
        assert_eq!(err.line, 1);
        assert!(err.message.contains("empty colour"));

        let err = Theme::dark()
            .merge_toml("muted = 12\n", "t.toml")
            .expect_err("wrong type");
        assert!(
            err.message.contains("colour string or a style table"),
            "{err}"
        );

        let err = Theme::dark()
            .merge_toml("muted = { blink = true }\n", "t.toml")
            .expect_err("unknown field");
        assert_eq!((err.line, err.column), (1, 11));

        let err = Theme::dark()
            .merge_toml("muted = { bold = \"yes\" }\n", "t.toml")
            .expect_err("not a bool");
        assert!(err.message.contains("true or false"), "{err}");
    }

    #[test]
    fn toml_syntax_error_names_the_line() {
        let err = Theme::dark()
            .merge_toml("ok = \"green\"\nwarn = \"yellow\n", "broken.toml")
            .expect_err("syntax");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.to_string().starts_with("broken.toml: line 2, column "));
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("é\nxé", 5), (2, 3));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
