//! The object store behind the server: objects by (resource, namespace, name), one global
//! resourceVersion that only grows, and a bounded window of change events for watches.
//!
//! Simulated objects are re-rendered after every simulator step through `SimSink`; only
//! objects whose fingerprint or JSON changed become MODIFIED events, objects no longer
//! rendered become DELETED. Objects from manifests or created through the API are "foreign":
//! the simulator never overwrites or deletes them, unless a created object is one the
//! simulator models (a ReferenceGrant, a VPA): that one is adopted and rendered from then on.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use super::discovery::Registry;
use super::patch::Overlay;
use super::stored::Stored;
use crate::backend::sim::objects::ObjectSink;

/// (resource index, namespace or "" for cluster-scoped, name)
pub type ObjKey = (usize, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Sim,
    Foreign,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The object as served, with `metadata.resourceVersion` set.
    pub value: Stored,
    pub rv: u64,
    pub origin: Origin,
    pub fingerprint: Option<u64>,
    /// The render pass that last offered this object (Sim objects only).
    pub seen: u64,
    /// Client changes re-applied on top of every render, so they stick.
    pub overlays: Vec<Overlay>,
    /// Generations added by client changes to the spec.
    pub extra_generation: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub resource: usize,
    pub kind: EventType,
    /// The same bytes as the entry's: an event is encoded once, for every watcher.
    pub object: Stored,
}

/// A watch asked for changes the store no longer remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

#[derive(Debug)]
pub struct Store {
    pub registry: Registry,
    objects: BTreeMap<ObjKey, Entry>,
    rv: u64,
    events: VecDeque<Event>,
    /// Changes at or below this version are gone from `events`.
    compacted: u64,
    window: usize,
    pass: u64,
    /// Benchmark churn (`/_kockpit/churn`), applied under the same lock as every change.
    pub churn: super::scale::Churn,
}

pub fn set_resource_version(value: &mut Value, rv: u64) {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
    }
}

/// Adds the generations client changes made to a re-rendered object. The simulated
/// controllers reconcile at once, so what the status says it observed moves with them.
fn bump_generation(value: &mut Value, extra: i64) {
    if extra == 0 {
        return;
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        let base = meta.get("generation").and_then(Value::as_i64).unwrap_or(1);
        meta.insert("generation".into(), json!(base + extra));
    }
    if let Some(status) = value.get_mut("status") {
        bump_observed(status, extra);
    }
}

fn bump_observed(value: &mut Value, extra: i64) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item.as_i64() {
                    Some(observed) if key == "observedGeneration" => {
                        *item = json!(observed + extra)
                    }
                    _ => bump_observed(item, extra),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| bump_observed(item, extra)),
        _ => {}
    }
}

impl Store {
    pub fn new(registry: Registry, window: usize) -> Self {
        Store {
            registry,
            objects: BTreeMap::new(),
            rv: 0,
            events: VecDeque::new(),
            compacted: 0,
            window: window.max(1),
            pass: 0,
            churn: super::scale::Churn::default(),
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Forgets the events recorded so far: used after the initial load, which watches
    /// starting from a list never need as events.
    pub fn compact_all(&mut self) {
        self.events.clear();
        self.compacted = self.rv;
    }

    fn record(&mut self, resource: usize, kind: EventType, object: Stored) {
        self.events.push_back(Event {
            rv: self.rv,
            resource,
            kind,
            object,
        });
        while self.events.len() > self.window {
            if let Some(old) = self.events.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    pub fn get(&self, key: &ObjKey) -> Option<&Entry> {
        self.objects.get(key)
    }

    /// Stores a new version of an object (creating it if needed) and records the event.
    /// Returns the object as stored, with its new resourceVersion.
    pub fn put(&mut self, key: ObjKey, mut value: Value, origin: Origin) -> Value {
        self.rv += 1;
        set_resource_version(&mut value, self.rv);
        self.put_encoded(key, Stored::encode(&value), origin);
        value
    }

    /// `put` for an object already encoded with the next resourceVersion.
    fn put_encoded(&mut self, key: ObjKey, stored: Stored, origin: Origin) {
        let kind = match self.objects.get_mut(&key) {
            Some(entry) => {
                entry.value = stored.clone();
                entry.rv = self.rv;
                EventType::Modified
            }
            None => {
                self.objects.insert(
                    key.clone(),
                    Entry {
                        value: stored.clone(),
                        rv: self.rv,
                        origin,
                        fingerprint: None,
                        seen: self.pass,
                        overlays: Vec::new(),
                        extra_generation: 0,
                    },
                );
                EventType::Added
            }
        };
        self.record(key.0, kind, stored);
    }

    /// Remembers a client change to a simulated object so later renders keep it.
    pub fn add_overlay(&mut self, key: &ObjKey, overlay: Overlay, spec_changed: bool) {
        if let Some(entry) = self.objects.get_mut(key) {
            if entry.origin == Origin::Sim {
                entry.overlays.push(overlay);
                // Force the next render to rebuild the object.
                entry.fingerprint = None;
            }
            if spec_changed {
                entry.extra_generation += 1;
            }
        }
    }

    /// Makes an object a client created into a simulated one, once the simulator models it
    /// (its spec now holds it): from the next render on the simulator keeps it, fills its
    /// status and removes it when its spec entry goes, and the client's fields stay on top.
    pub fn adopt(&mut self, key: &ObjKey) {
        if let Some(entry) = self.objects.get_mut(key)
            && entry.origin == Origin::Foreign
        {
            let mut fields = entry.value.value();
            if let Some(object) = fields.as_object_mut() {
                object.remove("status");
            }
            if let Some(meta) = fields.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in ["resourceVersion", "generation", "uid"] {
                    meta.remove(field);
                }
            }
            entry.origin = Origin::Sim;
            entry.overlays = vec![Overlay::Merge(fields)];
            entry.fingerprint = None;
            entry.seen = self.pass;
        }
    }

    pub fn extra_generation(&self, key: &ObjKey) -> i64 {
        self.objects
            .get(key)
            .map(|e| e.extra_generation)
            .unwrap_or(0)
    }

    /// Removes an object and records the event; returns it as it was last, with the
    /// resourceVersion of its deletion.
    pub fn delete(&mut self, key: &ObjKey) -> Option<Value> {
        let entry = self.objects.remove(key)?;
        self.rv += 1;
        let mut value = entry.value.value();
        set_resource_version(&mut value, self.rv);
        self.record(key.0, EventType::Deleted, Stored::encode(&value));
        Some(value)
    }

    /// Objects of one resource (optionally one namespace) from `after` (exclusive) on.
    pub fn range<'a>(
        &'a self,
        resource: usize,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Entry)> + 'a {
        let start = match after {
            Some((ns, name)) => std::ops::Bound::Excluded((resource, ns, name)),
            None => std::ops::Bound::Included((
                resource,
                namespace.unwrap_or("").to_string(),
                String::new(),
            )),
        };
        self.objects
            .range((start, std::ops::Bound::Unbounded))
            .take_while(move |(key, _)| key.0 == resource && namespace.is_none_or(|ns| key.1 == ns))
    }

    /// Events after `rv` (exclusive), or `Expired` when some of them are gone.
    pub fn events_since(&self, rv: u64) -> Result<Vec<Event>, Expired> {
        if rv < self.compacted {
            return Err(Expired {
                requested: rv,
                oldest: self.compacted,
            });
        }
        let start = self.events.partition_point(|e| e.rv <= rv);
        Ok(self.events.range(start..).cloned().collect())
    }

    /// Starts a render pass; finish it with `end_pass`.
    pub fn begin_pass(&mut self) -> SimSink<'_> {
        self.pass += 1;
        SimSink {
            store: self,
            cache: None,
        }
    }

