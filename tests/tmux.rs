//! The real binary, driven in tmux as a person would drive it: start the demo, switch
//! panes, open help, quit, at 80×24 and 160×48, with and without colour.

mod support;

use support::tmux::TmuxSession;

/// Walks through every screen, opens and closes help and a finding's evidence, then quits,
/// checking the screen at each step and that the terminal is given back.
fn tour(name: &str, width: u16, height: u16) {
    let session = TmuxSession::start(
        name,
        width,
        height,
        &["--demo", "--scenario", "dns-storm", "--seed", "3"],
        &[],
    );
    assert_eq!(session.size(), format!("{width}x{height}"));

    // The banner names the source once the simulator has delivered its first state.
    session.wait_for_all(
        "the overview with every pane's health line",
        &[
            "SIMULATED",
            "Overview",
            "DNS",
            "Gateways",
            "East-West",
            "Nodes",
            "Right-sizing",
            "Spend",
            "qps",
        ],
    );

    // The DNS storm shows on the DNS pane.
    session.send(&["1"]);
    session.wait_for_all("the DNS pane", &["NXDOMAIN", "CoreDNS"]);

    session.send(&["Tab"]);
    session.wait_for_all("the Gateways pane", &["Routes"]);
    session.send(&["Tab"]);
    session.wait_for_all("the East-West pane", &["cross-zone"]);
    session.send(&["Tab"]);
    session.wait_for_all("the Nodes pane", &["NodePool"]);
    session.send(&["Tab"]);
    session.wait_for_all("the Right-sizing pane", &["p95"]);
    session.send(&["Tab"]);
    session.wait_for_all("the Spend pane", &["/h"]);
    session.send(&["BTab", "BTab", "BTab", "BTab", "BTab"]);
    session.wait_for_all("back on the DNS pane", &["NXDOMAIN", "CoreDNS"]);

    // Help is generated from the key map's descriptions.
    session.send(&["?"]);
    session.wait_for_all("the help overlay", &["Quit kockpit", "Next pane"]);
    session.send(&["Escape"]);
    session.wait_for("help to close", |screen| !screen.contains("Quit kockpit"));

    // A finding's evidence opens with Enter.
    session.send(&["Enter"]);
    session.wait_for_all("the finding detail", &["evidence", "threshold"]);
    session.send(&["Escape"]);
    session.wait_for("the detail to close", |screen| {
        !screen.contains("threshold")
    });

    session.send(&["q"]);
    let after = session.wait_for_all("kockpit to exit cleanly", &["KOCKPIT-EXITED-0"]);
    assert!(
        !after.contains("Right-sizing"),
        "the alternate screen was left, so the cockpit is gone:\n{after}"
    );
}

#[test]
fn tour_at_80x24() {
    tour("small", 80, 24);
}

#[test]
fn tour_at_160x48() {
    tour("large", 160, 48);
}

/// True if the captured screen contains an SGR sequence that sets a colour (30–38, 40–48,
/// 90–97, 100–107), as opposed to bold, reverse, underline, or 39/49 which put the
/// terminal's own default colours back.
fn has_colour_codes(screen: &str) -> bool {
    let mut rest = screen;
    while let Some(start) = rest.find("\x1b[") {
        let after = &rest[start + 2..];
        let end = after.find('m').unwrap_or(after.len());
        let params = &after[..end];
        let colour = params.split(';').any(|p| {
            matches!(
                p.parse::<u16>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        if colour {
            return true;
        }
        rest = &after[end.min(after.len())..];
    }
    false
}

#[test]
fn no_color_means_no_colour_codes() {
    let session = TmuxSession::start(
        "nocolor",
        160,
        48,
        &["--demo", "--scenario", "broken-route"],
        &[("NO_COLOR", "1")],
    );
    session.wait_for_all(
        "the overview with data",
        &["SIMULATED", "Gateways", "routes"],
    );
    for key in ["1", "2", "3", "4", "5", "6", "?"] {
        session.send(&[key]);
        // Let the screen settle on the new pane, then inspect it with escapes.
        session.wait_for("the screen to change", |screen| !screen.trim().is_empty());
        let screen = session.screen_with_escapes();
        assert!(
            !has_colour_codes(&screen),
            "NO_COLOR is set but the screen after `{key}` has colour codes:\n{screen:?}"
        );
    }
    // Esc and q sent together would read as Alt-q: close the help first.
    session.send(&["Escape"]);
    session.wait_for("help to close", |screen| !screen.contains("Quit kockpit"));
    session.send(&["q"]);
    session.wait_for_all("kockpit to exit", &["KOCKPIT-EXITED-0"]);
}

#[test]
fn colour_is_used_when_allowed() {
    // The counterpart of the NO_COLOR test: without it the same screen is coloured, so the
    // check above is not passing by accident.
    let session = TmuxSession::start(
        "colour",
        160,
        48,
        &["--demo", "--scenario", "broken-route"],
        &[],
    );
    session.wait_for_all("the overview", &["Overview", "Gateways"]);
    let screen = session.screen_with_escapes();
    assert!(has_colour_codes(&screen), "expected colours:\n{screen:?}");
    session.send(&["q"]);
}

#[test]
fn colour_code_detection() {
    assert!(has_colour_codes("\x1b[38;5;2mok"));
    assert!(has_colour_codes("\x1b[1;31mred"));
    assert!(!has_colour_codes(
        "\x1b[1mbold\x1b[0m \x1b[7mreverse\x1b[27m"
    ));
}
