//! About how many bytes an object takes, cheaply: its labels, annotations and managed
//! fields, and the large fields of its kind (a ConfigMap's data, an Event's message). An
//! object over `limits::OBJECT_BYTES` is left out with a finding instead of being read.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A managed-fields entry is a few hundred bytes to a few kilobytes of JSON.
const MANAGED_FIELDS_ENTRY: usize = 1_024;

pub trait Weigh {
    fn approx_bytes(&self) -> usize;
}

fn map_bytes<'a>(entries: impl Iterator<Item = (&'a String, &'a String)>) -> usize {
    entries
        .map(|(key, value)| key.len() + value.len() + 6)
        .sum()
}

pub fn metadata_bytes(meta: &ObjectMeta) -> usize {
    let maps = [&meta.labels, &meta.annotations]
        .into_iter()
        .flatten()
        .map(|map| map_bytes(map.iter()))
        .sum::<usize>();
    let managed = meta.managed_fields.as_ref().map_or(0, Vec::len) * MANAGED_FIELDS_ENTRY;
    maps + managed + 256
}

macro_rules! weigh_by_metadata {
    ($($kind:ty),* $(,)?) => {
        $(impl Weigh for $kind {
            fn approx_bytes(&self) -> usize {
                metadata_bytes(&self.metadata)
            }
        })*
    };
}

weigh_by_metadata!(
    Node,
    Namespace,
    Service,
    EndpointSlice,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    super::slim::Pod,
);

impl Weigh for ConfigMap {
    fn approx_bytes(&self) -> usize {
        let data = self.data.as_ref().map_or(0, |d| map_bytes(d.iter()));
        let binary = self.binary_data.as_ref().map_or(0, |d| {
            d.iter().map(|(key, value)| key.len() + value.0.len()).sum()
        });
        metadata_bytes(&self.metadata) + data + binary
    }
}

impl Weigh for Event {
    fn approx_bytes(&self) -> usize {
        metadata_bytes(&self.metadata) + self.message.as_ref().map_or(0, String::len)
    }
}

impl<S, U> Weigh for kube::core::Object<S, U>
where
    S: Clone,
    U: Clone,
{
    fn approx_bytes(&self) -> usize {
        metadata_bytes(&self.metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_map_weighs_its_data() {
        let mut map = ConfigMap::default();
        let small = map.approx_bytes();
        map.data = Some(
            [("Corefile".to_string(), "x".repeat(5 << 20))]
                .into_iter()
                .collect(),
        );
        assert!(map.approx_bytes() > small + (5 << 20));
    }
}
