//! A real moto server (PyPI `moto[server]`, the AWS API emulator) on a loopback port the
//! test picks, stopped when the guard drops. The program is `$KOCKPIT_MOTO_SERVER` (set by
//! `scripts/test`, which installs moto in a venv), else `moto_server` on PATH; without
//! either the test fails with how to install it.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ENV: &str = "KOCKPIT_MOTO_SERVER";

/// How long moto may take to answer (about a second on a quiet machine).
const STARTUP: Duration = Duration::from_secs(30);

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// What moto printed, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Where `moto_server` is.
pub fn program() -> PathBuf {
    if let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{ENV}={} does not exist; run scripts/test, or unset it to use moto_server on PATH",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "`moto_server` is not installed: python3 -m venv ~/.cache/kockpit/test-venv && \
             ~/.cache/kockpit/test-venv/bin/pip install 'moto[server]', then set \
             {ENV}=~/.cache/kockpit/test-venv/bin/moto_server (scripts/test does this)"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts moto and waits until it accepts connections. A port taken between choosing and
/// binding it is tried again on another.
pub fn start(tag: &str) -> Moto {
    let program = program();
    let mut last_log = String::new();
    for _ in 0..3 {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "kockpit-moto-{tag}-{}-{port}.log",
            std::process::id()
        ));
        let out = std::fs::File::create(&log).expect("moto log file");
        let err = out.try_clone().expect("moto log file");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Ok(Some(_)) = moto.child.try_wait() {
                last_log = moto.log_text();
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "moto did not listen on port {port} within {STARTUP:?}:\n{}",
                    moto.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("moto exited at start three times:\n{last_log}");
}
