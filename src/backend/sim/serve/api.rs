//! The resource endpoints: get, list (limit/continue, selectors), watch, create, patch
//! (with dryRun and resourceVersion preconditions), delete (with uid and resourceVersion
//! preconditions), and the two self-access reviews. Creates, patches and deletes of what
//! the simulator models are carried into its spec (`sim::writes`).

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::discovery::ResourceDef;
use super::patch::{Overlay, PatchKind};
use super::router::{ApiRequest, Body, json_response, stored_response};
use super::select::Selector;
use super::status::ApiError;
use super::store::{ObjKey, Origin, set_resource_version};
use super::stored::Stored;
use super::{Shared, watch};
use crate::backend::sim::names::suffix;
use crate::backend::sim::objects::{timestamp, uid_for};
use crate::backend::sim::rng::hash_str;
use crate::backend::sim::writes::{Write, write_back};

/// Page size when a list asks for none: everything, as the API server does.
const NO_LIMIT: usize = usize::MAX;

/// What a resource path names.
struct Target {
    resource: usize,
    def: ResourceDef,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn locked<'a>(
    shared: &'a Shared,
) -> Result<std::sync::MutexGuard<'a, super::store::Store>, ApiError> {
    shared
        .store
        .lock()
        .map_err(|_| ApiError::new(500, "InternalError", "the object store is unavailable"))
}

/// The served clock, for ages in tables.
fn sim_now(shared: &Shared) -> crate::domain::Timestamp {
    shared.now()
}

fn resolve(shared: &Shared, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        other => (None, other),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(ApiError::not_found_path(&rest.join("/"))),
    };
    let store = locked(shared)?;
    let resource = store
        .registry
        .find(group, version, plural)
        .ok_or_else(|| ApiError::not_found_path(&format!("{group}/{version}/{plural}")))?;
    let def = store
        .registry
        .get(resource)
        .cloned()
        .ok_or_else(|| ApiError::not_found_path(plural))?;
    if namespace.is_some() && !def.namespaced {
        return Err(ApiError::not_found_path(plural));
    }
    Ok(Target {
        resource,
        def,
        namespace,
        name,
        subresource,
    })
}

fn verb(request: &ApiRequest, target: &Target) -> &'static str {
    match (&request.method, &target.name) {
        (&Method::GET, None) if request.flag("watch") => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, _) => "create",
        (&Method::PATCH, _) => "patch",
        (&Method::PUT, _) => "update",
        (&Method::DELETE, _) => "delete",
        _ => "unknown",
    }
}

fn forbidden(target: &Target, verb: &str) -> ApiError {
    let scope = match &target.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    ApiError {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "{}{} is forbidden: User \"kockpit-sim\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            target.def.plural,
            if target.def.group.is_empty() {
                String::new()
            } else {
                format!(".{}", target.def.group)
            },
            target.def.plural,
            target.def.group
        ),
        details: Some(json!({"group": target.def.group, "kind": target.def.plural})),
    }
}

