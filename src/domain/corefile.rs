//! The CoreDNS Corefile: a lossless syntax tree (every token, comment and space is kept, so
//! rendering gives the input back byte for byte), the settings the DNS pane reads from it,
//! and small edits that change one setting while leaving everything else as it was.
//!
//! The grammar follows the Caddyfile lexer CoreDNS uses: tokens are separated by white
//! space; `#` starts a comment that runs to the end of the line; `"…"` quotes a token
//! (with `\"` escapes, and it may span lines); a directive is a line of tokens, optionally
//! followed by a `{ … }` block on the same line; `{$NAME}` is an environment placeholder,
//! an ordinary token here. At the top level come server blocks (`.:53 {`,
//! `cluster.local:53 amazonaws.com {`), snippets (`(name) {`) and `import` lines.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::file_error::line_and_column;
use super::format::{go_duration, parse_go_duration};

/// The Kubernetes plugin's record TTL when the Corefile sets none.
pub const DEFAULT_KUBERNETES_TTL_SECONDS: u32 = 5;

/// How many directives flattening the main block's imports may visit; real Corefiles have
/// tens.
const MAX_IMPORT_STEPS: usize = 10_000;

/// The main block's plugins with its snippet imports flattened, and what could not be.
#[derive(Default)]
struct Flattened<'a> {
    plugins: Vec<&'a Directive>,
    /// The snippets being expanded, outermost first.
    chain: Vec<String>,
    unresolved: Vec<String>,
    steps: usize,
}

impl Flattened<'_> {
    fn unresolve(&mut self, what: String) {
        if !self.unresolved.contains(&what) {
            self.unresolved.push(what);
        }
    }
}

/// The cache plugin's maximum TTL when `cache` has no TTL argument.
pub const DEFAULT_CACHE_MAX_TTL_SECONDS: u32 = 3600;

/// The cache plugin's capacity of each class (success, denial) when none is given.
pub const DEFAULT_CACHE_CAPACITY: u32 = 9984;

/// Why a Corefile could not be read. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct CorefileError {
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

impl CorefileError {
    fn at(text: &str, offset: usize, problem: impl Into<String>) -> Self {
        let (line, column) = line_and_column(text, offset);
        CorefileError {
            line,
            column,
            problem: problem.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Syntax tree

/// One token and the white space and comments in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Spaces, line breaks and comments between the previous token and this one.
    pub leading: String,
    /// The token exactly as written, quotes included.
    pub raw: String,
}

impl Token {
    /// A token on the same line as the one before it, separated by one space.
    pub fn word(text: &str) -> Token {
        Token {
            leading: " ".to_string(),
            raw: quote_if_needed(text),
        }
    }

    /// A token that starts a new line with the given indentation.
    pub fn on_new_line(indent: &str, text: &str) -> Token {
        Token {
            leading: format!("\n{indent}"),
            raw: quote_if_needed(text),
        }
    }

    /// A brace (or other syntax token) written as is, never quoted.
    fn syntax(leading: &str, raw: &str) -> Token {
        Token {
            leading: leading.to_string(),
            raw: raw.to_string(),
        }
    }

    /// The token's value: quotes removed and `\"` unescaped.
    pub fn value(&self) -> Cow<'_, str> {
        if self.is_quoted() {
            let inner = &self.raw[1..self.raw.len() - 1];
            if inner.contains('\\') {
                let mut out = String::with_capacity(inner.len());
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        match chars.next() {
                            Some('"') => out.push('"'),
                            Some(other) => {
                                out.push('\\');
                                out.push(other);
                            }
                            None => out.push('\\'),
                        }
                    } else {
                        out.push(c);
                    }
                }
                Cow::Owned(out)
            } else {
                Cow::Borrowed(inner)
            }
        } else {
            Cow::Borrowed(&self.raw)
        }
    }

    pub fn is_quoted(&self) -> bool {
        self.raw.len() >= 2 && self.raw.starts_with('"') && self.raw.ends_with('"')
    }

    /// `{$NAME}`: replaced by an environment variable when CoreDNS loads the file.
    pub fn is_placeholder(&self) -> bool {
        self.raw.starts_with("{$") && self.raw.ends_with('}')
    }

    /// Whether a line break separates this token from the one before it.
    pub fn starts_line(&self) -> bool {
        self.leading.contains('\n')
    }

    /// The indentation of this token's line, when it starts one.
    fn indent(&self) -> Option<&str> {
        self.leading.rfind('\n').map(|i| &self.leading[i + 1..])
    }
}

fn quote_if_needed(text: &str) -> String {
    // A bare word ends at ASCII white space or `#` (see `lex`); a leading `"` would open a
    // quoted string and an unclosed `{$` a placeholder.
    let opens_placeholder = text.starts_with("{$") && !text.ends_with('}');
    let plain = !text.is_empty()
        && !text.chars().any(|c| c.is_ascii_whitespace() || c == '#')
        && !text.starts_with('"')
        && !opens_placeholder
        && text != "{"
        && text != "}";
    if plain {
        return text.to_string();
    }
    // The inverse of `Token::value`: a backslash and the character after it stand for
    // themselves, `"` is written `\"`. A backslash before a `"` or at the very end has no
    // quoted form (no Corefile token has such a value); it is doubled, so the file still
    // reads back.
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => match chars.peek() {
                Some(&next) if next != '"' => {
                    quoted.push('\\');
                    quoted.push(next);
                    chars.next();
                }
                _ => quoted.push_str("\\\\"),
            },
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `{ … }` after a server block's keys or a directive's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub open: Token,
    pub directives: Vec<Directive>,
    /// The closing `}`; its `leading` holds comments after the last directive.
    pub close: Token,
}

/// A plugin line (`cache 30`), or a setting inside a plugin's block (`ttl 30`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: Token,
    pub args: Vec<Token>,
    pub block: Option<Block>,
}

