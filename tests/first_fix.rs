//! The incident first, with its fix, in two keystrokes: in every shipped scenario kockpit runs
//! in tmux with `--demo --allow-writes`, the overview's first line is the incident, `x` opens
//! its fix, `y` (and the object's name where the risk asks for it) applies it, and the screen
//! says it worked within the fix's verification window.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::tmux::TmuxSession;

/// Virtual seconds per real second: the slowest verification window (a flow source's) passes
/// in well under a minute.
const SPEED: &str = "20";
const VERIFY_DEADLINE: Duration = Duration::from_secs(120);

/// The overview's first line, as `kockpit snapshot` lists it.
fn first_finding(scenario: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(["snapshot", "--demo", "--scenario", scenario])
        .env(
            "KOCKPIT_CONFIG_DIR",
            std::env::temp_dir().join("kockpit-first-fix-no-config"),
        )
        .output()
        .expect("kockpit runs");
    assert!(output.status.success(), "kockpit snapshot failed");
    let report: Value = serde_json::from_slice(&output.stdout).expect("snapshot prints JSON");
    report["findings"][0].clone()
}

/// How many objects the first line's fix writes: one, or a batch of several.
#[derive(Clone, Copy, PartialEq)]
enum Objects {
    One,
    Batch,
}

fn applies_the_first_fix(scenario: &str, slug: &str, objects: Objects) {
    let first = first_finding(scenario);
    assert_eq!(first["fix"], slug, "{scenario}: {first:#}");
    let batch = first["fix_batch"].as_array().map_or(0, Vec::len);
    match objects {
        Objects::One => assert_eq!(batch, 0, "{scenario}: {first:#}"),
        Objects::Batch => assert!(batch >= 2, "{scenario}: {first:#}"),
    }
    let name = first["object"]["name"].as_str().expect("object name");
    let session = TmuxSession::start(
        &format!("first-fix-{scenario}"),
        160,
        48,
        &[
            "--demo",
            "--scenario",
            scenario,
            "--allow-writes",
            "--speed",
            SPEED,
        ],
        &[],
    );
    session.wait_for_all("the overview with findings", &["Findings ("]);
    session.send(&["x"]);
    let window = session.wait_for("the fix window with its risk", |s| {
        s.contains("Fix:") && s.contains("risk:")
    });
    assert!(
        window.contains(slug),
        "{scenario}: not the {slug} fix:\n{window}"
    );
    if objects == Objects::Batch {
        assert!(
            window.contains(&format!("{slug} ×{batch}")),
            "{scenario}: not a batch of {batch}:\n{window}"
        );
    }
    session.send(&["y"]);
    // The apply notice may already have given way to the verdict on a fast clock.
    let verified = |s: &str| s.contains(&format!("{slug} on")) && s.contains(": worked");
    let asked = session.wait_for("the apply or the name prompt", |s| {
        s.contains("to apply:") || s.contains(&format!("applied {slug}")) || verified(s)
    });
    if asked.contains("to apply:") {
        session.type_text(name);
        session.send(&["Enter"]);
    }
    let screen = session.wait_longer_for("the fix verified", VERIFY_DEADLINE, verified);
    // Esc and q sent together would read as Alt-q: close a window still open first.
    if screen.contains("Fix:") {
        session.send(&["Escape"]);
        session.wait_for("the fix window to close", |s| !s.contains("Fix:"));
    }
    session.send(&["q"]);
    session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
}

#[test]
fn dns_storm_lowers_ndots_from_the_first_line() {
    applies_the_first_fix("dns-storm", "dns-lower-ndots", Objects::One);
}

#[test]
fn spot_interruption_freezes_disruption_from_the_first_line() {
    applies_the_first_fix("spot-interruption", "nodes-freeze-disruption", Objects::One);
}

#[test]
fn broken_route_rolls_the_canary_back_from_the_first_line() {
    applies_the_first_fix("broken-route", "gateway-rollback-canary", Objects::One);
}

#[test]
fn cross_zone_enables_topology_aware_routing_from_the_first_line() {
    applies_the_first_fix("cross-zone", "flows-topology-aware-routing", Objects::Batch);
}

#[test]
fn overprovisioned_applies_the_requests_from_the_first_line() {
    applies_the_first_fix("overprovisioned", "rightsize-requests", Objects::Batch);
}
