//! Names the simulator gives to things, shaped like the real ones: EC2 private DNS names for
//! nodes, `<pool>-<suffix>` NodeClaims, ReplicaSet-style pod names, ELB hostnames.

use super::rng::{mix, unit_hash};

/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A `len`-character generated suffix determined by `key`.
pub fn suffix(key: u64, len: usize) -> String {
    (0..len)
        .map(|i| {
            let index = (unit_hash(mix(key, i as u64)) * SUFFIX_ALPHABET.len() as f64) as usize;
            char::from(SUFFIX_ALPHABET[index.min(SUFFIX_ALPHABET.len() - 1)])
        })
        .collect()
}

/// A node name no other node has: `node_name`, and while that is taken (a /19 holds 8000
/// addresses, and hashed picks collide long before a zone fills), an address in the
/// secondary CIDR's /14 for the zone (10.{4 + 4·zone..}.x.y), as a 100,000-node cluster's VPC
/// would add them.
pub fn unique_node_name(
    region: &str,
    zone_index: usize,
    key: u64,
    taken: &dyn Fn(&str) -> bool,
) -> String {
    let name = node_name(region, zone_index, key);
    if !taken(&name) {
        return name;
    }
    let domain = name.split_once('.').map_or("", |(_, d)| d).to_string();
    (1u64..)
        .map(|salt| {
            let wide = mix(key, 100 + salt);
            let second = 4 + zone_index as u64 * 4 + wide % 4;
            let third = (wide >> 8) % 256;
            let fourth = 4 + (wide >> 16) % 250;
            format!("ip-10-{second}-{third}-{fourth}.{domain}")
        })
        .find(|name| !taken(name))
        .unwrap_or(name)
}

/// The private DNS name EC2 gives an instance in `zone_index` (subnets are /19s per zone).
pub fn node_name(region: &str, zone_index: usize, key: u64) -> String {
    let third = zone_index as u64 * 32 + mix(key, 1) % 32;
    let fourth = 4 + mix(key, 2) % 250;
    let domain = if region == "us-east-1" {
        "ec2.internal".to_string()
    } else {
        format!("{region}.compute.internal")
    };
    format!("ip-10-0-{third}-{fourth}.{domain}")
}

pub fn nodeclaim_name(nodepool: &str, key: u64) -> String {
    format!("{nodepool}-{}", suffix(key, 5))
}

/// Pod name for a Deployment (`name-<template hash>-<suffix>`) or StatefulSet (`name-N`).
pub fn pod_name(workload: &str, stateful: bool, template_key: u64, serial: u64) -> String {
    if stateful {
        format!("{workload}-{serial}")
    } else {
        format!(
            "{workload}-{}-{}",
            suffix(template_key, 10),
            suffix(mix(template_key, serial), 5)
        )
    }
}

/// The hostname AWS gives a load balancer created for a Gateway.
pub fn load_balancer_address(namespace: &str, gateway: &str, region: &str, key: u64) -> String {
    let short: String = format!("{namespace}-{gateway}").chars().take(20).collect();
    format!(
        "k8s-{short}-{:010x}.elb.{region}.amazonaws.com",
        mix(key, 3) & 0xFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_look_real() {
        assert_eq!(suffix(1, 5).len(), 5);
        assert_eq!(suffix(1, 5), suffix(1, 5));
        assert_ne!(suffix(1, 5), suffix(2, 5));
        let node = node_name("us-east-1", 1, 42);
        assert!(
            node.starts_with("ip-10-0-") && node.ends_with(".ec2.internal"),
            "{node}"
        );
        let third: u64 = node
            .split('-')
            .nth(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!((32..64).contains(&third), "{node}");
        assert!(node_name("eu-west-1", 0, 1).ends_with(".eu-west-1.compute.internal"));
        let mut names = std::collections::BTreeSet::new();
        for key in 0..30_000 {
            let name = unique_node_name("us-east-1", 0, key, &|n| names.contains(n));
            assert!(name.ends_with(".ec2.internal"), "{name}");
            names.insert(name);
        }
        assert_eq!(
            names.len(),
            30_000,
            "every node its own name, past a /19's 8000"
        );
        assert_eq!(pod_name("ledger", true, 1, 2), "ledger-2");
        let pod = pod_name("frontend", false, 9, 3);
        assert_eq!(pod.len(), "frontend".len() + 1 + 10 + 1 + 5);
    }
}
