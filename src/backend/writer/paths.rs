//! REST paths of the objects fixes write, and how a permission is named to the user.

use crate::domain::fix::Target;

/// `/api/v1/namespaces/NS/configmaps/NAME`, `/apis/GROUP/VERSION/…`. `named` false gives the
/// collection (for a create); `subresource` adds the target's subresource (e.g. `scale`).
pub fn object_path(target: &Target, named: bool, subresource: bool) -> String {
    let mut path = match target.api_version.split_once('/') {
        Some((group, version)) => format!("/apis/{}/{}", segment(group), segment(version)),
        None => format!("/api/{}", segment(&target.api_version)),
    };
    if let Some(namespace) = &target.namespace {
        path.push_str(&format!("/namespaces/{}", segment(namespace)));
    }
    path.push('/');
    path.push_str(&segment(&target.resource));
    if named {
        path.push('/');
        path.push_str(&segment(&target.name));
        if subresource && let Some(sub) = &target.subresource {
            path.push('/');
            path.push_str(&segment(sub));
        }
    }
    path
}

/// Names come from the cluster: anything outside the characters Kubernetes allows in names
/// is percent-encoded so it cannot change the path.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// "patch deployments.apps/scale in namespace kube-system".
pub fn describe_permission(target: &Target, verb: &str) -> String {
    use crate::domain::permissions::{describe, resource_name};
    let resource = resource_name(
        target.group(),
        &target.resource,
        target.subresource.as_deref(),
    );
    describe(verb, &resource, target.namespace.as_deref())
}