    /// Deletes simulated objects the pass did not offer.
    fn end_pass(&mut self) {
        let pass = self.pass;
        let gone: Vec<ObjKey> = self
            .objects
            .iter()
            .filter(|(_, e)| e.origin == Origin::Sim && e.seen != pass)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.delete(&key);
        }
    }
}

/// Receives one render pass of the simulator into the store.
pub struct SimSink<'a> {
    store: &'a mut Store,
    /// The last (apiVersion, kind) looked up, and its resource index.
    cache: Option<(&'static str, &'static str, usize)>,
}

impl SimSink<'_> {
    pub fn finish(self) {
        self.store.end_pass();
    }

    fn resource(&mut self, api_version: &'static str, kind: &'static str) -> usize {
        if let Some((a, k, index)) = self.cache
            && a == api_version
            && k == kind
        {
            return index;
        }
        let namespaced = !matches!(
            kind,
            "Namespace" | "Node" | "NodePool" | "NodeClaim" | "EC2NodeClass" | "GatewayClass"
        );
        let index = self.store.registry.ensure(api_version, kind, namespaced);
        self.cache = Some((api_version, kind, index));
        index
    }
}

impl ObjectSink for SimSink<'_> {
    fn offer(
        &mut self,
        api_version: &'static str,
        kind: &'static str,
        namespace: Option<&str>,
        name: &str,
        fingerprint: Option<u64>,
        build: &mut dyn FnMut() -> Value,
    ) {
        let resource = self.resource(api_version, kind);
        let key: ObjKey = (
            resource,
            namespace.unwrap_or("").to_string(),
            name.to_string(),
        );
        let pass = self.store.pass;
        let (overlays, extra_generation) = match self.store.objects.get_mut(&key) {
            Some(entry) if entry.origin == Origin::Foreign => return,
            Some(entry) => {
                entry.seen = pass;
                if fingerprint.is_some() && entry.fingerprint == fingerprint {
                    return;
                }
                (entry.overlays.clone(), entry.extra_generation)
            }
            None => (Vec::new(), 0),
        };
        let mut value = build();
        for overlay in &overlays {
            overlay.reapply(&mut value);
        }
        bump_generation(&mut value, extra_generation);
        if let Some(entry) = self.store.objects.get_mut(&key) {
            // Compared as stored: the same object encodes to the same bytes.
            set_resource_version(&mut value, entry.rv);
            if entry.value == Stored::encode(&value) {
                entry.fingerprint = fingerprint;
                return;
            }
        }
        self.store.rv += 1;
        set_resource_version(&mut value, self.store.rv);
        self.store
            .put_encoded(key.clone(), Stored::encode(&value), Origin::Sim);
        if let Some(entry) = self.store.objects.get_mut(&key) {
            entry.fingerprint = fingerprint;
            entry.seen = pass;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"}, "status": {"phase": phase}})
    }

    #[test]
    fn renders_record_only_changes() {
        let mut store = Store::new(Registry::default(), 100);
        let mut sink = store.begin_pass();
        sink.offer("v1", "Pod", Some("shop"), "a", Some(1), &mut || {
            pod("a", "Pending")
        });
        sink.offer("v1", "Pod", Some("shop"), "b", Some(1), &mut || {
            pod("b", "Running")
        });
        sink.finish();
        store.compact_all();
        let start = store.resource_version();
        let mut sink = store.begin_pass();
        let mut built = 0;
        sink.offer("v1", "Pod", Some("shop"), "a", Some(2), &mut || {
            built += 1;
            pod("a", "Running")
        });
        sink.finish();
        assert_eq!(built, 1);
        let events = store.events_since(start).unwrap_or_default();
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventType::Modified, EventType::Deleted]);
        assert!(store.events_since(0).is_err());
    }
}
