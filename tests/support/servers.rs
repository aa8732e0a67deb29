//! Real servers the tests start (Prometheus and other programs from Debian packages): found
//! on PATH or the test fails naming the package to install, bound to loopback ports the
//! test picks, and killed when the test ends however it ends.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) when dropped, and the scratch directory it owns
/// removed then.
pub struct Server {
    child: Child,
    scratch: Option<PathBuf>,
}

impl Server {
    /// Removes `dir` when the server is dropped (its data, fixtures, logs).
    pub fn owning(mut self, dir: &Path) -> Server {
        self.scratch = Some(dir.to_path_buf());
        self
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The program's path, or a failure that says which package to install.
pub fn require(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{program}` is not installed: apt-get install -y --no-install-recommends {package} (scripts/test does this)"
        )
    })
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `program ARGS` with its output in `log`.
pub fn spawn(name: &'static str, program: &Path, args: &[&str], log: &Path) -> Server {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Server {
        child,
        scratch: None,
    }
}

/// A fresh scratch directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kockpit-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A real Prometheus scraping every second with `scrape_config` (YAML list items), its data
/// in `dir`. Returns the server, its base URL and its log. A port another test took between
/// our pick and Prometheus's bind is picked again.
pub fn start_prometheus(dir: &Path, scrape_config: &str) -> (Server, String, PathBuf) {
    let prometheus = require("prometheus", "prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{scrape_config}"),
    )
    .expect("prometheus config");
    let data = dir.join("data");
    let log = dir.join("prometheus.log");
    for _ in 0..5 {
        let port = free_port();
        let mut server = spawn(
            "prometheus",
            &prometheus,
            &[
                &format!("--config.file={}", config.display()),
                &format!("--storage.tsdb.path={}", data.display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--storage.tsdb.retention.time=30d",
                "--log.level=warn",
            ],
            &log,
        );
        if listening(&mut server, port) {
            return (server, format!("http://127.0.0.1:{port}"), log);
        }
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            said.contains("address already in use"),
            "prometheus did not start:\n{said}"
        );
    }
    panic!("prometheus found no free port in five tries")
}

/// Waits until `port` accepts connections and the server is still running a moment later
/// (the port may be someone else's while ours fails to bind it): true; false when the
/// server exits. A slow start past the deadline is left to the test's own waits.
fn listening(server: &mut Server, port: u16) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let exited = |server: &mut Server| matches!(server.child.try_wait(), Ok(Some(_)));
    while std::time::Instant::now() < deadline {
        if exited(server) {
            return false;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(300));
            return !exited(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

/// Debian's `kubernetes-client` (or the Google Cloud SDK's `kubectl`) installs it here.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// Runs kubectl against `kubeconfig` and returns its output; fails the test if it fails.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: apt-get install -y kubernetes-client (scripts/test does this), or install the official binary from dl.k8s.io"
    );
    let output = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// One kubeconfig in `dir` with a context for each server, named as given (each cluster and
/// user after its context): two regions of a fleet. Each server's own kubeconfig gives its
/// address and token.
pub fn fleet_kubeconfig(dir: &Path, clusters: &[(&str, &Path)]) -> PathBuf {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_string()
    };
    let (mut defined, mut users, mut contexts) = (String::new(), String::new(), String::new());
    for (name, path) in clusters {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let server = field(&text, "server:");
        let token = field(&text, "token:");
        defined += &format!("- name: {name}\n  cluster:\n    server: {server}\n");
        users += &format!("- name: {name}\n  user:\n    token: {token}\n");
        contexts += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n");
    }
    let path = dir.join("fleet-kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{defined}users:\n{users}contexts:\n{contexts}current-context: {}\n",
        clusters[0].0
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}
