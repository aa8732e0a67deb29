//! Every shipped scenario shows its incident: `kockpit snapshot --demo --scenario S` is run
//! as a user would run it, and its JSON must carry the incident in the figures and in the
//! findings (and `baseline` must have no critical finding).

use std::process::Command;

use serde_json::Value;

fn snapshot(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .arg("snapshot")
        .arg("--demo")
        .args(args)
        .env(
            "KOCKPIT_CONFIG_DIR",
            std::env::temp_dir().join("kockpit-scenarios-no-config"),
        )
        .env(
            "KOCKPIT_STATE_DIR",
            std::env::temp_dir().join("kockpit-scenarios-state"),
        )
        .output()
        .expect("kockpit runs");
    assert!(
        output.status.success(),
        "kockpit snapshot {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("snapshot prints JSON")
}

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in the report"))
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

/// Findings of `pane` at `severity` or worse, those folded into another line included.
fn findings_of<'a>(report: &'a Value, pane: &str, at_least_critical: bool) -> Vec<&'a Value> {
    findings(report)
        .iter()
        .flat_map(|f| std::iter::once(f).chain(f["members"].as_array().into_iter().flatten()))
        .filter(|f| f["pane"] == pane)
        .filter(|f| !at_least_critical || f["severity"] == "critical")
        .collect()
}

