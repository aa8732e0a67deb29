//! Loading what the user configures: the theme, the key map, the thresholds and the price
//! discounts, from the command line, the configuration file and the user's files in the XDG
//! config directory.
//! A bad file never stops kockpit: it is reported (file, line, problem) and the built-in
//! default is used instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::keymap::{BUILTIN_KEYMAPS, Keymap};
use crate::backend::pricing::DEFAULT_CACHE_MAX_AGE;
use crate::domain::FileError;
use crate::domain::cockpit::AnalysisConfig;
use crate::domain::limits;
use crate::domain::prices::{Discounts, FamilyDiscount, PriceTable, check_discount};
use crate::domain::thresholds::Thresholds;
use crate::ui::theme::{BUILTIN_THEMES, Theme};

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A theme name or a path to a theme file.
    pub theme: Option<String>,
    /// A key map name or a path to a key map file.
    pub keymap: Option<String>,
    /// A configuration file other than the one in the config directory.
    pub config_file: Option<PathBuf>,
    /// `NO_COLOR` is set: no colour at all.
    pub no_color: bool,
}

/// The resolved configuration, and what went wrong while resolving it.
pub struct Settings {
    pub theme: Theme,
    pub keymap: Keymap,
    pub analysis: AnalysisConfig,
    /// The `[prices]` section (its discounts are already in `analysis.prices`).
    pub prices: PriceSettings,
    /// `allow_writes = true`: fixes may be applied, as with `--allow-writes`.
    pub allow_writes: bool,
    /// `exec_timeout = "20s"`: how long the kubeconfig's exec credential plugin may take.
    pub exec_timeout: Option<Duration>,
    /// The `[fleet]` section: the clusters watched when the command line names none.
    pub fleet: FleetSettings,
    /// One line per problem found, for the user to read in the cockpit.
    pub notices: Vec<String>,
}

/// The `[prices]` section of the configuration file:
///
/// ```toml
/// [prices]
/// on_demand_discount = 0.28   # Savings Plans / EDP, off on-demand list prices
/// spot_discount = 0.0
/// cache_max_age = "7d"        # how long prices from --refresh-prices are used
///
/// [prices.families]            # per instance family, replacing the rates above
/// m7g = { on_demand_discount = 0.40 }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSettings {
    pub discounts: Discounts,
    /// Prices cached by `--refresh-prices` are used while younger than this.
    pub cache_max_age: Duration,
}

impl Default for PriceSettings {
    fn default() -> Self {
        PriceSettings {
            discounts: Discounts::default(),
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
        }
    }
}

/// The `[fleet]` section: the clusters watched side by side when no `--context` is given,
/// and the Prometheus (or AMP workspace) of each:
///
/// ```toml
/// [fleet]
/// contexts = ["prod-euw1", "prod-euc1"]
///
/// [fleet.prometheus]
/// prod-euw1 = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1111"
/// prod-euc1 = "https://aps-workspaces.eu-central-1.amazonaws.com/workspaces/ws-2222"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSettings {
    #[serde(default)]
    pub contexts: Vec<String>,
    /// By context.
    #[serde(default)]
    pub prometheus: BTreeMap<String, String>,
}

/// The configuration file: everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    theme: Option<String>,
    keymap: Option<String>,
    #[serde(default)]
    allow_writes: bool,
    exec_timeout: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    prices: RawPrices,
    fleet: Option<Spanned<FleetSettings>>,
    /// `prices`, checked (see `load_config_file`).
    #[serde(skip)]
    price_settings: PriceSettings,
    /// `exec_timeout`, checked.
    #[serde(skip)]
    checked_exec_timeout: Option<Duration>,
}

/// The bounds of `exec_timeout` (and `--exec-timeout`): a plugin gets at least a second, and
/// a cockpit never waits more than a few minutes for its credentials.
pub const EXEC_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));

