//! The Debian package as a bastion gets it: unpacked with `dpkg -x` into a scratch root, its
//! binary run (by its own name and as `kubectl kockpit`, found by kubectl's plugin
//! discovery), the highest GLIBC symbol version it needs kept at or below Amazon Linux
//! 2023's 2.34, the completions loaded by bash, zsh and fish, the man page rendered by
//! `man -l`.
//!
//! These tests need the .deb that `scripts/package` builds (KOCKPIT_DEB names it), so they
//! are ignored under a plain `cargo test`: scripts/package runs them with `--ignored`, and
//! scripts/test runs `scripts/package --check`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::servers::{KUBECTL, require, temp_dir};

/// The newest glibc the binary may need: Amazon Linux 2023 ships 2.34.
const MAX_GLIBC: (u32, u32) = (2, 34);

/// The .deb, unpacked once for all tests.
fn unpacked() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let deb = std::env::var("KOCKPIT_DEB").unwrap_or_else(|_| {
            panic!("KOCKPIT_DEB is not set: run scripts/package (or scripts/package --check), which builds the .deb and runs these tests")
        });
        let root = temp_dir("deb");
        let status = Command::new("dpkg")
            .args(["-x", &deb])
            .arg(&root)
            .status()
            .unwrap_or_else(|e| panic!("dpkg -x: {e}"));
        assert!(status.success(), "dpkg -x {deb} failed");
        root
    })
}

fn run(program: &Path, args: &[&str], path: Option<&Path>) -> String {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("KOCKPIT_CONFIG_DIR", unpacked().join("tmp-config"))
        .env("KOCKPIT_STATE_DIR", unpacked().join("tmp-state"))
        .env_remove("KUBECONFIG");
    if let Some(dir) = path {
        let system = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{system}", dir.display()));
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}\n{stdout}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
#[ignore = "needs the .deb: run by scripts/package"]
fn the_package_holds_the_binary_its_kubectl_name_man_page_completions_and_themes() {
    let root = unpacked();
    for file in [
        "usr/bin/kockpit",
        "usr/share/man/man1/kockpit.1.gz",
        "usr/share/bash-completion/completions/kockpit",
        "usr/share/zsh/vendor-completions/_kockpit",
        "usr/share/fish/vendor_completions.d/kockpit.fish",
        "usr/share/kockpit/themes/dark.toml",
        "usr/share/kockpit/keymaps/vim.toml",
    ] {
        assert!(root.join(file).is_file(), "{file} is not in the package");
    }
    let link = std::fs::read_link(root.join("usr/bin/kubectl-kockpit"))
        .unwrap_or_else(|e| panic!("usr/bin/kubectl-kockpit is not a symlink: {e}"));
    assert_eq!(
        link,
        Path::new("kockpit"),
        "kubectl-kockpit points at kockpit"
    );

    let version = run(&root.join("usr/bin/kockpit"), &["--version"], None);
    assert!(
        version.starts_with(&format!("kockpit {} (commit ", env!("CARGO_PKG_VERSION"))),
        "--version names the version and the commit: {version}"
    );
    let report = run(
        &root.join("usr/bin/kockpit"),
        &["snapshot", "--demo", "--scenario", "dns-storm"],
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&report).expect("snapshot prints JSON");
    assert!(json["findings"].as_array().is_some_and(|f| !f.is_empty()));
}

#[test]
#[ignore = "needs the .deb: run by scripts/package"]
fn kubectl_finds_the_plugin_and_runs_it() {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: apt-get install -y kubernetes-client (scripts/test does this)"
    );
    let bin = unpacked().join("usr/bin");
    let plugins = run(Path::new(KUBECTL), &["plugin", "list"], Some(&bin));
    assert!(plugins.contains("kubectl-kockpit"), "{plugins}");
    let report = run(
        Path::new(KUBECTL),
        &["kockpit", "snapshot", "--demo", "--format", "md"],
        Some(&bin),
    );
    assert!(report.contains("## Findings"), "{report}");
    // Its help speaks of `kubectl kockpit`, and kubectl's -n is understood.
    let help = run(Path::new(KUBECTL), &["kockpit", "--help"], Some(&bin));
    assert!(help.contains("Usage: kubectl kockpit"), "{help}");
    assert!(help.contains("-n, --namespace <NS>"), "{help}");
}