pub async fn resource(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let target = resolve(shared, group, version, rest)?;
    let verb = verb(request, &target);
    let delay = shared
        .faults
        .delay(Some((&target.def.plural, &target.def.group)));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if !target.def.stored {
        return match request.method {
            Method::POST => review(shared, &target, request),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if shared
        .faults
        .forbidden(&target.def.plural, &target.def.group)
    {
        return Err(forbidden(&target, verb));
    }
    if shared
        .faults
        .server_error(&target.def.plural, &target.def.group)
    {
        return Err(ApiError::new(
            500,
            "InternalError",
            format!(
                "Internal error occurred: injected fault on {}",
                target.def.plural
            ),
        ));
    }
    if let Some(sub) = &target.subresource {
        let scalable = matches!(
            target.def.kind.as_str(),
            "Deployment" | "StatefulSet" | "ReplicaSet"
        );
        match (sub.as_str(), &target.name) {
            ("scale", Some(name)) if scalable => return scale(shared, &target, name, request),
            ("status", _) if request.method == Method::GET => {}
            _ => return Err(ApiError::not_found_path(sub)),
        }
    }
    match (verb, &target.name) {
        ("watch", _) => watch::watch(
            shared,
            target.resource,
            &target.def,
            target.namespace,
            request,
        ),
        ("list", _) => list(shared, &target, request),
        ("get", Some(name)) => get(shared, &target, name, request),
        ("create", None) => create(shared, &target, request),
        ("patch", Some(name)) => patch(shared, &target, name, request),
        ("delete", Some(name)) => delete(shared, &target, name, request),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn key(target: &Target, name: &str) -> ObjKey {
    (
        target.resource,
        target.namespace.clone().unwrap_or_default(),
        name.to_string(),
    )
}

fn get(
    shared: &Shared,
    target: &Target,
    name: &str,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let now = sim_now(shared);
    let store = locked(shared)?;
    let entry = store
        .get(&key(target, name))
        .ok_or_else(|| ApiError::not_found(&target.def.group, &target.def.plural, name))?;
    if watch::wants_table(&request.accept) {
        let table = watch::table_at(
            &target.def,
            &[&entry.value.value()],
            store.resource_version(),
            None,
            now,
        );
        return Ok(json_response(StatusCode::OK, &table));
    }
    Ok(stored_response(StatusCode::OK, &entry.value))
}

/// Continue tokens: the last key returned, hex-encoded, after the list's resourceVersion.
fn encode_continue(rv: u64, namespace: &str, name: &str) -> String {
    let raw = format!("{namespace}\u{0}{name}");
    let hex: String = raw.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{rv}.{hex}")
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid");
    let (_, hex) = token.split_once('.').ok_or_else(bad)?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

fn list(
    shared: &Shared,
    target: &Target,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let selector = Selector::parse(
        request.param("labelSelector"),
        request.param("fieldSelector"),
    )?;
    let limit = match request.param("limit") {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit `{text}`")))?,
        None => NO_LIMIT,
    };
    let limit = if limit == 0 { NO_LIMIT } else { limit };
    let after = request.param("continue").map(decode_continue).transpose()?;
    let first_page = after.is_none();
    let now = sim_now(shared);
    let store = locked(shared)?;
    let rv = store.resource_version();
    let mut items: Vec<&Stored> = Vec::new();
    let mut last_key: Option<&ObjKey> = None;
    let mut next = None;
    let mut remaining = None;
    let mut range = store.range(target.resource, target.namespace.as_deref(), after);
    for (key, entry) in range.by_ref() {
        // Decoded only to be matched: most lists select nothing.
        if !selector.is_empty() && !selector.matches(&entry.value.value()) {
            continue;
        }
        if items.len() == limit {
            let (_, namespace, name) = last_key.unwrap_or(key);
            next = Some(encode_continue(rv, namespace, name));
            // The first page of a list without a selector says how many are left (this
            // one, unsent, and those after it), as the API server does. Later pages leave
            // the optional field out: counting the rest on every page would make paging
            // through a million pods quadratic.
            if selector.is_empty() && first_page {
                remaining = Some(1 + range.by_ref().count());
            }
            break;
        }
        items.push(&entry.value);
        last_key = Some(key);
    }
    if watch::wants_table(&request.accept) {
        let objects: Vec<Value> = items.iter().map(|item| item.value()).collect();
        let objects: Vec<&Value> = objects.iter().collect();
        let table = watch::table_at(&target.def, &objects, rv, next, now);
        return Ok(json_response(StatusCode::OK, &table));
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = next {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    // Written item by item: a json! value would deep-copy every object of a large list.
    let head = json!({
        "kind": format!("{}List", target.def.kind),
        "apiVersion": target.def.api_version(),
        "metadata": metadata,
    });
    let mut body = serde_json::to_vec(&head).unwrap_or_default();
    body.pop();
    body.extend_from_slice(b",\"items\":[");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.json());
    }
    body.extend_from_slice(b"]}");
    drop(range);
    drop(store);
    Ok(super::router::full(
        StatusCode::OK,
        "application/json",
        body,
    ))
}

fn parse_body(request: &ApiRequest) -> Result<Value, ApiError> {
    if request.content_type.contains("yaml") {
        let text = std::str::from_utf8(&request.body)
            .map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
        serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("bad YAML: {e}")))
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))
    }
}

/// Fills what the API server sets on creation.
fn complete_new(def: &ResourceDef, namespace: &str, name: &str, object: &mut Value) {
    object["apiVersion"] = json!(def.api_version());
    object["kind"] = json!(def.kind);
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    let meta = &mut object["metadata"];
    meta["name"] = json!(name);
    if def.namespaced {
        meta["namespace"] = json!(namespace);
    }
    meta["uid"] = json!(uid_for(&def.kind, namespace, name));
    meta["creationTimestamp"] = json!(timestamp(chrono::Utc::now()));
    if object.get("spec").is_some() {
        object["metadata"]["generation"] = json!(1);
    }
}

fn create(
    shared: &Shared,
    target: &Target,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let mut object = parse_body(request)?;
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && kind != target.def.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind {kind} does not match the resource {}",
            target.def.plural
        )));
    }
    let namespace = match (
        &target.namespace,
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str),
    ) {
        (Some(path), Some(body)) if path != body => {
            return Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({body}) does not match the namespace sent on the request ({path})"
            )));
        }
        (Some(path), _) => path.clone(),
        (None, _) if target.def.namespaced => {
            return Err(ApiError::not_found_path(&target.def.plural));
        }
        (None, _) => String::new(),
    };
    let name = match (
        object.pointer("/metadata/name").and_then(Value::as_str),
        object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str),
    ) {
        (Some(name), _) if !name.is_empty() => name.to_string(),
        (_, Some(prefix)) => format!(
            "{prefix}{}",
            suffix(hash_str(&format!("{prefix}{}", chrono::Utc::now())), 5)
        ),
        _ => {
            return Err(ApiError::invalid(format!(
                "{}.{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                target.def.plural, target.def.group
            )));
        }
    };
    complete_new(&target.def, &namespace, &name, &mut object);
    let key: ObjKey = (target.resource, namespace, name.clone());
    let mut store = locked(shared)?;
    if store.get(&key).is_some() {
        return Err(ApiError::already_exists(
            &target.def.group,
            &target.def.plural,
            &name,
        ));
    }
    if request.dry_run() {
        return Ok(json_response(StatusCode::CREATED, &object));
    }
    let stored = store.put(key.clone(), object, Origin::Foreign);
    drop(store);
    adopt(shared, &target.def, &key, &stored);
    shared.notify();
    Ok(json_response(StatusCode::CREATED, &stored))
}