impl Directive {
    pub fn name(&self) -> Cow<'_, str> {
        self.name.value()
    }

    pub fn arg_values(&self) -> Vec<Cow<'_, str>> {
        self.args.iter().map(Token::value).collect()
    }

    /// The directives inside this directive's block (none without a block).
    pub fn children(&self) -> &[Directive] {
        self.block
            .as_ref()
            .map(|b| b.directives.as_slice())
            .unwrap_or(&[])
    }

    pub fn child(&self, name: &str) -> Option<&Directive> {
        self.children().iter().find(|d| d.name() == name)
    }

    /// Replaces the arguments, keeping the spacing before the first one.
    pub fn set_args(&mut self, args: &[&str]) {
        let first_leading = self
            .args
            .first()
            .map(|t| t.leading.clone())
            .filter(|l| !l.contains('\n'))
            .unwrap_or_else(|| " ".to_string());
        self.args = args.iter().map(|a| Token::word(a)).collect();
        if let Some(first) = self.args.first_mut() {
            first.leading = first_leading;
        }
        // `"quoted"{` reads as two tokens, `5s{` as one word: a brace that touched the old
        // last argument gets a space before the new one.
        if let Some(block) = &mut self.block
            && block.open.leading.is_empty()
        {
            block.open.leading = " ".to_string();
        }
    }

    /// Sets `name args…` inside this directive's block, adding the block or the line as
    /// needed. Other lines, comments and spacing stay as they were.
    pub fn set_child(&mut self, name: &str, args: &[&str]) {
        let own_indent = self.name.indent().unwrap_or("").to_string();
        let block = self.block.get_or_insert_with(|| Block {
            open: Token::syntax(" ", "{"),
            directives: Vec::new(),
            close: Token::syntax(&format!("\n{own_indent}"), "}"),
        });
        block.set(name, args, &own_indent);
    }

    /// Removes `name` from this directive's block; true if it was there.
    pub fn remove_child(&mut self, name: &str) -> bool {
        match &mut self.block {
            Some(block) => block.remove(name),
            None => false,
        }
    }
}

impl Block {
    pub fn find(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name() == name)
    }

    pub fn find_mut(&mut self, name: &str) -> Option<&mut Directive> {
        self.directives.iter_mut().find(|d| d.name() == name)
    }

    /// Sets the arguments of directive `name`, or appends it as a new line. `parent_indent`
    /// is the indentation of the line that opened this block.
    fn set(&mut self, name: &str, args: &[&str], parent_indent: &str) {
        if let Some(existing) = self.find_mut(name) {
            existing.set_args(args);
            // Likewise the block's closing brace, when it touched the last line's old last
            // argument (`lameduck "x"}` becomes `lameduck 5s }`, not the word `5s}`).
            let last_has_block = self.directives.last().is_some_and(|d| d.block.is_some());
            if !last_has_block && self.close.leading.is_empty() {
                self.close.leading = " ".to_string();
            }
            return;
        }
        let indent = self.child_indent(parent_indent);
        let mut directive = Directive {
            name: Token::on_new_line(&indent, name),
            args: args.iter().map(|a| Token::word(a)).collect(),
            block: None,
        };
        if self.directives.is_empty() && !self.close.starts_line() {
            // `{ }` on one line: give the new line its own row and put `}` back under the parent.
            directive.name.leading = format!("\n{indent}");
            self.close.leading = format!("\n{parent_indent}");
        }
        self.directives.push(directive);
        if !self.close.starts_line() {
            self.close.leading = format!("\n{parent_indent}");
        }
    }

    fn remove(&mut self, name: &str) -> bool {
        let before = self.directives.len();
        self.directives.retain(|d| d.name() != name);
        self.directives.len() != before
    }

    /// Indentation for a new line in this block: that of the existing lines, or the
    /// parent's plus one step.
    fn child_indent(&self, parent_indent: &str) -> String {
        self.directives
            .iter()
            .rev()
            .find_map(|d| d.name.indent())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{parent_indent}    "))
    }
}

/// A server block: the zones and ports it serves, and its plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBlock {
    pub keys: Vec<Token>,
    pub body: Block,
}

impl ServerBlock {
    /// The zones this block serves, without scheme or port (`.` for the root zone).
    pub fn zones(&self) -> Vec<String> {
        self.keys
            .iter()
            .flat_map(|k| {
                k.value()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(zone_of_key)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn plugin(&self, name: &str) -> Option<&Directive> {
        self.body.find(name)
    }

    pub fn plugin_mut(&mut self, name: &str) -> Option<&mut Directive> {
        self.body.find_mut(name)
    }

    /// Sets `name args…` as a plugin line of this block, appending it if absent.
    pub fn set_plugin(&mut self, name: &str, args: &[&str]) -> &mut Directive {
        let indent = self
            .keys
            .first()
            .and_then(Token::indent)
            .unwrap_or("")
            .to_string();
        self.body.set(name, args, &indent);
        let index = self
            .body
            .directives
            .iter()
            .position(|d| d.name() == name)
            .unwrap_or(self.body.directives.len().saturating_sub(1));
        &mut self.body.directives[index]
    }
}

/// `dns://.:53` → `.`; `cluster.local:53` → `cluster.local`.
fn zone_of_key(key: &str) -> String {
    let key = key.split_once("://").map(|(_, rest)| rest).unwrap_or(key);
    let zone = match key.rsplit_once(':') {
        Some((zone, port)) if port.chars().all(|c| c.is_ascii_digit()) => zone,
        _ => key,
    };
    if zone.is_empty() {
        ".".to_string()
    } else {
        zone.to_string()
    }
}

/// A reusable fragment: `(name) { … }`, pulled in with `import name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub name: Token,
    pub body: Block,
}

impl Snippet {
    /// The name without parentheses.
    pub fn name(&self) -> String {
        let raw = self.name.value();
        raw.trim_start_matches('(')
            .trim_end_matches(')')
            .to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Server(ServerBlock),
    Snippet(Snippet),
    /// `import <file or glob>` between server blocks.
    Import(Directive),
}

/// A parsed Corefile. `render()` (or `Display`) gives back the exact text it was parsed from,
/// plus whatever edits were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corefile {
    pub items: Vec<Item>,
    /// White space and comments after the last token.
    pub trailing: String,
}

impl Corefile {
    pub fn render(&self) -> String {
        self.to_string()
    }

    pub fn server_blocks(&self) -> impl Iterator<Item = &ServerBlock> {
        self.items.iter().filter_map(|item| match item {
            Item::Server(block) => Some(block),
            _ => None,
        })
    }

    pub fn snippets(&self) -> impl Iterator<Item = &Snippet> {
        self.items.iter().filter_map(|item| match item {
            Item::Snippet(snippet) => Some(snippet),
            _ => None,
        })
    }

    /// The block that serves cluster names: the root zone's (`.:53`), else the first one
    /// running the `kubernetes` plugin, else the first block.
    pub fn main_block(&self) -> Option<&ServerBlock> {
        let index = self.main_block_index()?;
        match &self.items[index] {
            Item::Server(block) => Some(block),
            _ => None,
        }
    }

    pub fn main_block_mut(&mut self) -> Option<&mut ServerBlock> {
        let index = self.main_block_index()?;
        match &mut self.items[index] {
            Item::Server(block) => Some(block),
            _ => None,
        }
    }

    fn main_block_index(&self) -> Option<usize> {
        let servers = || {
            self.items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Item::Server(block) => Some((i, block)),
                    _ => None,
                })
        };
        servers()
            .find(|(_, b)| b.zones().iter().any(|z| z == "."))
            .or_else(|| servers().find(|(_, b)| b.plugin("kubernetes").is_some()))
            .or_else(|| servers().next())
            .map(|(i, _)| i)
    }

