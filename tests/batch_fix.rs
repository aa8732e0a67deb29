//! A batch plan against kockpit's simulated API server: the same fix on several objects of one
//! cause is previewed with one dry run each, applied one object at a time with its own
//! precondition and audit line, stops at the first object that fails, and is undone as a
//! whole. kubectl-free: the server's objects are read back through kockpit's own transport.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use kockpit::app::audit;
use kockpit::app::fixes::{self, BatchItem, FixJob, FixOutcome, UndoItem};
use kockpit::backend::live::LiveOptions;
use kockpit::backend::sim::scenarios;
use kockpit::backend::sim::serve::{ServeOptions, Server};
use kockpit::backend::writer::{ClusterWriter, Identity, Mode};
use kockpit::domain::cockpit::AnalysisConfig;
use kockpit::domain::fix::batch::{self, PreparedBatch};
use kockpit::domain::fix::session::DryRun;
use kockpit::domain::fix::{Operation, PatchType, PlanContext, Target};
use kockpit::domain::prices::PriceTable;
use kockpit::domain::{Cockpit, Finding, FixKind};
use serde_json::{Value, json};

fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kockpit-batch-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The overprovisioned scenario served, kockpit's writer to it, and the overview's first
/// line: three over-requested Deployments of one namespace, one requests fix.
struct Bed {
    server: Server,
    writer: ClusterWriter,
    cockpit: Cockpit,
    dir: PathBuf,
}

impl Bed {
    async fn start() -> Bed {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let scenario = scenarios::load("overprovisioned").unwrap_or_else(|e| panic!("{e}"));
        let mut options = ServeOptions::new(scenario);
        options.speed = 0.0;
        let server = Server::start(options)
            .await
            .unwrap_or_else(|e| panic!("sim serve: {e}"));
        let dir = scratch("overprovisioned");
        let kubeconfig = dir.join("config");
        std::fs::write(&kubeconfig, server.kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
        let options = LiveOptions {
            kubeconfig: Some(kubeconfig),
            ..LiveOptions::default()
        };
        let writer = ClusterWriter::new(
            kockpit::backend::live::writer::transport(&options),
            Identity {
                user: "batch-test".into(),
                context: "kockpit-sim".into(),
            },
        );
        let mut cockpit = Cockpit::new(AnalysisConfig {
            prices: PriceTable::builtin(),
            ..AnalysisConfig::default()
        });
        for update in server.updates().await {
            cockpit.apply(update);
        }
        Bed {
            server,
            writer,
            cockpit,
            dir,
        }
    }

    fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// The line the overview leads with, and the findings its fix covers, lead first.
    fn batch_findings(&self) -> Vec<Finding> {
        let line = self.cockpit.findings()[0].clone();
        assert_eq!(line.fix, Some(FixKind::RightsizeRequests), "{line:#?}");
        let mut findings: Vec<Finding> = batch::members_sharing_fix(&line)
            .into_iter()
            .map(|member| {
                self.cockpit
                    .finding(&member.id)
                    .cloned()
                    .unwrap_or_else(|| panic!("{} is not among the panes' findings", member.id))
            })
            .collect();
        findings.insert(0, line);
        assert!(findings.len() >= 3, "a batch of three: {findings:#?}");
        findings
    }

    async fn prepare(&self) -> PreparedBatch {
        let items = self
            .batch_findings()
            .into_iter()
            .map(|f| {
                let context = PlanContext::from_cockpit(&self.cockpit, &f);
                (f, context)
            })
            .collect();
        let job = FixJob::PrepareBatch {
            items,
            writes_allowed: true,
        };
        match fixes::run(&self.writer, job, Some(&self.audit_log())).await {
            FixOutcome::BatchPrepared(batch) => *batch,
            other => panic!("no batch: {other:#?}"),
        }
    }

    fn items(&self, batch: &PreparedBatch) -> Vec<BatchItem> {
        batch
            .to_apply()
            .into_iter()
            .map(|prepared| {
                let finding = self
                    .cockpit
                    .finding(&prepared.finding_id)
                    .cloned()
                    .unwrap_or_else(|| panic!("{}", prepared.finding_id));
                BatchItem {
                    prepared: prepared.clone(),
                    context: PlanContext::from_cockpit(&self.cockpit, &finding),
                    finding,
                }
            })
            .collect()
    }

    async fn get(&self, target: &Target) -> Value {
        let mut whole = target.clone();
        whole.subresource = None;
        self.writer
            .get(&whole)
            .await
            .unwrap_or_else(|e| panic!("GET {}: {e}", whole.describe()))
    }

    /// The containers' requests, as the fix changes them.
    async fn requests(&self, target: &Target) -> Value {
        self.get(target).await["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|containers| {
                containers
                    .iter()
                    .map(|c| c["resources"]["requests"].clone())
                    .collect()
            })
            .unwrap_or(Value::Null)
    }

