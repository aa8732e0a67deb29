//! What the simulated CoreDNS takes from its Corefile: the cache profile, the kubernetes
//! plugin's TTL and the forward plugin's concurrency cap, with CoreDNS's own defaults filling
//! anything missing.

use crate::domain::corefile::{self, CacheSettings};

/// TTL of the records the kubernetes plugin serves when the Corefile sets none.
const DEFAULT_KUBERNETES_TTL: f64 = 5.0;

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

/// Reads what the simulated CoreDNS uses from the root zone's server block, through the
/// same parser the cockpit itself uses. `None` when the text does not parse: like CoreDNS's
/// `reload`, the simulator then keeps serving with the settings it had.
pub fn read(corefile: &str) -> Option<CorefileSettings> {
    let parsed = corefile::parse(corefile).ok()?.settings();
    Some(CorefileSettings {
        cache: parsed.cache.as_ref().map(cache_profile),
        kubernetes_ttl: parsed
            .kubernetes_ttl
            .map_or(DEFAULT_KUBERNETES_TTL, f64::from)
            .clamp(0.0, 3600.0),
        max_concurrent: parsed
            .forward_max_concurrent
            .map(|limit| f64::from(limit).max(1.0)),
    })
}

/// The cache plugin's settings with CoreDNS's defaults filled in: `cache TTL` caps both
/// classes; without it success answers live up to an hour and denials half that.
fn cache_profile(cache: &CacheSettings) -> CacheProfile {
    let mut profile = CacheProfile::default();
    if let Some(ttl) = cache.max_ttl {
        profile.success_max_ttl = f64::from(ttl);
        profile.denial_max_ttl = f64::from(ttl);
    }
    let classes = [
        (
            cache.success,
            &mut profile.success_capacity,
            &mut profile.success_max_ttl,
            &mut profile.success_min_ttl,
        ),
        (
            cache.denial,
            &mut profile.denial_capacity,
            &mut profile.denial_max_ttl,
            &mut profile.denial_min_ttl,
        ),
    ];
    for (class, capacity, max_ttl, min_ttl) in classes {
        let Some(class) = class else { continue };
        *capacity = f64::from(class.capacity).max(1.0);
        if let Some(ttl) = class.max_ttl {
            *max_ttl = f64::from(ttl);
        }
        if let Some(min) = class.min_ttl {
            *min_ttl = f64::from(min);
        }
    }
    if let Some(prefetch) = &cache.prefetch {
        let amount = f64::from(prefetch.amount).max(1.0);
        let window = prefetch.duration.map_or(60.0, |d| d.as_secs_f64()).max(1.0);
        profile.prefetch = Some((amount, window));
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
        let settings = read(EKS_DEFAULT_COREFILE).expect("the EKS default parses");
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
        let settings = read(text).expect("parses");
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
        let plain = read(".:53 {\n forward . /etc/resolv.conf\n}").expect("parses");
        assert_eq!(plain.cache, None);
    }

    #[test]
    fn an_unparseable_corefile_is_refused() {
        assert_eq!(read(".:53 {\n cache 30 {\n"), None);
    }
}