/// `exec_timeout` as a duration within `EXEC_TIMEOUT_RANGE`.
pub fn check_exec_timeout(text: &str) -> Result<Duration, String> {
    let timeout = crate::domain::time::parse_duration(text).map_err(|e| e.to_string())?;
    let (least, most) = EXEC_TIMEOUT_RANGE;
    if timeout < least || timeout > most {
        return Err(format!(
            "`{text}` is outside {}s to {}s",
            least.as_secs(),
            most.as_secs()
        ));
    }
    Ok(timeout)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrices {
    on_demand_discount: Option<Spanned<f64>>,
    spot_discount: Option<Spanned<f64>>,
    cache_max_age: Option<Spanned<String>>,
    #[serde(default)]
    families: BTreeMap<String, RawFamilyDiscount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamilyDiscount {
    on_demand_discount: Option<Spanned<f64>>,
    spot_discount: Option<Spanned<f64>>,
}

/// Checks the `[prices]` values; a problem names the file, line and column.
fn price_settings(raw: &RawPrices, origin: &str, text: &str) -> Result<PriceSettings, FileError> {
    let discount = |value: &Option<Spanned<f64>>, what: &str| -> Result<Option<f64>, FileError> {
        value
            .as_ref()
            .map(|v| {
                check_discount(*v.get_ref()).map_err(|problem| {
                    FileError::at_offset(origin, text, v.span().start, format!("{what}: {problem}"))
                })
            })
            .transpose()
    };
    let mut discounts = Discounts {
        on_demand: discount(&raw.on_demand_discount, "on_demand_discount")?.unwrap_or(0.0),
        spot: discount(&raw.spot_discount, "spot_discount")?.unwrap_or(0.0),
        families: BTreeMap::new(),
    };
    for (family, rates) in &raw.families {
        let family_discount = FamilyDiscount {
            on_demand: discount(
                &rates.on_demand_discount,
                &format!("{family} on_demand_discount"),
            )?,
            spot: discount(&rates.spot_discount, &format!("{family} spot_discount"))?,
        };
        discounts.families.insert(family.clone(), family_discount);
    }
    let cache_max_age = match &raw.cache_max_age {
        None => DEFAULT_CACHE_MAX_AGE,
        Some(value) => crate::domain::time::parse_duration(value.get_ref()).map_err(|e| {
            FileError::at_offset(
                origin,
                text,
                value.span().start,
                format!("cache_max_age: {e}"),
            )
        })?,
    };
    Ok(PriceSettings {
        discounts,
        cache_max_age,
    })
}

/// What is wrong with a `[fleet]` section, if anything: too many clusters, one named twice,
/// or a Prometheus for a context the list does not hold (a typo would leave that cluster
/// without metrics and say nothing).
fn check_fleet(fleet: &FleetSettings) -> Option<String> {
    let count = fleet.contexts.len();
    if !limits::FLEET_CLUSTERS.allows(count as u64) {
        return Some(limits::FLEET_CLUSTERS.exceeded("[fleet] contexts", count));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = fleet.contexts.iter().find(|c| !seen.insert(c.as_str())) {
        return Some(format!("[fleet] contexts names {twice} twice"));
    }
    if let Some(unknown) = fleet.prometheus.keys().find(|c| !seen.contains(c.as_str())) {
        return Some(format!(
            "[fleet.prometheus] {unknown}: not one of [fleet] contexts ({})",
            fleet.contexts.join(", ")
        ));
    }
    None
}

/// The directory user files are read from: `$KOCKPIT_CONFIG_DIR`, else the XDG config
/// directory (`~/.config/kockpit`).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KOCKPIT_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "kockpit").map(|dirs| dirs.config_dir().to_path_buf())
}

/// The directory logs (and later the audit log) are written to: `$KOCKPIT_STATE_DIR`, else
/// the XDG state directory (`~/.local/state/kockpit`).
pub fn state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KOCKPIT_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("", "", "kockpit")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
    )
}

/// The directory refreshed prices are cached in: `$KOCKPIT_CACHE_DIR`, else the XDG cache
/// directory (`~/.cache/kockpit`).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KOCKPIT_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "kockpit").map(|dirs| dirs.cache_dir().to_path_buf())
}

/// `NO_COLOR` counts when it is set to anything but the empty string (no-color.org).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

pub fn load(request: &Request) -> Settings {
    let mut notices = Vec::new();
    let dir = config_dir();

    let config_path = request
        .config_file
        .clone()
        .or_else(|| dir.as_ref().map(|d| d.join("config.toml")));
    let config = match config_path {
        Some(path) => load_config_file(&path, request.config_file.is_some(), &mut notices),
        None => ConfigFile::default(),
    };

    let theme_choice = request.theme.clone().or(config.theme);
    let mut theme = resolve_theme(theme_choice.as_deref(), &mut notices);
    if let Some(dir) = &dir {
        theme = merge_user_file(
            theme,
            &dir.join("theme.toml"),
            &mut notices,
            Theme::merge_toml,
        );
    }
    if request.no_color {
        theme = theme.without_color();
    }

    let keymap_choice = request.keymap.clone().or(config.keymap);
    let mut keymap = resolve_keymap(keymap_choice.as_deref(), &mut notices);
    if let Some(dir) = &dir {
        keymap = merge_user_file(
            keymap,
            &dir.join("keymap.toml"),
            &mut notices,
            Keymap::merge_toml,
        );
    }

    Settings {
        theme,
        keymap,
        analysis: AnalysisConfig {
            thresholds: config.thresholds,
            prices: PriceTable::builtin().with_discounts(config.price_settings.discounts.clone()),
        },
        prices: config.price_settings,
        allow_writes: config.allow_writes,
        exec_timeout: config.checked_exec_timeout,
        fleet: config.fleet.map(Spanned::into_inner).unwrap_or_default(),
        notices,
    }
}