    /// What the DNS pane needs to know, read from the main server block (snippets it imports
    /// from this same file included).
    pub fn settings(&self) -> CorefileSettings {
        let mut settings = CorefileSettings::default();
        let Some(block) = self.main_block() else {
            return settings;
        };
        settings.zones = block.zones();
        let mut flat = Flattened::default();
        self.collect_plugins(&block.body.directives, &mut flat);
        for plugin in flat.plugins {
            read_plugin(plugin, &mut settings);
        }
        settings.imports = flat.unresolved;
        settings
    }

    /// Flattens `import <snippet>` lines into the snippet's plugins. Imports of files cannot
    /// be followed without I/O and are listed instead. A snippet that imports itself (directly
    /// or through others) is not followed again, as CoreDNS refuses such a file, and the
    /// flattening stops after `MAX_IMPORT_STEPS` directives: a 1 KB file whose snippets
    /// import one another several times a line would otherwise unfold into billions.
    fn collect_plugins<'a>(&'a self, directives: &'a [Directive], flat: &mut Flattened<'a>) {
        for directive in directives {
            if flat.steps >= MAX_IMPORT_STEPS {
                flat.unresolve("… (imports nest too deep to follow)".to_string());
                return;
            }
            flat.steps += 1;
            if directive.name() != "import" {
                flat.plugins.push(directive);
                continue;
            }
            let target = directive.args.first().map(|t| t.value().into_owned());
            let snippet = target
                .as_deref()
                .and_then(|name| self.snippets().find(|s| s.name() == name));
            match snippet {
                Some(snippet) if !flat.chain.contains(&snippet.name()) => {
                    flat.chain.push(snippet.name());
                    self.collect_plugins(&snippet.body.directives, flat);
                    flat.chain.pop();
                }
                Some(snippet) => flat.unresolve(format!("{} (imports itself)", snippet.name())),
                None => flat.unresolve(target.unwrap_or_default()),
            }
        }
    }

    // -- edits: each changes one setting of the main block and nothing else ------------

    /// `kubernetes … { ttl N }`. Fails if the main block has no `kubernetes` plugin.
    pub fn set_kubernetes_ttl(&mut self, seconds: u32) -> Result<(), EditError> {
        let plugin = self.main_plugin_mut("kubernetes")?;
        plugin.set_child("ttl", &[&seconds.to_string()]);
        Ok(())
    }

    /// `cache TTL { success … denial … prefetch … }`, adding the plugin if absent.
    pub fn set_cache(&mut self, cache: &CacheSettings) -> Result<(), EditError> {
        let block = self.main_block_mut().ok_or(EditError::NoServerBlock)?;
        let ttl = cache.max_ttl.map(|t| t.to_string());
        let existing_zones: Vec<String> = block
            .plugin("cache")
            .map(|p| {
                p.arg_values()
                    .iter()
                    .filter(|a| a.parse::<u32>().is_err())
                    .map(|a| a.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut args: Vec<&str> = ttl.iter().map(String::as_str).collect();
        args.extend(existing_zones.iter().map(String::as_str));
        let plugin = block.set_plugin("cache", &args);
        for (name, class) in [("success", &cache.success), ("denial", &cache.denial)] {
            match class {
                Some(class) => {
                    let values = class.args();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    plugin.set_child(name, &refs);
                }
                None => {
                    plugin.remove_child(name);
                }
            }
        }
        match &cache.prefetch {
            Some(prefetch) => {
                let values = prefetch.args();
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                plugin.set_child("prefetch", &refs);
            }
            None => {
                plugin.remove_child("prefetch");
            }
        }
        Ok(())
    }

    /// `forward … { max_concurrent N }`. Fails if the main block has no `forward` plugin.
    pub fn set_forward_max_concurrent(&mut self, max: u32) -> Result<(), EditError> {
        let plugin = self.main_plugin_mut("forward")?;
        plugin.set_child("max_concurrent", &[&max.to_string()]);
        Ok(())
    }

    /// `health { lameduck D }`, adding `health` if absent.
    pub fn set_lameduck(&mut self, lameduck: Duration) -> Result<(), EditError> {
        let block = self.main_block_mut().ok_or(EditError::NoServerBlock)?;
        let plugin = match block.plugin("health") {
            Some(_) => block.plugin_mut("health").ok_or(EditError::NoServerBlock)?,
            None => block.set_plugin("health", &[]),
        };
        plugin.set_child("lameduck", &[&go_duration(lameduck)]);
        Ok(())
    }

    fn main_plugin_mut(&mut self, name: &'static str) -> Result<&mut Directive, EditError> {
        self.main_block_mut()
            .ok_or(EditError::NoServerBlock)?
            .plugin_mut(name)
            .ok_or(EditError::MissingPlugin(name))
    }
}

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the Corefile has no server block")]
    NoServerBlock,
    #[error("the main server block has no `{0}` plugin")]
    MissingPlugin(&'static str),
}

impl fmt::Display for Corefile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            match item {
                Item::Server(server) => {
                    for key in &server.keys {
                        write_token(f, key)?;
                    }
                    write_block(f, &server.body)?;
                }
                Item::Snippet(snippet) => {
                    write_token(f, &snippet.name)?;
                    write_block(f, &snippet.body)?;
                }
                Item::Import(directive) => write_directive(f, directive)?,
            }
        }
        f.write_str(&self.trailing)
    }
}

fn write_token(f: &mut fmt::Formatter<'_>, token: &Token) -> fmt::Result {
    f.write_str(&token.leading)?;
    f.write_str(&token.raw)
}