    /// Someone else annotates the object between the plan and the apply.
    async fn interfere(&self, target: &Target) {
        let mut whole = target.clone();
        whole.subresource = None;
        let annotate = Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"metadata": {"annotations": {"example.com/touched-by": "someone"}}}),
        };
        self.writer
            .write(&whole, &annotate, None, Mode::Apply)
            .await
            .unwrap_or_else(|e| panic!("annotating {}: {e}", whole.describe()));
    }

    /// (fix id's object, result) of every audit line, in order.
    fn audited(&self) -> Vec<(String, String)> {
        audit::read(&self.audit_log())
            .into_iter()
            .map(|e| (e.object, format!("{} {}", e.action, e.result)))
            .collect()
    }

    async fn stop(self) {
        self.server.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn undo_items(outcomes: &[FixOutcome]) -> Vec<UndoItem> {
    let mut items: Vec<UndoItem> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            FixOutcome::Applied {
                prepared,
                resource_version,
                uid,
                ..
            } => Some(UndoItem {
                plan: prepared.plan.clone(),
                resource_version: resource_version.clone(),
                uid: uid.clone(),
            }),
            _ => None,
        })
        .collect();
    items.reverse();
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_applies_every_object_and_undoes_as_a_whole() {
    let bed = Bed::start().await;
    let batch = bed.prepare().await;
    assert!(batch.is_batch(), "{batch:#?}");
    assert!(batch.unplanned.is_empty(), "{:#?}", batch.unplanned);
    for prepared in batch.plans() {
        assert_eq!(prepared.dry_run, DryRun::Passed, "{}", prepared.plan.id);
    }
    assert_eq!(batch.blocked(), None);
    let targets: Vec<Target> = batch
        .to_apply()
        .iter()
        .map(|p| p.plan.target.clone())
        .collect();
    let mut before = Vec::new();
    for target in &targets {
        before.push(bed.requests(target).await);
    }

    let job = FixJob::ApplyBatch {
        batch: batch.lead.plan.id.clone(),
        items: bed.items(&batch),
    };
    let outcome = fixes::run(&bed.writer, job, Some(&bed.audit_log())).await;
    let FixOutcome::BatchApplied {
        outcomes,
        not_tried,
        ..
    } = outcome
    else {
        panic!("not a batch outcome: {outcome:#?}");
    };
    assert!(not_tried.is_empty(), "{not_tried:?}");
    assert_eq!(outcomes.len(), targets.len(), "{outcomes:#?}");
    for (target, was) in targets.iter().zip(&before) {
        assert_ne!(
            &bed.requests(target).await,
            was,
            "{} kept its requests",
            target.describe()
        );
    }
    // One line announcing each write before it is sent; the caller writes the outcomes' own.
    let announced: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.describe(), "apply applying".to_string()))
        .collect();
    assert_eq!(bed.audited(), announced);

    let undone = fixes::run(
        &bed.writer,
        FixJob::UndoBatch {
            items: undo_items(&outcomes),
        },
        Some(&bed.audit_log()),
    )
    .await;
    let FixOutcome::BatchUndone { outcomes } = undone else {
        panic!("not a batch undo: {undone:#?}");
    };
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, FixOutcome::Undone { .. })),
        "{outcomes:#?}"
    );
    for (target, was) in targets.iter().zip(&before) {
        assert_eq!(
            &bed.requests(target).await,
            was,
            "{} not restored",
            target.describe()
        );
    }
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_at_the_first_object_that_fails_and_undoes_what_it_wrote() {
    let bed = Bed::start().await;
    let batch = bed.prepare().await;
    let targets: Vec<Target> = batch
        .to_apply()
        .iter()
        .map(|p| p.plan.target.clone())
        .collect();
    assert!(targets.len() >= 3, "{targets:#?}");
    let mut before = Vec::new();
    for target in &targets {
        before.push(bed.requests(target).await);
    }
    // The second object changes under the plan: its precondition fails, nothing after it
    // is tried.
    bed.interfere(&targets[1]).await;

    let job = FixJob::ApplyBatch {
        batch: batch.lead.plan.id.clone(),
        items: bed.items(&batch),
    };
    let outcome = fixes::run(&bed.writer, job, Some(&bed.audit_log())).await;
    let FixOutcome::BatchApplied {
        outcomes,
        not_tried,
        ..
    } = &outcome
    else {
        panic!("not a batch outcome: {outcome:#?}");
    };
    assert_eq!(outcomes.len(), 2, "{outcomes:#?}");
    assert!(matches!(outcomes[0], FixOutcome::Applied { .. }));
    assert!(
        matches!(outcomes[1], FixOutcome::Replanned { .. }),
        "{:#?}",
        outcomes[1]
    );
    let rest: Vec<String> = targets[2..].iter().map(Target::describe).collect();
    assert_eq!(not_tried, &rest);
    // Every outcome carries its own audit line: applied, then the conflict.
    let results: Vec<String> = outcome
        .audits()
        .iter()
        .map(|e| format!("{} {}", e.object, e.result))
        .collect();
    assert_eq!(
        results,
        [
            format!("{} applied", targets[0].describe()),
            format!("{} conflict", targets[1].describe()),
        ]
    );
    assert_ne!(bed.requests(&targets[0]).await, before[0]);
    for (target, was) in targets.iter().zip(&before).skip(1) {
        assert_eq!(
            &bed.requests(target).await,
            was,
            "{} was written",
            target.describe()
        );
    }

    let undone = fixes::run(
        &bed.writer,
        FixJob::UndoBatch {
            items: undo_items(outcomes),
        },
        Some(&bed.audit_log()),
    )
    .await;
    assert!(
        matches!(&undone, FixOutcome::BatchUndone { outcomes } if outcomes.len() == 1
            && matches!(outcomes[0], FixOutcome::Undone { .. })),
        "{undone:#?}"
    );
    for (target, was) in targets.iter().zip(&before) {
        assert_eq!(
            &bed.requests(target).await,
            was,
            "{} not as before",
            target.describe()
        );
    }
    bed.stop().await;
}