fn summaries(findings: &[&Value]) -> String {
    findings
        .iter()
        .map(|f| f["summary"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn has_fix(findings: &[&Value], fix: &str) -> bool {
    findings.iter().any(|f| f["fix"] == fix)
}

/// The overview's first line (the snapshot lists findings in its order) is the incident
/// and carries its fix.
fn assert_first_finding(scenario: &str, id_start: &str, fix: &str) {
    let report = snapshot(&["--scenario", scenario]);
    let first = &findings(&report)[0];
    let id = first["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with(id_start) && first["fix"] == fix,
        "{scenario}: the first finding should be {id_start}… with {fix}, got {first:#}"
    );
    assert!(
        first["impact"].as_object().is_some_and(|i| !i.is_empty()),
        "{scenario}: the first finding says what it costs: {first:#}"
    );
}

#[test]
fn every_scenario_leads_with_its_incident_and_its_fix() {
    assert_first_finding(
        "dns-storm",
        "dns/ndots/search/feed-crawler",
        "dns-lower-ndots",
    );
    assert_first_finding(
        "spot-interruption",
        "nodes/spot-interruptions/general",
        "nodes-freeze-disruption",
    );
    assert_first_finding("broken-route", "gateways/", "gateway-rollback-canary");
    assert_first_finding(
        "cross-zone",
        "flows/topology-aware-routing/",
        "flows-topology-aware-routing",
    );
    assert_first_finding(
        "overprovisioned",
        "rightsizing/over-provisioned/analytics/",
        "rightsize-requests",
    );
    // Symptoms are folded under the cause, not listed again.
    let storm = snapshot(&["--scenario", "dns-storm"]);
    let members: Vec<&str> = findings(&storm)[0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for symptom in [
        "dns/latency-p99",
        "dns/cache-hit-ratio",
        "dns/nxdomain-ratio",
    ] {
        assert!(
            members.contains(&symptom),
            "{symptom} not folded: {members:?}"
        );
    }
}

#[test]
fn baseline_is_healthy() {
    let report = snapshot(&["--scenario", "baseline"]);
    let critical: Vec<_> = findings(&report)
        .iter()
        .filter(|f| f["severity"] == "critical")
        .collect();
    assert!(
        critical.is_empty(),
        "baseline has critical findings: {critical:#?}"
    );
    assert!(number(&report, "/dns/cache_hit_ratio") > 0.8);
    assert!(number(&report, "/dns/p99_ms") < 50.0);
    assert_eq!(number(&report, "/nodes/pending_pods"), 0.0);
}

#[test]
fn dns_storm_shows_latency_and_nxdomain() {
    let report = snapshot(&["--scenario", "dns-storm"]);
    assert!(number(&report, "/dns/nxdomain_ratio") > 0.5);
    assert!(number(&report, "/dns/cache_hit_ratio") < 0.5);
    assert!(number(&report, "/dns/p99_ms") > 100.0);
    let dns = findings_of(&report, "dns", false);
    let text = summaries(&dns).to_lowercase();
    assert!(text.contains("p99"), "a latency finding:\n{text}");
    assert!(text.contains("nxdomain"), "an NXDOMAIN finding:\n{text}");
    assert!(
        !findings_of(&report, "dns", true).is_empty(),
        "the storm is critical"
    );
    assert!(
        has_fix(&dns, "dns-cache-profile"),
        "the cache profile is offered"
    );
    assert!(
        has_fix(&dns, "dns-lower-ndots"),
        "lowering ndots is offered"
    );
}

#[test]
fn spot_interruption_shows_churn_and_pending_pods() {
    let report = snapshot(&["--scenario", "spot-interruption"]);
    assert!(number(&report, "/nodes/terminated_last_hour") >= 10.0);
    assert!(number(&report, "/nodes/launched_last_hour") >= 1.0);
    assert!(number(&report, "/nodes/pending_pods") >= 1.0);
    assert!(number(&report, "/nodes/provisioning_p95_s") > 180.0);
    let reasons = &report["nodes"]["disruption_reasons"];
    assert!(
        reasons
            .get("SpotInterrupted")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            >= 10.0,
        "reasons: {reasons}"
    );
    let nodes = findings_of(&report, "nodes", true);
    assert!(!nodes.is_empty(), "the interruption wave is critical");
    assert!(has_fix(
        &findings_of(&report, "nodes", false),
        "nodes-freeze-disruption"
    ));
}

#[test]
fn broken_route_names_the_route_and_its_reason() {
    let report = snapshot(&["--scenario", "broken-route"]);
    let routes = report["gateways"]["routes"].as_array().expect("routes");
    let refused = routes
        .iter()
        .find(|r| r["resolved_refs"] == false)
        .expect("a route with unresolved refs");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("RefNotPermitted"),
        "reason: {}",
        refused["reason"]
    );
    let dead = routes
        .iter()
        .find(|r| r["ready_backends"] == 0 && r["resolved_refs"] == true)
        .expect("a route whose backend has no ready endpoints");
    let gateways = findings_of(&report, "gateways", false);
    let named = |route: &Value| {
        gateways.iter().any(|f| {
            f["object"]["name"] == route["name"] && f["object"]["namespace"] == route["namespace"]
        })
    };
    assert!(named(refused), "a finding names the refused route");
    assert!(named(dead), "a finding names the route without endpoints");
    assert!(has_fix(&gateways, "gateway-create-reference-grant"));
}

#[test]
fn cross_zone_shows_the_share_and_its_cost() {
    let report = snapshot(&["--scenario", "cross-zone"]);
    assert!(number(&report, "/flows/cross_zone_ratio") >= 0.6);
    assert!(number(&report, "/flows/cross_zone_usd_per_month") >= 100.0);
    let flows = findings_of(&report, "flows", false);
    assert!(
        has_fix(&flows, "flows-topology-aware-routing"),
        "{}",
        summaries(&flows)
    );
}

#[test]
fn overprovisioned_shows_the_waste() {
    let report = snapshot(&["--scenario", "overprovisioned"]);
    let workloads = report["rightsizing"]["workloads"]
        .as_array()
        .expect("workloads");
    let wasteful: Vec<_> = workloads
        .iter()
        .filter(|w| {
            let request = w["cpu_request_m"].as_f64().unwrap_or(0.0);
            let p95 = w["cpu_p95_m"].as_f64().unwrap_or(f64::MAX);
            request >= 3.0 * p95 && w["monthly_waste_usd"].as_f64().unwrap_or(0.0) > 0.0
        })
        .collect();
    assert!(
        wasteful.len() >= 2,
        "several workloads request 3x+ their p95"
    );
    let rightsizing = findings_of(&report, "rightsizing", false);
    assert!(
        has_fix(&rightsizing, "rightsize-requests"),
        "{}",
        summaries(&rightsizing)
    );
}

#[test]
fn the_same_seed_gives_the_same_snapshot() {
    let first = snapshot(&[
        "--scenario",
        "spot-interruption",
        "--seed",
        "9",
        "--at",
        "10m",
    ]);
    let second = snapshot(&[
        "--scenario",
        "spot-interruption",
        "--seed",
        "9",
        "--at",
        "10m",
    ]);
    assert_eq!(first, second);
    let later = snapshot(&[
        "--scenario",
        "spot-interruption",
        "--seed",
        "9",
        "--at",
        "20m",
    ]);
    assert_ne!(first["at"], later["at"], "--at moves the clock");
}

#[test]
fn markdown_snapshot_is_readable() {
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args([
            "snapshot",
            "--demo",
            "--scenario",
            "dns-storm",
            "--format",
            "md",
        ])
        .env(
            "KOCKPIT_CONFIG_DIR",
            std::env::temp_dir().join("kockpit-scenarios-no-config"),
        )
        .output()
        .expect("kockpit runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with('#'), "a Markdown heading first:\n{text}");
    assert!(text.contains("DNS"));
}

#[test]
fn scenarios_command_lists_every_scenario() {
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .arg("scenarios")
        .output()
        .expect("kockpit runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for name in [
        "baseline",
        "dns-storm",
        "spot-interruption",
        "broken-route",
        "cross-zone",
        "overprovisioned",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} is listed:\n{text}"));
        assert!(line.len() > name.len() + 10, "{name} has a description");
    }
}

#[test]
fn a_malformed_scenario_file_is_reported_with_its_line() {
    let path =
        std::env::temp_dir().join(format!("kockpit-bad-scenario-{}.toml", std::process::id()));
    std::fs::write(&path, "name = \"bad\"\ndescription = \"x\"\nregion = 42\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(["snapshot", "--demo", "--scenario"])
        .arg(&path)
        .output()
        .expect("kockpit runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&path.display().to_string()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains("line 3"), "names the line: {stderr}");
    let _ = std::fs::remove_file(&path);
}

/// The scenario that once grew to 10 GB in 30 s: now one line naming the file, the line,
/// the field and the limit, before the simulator builds anything. Its time and memory are
/// measured in BENCHMARKS.md (`/usr/bin/time -v`), not asserted here.
#[test]
fn a_hundred_million_replicas_end_in_one_line_naming_the_file_and_the_limit() {
    let path = std::env::temp_dir().join(format!(
        "kockpit-absurd-scenario-{}.toml",
        std::process::id()
    ));
    std::fs::write(
        &path,
        "name = \"absurd\"\ndescription = \"A hundred million replicas\"\nextends = \"baseline\"\n\n[workloads.catalog]\nreplicas = 100000000\n",
    )
    .expect("write");
    for command in [
        &["snapshot", "--demo", "--scenario"][..],
        &["--scenario"][..],
    ] {
        let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        args.push(path.display().to_string());
        if command.len() == 1 {
            args.extend(["sim", "serve"].map(String::from));
        }
        let output = Command::new(env!("CARGO_BIN_EXE_kockpit"))
            .args(&args)
            .output()
            .expect("kockpit runs");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim(),
            format!(
                "kockpit: {}: line 6, column 1: workload `catalog`: replicas 100000000 is over kockpit's limit of 100000 replicas (a workload's replicas or HPA maximum)",
                path.display()
            ),
            "{args:?}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

/// The regional-failover pair, read side by side as `kockpit snapshot` reads a fleet: the
/// failing region loses zone a's nodes and returns 5xx; the receiving region, against the
/// same cluster on a calm day, has more traffic, DNS queries, nodes and spend, and pods
/// pending at its NodePool's limit, whose fix leads.
#[test]
fn regional_failover_pair_shows_a_failing_and_a_receiving_region() {
    let fleet = snapshot(&[
        "--scenario",
        "regional-failover-euw1,regional-failover-euc1",
        "--at",
        "10m",
    ]);
    let clusters = fleet["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0]["context"], "regional-failover-euw1");
    let (failing, receiving) = (&clusters[0], &clusters[1]);
    let calm = snapshot(&["--scenario", "baseline", "--at", "10m"]);
    for cluster in clusters {
        assert_eq!(
            cluster["at"], calm["at"],
            "--at moves every cluster's clock"
        );
    }

    assert_eq!(failing["region"], "eu-west-1");
    let errors = summaries(&findings_of(failing, "gateways", true));
    assert!(
        errors.contains("storefront") && errors.contains("checkout"),
        "{errors}"
    );
    let churn = summaries(&findings_of(failing, "nodes", true));
    assert!(churn.contains("spot interruptions"), "{churn}");
    assert!(number(failing, "/nodes/count") < number(&calm, "/nodes/count"));

    assert_eq!(receiving["region"], "eu-central-1");
    assert_eq!(
        receiving["findings"][0]["fix"], "nodes-raise-limit",
        "{:#}",
        receiving["findings"][0]
    );
    assert!(number(receiving, "/nodes/pending_pods") > 0.0);
    for figure in ["/dns/qps", "/nodes/count", "/spend/run_rate_usd_per_hour"] {
        assert!(
            number(receiving, figure) > number(&calm, figure),
            "{figure}: {} against {} on a calm day",
            number(receiving, figure),
            number(&calm, figure)
        );
    }
    let rows = fleet["comparison"].as_array().expect("comparison");
    let requests = |row: &Value| row["requests_per_sec"].as_f64().expect("requests/s");
    assert!(
        requests(&rows[1]) > 1.5 * requests(&rows[0]),
        "the receiving region takes the traffic: {rows:#?}"
    );
}