fn write_block(f: &mut fmt::Formatter<'_>, block: &Block) -> fmt::Result {
    write_token(f, &block.open)?;
    for directive in &block.directives {
        write_directive(f, directive)?;
    }
    write_token(f, &block.close)
}

fn write_directive(f: &mut fmt::Formatter<'_>, directive: &Directive) -> fmt::Result {
    write_token(f, &directive.name)?;
    for arg in &directive.args {
        write_token(f, arg)?;
    }
    if let Some(block) = &directive.block {
        write_block(f, block)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Settings

/// The settings of the main server block that the DNS pane reasons about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorefileSettings {
    /// Zones of the main server block (`.` for the root zone).
    pub zones: Vec<String>,
    /// Plugin names in the order they appear.
    pub plugins: Vec<String>,
    pub has_kubernetes: bool,
    /// `kubernetes { ttl }` in seconds; `None` means the default of 5 s.
    pub kubernetes_ttl: Option<u32>,
    pub cache: Option<CacheSettings>,
    /// Upstreams of the `forward` plugin (`/etc/resolv.conf` on EKS).
    pub forward_to: Vec<String>,
    /// `forward { max_concurrent }`; `None` means the default of 1000.
    pub forward_max_concurrent: Option<u32>,
    /// `health { lameduck }`; `None` means no lameduck period at all.
    pub lameduck: Option<Duration>,
    pub has_health: bool,
    pub has_ready: bool,
    pub has_reload: bool,
    pub has_log: bool,
    pub has_errors: bool,
    pub has_prometheus: bool,
    pub has_loop: bool,
    pub has_loadbalance: bool,
    /// `import` targets that are not snippets of this file (files or globs).
    pub imports: Vec<String>,
    /// Values that were present but could not be read, e.g. "cache TTL `abc` is not a number".
    pub problems: Vec<String>,
}

impl CorefileSettings {
    /// The TTL the kubernetes plugin serves records with.
    pub fn effective_kubernetes_ttl(&self) -> u32 {
        self.kubernetes_ttl
            .unwrap_or(DEFAULT_KUBERNETES_TTL_SECONDS)
    }

    /// A one-line summary of the caching setup, for evidence: "kubernetes ttl 5 s (default);
    /// cache 30 s, no success/denial tuning, no prefetch".
    pub fn cache_summary(&self) -> String {
        let ttl = match self.kubernetes_ttl {
            Some(ttl) => format!("kubernetes ttl {ttl} s"),
            None => format!("kubernetes ttl {DEFAULT_KUBERNETES_TTL_SECONDS} s (default)"),
        };
        let cache = match &self.cache {
            None => "no cache plugin".to_string(),
            Some(cache) => {
                let mut parts = vec![format!("cache {} s", cache.effective_max_ttl())];
                match &cache.success {
                    Some(c) => parts.push(format!("success {}", c.args().join(" "))),
                    None => parts.push("no success tuning".to_string()),
                }
                match &cache.denial {
                    Some(c) => parts.push(format!("denial {}", c.args().join(" "))),
                    None => parts.push("no denial tuning".to_string()),
                }
                match &cache.prefetch {
                    Some(p) => parts.push(format!("prefetch {}", p.args().join(" "))),
                    None => parts.push("no prefetch".to_string()),
                }
                parts.join(", ")
            }
        };
        format!("{ttl}; {cache}")
    }

    /// Whether the cache/TTL settings already match the recommended profile (§2.4).
    pub fn has_recommended_cache_profile(&self) -> bool {
        let ttl_ok = self.effective_kubernetes_ttl() >= RECOMMENDED_KUBERNETES_TTL_SECONDS;
        let cache_ok = self.cache.as_ref().is_some_and(|cache| {
            cache.success.is_some() && cache.denial.is_some() && cache.prefetch.is_some()
        });
        ttl_ok && cache_ok
    }
}

/// The recommended service-record TTL (§2.4).
pub const RECOMMENDED_KUBERNETES_TTL_SECONDS: u32 = 30;

/// The recommended upstream concurrency (§2.4).
pub const RECOMMENDED_FORWARD_MAX_CONCURRENT: u32 = 2000;

/// The recommended lameduck period (§2.4).
pub const RECOMMENDED_LAMEDUCK: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSettings {
    /// `cache TTL`; `None` means the plugin default of 3600 s.
    pub max_ttl: Option<u32>,
    pub success: Option<CacheClass>,
    pub denial: Option<CacheClass>,
    pub prefetch: Option<Prefetch>,
}

impl CacheSettings {
    /// `cache 30 { success 10000 30  denial 2000 10  prefetch 5 60s }` (§2.4).
    pub fn recommended() -> Self {
        CacheSettings {
            max_ttl: Some(30),
            success: Some(CacheClass {
                capacity: 10_000,
                max_ttl: Some(30),
                min_ttl: None,
            }),
            denial: Some(CacheClass {
                capacity: 2000,
                max_ttl: Some(10),
                min_ttl: None,
            }),
            prefetch: Some(Prefetch {
                amount: 5,
                duration: Some(Duration::from_secs(60)),
                percentage: None,
            }),
        }
    }

    /// The recommended profile over the cache a Corefile has now: its TTLs and prefetch, but
    /// no class smaller than it is today (a class without a capacity holds the plugin's
    /// default 9984). The recommended 2000-entry denial cache bounds memory on a quiet
    /// cluster; shrinking a larger one during an NXDOMAIN storm would evict the very entries
    /// that absorb it, and the hit ratio would fall instead of rise.
    pub fn recommended_over(current: Option<&CacheSettings>) -> Self {
        let mut profile = Self::recommended();
        let Some(current) = current else {
            return profile;
        };
        let now = |class: &Option<CacheClass>| {
            class
                .as_ref()
                .map_or(DEFAULT_CACHE_CAPACITY, |c| c.capacity)
        };
        for (class, held) in [
            (&mut profile.success, now(&current.success)),
            (&mut profile.denial, now(&current.denial)),
        ] {
            if let Some(class) = class {
                class.capacity = class.capacity.max(held);
            }
        }
        profile
    }

    pub fn effective_max_ttl(&self) -> u32 {
        self.max_ttl.unwrap_or(DEFAULT_CACHE_MAX_TTL_SECONDS)
    }
}

/// `success CAPACITY [TTL [MINTTL]]` or `denial …` inside `cache { }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheClass {
    pub capacity: u32,
    pub max_ttl: Option<u32>,
    pub min_ttl: Option<u32>,
}

