//! The kubeconfig the server writes for itself: cluster `kockpit-sim` over plain HTTP on
//! loopback, a user with the server's bearer token, and a current context using both.

use std::net::SocketAddr;
use std::path::Path;

/// Name of the cluster, user and context in the written kubeconfig.
pub const NAME: &str = "kockpit-sim";

pub fn render(addr: SocketAddr, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {NAME}
  cluster:
    server: http://{addr}
users:
- name: {NAME}
  user:
    token: {token}
contexts:
- name: {NAME}
  context:
    cluster: {NAME}
    user: {NAME}
    namespace: default
current-context: {NAME}
preferences: {{}}
"
    )
}

pub fn write(path: &Path, addr: SocketAddr, token: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(addr, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_server_and_token() {
        let text = render(SocketAddr::from(([127, 0, 0, 1], 6443)), "abc");
        assert!(text.contains("server: http://127.0.0.1:6443"));
        assert!(text.contains("token: abc"));
        assert!(text.contains("current-context: kockpit-sim"));
    }
}