/// `GLIBC_2.34` → (2, 34).
fn glibc_version(symbol: &str) -> Option<(u32, u32)> {
    let version = symbol.strip_prefix("GLIBC_")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

#[test]
#[ignore = "needs the .deb: run by scripts/package"]
fn the_binary_needs_no_glibc_newer_than_amazon_linux_2023s() {
    let objdump = require("objdump", "binutils");
    let output = Command::new(objdump)
        .arg("-T")
        .arg(unpacked().join("usr/bin/kockpit"))
        .output()
        .unwrap_or_else(|e| panic!("objdump: {e}"));
    assert!(output.status.success(), "objdump -T failed");
    let symbols = String::from_utf8_lossy(&output.stdout);
    let mut needed: Vec<((u32, u32), String)> = symbols
        .lines()
        .filter_map(|line| {
            let word = line
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .find(|w| w.starts_with("GLIBC_"))?;
            Some((glibc_version(word)?, line.trim().to_string()))
        })
        .collect();
    needed.sort();
    let (newest, line) = needed.last().cloned().expect("the binary links glibc");
    println!("highest GLIBC version needed: {newest:?} ({line})");
    assert!(
        newest <= MAX_GLIBC,
        "the binary needs GLIBC_{}.{} ({line}), newer than Amazon Linux 2023's 2.34",
        newest.0,
        newest.1
    );
}

#[test]
#[ignore = "needs the .deb: run by scripts/package"]
fn completions_load_in_bash_zsh_and_fish() {
    let root = unpacked();
    let bash_file = root.join("usr/share/bash-completion/completions/kockpit");
    let bash = require("bash", "bash");
    run(&bash, &["-n", &bash_file.display().to_string()], None);
    let registered = run(
        &bash,
        &[
            "-c",
            &format!("source '{}' && complete -p kockpit", bash_file.display()),
        ],
        None,
    );
    assert!(registered.contains("kockpit"), "{registered}");

    let zsh = require("zsh", "zsh");
    run(
        &zsh,
        &[
            "-n",
            &root
                .join("usr/share/zsh/vendor-completions/_kockpit")
                .display()
                .to_string(),
        ],
        None,
    );
    let fish = require("fish", "fish");
    let fish_file = root.join("usr/share/fish/vendor_completions.d/kockpit.fish");
    run(
        &fish,
        &["--no-execute", &fish_file.display().to_string()],
        None,
    );
    // Loaded, fish completes the subcommands.
    let offered = run(
        &fish,
        &[
            "-c",
            &format!(
                "source '{}'; complete -C 'kockpit doc'",
                fish_file.display()
            ),
        ],
        None,
    );
    assert!(offered.contains("doctor"), "{offered}");
}

#[test]
#[ignore = "needs the .deb: run by scripts/package"]
fn the_man_page_renders() {
    let man = require("man", "man-db");
    let page = unpacked().join("usr/share/man/man1/kockpit.1.gz");
    let output = Command::new(man)
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .unwrap_or_else(|e| panic!("man -l: {e}"));
    // man formats for a terminal: bold is "c\bc". Keep what is read.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&output.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(
        output.status.success(),
        "man -l failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for needle in ["NAME", "kockpit", "SUBCOMMANDS", "doctor", "completions"] {
        assert!(
            text.contains(needle),
            "the man page lacks {needle}:\n{text}"
        );
    }
}

#[test]
#[ignore = "needs the archive scripts/package builds"]
fn the_krew_manifest_names_the_archive_and_its_checksum() {
    let manifest = std::env::var("KOCKPIT_KREW").unwrap_or_else(|_| {
        panic!("KOCKPIT_KREW is not set: run scripts/package, which renders the krew manifest")
    });
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let plugin: serde_json::Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    assert_eq!(plugin["kind"], "Plugin");
    assert_eq!(plugin["metadata"]["name"], "kockpit");
    assert_eq!(
        plugin["spec"]["version"],
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    let platform = &plugin["spec"]["platforms"][0];
    assert_eq!(platform["bin"], "kockpit");
    let uri = platform["uri"].as_str().unwrap_or_default();
    let archive = uri.strip_prefix("file://").expect("a local archive");
    let sum = Command::new("sha256sum")
        .arg(archive)
        .output()
        .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert_eq!(
        platform["sha256"].as_str(),
        sum.split_whitespace().next(),
        "the manifest's sha256 is the archive's"
    );
    let listing = Command::new("tar")
        .args(["-tzf", archive])
        .output()
        .unwrap_or_else(|e| panic!("tar: {e}"));
    assert!(String::from_utf8_lossy(&listing.stdout).contains("kockpit"));
}