impl CacheClass {
    fn args(&self) -> Vec<String> {
        let mut args = vec![self.capacity.to_string()];
        if let Some(ttl) = self.max_ttl {
            args.push(ttl.to_string());
            if let Some(min) = self.min_ttl {
                args.push(min.to_string());
            }
        }
        args
    }
}

/// `prefetch AMOUNT [DURATION [PERCENTAGE%]]` inside `cache { }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefetch {
    pub amount: u32,
    pub duration: Option<Duration>,
    pub percentage: Option<u32>,
}

impl Prefetch {
    fn args(&self) -> Vec<String> {
        let mut args = vec![self.amount.to_string()];
        if let Some(duration) = self.duration {
            args.push(go_duration(duration));
            if let Some(percentage) = self.percentage {
                args.push(format!("{percentage}%"));
            }
        }
        args
    }
}

fn read_plugin(plugin: &Directive, settings: &mut CorefileSettings) {
    let name = plugin.name().into_owned();
    match name.as_str() {
        "kubernetes" => {
            settings.has_kubernetes = true;
            if let Some(ttl) = plugin.child("ttl") {
                settings.kubernetes_ttl = read_number(ttl, "kubernetes ttl", settings);
            }
        }
        "cache" => settings.cache = Some(read_cache(plugin, settings)),
        "forward" => {
            settings.forward_to = plugin
                .arg_values()
                .iter()
                .skip(1)
                .map(|a| a.to_string())
                .collect();
            if let Some(max) = plugin.child("max_concurrent") {
                settings.forward_max_concurrent =
                    read_number(max, "forward max_concurrent", settings);
            }
        }
        "health" => {
            settings.has_health = true;
            if let Some(lameduck) = plugin.child("lameduck") {
                let text = lameduck.args.first().map(|t| t.value().into_owned());
                match text.as_deref().and_then(parse_go_duration) {
                    Some(duration) => settings.lameduck = Some(duration),
                    None => settings.problems.push(format!(
                        "health lameduck `{}` is not a duration",
                        text.unwrap_or_default()
                    )),
                }
            }
        }
        "ready" => settings.has_ready = true,
        "reload" => settings.has_reload = true,
        "log" => settings.has_log = true,
        "errors" => settings.has_errors = true,
        "prometheus" => settings.has_prometheus = true,
        "loop" => settings.has_loop = true,
        "loadbalance" => settings.has_loadbalance = true,
        _ => {}
    }
    settings.plugins.push(name);
}

fn read_cache(plugin: &Directive, settings: &mut CorefileSettings) -> CacheSettings {
    let mut cache = CacheSettings::default();
    // `cache [TTL] [ZONES…]`: the TTL is the first argument when it is a number.
    if let Some(first) = plugin.args.first()
        && let Ok(ttl) = first.value().parse::<u32>()
    {
        cache.max_ttl = Some(ttl);
    }
    for child in plugin.children() {
        match child.name().as_ref() {
            "success" | "denial" => {
                let label = format!("cache {}", child.name());
                let numbers: Vec<Option<u32>> = child
                    .args
                    .iter()
                    .map(|a| a.value().parse::<u32>().ok())
                    .collect();
                if numbers.is_empty() || numbers.iter().any(Option::is_none) {
                    settings
                        .problems
                        .push(format!("{label} needs numbers: capacity [ttl [minttl]]"));
                    continue;
                }
                let class = CacheClass {
                    capacity: numbers[0].unwrap_or_default(),
                    max_ttl: numbers.get(1).copied().flatten(),
                    min_ttl: numbers.get(2).copied().flatten(),
                };
                if child.name() == "success" {
                    cache.success = Some(class);
                } else {
                    cache.denial = Some(class);
                }
            }
            "prefetch" => {
                let values = child.arg_values();
                let Some(amount) = values.first().and_then(|v| v.parse::<u32>().ok()) else {
                    settings
                        .problems
                        .push("cache prefetch needs an amount".to_string());
                    continue;
                };
                let duration = match values.get(1) {
                    None => None,
                    Some(text) => match parse_go_duration(text) {
                        Some(duration) => Some(duration),
                        None => {
                            settings.problems.push(format!(
                                "cache prefetch duration `{text}` is not a duration"
                            ));
                            continue;
                        }
                    },
                };
                let percentage = match values.get(2) {
                    None => None,
                    Some(text) => match text.trim_end_matches('%').parse::<u32>() {
                        Ok(percentage) => Some(percentage),
                        Err(_) => {
                            settings.problems.push(format!(
                                "cache prefetch percentage `{text}` is not a percentage"
                            ));
                            continue;
                        }
                    },
                };
                cache.prefetch = Some(Prefetch {
                    amount,
                    duration,
                    percentage,
                });
            }
            _ => {}
        }
    }
    cache
}

