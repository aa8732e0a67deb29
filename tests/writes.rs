//! Writes under concurrency, as a property: kockpit applying and undoing a fix while another
//! writer changes the same object at a random point (before the preview, between preview and
//! apply, between apply and undo), and a second kockpit applying the same fix at once.
//!
//! Whatever the interleaving:
//! - nothing another writer wrote is ever lost (no clobber): a conflict re-reads and re-plans;
//! - the audit line of an apply names the resourceVersion the server holds afterwards;
//! - an undo restores exactly what the fix changed, or is refused when the object moved on,
//!   and a refused undo writes nothing;
//! - of two kockpits applying the same fix, one applies and the other writes nothing.
//!
//! Against `kockpit sim serve` (in process, its clock stopped), a fresh cluster per case.

use std::path::PathBuf;

use kockpit::app::fixes::{self, FixJob, FixOutcome};
use kockpit::backend::live::LiveOptions;
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::writer::{ClusterWriter, Identity, Mode};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::fix::session::PreparedFix;
use kockpit::domain::fix::{Operation, PatchType, PlanContext, Target};
use kockpit::domain::prices::PriceTable;
use kockpit::domain::{Cockpit, Finding};
use proptest::prelude::*;
use serde_json::{Value, json};

mod support;

/// Scenarios whose fixes cover each kind of precondition (resourceVersion, JSON-patch tests).
const SCENARIOS: [&str; 3] = ["overprovisioned", "cross-zone", "dns-storm"];
const OTHER_KEY: &str = "example.com/other-writer";

/// When the other writer changes the object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Other {
    Never,
    BeforePreview,
    BeforeApply,
    BeforeUndo,
}

fn other() -> impl Strategy<Value = Other> {
    prop_oneof![
        Just(Other::Never),
        Just(Other::BeforePreview),
        Just(Other::BeforeApply),
        Just(Other::BeforeUndo),
    ]
}

struct Cluster {
    server: Server,
    kubeconfig: PathBuf,
    dir: PathBuf,
}

async fn cluster(scenario: &str) -> Cluster {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let scenario = scenarios::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let mut options = ServeOptions::new(scenario);
    options.speed = 0.0;
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let dir = support::servers::temp_dir("writes");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    Cluster {
        server,
        kubeconfig,
        dir,
    }
}

fn writer(cluster: &Cluster, user: &str) -> ClusterWriter {
    let options = LiveOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        ..LiveOptions::default()
    };
    ClusterWriter::new(
        kockpit::backend::live::writer::transport(&options),
        Identity {
            user: user.into(),
            context: "kockpit-sim".into(),
        },
    )
}

/// The fixes the simulated cluster offers, as the demo shows them.
async fn offered(cluster: &Cluster) -> (Cockpit, Vec<Finding>) {
    let mut cockpit = Cockpit::new(AnalysisConfig {
        prices: PriceTable::builtin(),
        ..AnalysisConfig::default()
    });
    for update in cluster.server.updates().await {
        cockpit.apply(update);
    }
    let findings = cockpit
        .findings()
        .iter()
        .filter(|f| f.fix.is_some())
        .cloned()
        .collect();
    (cockpit, findings)
}

fn whole(target: &Target) -> Target {
    let mut whole = target.clone();
    whole.subresource = None;
    whole
}

async fn get(writer: &ClusterWriter, target: &Target) -> Option<Value> {
    writer.get(&whole(target)).await.ok()
}

fn resource_version(object: &Option<Value>) -> Option<String> {
    object
        .as_ref()?
        .pointer("/metadata/resourceVersion")?
        .as_str()
        .map(str::to_string)
}

/// The other writer: an annotation of its own, as a controller or a colleague would add.
async fn interfere(writer: &ClusterWriter, target: &Target, value: &str) {
    let operation = Operation::Patch {
        patch_type: PatchType::Merge,
        body: json!({"metadata": {"annotations": {OTHER_KEY: value}}}),
    };
    writer
        .write(&whole(target), &operation, None, Mode::Apply)
        .await
        .unwrap_or_else(|e| panic!("the other writer's patch failed: {e}"));
}

fn other_mark(object: &Option<Value>) -> Option<String> {
    object
        .as_ref()?
        .pointer("/metadata/annotations")?
        .get(OTHER_KEY)?
        .as_str()
        .map(str::to_string)
}

/// What a fix may change and an undo must restore: spec, data, labels and annotations
/// (without the other writer's, and without what the server maintains itself).
fn fixable(object: &Option<Value>) -> Value {
    let Some(object) = object else {
        return Value::Null;
    };
    let mut annotations = object
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(map) = annotations.as_object_mut() {
        map.retain(|key, _| key != OTHER_KEY && !key.starts_with("deployment.kubernetes.io/"));
    }
    json!({
        "spec": object.get("spec"),
        "data": object.get("data"),
        "labels": object.pointer("/metadata/labels"),
        "annotations": annotations,
    })
}

fn audit_log(dir: &std::path::Path) -> PathBuf {
    dir.join("audit.jsonl")
}