fn patch(
    shared: &Shared,
    target: &Target,
    name: &str,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let (status, value) = patch_object(shared, target, name, request)?;
    Ok(json_response(status, &value))
}

/// The `scale` subresource of Deployments, StatefulSets and ReplicaSets (`kubectl scale`):
/// an `autoscaling/v1` Scale read from the object, and patches of it turned into patches of
/// the object's `spec.replicas`.
fn scale(
    shared: &Shared,
    target: &Target,
    name: &str,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let as_scale = |object: &Value| {
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name,
                "namespace": object.pointer("/metadata/namespace").cloned().unwrap_or_default(),
                "uid": object.pointer("/metadata/uid").cloned().unwrap_or_default(),
                "resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or_default(),
                "creationTimestamp": object.pointer("/metadata/creationTimestamp").cloned().unwrap_or_default(),
            },
            "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
            "status": {
                "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                "selector": object
                    .pointer("/spec/selector/matchLabels")
                    .and_then(Value::as_object)
                    .map(|labels| labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
            },
        })
    };
    let current = {
        let store = locked(shared)?;
        store
            .get(&key(target, name))
            .map(|e| e.value.value())
            .ok_or_else(|| ApiError::not_found(&target.def.group, &target.def.plural, name))?
    };
    match request.method {
        Method::GET => Ok(json_response(StatusCode::OK, &as_scale(&current))),
        Method::PATCH => {
            let kind = PatchKind::from_content_type(&request.content_type).ok_or_else(|| {
                ApiError::new(415, "UnsupportedMediaType", "unsupported patch type")
            })?;
            let mut wanted = as_scale(&current);
            Overlay::parse(kind, &request.body)?.apply(&mut wanted)?;
            let mut patch = json!({"spec": {"replicas": wanted["spec"]["replicas"]}});
            if let Some(rv) = wanted
                .pointer("/metadata/resourceVersion")
                .filter(|rv| **rv != current["metadata"]["resourceVersion"])
            {
                patch["metadata"] = json!({"resourceVersion": rv});
            }
            let inner = ApiRequest {
                method: Method::PATCH,
                segments: Vec::new(),
                query: request.query.clone(),
                content_type: "application/merge-patch+json".to_string(),
                accept: request.accept.clone(),
                body: bytes::Bytes::from(patch.to_string()),
            };
            let (status, object) = patch_object(shared, target, name, &inner)?;
            Ok(json_response(status, &as_scale(&object)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn patch_object(
    shared: &Shared,
    target: &Target,
    name: &str,
    request: &ApiRequest,
) -> Result<(StatusCode, Value), ApiError> {
    let kind = PatchKind::from_content_type(&request.content_type).ok_or_else(|| {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {})", request.content_type),
        )
    })?;
    if kind == PatchKind::Apply && request.param("fieldManager").is_none() {
        return Err(ApiError::invalid(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let overlay = Overlay::parse(kind, &request.body)?;
    let key = key(target, name);
    let mut store = locked(shared)?;
    let (before, stored_rv, origin) = match store.get(&key) {
        Some(entry) => (entry.value.value(), entry.rv, entry.origin),
        None if kind == PatchKind::Apply => {
            // Server-side apply creates what does not exist yet.
            let mut object = json!({});
            overlay.apply(&mut object)?;
            complete_new(&target.def, &key.1, name, &mut object);
            if request.dry_run() {
                return Ok((StatusCode::CREATED, object));
            }
            let stored = store.put(key.clone(), object, Origin::Foreign);
            drop(store);
            adopt(shared, &target.def, &key, &stored);
            shared.notify();
            return Ok((StatusCode::CREATED, stored));
        }
        None => {
            return Err(ApiError::not_found(
                &target.def.group,
                &target.def.plural,
                name,
            ));
        }
    };
    let mut value = before.clone();
    overlay.apply(&mut value)?;
    let requested_rv = value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(requested) = requested_rv
        && requested != stored_rv.to_string()
    {
        return Err(ApiError::conflict(
            &target.def.group,
            &target.def.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    // Identity fields cannot change through a patch.
    for field in ["apiVersion", "kind"] {
        value[field] = before[field].clone();
    }
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
    ] {
        match before.pointer(&format!("/metadata/{field}")) {
            Some(original) => value["metadata"][field] = original.clone(),
            None => {
                if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove(field);
                }
            }
        }
    }
    let spec_changed = before.get("spec") != value.get("spec");
    if spec_changed
        && let Some(generation) = value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
    {
        value["metadata"]["generation"] = json!(generation + 1);
    }
    set_resource_version(&mut value, stored_rv);
    if request.dry_run() || value == before {
        return Ok((StatusCode::OK, value));
    }
    store.add_overlay(&key, overlay, spec_changed);
    let stored = store.put(key.clone(), value, origin);
    drop(store);
    carry(
        shared,
        &target.def,
        &key,
        Write::Changed {
            before: &before,
            after: &stored,
        },
    );
    shared.notify();
    Ok((StatusCode::OK, stored))
}

/// Carries a client's write into the simulator's spec (see `writes`). Called with the store
/// unlocked: the stepping task holds the simulator while it locks the store. Returns whether
/// the simulator now models the object.
fn carry(shared: &Shared, def: &ResourceDef, key: &ObjKey, write: Write<'_>) -> bool {
    let Ok(mut sim) = shared.sim.lock() else {
        return false;
    };
    write_back(sim.spec_mut(), &def.kind, &key.1, &key.2, write)
}

/// A created object the simulator models becomes one of its own objects.
fn adopt(shared: &Shared, def: &ResourceDef, key: &ObjKey, created: &Value) {
    if carry(shared, def, key, Write::Created(created))
        && let Ok(mut store) = shared.store.lock()
    {
        store.adopt(key);
    }
}

fn delete(
    shared: &Shared,
    target: &Target,
    name: &str,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let key = key(target, name);
    // DeleteOptions may carry preconditions: the delete is refused if the object is not the
    // one the client means (uid) or has changed since (resourceVersion).
    let options: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    // The simulator is held until its spec has followed the delete, so no render between the
    // two brings a deleted object back. Locked before the store, as the stepping task does.
    let mut sim = shared
        .sim
        .lock()
        .map_err(|_| ApiError::new(500, "InternalError", "the simulator is unavailable"))?;
    let mut store = locked(shared)?;
    let entry = store
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&target.def.group, &target.def.plural, name))?;
    let checks = [
        ("UID", "uid", "/metadata/uid"),
        (
            "ResourceVersion",
            "resourceVersion",
            "/metadata/resourceVersion",
        ),
    ];
    for (field, option, pointer) in checks {
        let wanted = options
            .pointer(&format!("/preconditions/{option}"))
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty());
        let actual = entry.value.pointer(pointer);
        let actual = actual.as_ref().and_then(Value::as_str).unwrap_or("");
        if let Some(wanted) = wanted
            && wanted != actual
        {
            return Err(ApiError::conflict(
                &target.def.group,
                &target.def.plural,
                name,
                &format!(
                    "Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {actual}"
                ),
            ));
        }
    }
    if request.dry_run() {
        return Ok(stored_response(StatusCode::OK, &entry.value));
    }
    // A simulated object comes back at the next step, as a controller would recreate it,
    // unless the delete removes it from the simulator's spec (a ReferenceGrant, a VPA).
    let gone = store
        .delete(&key)
        .ok_or_else(|| ApiError::not_found(&target.def.group, &target.def.plural, name))?;
    drop(store);
    write_back(
        sim.spec_mut(),
        &target.def.kind,
        &key.1,
        &key.2,
        Write::Deleted(&gone),
    );
    drop(sim);
    shared.notify();
    Ok(json_response(StatusCode::OK, &gone))
}

/// SelfSubjectAccessReview (allowed unless a 403 fault covers the resource) and
/// SelfSubjectRulesReview (everything, minus nothing: faults are not listed as rules).
fn review(
    shared: &Shared,
    target: &Target,
    request: &ApiRequest,
) -> Result<hyper::Response<Body>, ApiError> {
    let mut object = if request.content_type.contains("protobuf") {
        super::protobuf::decode_review(&request.body, target.def.kind == "SelfSubjectRulesReview")
            .ok_or_else(|| ApiError::bad_request("cannot read the protobuf review"))?
    } else {
        parse_body(request)?
    };
    object["apiVersion"] = json!("authorization.k8s.io/v1");
    object["kind"] = json!(target.def.kind);
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]["creationTimestamp"] = Value::Null;
    match target.def.kind.as_str() {
        "SelfSubjectAccessReview" => {
            let attributes = object.pointer("/spec/resourceAttributes");
            let resource = attributes
                .and_then(|a| a.get("resource"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let group = attributes
                .and_then(|a| a.get("group"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let denied = attributes.is_some() && shared.faults.forbidden(resource, group);
            object["status"] = if denied {
                json!({"allowed": false, "denied": true, "reason": "forbidden by an injected fault"})
            } else {
                json!({"allowed": true, "reason": "kockpit sim serve allows everything"})
            };
        }
        _ => {
            object["status"] = json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            });
        }
    }
    Ok(json_response(StatusCode::CREATED, &object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "shop", "web-1");
        assert_eq!(
            decode_continue(&token).ok(),
            Some(("shop".to_string(), "web-1".to_string()))
        );
        assert!(decode_continue("garbage").is_err());
        assert!(decode_continue("1.zz").is_err());
    }
}