fn read_number(directive: &Directive, label: &str, settings: &mut CorefileSettings) -> Option<u32> {
    let value = directive.args.first().map(|t| t.value().into_owned());
    match value.as_deref().map(str::parse::<u32>) {
        Some(Ok(number)) => Some(number),
        _ => {
            settings.problems.push(format!(
                "{label} `{}` is not a number",
                value.unwrap_or_default()
            ));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexer and parser

/// A token with its byte offset in the text, for error positions.
struct Lexed {
    token: Token,
    offset: usize,
}

fn lex(text: &str) -> Result<(Vec<Lexed>, String), CorefileError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        let trivia_start = pos;
        // White space and comments.
        while pos < bytes.len() {
            let c = bytes[pos];
            if c == b'#' {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            } else if c.is_ascii_whitespace() {
                pos += 1;
            } else {
                break;
            }
        }
        let leading = text[trivia_start..pos].to_string();
        if pos >= bytes.len() {
            return Ok((tokens, leading));
        }
        let start = pos;
        if bytes[pos] == b'"' {
            pos += 1;
            loop {
                match bytes.get(pos) {
                    None => {
                        return Err(CorefileError::at(
                            text,
                            start,
                            "quoted string is never closed (missing `\"`)",
                        ));
                    }
                    Some(b'\\') => pos += 2,
                    Some(b'"') => {
                        pos += 1;
                        break;
                    }
                    Some(_) => pos += 1,
                }
            }
            pos = pos.min(bytes.len());
        } else {
            while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() && bytes[pos] != b'#' {
                pos += 1;
            }
        }
        let raw = &text[start..pos];
        if raw.starts_with("{$") && !raw.ends_with('}') {
            return Err(CorefileError::at(
                text,
                start,
                format!("environment placeholder `{raw}` is never closed (missing `}}`)"),
            ));
        }
        tokens.push(Lexed {
            token: Token {
                leading,
                raw: raw.to_string(),
            },
            offset: start,
        });
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: std::iter::Peekable<std::vec::IntoIter<Lexed>>,
}

impl Parser<'_> {
    fn error(&self, offset: usize, problem: impl Into<String>) -> CorefileError {
        CorefileError::at(self.text, offset, problem)
    }

    fn peek_is_same_line_brace(&mut self) -> bool {
        self.tokens
            .peek()
            .is_some_and(|l| l.token.raw == "{" && !l.token.starts_line())
    }

    fn file(&mut self) -> Result<Vec<Item>, CorefileError> {
        let mut items = Vec::new();
        while let Some(lexed) = self.tokens.next() {
            let raw = lexed.token.raw.as_str();
            if raw == "{" {
                return Err(self.error(
                    lexed.offset,
                    "`{` needs server block keys before it, e.g. `.:53 {`",
                ));
            }
            if raw == "}" {
                return Err(self.error(lexed.offset, "`}` has no block to close"));
            }
            if raw == "import" {
                let directive = self.rest_of_line(lexed.token);
                if directive.args.is_empty() {
                    return Err(self.error(lexed.offset, "`import` needs a snippet or file name"));
                }
                items.push(Item::Import(directive));
                continue;
            }
            if raw.len() > 2 && raw.starts_with('(') && raw.ends_with(')') {
                if !self.peek_is_same_line_brace() {
                    return Err(self.error(
                        lexed.offset,
                        format!("snippet {raw} needs `{{` on the same line"),
                    ));
                }
                let open = self.next_token();
                let body = self.block(open, lexed.offset)?;
                items.push(Item::Snippet(Snippet {
                    name: lexed.token,
                    body,
                }));
                continue;
            }
            items.push(Item::Server(self.server_block(lexed)?));
        }
        Ok(items)
    }

    fn server_block(&mut self, first: Lexed) -> Result<ServerBlock, CorefileError> {
        let first_offset = first.offset;
        let mut keys = vec![first.token];
        loop {
            let continues = keys.last().is_some_and(|k| k.raw.ends_with(','));
            let Some(next) = self.tokens.peek() else {
                return Err(self.error(
                    first_offset,
                    format!(
                        "server block `{}` has no `{{`",
                        keys.iter()
                            .map(|k| k.raw.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            };
            let (raw, starts_line, offset) = (
                next.token.raw.clone(),
                next.token.starts_line(),
                next.offset,
            );
            if raw == "{" && (!starts_line || continues) {
                let open = self.next_token();
                let body = self.block(open, offset)?;
                return Ok(ServerBlock { keys, body });
            }
            if raw == "}" || raw == "{" || (starts_line && !continues) {
                let keys_text = keys.iter().map(|k| k.raw.as_str()).collect::<Vec<_>>();
                // `.:53{` is one token to CoreDNS too; say so rather than only "expected {".
                let hint = if keys.last().is_some_and(|k| k.raw.ends_with('{')) {
                    " (put a space before `{`)"
                } else {
                    ""
                };
                return Err(self.error(
                    offset,
                    format!(
                        "expected `{{` on the line of server block `{}`, found `{raw}`{hint}",
                        keys_text.join(" ")
                    ),
                ));
            }
            keys.push(self.next_token());
        }
    }

    /// The tokens of a block after its `{`, up to and including the matching `}`.
    fn block(&mut self, open: Token, open_offset: usize) -> Result<Block, CorefileError> {
        let mut directives = Vec::new();
        loop {
            let Some(lexed) = self.tokens.next() else {
                return Err(self.error(open_offset, "`{` is never closed (missing `}`)"));
            };
            match lexed.token.raw.as_str() {
                "}" => {
                    return Ok(Block {
                        open,
                        directives,
                        close: lexed.token,
                    });
                }
                "{" => {
                    return Err(self.error(
                        lexed.offset,
                        "unexpected `{`: a block must follow a directive on the same line",
                    ));
                }
                _ => {
                    let mut directive = self.rest_of_line(lexed.token);
                    if self.peek_is_same_line_brace() {
                        let brace_offset = self.tokens.peek().map(|l| l.offset).unwrap_or(0);
                        let open = self.next_token();
                        directive.block = Some(self.block(open, brace_offset)?);
                    }
                    directives.push(directive);
                }
            }
        }
    }

    /// A directive's name and the arguments on its line, stopping before `{` or `}`.
    fn rest_of_line(&mut self, name: Token) -> Directive {
        let mut args = Vec::new();
        while let Some(next) = self.tokens.peek() {
            let token = &next.token;
            if token.starts_line() || token.raw == "{" || token.raw == "}" {
                break;
            }
            args.push(self.next_token());
        }
        Directive {
            name,
            args,
            block: None,
        }
    }

    /// Only called after a successful peek.
    fn next_token(&mut self) -> Token {
        self.tokens
            .next()
            .map(|l| l.token)
            .unwrap_or_else(|| Token::word(""))
    }
}

/// Parses a Corefile. Empty input, unbalanced braces, unterminated quotes and placeholders,
/// and stray tokens are errors with their line and column.
pub fn parse(text: &str) -> Result<Corefile, CorefileError> {
    let (tokens, trailing) = lex(text)?;
    if tokens.is_empty() {
        return Err(CorefileError::at(
            text,
            text.len(),
            "the Corefile is empty: it needs at least one server block such as `.:53 { … }`",
        ));
    }
    let mut parser = Parser {
        text,
        tokens: tokens.into_iter().peekable(),
    };
    let items = parser.file()?;
    if !items.iter().any(|i| matches!(i, Item::Server(_))) {
        return Err(CorefileError::at(
            text,
            text.len(),
            "the Corefile has no server block such as `.:53 { … }`",
        ));
    }
    Ok(Corefile { items, trailing })
}

impl std::str::FromStr for Corefile {
    type Err = CorefileError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Corefile EKS ships with the CoreDNS add-on (its odd indentation included).
    pub(crate) const EKS_DEFAULT: &str = ".:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
";

    /// The recommended Corefile of eks-domain.md §2.4, comments and all.
    const RECOMMENDED: &str = ".:53 {
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
    ttl 30                 # default 5s; range 0..3600
  }
  cache 30 {               # max TTL 30s (plugin default max 3600s)
    success 10000 30       # capacity 10k, max TTL 30s
    denial 2000 10         # negative cache 2k entries, max TTL 10s (recommend 5-10s)
    prefetch 5 60s         # refresh names seen >=5 times before expiry
  }
  forward . /etc/resolv.conf {
    max_concurrent 2000    # default 1000; memory ~2 KB x concurrent queries
    prefer_udp
  }
  prometheus :9153
  health { lameduck 30s }  # default 5s
  ready
  reload
  log
}
";

    fn round_trip(text: &str) -> Corefile {
        let corefile = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(corefile.render(), text);
        corefile
    }

    #[test]
    fn written_arguments_read_back_as_the_same_values() {
        // `import"c\` is one bare word: quoting it would end in `\"`, which escapes the
        // closing quote (found by the corefile fuzz target).
        for value in [
            r#"import"c\"#,
            "a b",
            r#""lead"#,
            r#"x\ y"#,
            r#"x\\ "q""#,
            "{",
            "{$UNCLOSED",
            "a#b",
        ] {
            let mut corefile = round_trip(".:53 {\n    cache 30\n}\n");
            let Some(block) = corefile.main_block_mut() else {
                panic!("no main block");
            };
            block.set_plugin("rewrite", &[value]);
            let text = corefile.render();
            let reread = parse(&text).unwrap_or_else(|e| panic!("{value:?}: {e}\n{text}"));
            let args = reread
                .main_block()
                .and_then(|b| b.plugin("rewrite"))
                .map(|p| {
                    p.arg_values()
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                });
            assert_eq!(args, Some(vec![value.to_string()]), "{text}");
        }
    }

    #[test]
    fn eks_default_round_trips_and_reads_its_settings() {
        let corefile = round_trip(EKS_DEFAULT);
        let settings = corefile.settings();
        assert_eq!(settings.zones, vec!["."]);
        assert!(settings.has_kubernetes);
        assert_eq!(settings.kubernetes_ttl, None);
        assert_eq!(settings.effective_kubernetes_ttl(), 5);
        assert_eq!(
            settings.cache,
            Some(CacheSettings {
                max_ttl: Some(30),
                ..CacheSettings::default()
            })
        );
        assert_eq!(settings.forward_to, vec!["/etc/resolv.conf"]);
        assert_eq!(settings.forward_max_concurrent, None);
        assert_eq!(settings.lameduck, Some(Duration::from_secs(5)));
        assert!(settings.has_reload && settings.has_errors && settings.has_ready);
        assert!(settings.has_loop && settings.has_loadbalance && settings.has_prometheus);
        assert!(!settings.has_log);
        assert!(settings.problems.is_empty());
        assert!(!settings.has_recommended_cache_profile());
        assert_eq!(
            settings.cache_summary(),
            "kubernetes ttl 5 s (default); cache 30 s, no success tuning, no denial tuning, no prefetch"
        );
    }

    #[test]
    fn recommended_corefile_round_trips_and_reads_its_settings() {
        let corefile = round_trip(RECOMMENDED);
        let settings = corefile.settings();
        assert_eq!(settings.kubernetes_ttl, Some(30));
        assert_eq!(settings.cache, Some(CacheSettings::recommended()));
        assert_eq!(settings.forward_max_concurrent, Some(2000));
        assert_eq!(settings.lameduck, Some(Duration::from_secs(30)));
        assert!(settings.has_log && settings.has_reload);
        assert!(!settings.has_errors);
        assert!(settings.has_recommended_cache_profile());
        assert_eq!(
            settings.plugins,
            vec![
                "kubernetes",
                "cache",
                "forward",
                "prometheus",
                "health",
                "ready",
                "reload",
                "log"
            ]
        );
    }

    #[test]
    fn comments_odd_spacing_and_several_blocks_round_trip() {
        let text = "# cluster DNS\r\n\
                    \r\n\
                    cluster.local:53   amazonaws.com:53 {   # two zones\r\n\
                    \terrors\r\n\
                    \t  cache   1 {\tsuccess 9984 1 0\r\n denial 9984 1 0 }\r\n\
                    \tforward . {$UPSTREAM}\r\n\
                    }\r\n\
                    (common) {\n  log \"quoted arg with # and \\\"quotes\\\"\"\n}\n\
                    import common\n\
                    dns://.:53 {\n  import common\n  kubernetes cluster.local\n  forward . \"/etc/resolv.conf\"\n}   \n\
                    # trailing comment without newline";
        let corefile = round_trip(text);
        assert_eq!(corefile.server_blocks().count(), 2);
        let main = corefile.main_block().expect("main block");
        assert_eq!(main.zones(), vec!["."]);
        let settings = corefile.settings();
        assert!(settings.has_log, "log comes from the imported snippet");
        assert_eq!(settings.forward_to, vec!["/etc/resolv.conf"]);
        let first = corefile.server_blocks().next().expect("first block");
        assert_eq!(first.zones(), vec!["cluster.local", "amazonaws.com"]);
        let forward = first.plugin("forward").expect("forward");
        assert!(forward.args[1].is_placeholder());
        let snippet = corefile.snippets().next().expect("snippet");
        assert_eq!(snippet.name(), "common");
        let log = snippet.body.find("log").expect("log");
        assert_eq!(log.args[0].value(), "quoted arg with # and \"quotes\"");
    }

    #[test]
    fn one_line_blocks_and_multi_line_quotes_round_trip() {
        round_trip(".:53 { errors\n health { lameduck 30s } ready }");
        round_trip(".:53 {\n  template IN TXT {\n    answer \"line one\nline two\"\n  }\n}\n");
        round_trip("a.example:53,\n  b.example:53 {\n  whoami\n}\n");
        round_trip(
            "import /etc/coredns/custom/*.server\n.:53 {\n  import /etc/coredns/custom/*.override\n}\n",
        );
    }

    #[test]
    fn unresolved_file_imports_are_listed() {
        let corefile = round_trip(".:53 {\n  import /etc/coredns/custom/*.override\n  reload\n}\n");
        assert_eq!(
            corefile.settings().imports,
            vec!["/etc/coredns/custom/*.override"]
        );
    }

    #[test]
    fn a_closing_brace_that_touched_a_replaced_argument_keeps_apart_from_the_new_one() {
        let mut corefile = round_trip(".:53 {\n  health {\n    lameduck \"x\"}\n}\n");
        corefile
            .set_lameduck(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{e}"));
        let rendered = corefile.render();
        assert!(rendered.contains("lameduck 5s }"), "{rendered}");
        parse(&rendered).unwrap_or_else(|e| panic!("{e}: {rendered}"));
    }

    #[test]
    fn snippets_that_import_themselves_or_fan_out_are_followed_a_bounded_way() {
        let looping = round_trip(
            "(common) {\n  log\n  import common\n  import common\n}\n.:53 {\n  import common\n  import common\n}\n",
        );
        let settings = looping.settings();
        assert!(settings.has_log);
        assert_eq!(settings.imports, vec!["common (imports itself)"]);

        // Eight snippets, each importing the next ten times: 10^8 plugins if unfolded.
        let mut text = String::new();
        for level in 0..8 {
            text.push_str(&format!("(s{level}) {{\n"));
            for _ in 0..10 {
                text.push_str(&format!("  import s{}\n", level + 1));
            }
            text.push_str("  errors\n}\n");
        }
        text.push_str("(s8) {\n  log\n}\n.:53 {\n  import s0\n}\n");
        let settings = round_trip(&text).settings();
        assert!(settings.has_log);
        assert_eq!(
            settings.imports,
            vec!["… (imports nest too deep to follow)"]
        );
    }

    #[test]
    fn unreadable_values_are_problems_not_errors() {
        let corefile = round_trip(
            ".:53 {\n  kubernetes cluster.local {\n    ttl soon\n  }\n  cache 30 {\n    success many\n    prefetch 5 1x\n  }\n  health {\n    lameduck later\n  }\n}\n",
        );
        let settings = corefile.settings();
        assert_eq!(settings.kubernetes_ttl, None);
        assert_eq!(settings.lameduck, None);
        assert_eq!(settings.problems.len(), 4, "{:?}", settings.problems);
    }

    fn error_of(text: &str) -> CorefileError {
        match parse(text) {
            Ok(parsed) => panic!("expected an error, parsed {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn malformed_input_is_an_error_with_its_position() {
        let empty = error_of("");
        assert!(empty.problem.contains("empty"), "{empty}");
        assert!(
            error_of("   \n# only a comment\n")
                .problem
                .contains("empty")
        );

        let unclosed = error_of(".:53 {\n  errors\n  cache 30 {\n    success 100\n}\n");
        assert_eq!((unclosed.line, unclosed.column), (1, 6), "{unclosed}");
        assert!(unclosed.problem.contains("never closed"));

        let stray = error_of(".:53 {\n  errors\n}\n}\n");
        assert_eq!((stray.line, stray.column), (4, 1));
        assert!(stray.problem.contains("no block to close"));

        let quote = error_of(".:53 {\n  log \"unterminated\n}\n");
        assert_eq!((quote.line, quote.column), (2, 7));

        let placeholder = error_of(".:53 {\n  forward . {$UPSTREAM\n}\n");
        assert_eq!(placeholder.line, 2);
        assert!(placeholder.problem.contains("placeholder"));

        let keyless = error_of("{\n  errors\n}\n");
        assert_eq!((keyless.line, keyless.column), (1, 1));

        let no_brace = error_of(".:53\nerrors\n");
        assert_eq!((no_brace.line, no_brace.column), (2, 1), "{no_brace}");

        let glued = error_of(".:53{\n  errors\n}\n");
        assert!(glued.problem.contains("put a space before"), "{glued}");

        let no_brace_at_end = error_of(".:53");
        assert!(no_brace_at_end.problem.contains("has no `{`"));

        let brace_alone = error_of(".:53 {\n  {\n  }\n}\n");
        assert_eq!(brace_alone.line, 2);

        let only_snippet = error_of("(common) {\n  log\n}\n");
        assert!(only_snippet.problem.contains("no server block"));

        assert_eq!(
            error_of(".:53 {").to_string(),
            "line 1, column 6: `{` is never closed (missing `}`)"
        );
    }

    #[test]
    fn edits_change_only_the_setting() {
        let mut corefile = parse(EKS_DEFAULT).expect("parses");
        corefile.set_kubernetes_ttl(30).expect("kubernetes present");
        corefile
            .set_cache(&CacheSettings::recommended())
            .expect("cache");
        corefile
            .set_forward_max_concurrent(2000)
            .expect("forward present");
        corefile
            .set_lameduck(Duration::from_secs(30))
            .expect("health");
        let rendered = corefile.render();
        assert_eq!(
            rendered,
            ".:53 {
    errors
    health {
        lameduck 30s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 2000
    }
    cache 30 {
        success 10000 30
        denial 2000 10
        prefetch 5 60s
    }
    loop
    reload
    loadbalance
}
"
        );
        let settings = parse(&rendered).expect("still parses").settings();
        assert!(settings.has_recommended_cache_profile());
        assert_eq!(settings.forward_max_concurrent, Some(2000));
        assert_eq!(settings.lameduck, Some(Duration::from_secs(30)));
    }

    #[test]
    fn edits_fix_up_one_line_blocks_and_report_missing_plugins() {
        let mut corefile =
            parse(".:53 {\n  health { lameduck 5s }\n  errors\n}\n").expect("parses");
        corefile
            .set_lameduck(Duration::from_secs(30))
            .expect("health");
        assert_eq!(
            corefile.render(),
            ".:53 {\n  health { lameduck 30s }\n  errors\n}\n"
        );
        assert_eq!(
            corefile.set_kubernetes_ttl(30),
            Err(EditError::MissingPlugin("kubernetes"))
        );
        let mut empty_block = parse(".:53 {\n  forward . 10.0.0.2 { }\n}\n").expect("parses");
        empty_block
            .set_forward_max_concurrent(2000)
            .expect("forward");
        let rendered = empty_block.render();
        assert_eq!(
            rendered,
            ".:53 {\n  forward . 10.0.0.2 {\n      max_concurrent 2000\n  }\n}\n"
        );
        assert!(parse(&rendered).is_ok());

        let mut no_health = parse(".:53 {\n  errors\n}\n").expect("parses");
        no_health
            .set_lameduck(Duration::from_secs(30))
            .expect("adds health");
        assert_eq!(
            no_health.render(),
            ".:53 {\n  errors\n  health {\n      lameduck 30s\n  }\n}\n"
        );
    }
}
