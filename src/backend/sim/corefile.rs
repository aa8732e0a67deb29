//! What the simulated CoreDNS takes from its Corefile: the cache profile, the kubernetes
//! plugin's TTL and the forward plugin's concurrency cap. Read leniently, as CoreDNS's own
//! defaults fill anything missing.

use crate::domain::time::parse_duration;

/// The cache plugin's default capacity per cache (success and denial).
const DEFAULT_CAPACITY: f64 = 9984.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheProfile {
    pub success_capacity: f64,
    pub success_max_ttl: f64,
    pub success_min_ttl: f64,
    pub denial_capacity: f64,
    pub denial_max_ttl: f64,
    pub denial_min_ttl: f64,
    /// `prefetch AMOUNT DURATION`: names asked AMOUNT times within DURATION are refreshed
    /// before they expire.
    pub prefetch: Option<(f64, f64)>,
}

impl Default for CacheProfile {
    fn default() -> Self {
        CacheProfile {
            success_capacity: DEFAULT_CAPACITY,
            success_max_ttl: 3600.0,
            success_min_ttl: 5.0,
            denial_capacity: DEFAULT_CAPACITY,
            denial_max_ttl: 1800.0,
            denial_min_ttl: 5.0,
            prefetch: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorefileSettings {
    /// None when the server block has no `cache` plugin.
    pub cache: Option<CacheProfile>,
    /// TTL of records the kubernetes plugin serves (default 5 s).
    pub kubernetes_ttl: f64,
    /// `forward … { max_concurrent N }`; unlimited when absent.
    pub max_concurrent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
struct Directive {
    name: String,
    args: Vec<String>,
    block: Vec<Directive>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    EndOfLine,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split_whitespace() {
            let mut rest = word;
            while !rest.is_empty() {
                if let Some(after) = rest.strip_prefix('{') {
                    tokens.push(Token::Open);
                    rest = after;
                } else if let Some(after) = rest.strip_prefix('}') {
                    tokens.push(Token::Close);
                    rest = after;
                } else {
                    let end = rest.find(['{', '}']).unwrap_or(rest.len());
                    tokens.push(Token::Word(rest[..end].to_string()));
                    rest = &rest[end..];
                }
            }
        }
        tokens.push(Token::EndOfLine);
    }
    tokens
}

fn parse_block(tokens: &[Token], position: &mut usize) -> Vec<Directive> {
    let mut directives = Vec::new();
    while *position < tokens.len() {
        match &tokens[*position] {
            Token::EndOfLine => *position += 1,
            Token::Close => {
                *position += 1;
                return directives;
            }
            Token::Open => {
                // A stray brace: read its block and drop it.
                *position += 1;
                parse_block(tokens, position);
            }
            Token::Word(_) => {
                let mut words = Vec::new();
                while let Some(Token::Word(word)) = tokens.get(*position) {
                    words.push(word.clone());
                    *position += 1;
                }
                let block = if tokens.get(*position) == Some(&Token::Open) {
                    *position += 1;
                    parse_block(tokens, position)
                } else {
                    Vec::new()
                };
                let mut words = words.into_iter();
                if let Some(name) = words.next() {
                    directives.push(Directive {
                        name,
                        args: words.collect(),
                        block,
                    });
                }
            }
        }
    }
    directives
}

fn seconds_arg(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .or_else(|| parse_duration(text).ok().map(|d| d.as_secs_f64()))
}

/// Reads the root zone's server block (`.:53`, or the first block if there is none).
pub fn read(corefile: &str) -> CorefileSettings {
    let tokens = tokenize(corefile);
    let mut position = 0;
    let blocks = parse_block(&tokens, &mut position);
    let server = blocks
        .iter()
        .find(|b| b.name == ".:53" || b.name == "." || b.name.starts_with(".:"))
        .or_else(|| blocks.first());
    let mut settings = CorefileSettings {
        cache: None,
        kubernetes_ttl: 5.0,
        max_concurrent: None,
    };
    let Some(server) = server else {
        return settings;
    };
    for directive in &server.block {
        match directive.name.as_str() {
            "cache" => settings.cache = Some(read_cache(directive)),
            "kubernetes" => {
                for option in &directive.block {
                    if option.name == "ttl"
                        && let Some(ttl) = option.args.first().and_then(|a| seconds_arg(a))
                    {
                        settings.kubernetes_ttl = ttl.clamp(0.0, 3600.0);
                    }
                }
            }
            "forward" => {
                for option in &directive.block {
                    if option.name == "max_concurrent"
                        && let Some(limit) = option.args.first().and_then(|a| a.parse::<f64>().ok())
                    {
                        settings.max_concurrent = Some(limit.max(1.0));
                    }
                }
            }
            _ => {}
        }
    }
    settings
}

fn read_cache(directive: &Directive) -> CacheProfile {
    let mut profile = CacheProfile::default();
    if let Some(ttl) = directive.args.first().and_then(|a| seconds_arg(a)) {
        profile.success_max_ttl = ttl;
        profile.denial_max_ttl = ttl;
    }
    for option in &directive.block {
        let number = |i: usize| option.args.get(i).and_then(|a| seconds_arg(a));
        match option.name.as_str() {
            "success" => {
                if let Some(capacity) = number(0) {
                    profile.success_capacity = capacity.max(1.0);
                }
                if let Some(ttl) = number(1) {
                    profile.success_max_ttl = ttl;
                }
                if let Some(min) = number(2) {
                    profile.success_min_ttl = min;
                }
            }
            "denial" => {
                if let Some(capacity) = number(0) {
                    profile.denial_capacity = capacity.max(1.0);
                }
                if let Some(ttl) = number(1) {
                    profile.denial_max_ttl = ttl;
                }
                if let Some(min) = number(2) {
                    profile.denial_min_ttl = min;
                }
            }
            "prefetch" => {
                let amount = number(0).unwrap_or(1.0).max(1.0);
                let duration = number(1).unwrap_or(60.0).max(1.0);
                profile.prefetch = Some((amount, duration));
            }
            _ => {}
        }
    }
    profile.success_min_ttl = profile.success_min_ttl.min(profile.success_max_ttl);
    profile.denial_min_ttl = profile.denial_min_ttl.min(profile.denial_max_ttl);
    profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scenario::EKS_DEFAULT_COREFILE;

    #[test]
    fn reads_the_eks_default() {
        let settings = read(EKS_DEFAULT_COREFILE);
        let cache = settings.cache.unwrap_or_default();
        assert!(settings.cache.is_some());
        assert_eq!(cache.success_max_ttl, 30.0);
        assert_eq!(cache.denial_max_ttl, 30.0);
        assert_eq!(cache.success_capacity, 9984.0);
        assert_eq!(cache.prefetch, None);
        assert_eq!(settings.kubernetes_ttl, 5.0);
        assert_eq!(settings.max_concurrent, None);
    }

    #[test]
    fn reads_a_tuned_profile() {
        let text = "
.:53 {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        ttl 30   # raised from 5
    }
    cache 30 {
        success 10000 30
        denial 2000 10
        prefetch 5 60s
    }
    forward . /etc/resolv.conf {
        max_concurrent 2000
    }
}";
        let settings = read(text);
        let cache = settings.cache.unwrap_or_default();
        assert_eq!(settings.kubernetes_ttl, 30.0);
        assert_eq!(cache.success_capacity, 10000.0);
        assert_eq!(cache.denial_capacity, 2000.0);
        assert_eq!(cache.denial_max_ttl, 10.0);
        assert_eq!(cache.prefetch, Some((5.0, 60.0)));
        assert_eq!(settings.max_concurrent, Some(2000.0));
    }

    #[test]
    fn no_cache_plugin_means_no_cache() {
        assert_eq!(read(".:53 {\n forward . /etc/resolv.conf\n}").cache, None);
        assert_eq!(read("").cache, None);
    }
}