/// Applies `prepared`, confirming again after each conflict (as the user would, shown the
/// new preview), at most three times. The object as it was before the final attempt, and
/// the outcome; `None` when a re-plan found nothing left to do.
async fn apply(
    writer: &ClusterWriter,
    mut prepared: PreparedFix,
    finding: &Finding,
    context: &PlanContext,
    audit: &std::path::Path,
) -> (Option<Value>, Option<FixOutcome>) {
    for _ in 0..3 {
        let before = get(writer, &prepared.plan.target).await;
        let outcome = fixes::run(
            writer,
            FixJob::Apply {
                prepared: Box::new(prepared.clone()),
                finding: Box::new(finding.clone()),
                context: Box::new(context.clone()),
            },
            Some(audit),
        )
        .await;
        match outcome {
            FixOutcome::Replanned {
                prepared: again, ..
            } => {
                // A conflict wrote nothing.
                let now = get(writer, &prepared.plan.target).await;
                assert_eq!(resource_version(&now), resource_version(&before));
                if again.blocked().is_some() || again.plan.refusal.is_some() {
                    return (now, None);
                }
                prepared = *again;
            }
            outcome => return (before, Some(outcome)),
        }
    }
    panic!("{}: still conflicting after three re-plans", finding.id)
}

async fn case(scenario: &str, pick: usize, other: Other, second: bool) {
    let cluster = cluster(scenario).await;
    let kockpit = writer(&cluster, "kockpit-a");
    let colleague = writer(&cluster, "kockpit-b");
    let someone = writer(&cluster, "someone-else");
    let audit = audit_log(&cluster.dir);
    let (cockpit, findings) = offered(&cluster).await;
    assert!(!findings.is_empty(), "{scenario}: no fix offered");
    let finding = findings[pick % findings.len()].clone();
    let context = PlanContext::from_cockpit(&cockpit, &finding);
    let target = kockpit::domain::fix::finding_target(&finding);
    let id = format!("{scenario} {} {other:?} second={second}", finding.id);

    if other == Other::BeforePreview {
        interfere(&someone, &target, "before-preview").await;
    }
    let prepared = fixes::prepare(&kockpit, &finding, &context, true)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    if prepared.blocked().is_some() || prepared.plan.refusal.is_some() {
        cluster.server.stop().await;
        return;
    }
    // Creates (a ReferenceGrant, a VPA) have no earlier object to clobber or restore.
    let creates = matches!(prepared.plan.operation, Operation::Create { .. });
    let rival = if second {
        Some(
            fixes::prepare(&colleague, &finding, &context, true)
                .await
                .unwrap_or_else(|e| panic!("{id}: {e}")),
        )
    } else {
        None
    };
    if other == Other::BeforeApply && !creates {
        interfere(&someone, &target, "before-apply").await;
    }
    let written_by_other = |object: &Option<Value>| other_mark(object);
    let mark_before_apply = written_by_other(&get(&someone, &prepared.plan.target).await);

    let (before, outcome) = apply(&kockpit, prepared, &finding, &context, &audit).await;
    // The re-plan found nothing left to do: nothing to undo either.
    let Some(outcome) = outcome else {
        cluster.server.stop().await;
        return;
    };
    let (applied, resource_version_after, uid) = match outcome {
        FixOutcome::Applied {
            prepared,
            resource_version: written,
            uid,
            audit,
        } => {
            let served = get(&kockpit, &prepared.plan.target).await;
            assert_eq!(
                audit.resource_version.as_deref(),
                resource_version(&served).as_deref(),
                "{id}: the audit line names what the server holds"
            );
            // Nothing the other writer wrote is lost.
            assert_eq!(
                written_by_other(&served),
                mark_before_apply,
                "{id}: clobbered"
            );
            (*prepared, written, uid)
        }
        other => panic!("{id}: not applied: {other:?}"),
    };

    // The second kockpit, planned on the object before the first applied: it must write
    // nothing now.
    if let Some(rival) = rival {
        let now = get(&colleague, &applied.plan.target).await;
        let outcome = fixes::run(
            &colleague,
            FixJob::Apply {
                prepared: Box::new(rival),
                finding: Box::new(finding.clone()),
                context: Box::new(context.clone()),
            },
            Some(&audit),
        )
        .await;
        let after = get(&colleague, &applied.plan.target).await;
        assert!(
            !matches!(outcome, FixOutcome::Applied { .. }),
            "{id}: the second kockpit applied too: {outcome:?}"
        );
        assert_eq!(
            resource_version(&after),
            resource_version(&now),
            "{id}: the second kockpit wrote"
        );
    }
    if creates {
        cluster.server.stop().await;
        return;
    }

    if other == Other::BeforeUndo {
        interfere(&someone, &target, "before-undo").await;
    }
    let before_undo = get(&kockpit, &applied.plan.target).await;
    let mark_before_undo = written_by_other(&before_undo);
    let outcome = fixes::run(
        &kockpit,
        FixJob::Undo {
            plan: Box::new(applied.plan.clone()),
            resource_version: resource_version_after,
            uid,
        },
        Some(&audit),
    )
    .await;
    let after_undo = get(&kockpit, &applied.plan.target).await;
    match outcome {
        FixOutcome::Undone { .. } => {
            assert_eq!(
                fixable(&after_undo),
                fixable(&before),
                "{id}: the undo did not restore what the fix changed"
            );
            assert_eq!(
                written_by_other(&after_undo),
                mark_before_undo,
                "{id}: the undo clobbered"
            );
        }
        FixOutcome::UndoFailed { .. } => {
            assert_ne!(
                other,
                Other::Never,
                "{id}: an undo of an untouched object failed"
            );
            assert_eq!(
                resource_version(&after_undo),
                resource_version(&before_undo),
                "{id}: a refused undo wrote"
            );
        }
        other => panic!("{id}: {other:?}"),
    }
    cluster.server.stop().await;
    let _ = std::fs::remove_dir_all(&cluster.dir);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_interleaving_clobbers_loses_the_audit_trail_or_undoes_inexactly(
        scenario in 0..SCENARIOS.len(),
        pick in 0usize..16,
        other in other(),
        second in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(case(SCENARIOS[scenario], pick, other, second));
    }
}