/// Reads the configuration file. A missing default file is normal; a missing file the
/// user named, or a malformed one, is reported.
fn load_config_file(path: &Path, named_by_user: bool, notices: &mut Vec<String>) -> ConfigFile {
    let text = match crate::backend::files::read_to_string(path, limits::USER_FILE_BYTES) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !named_by_user => {
            return ConfigFile::default();
        }
        Err(error) => {
            notices.push(format!("{}: {error}; using defaults", path.display()));
            return ConfigFile::default();
        }
    };
    parse_config(&text, &path.display().to_string(), notices)
}

/// The configuration in `text` (read from `origin`), every problem pushed to `notices`.
fn parse_config(text: &str, origin: &str, notices: &mut Vec<String>) -> ConfigFile {
    if let Ok(table) = toml::from_str::<toml::Table>(text)
        && let Some((at, key)) = crate::domain::file_error::non_finite(&table, &mut Vec::new())
    {
        let (line, column) =
            crate::domain::file_error::locate_field(text, &at, &key).unwrap_or((1, 1));
        notices.push(format!(
            "{origin}: line {line}, column {column}: `{key}` must be a finite number; using defaults"
        ));
        return ConfigFile::default();
    }
    match toml::from_str::<ConfigFile>(text) {
        Ok(mut config) => {
            // A bad price setting drops the discounts only, not the whole file.
            config.price_settings = match price_settings(&config.prices, origin, text) {
                Ok(settings) => settings,
                Err(error) => {
                    notices.push(format!("{error}; prices without discounts"));
                    PriceSettings::default()
                }
            };
            if let Some(fleet) = &config.fleet
                && let Some(problem) = check_fleet(fleet.get_ref())
            {
                let error = FileError::at_offset(origin, text, fleet.span().start, problem);
                notices.push(format!("{error}; watching one cluster"));
                config.fleet = None;
            }
            if let Some(value) = &config.exec_timeout {
                match check_exec_timeout(value.get_ref()) {
                    Ok(timeout) => config.checked_exec_timeout = Some(timeout),
                    Err(problem) => {
                        let error = FileError::at_offset(
                            origin,
                            text,
                            value.span().start,
                            format!("exec_timeout: {problem}"),
                        );
                        notices.push(format!("{error}; using the default"));
                    }
                }
            }
            config
        }
        Err(error) => {
            let error = FileError::from_toml(origin, text, &error);
            notices.push(format!("{error}; using defaults"));
            ConfigFile::default()
        }
    }
}

/// The problems kockpit reports for a configuration file holding `text`; nothing is read
/// from disk.
pub(crate) fn config_notices(text: &str, origin: &str) -> Vec<String> {
    let mut notices = Vec::new();
    parse_config(text, origin, &mut notices);
    notices
}

/// A built-in name, or else a path whose file is merged over the dark theme.
fn resolve_theme(choice: Option<&str>, notices: &mut Vec<String>) -> Theme {
    let Some(choice) = choice else {
        return Theme::default();
    };
    if let Some(theme) = Theme::builtin(choice) {
        return theme;
    }
    if !looks_like_path(choice) {
        notices.push(format!(
            "unknown theme `{choice}` (built-in: {}); using dark",
            BUILTIN_THEMES.join(", ")
        ));
        return Theme::default();
    }
    merge_user_file(
        Theme::default(),
        Path::new(choice),
        notices,
        Theme::merge_toml,
    )
}

/// A built-in name, or else a path whose file is merged over the default key map.
fn resolve_keymap(choice: Option<&str>, notices: &mut Vec<String>) -> Keymap {
    let Some(choice) = choice else {
        return Keymap::default();
    };
    if let Some(keymap) = Keymap::builtin(choice) {
        return keymap;
    }
    if !looks_like_path(choice) {
        notices.push(format!(
            "unknown key map `{choice}` (built-in: {}); using default",
            BUILTIN_KEYMAPS.join(", ")
        ));
        return Keymap::default();
    }
    let path = Path::new(choice);
    if !path.exists() {
        notices.push(format!("{choice}: no such key map file; using default"));
        return Keymap::default();
    }
    merge_user_file(Keymap::default(), path, notices, Keymap::merge_toml)
}

fn looks_like_path(choice: &str) -> bool {
    choice.contains('/') || choice.ends_with(".toml")
}

/// Merges the file at `path` (if it exists) over `base` with `merge`; on any problem the
/// base is kept and the problem becomes a notice.
fn merge_user_file<T, E: std::fmt::Display>(
    base: T,
    path: &Path,
    notices: &mut Vec<String>,
    merge: impl Fn(&T, &str, &str) -> Result<T, E>,
) -> T {
    let text = match crate::backend::files::read_to_string(path, limits::USER_FILE_BYTES) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return base,
        Err(error) => {
            notices.push(format!("{}: {error}; ignored", path.display()));
            return base;
        }
    };
    match merge(&base, &text, &path.display().to_string()) {
        Ok(merged) => merged,
        Err(error) => {
            notices.push(format!("{error}; using the built-in default"));
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kockpit-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn malformed_user_keymap_is_reported_and_default_kept() {
        let dir = temp_dir("keymap");
        let path = dir.join("keymap.toml");
        std::fs::write(&path, "[[global]]\non = \"x\"\nrun = \"fly\"\n").expect("write");
        let mut notices = Vec::new();
        let keymap = merge_user_file(Keymap::default(), &path, &mut notices, Keymap::merge_toml);
        assert_eq!(keymap, Keymap::default());
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("keymap.toml: line 3"), "{}", notices[0]);
        assert!(notices[0].contains("unknown action `fly`"));
    }

    #[test]
    fn malformed_config_file_is_reported_with_its_line() {
        let dir = temp_dir("config");
        let path = dir.join("config.toml");
        std::fs::write(&path, "theme = \"light\"\n[thresholds]\ndns_p99_ms = 5\n").expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        assert!(config.theme.is_none());
        assert!(notices[0].contains("line 3"), "{}", notices[0]);
    }

    #[test]
    fn a_fleet_is_read_and_a_bad_one_named_at_its_line() {
        let text = "theme = \"light\"\n[fleet]\ncontexts = [\"euw1\", \"euc1\"]\n\
                    [fleet.prometheus]\neuc1 = \"http://127.0.0.1:9090\"\n";
        let mut notices = Vec::new();
        let config = parse_config(text, "config.toml", &mut notices);
        assert!(notices.is_empty(), "{notices:?}");
        let fleet = config.fleet.map(Spanned::into_inner).unwrap_or_default();
        assert_eq!(fleet.contexts, ["euw1", "euc1"]);
        assert_eq!(fleet.prometheus["euc1"], "http://127.0.0.1:9090");

        for (text, problem) in [
            (
                "theme = \"light\"\n[fleet]\ncontexts = [\"euw1\"]\n[fleet.prometheus]\neuw2 = \"http://p\"\n",
                "euw2: not one of [fleet] contexts (euw1)",
            ),
            (
                "theme = \"light\"\n[fleet]\ncontexts = [\"a\", \"a\"]\n",
                "names a twice",
            ),
        ] {
            let mut notices = Vec::new();
            let config = parse_config(text, "config.toml", &mut notices);
            assert!(config.fleet.is_none(), "a bad fleet is dropped whole");
            assert_eq!(config.theme.as_deref(), Some("light"), "the rest is kept");
            assert!(
                notices[0].starts_with("config.toml: line 2"),
                "{}",
                notices[0]
            );
            assert!(notices[0].contains(problem), "{}", notices[0]);
        }
        let many: Vec<String> = (0..40).map(|i| format!("\"c{i}\"")).collect();
        let text = format!("[fleet]\ncontexts = [{}]\n", many.join(", "));
        let mut notices = Vec::new();
        parse_config(&text, "config.toml", &mut notices);
        assert!(
            notices[0].contains("over kockpit's limit of 32 clusters"),
            "{}",
            notices[0]
        );
    }

    #[test]
    fn the_exec_plugin_timeout_is_read_and_bounded() {
        let dir = temp_dir("exec-timeout");
        let path = dir.join("config.toml");
        std::fs::write(&path, "exec_timeout = \"5s\"\n").expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(config.checked_exec_timeout, Some(Duration::from_secs(5)));

        std::fs::write(&path, "theme = \"light\"\nexec_timeout = \"2h\"\n").expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        assert_eq!(config.checked_exec_timeout, None);
        assert!(notices[0].contains("config.toml: line 2"), "{}", notices[0]);
        assert!(notices[0].contains("outside 1s to 600s"), "{}", notices[0]);
    }

    #[test]
    fn a_threshold_that_is_not_a_finite_number_is_refused() {
        let dir = temp_dir("config-inf");
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            "theme = \"light\"\n[thresholds.dns_p99_ms]\nwarning = inf\ncritical = 100.0\n",
        )
        .expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        assert!(config.theme.is_none());
        assert!(
            notices[0].contains("config.toml: line 3, column 1: `warning` must be a finite number"),
            "{}",
            notices[0]
        );
    }

    #[test]
    fn thresholds_can_be_overridden_partially() {
        let config: ConfigFile =
            toml::from_str("[thresholds]\ndns_p99_ms = { warning = 20.0, critical = 40.0 }\n")
                .expect("parses");
        assert_eq!(config.thresholds.dns_p99_ms.critical, 40.0);
        assert_eq!(
            config.thresholds.dns_cache_hit_ratio,
            Thresholds::default().dns_cache_hit_ratio
        );
    }

    #[test]
    fn unknown_names_fall_back_with_a_notice() {
        let mut notices = Vec::new();
        resolve_theme(Some("solarized"), &mut notices);
        resolve_keymap(Some("emacs"), &mut notices);
        assert_eq!(notices.len(), 2);
        assert!(notices[0].contains("unknown theme `solarized`"));
        assert!(notices[1].contains("unknown key map `emacs`"));
    }

    #[test]
    fn missing_named_config_file_is_reported() {
        let mut notices = Vec::new();
        load_config_file(Path::new("/nonexistent/kockpit.toml"), true, &mut notices);
        assert_eq!(notices.len(), 1);
        let mut quiet = Vec::new();
        load_config_file(Path::new("/nonexistent/kockpit.toml"), false, &mut quiet);
        assert!(quiet.is_empty());
    }

    #[test]
    fn price_discounts_are_read_and_checked() {
        let dir = temp_dir("prices");
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            "[prices]\non_demand_discount = 0.28\nspot_discount = 0\ncache_max_age = \"2d\"\n\n[prices.families]\nm7g = { on_demand_discount = 0.4 }\n",
        )
        .expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        assert!(notices.is_empty(), "{notices:?}");
        let settings = config.price_settings;
        assert_eq!(settings.discounts.on_demand, 0.28);
        assert_eq!(settings.discounts.spot, 0.0);
        assert_eq!(settings.discounts.families["m7g"].on_demand, Some(0.4));
        assert_eq!(settings.discounts.families["m7g"].spot, None);
        assert_eq!(settings.cache_max_age, Duration::from_secs(2 * 86_400));

        std::fs::write(
            &path,
            "theme = \"light\"\n[prices]\nspot_discount = 0.1\n[prices.families]\nc7i = { on_demand_discount = 35 }\n",
        )
        .expect("write");
        let mut notices = Vec::new();
        let config = load_config_file(&path, true, &mut notices);
        // The rest of the file still counts.
        assert_eq!(config.theme.as_deref(), Some("light"));
        assert_eq!(config.price_settings, PriceSettings::default());
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0].contains("config.toml: line 5, column"),
            "{}",
            notices[0]
        );
        assert!(
            notices[0].contains("c7i on_demand_discount"),
            "{}",
            notices[0]
        );
        assert!(notices[0].contains("write 0.35 for 35%"), "{}", notices[0]);

        std::fs::write(&path, "[prices]\ncache_max_age = \"soon\"\n").expect("write");
        let mut notices = Vec::new();
        load_config_file(&path, true, &mut notices);
        assert!(notices[0].contains("line 2"), "{}", notices[0]);
        assert!(notices[0].contains("cache_max_age"), "{}", notices[0]);

        std::fs::write(&path, "[prices]\nsavings_plan = 0.2\n").expect("write");
        let mut notices = Vec::new();
        load_config_file(&path, true, &mut notices);
        assert!(notices[0].contains("line 2"), "{}", notices[0]);
        assert!(notices[0].contains("savings_plan"), "{}", notices[0]);
    }
}
