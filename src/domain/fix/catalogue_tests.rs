//! Every fix of the catalogue on a fixture object: its patch, precondition, diff, risk and
//! verification; apply then undo gives the object back; and the refusals.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::CrossZoneNow;
use super::fixtures::*;
use super::plan::*;
use super::{PlanContext, PlanError, apply_to, export, plan};
use crate::domain::corefile;
use crate::domain::finding::FixKind;
use crate::domain::model::{FlowUnit, ObjectRef};

fn coredns_cm() -> ObjectRef {
    ObjectRef::namespaced("ConfigMap", "kube-system", "coredns")
}

fn coredns_deploy() -> ObjectRef {
    ObjectRef::namespaced("Deployment", "kube-system", "coredns")
}

fn checkout() -> ObjectRef {
    ObjectRef::namespaced("Deployment", "shop", "checkout")
}

fn dns_context() -> PlanContext {
    PlanContext {
        dns: Some(dns_snapshot()),
        dns_client: dns_snapshot()
            .metrics
            .and_then(|m| m.nxdomain_sources.first().cloned()),
        schedulable_nodes: 3,
        zones: vec![
            "us-east-1a".into(),
            "us-east-1b".into(),
            "us-east-1c".into(),
        ],
        ..PlanContext::default()
    }
}

fn patch_body(plan: &FixPlan) -> &Value {
    match &plan.operation {
        Operation::Patch { body, .. } | Operation::Create { body } => body,
        Operation::Delete => panic!("no body"),
    }
}

fn patch_type(plan: &FixPlan) -> Option<PatchType> {
    match &plan.operation {
        Operation::Patch { patch_type, .. } => Some(*patch_type),
        _ => None,
    }
}

// ---- DNS ------------------------------------------------------------------------------

#[test]
fn dns_cache_profile_rewrites_only_the_cache_settings() {
    let object = load(COREDNS_CONFIGMAP);
    let plan = plan(
        &finding(FixKind::DnsCacheProfile, coredns_cm()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    assert_eq!(plan.refusal, None);
    assert_eq!(plan.id, "test/coredns#dns-cache-profile");
    assert_eq!(patch_type(&plan), Some(PatchType::Merge));
    assert_eq!(
        plan.precondition,
        Precondition::ResourceVersion("48213".into())
    );
    let body = patch_body(&plan);
    assert_eq!(body["metadata"]["resourceVersion"], "48213");
    let rendered = body["data"]["Corefile"].as_str().expect("Corefile text");
    let expected = ".:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    # cluster names
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 2000
    }
    cache 30 {
        success 10000 30
        denial 9984 10
        prefetch 5 60s
    }
    loop
    reload
    loadbalance
}
";
    assert_eq!(rendered, expected);
    let settings = corefile::parse(rendered).expect("parses").settings();
    assert!(settings.has_recommended_cache_profile());
    assert_eq!(plan.diff.len(), 1);
    assert_eq!(plan.diff[0].path, "data.Corefile");
    assert_eq!(plan.risk, Risk::Medium);
    assert_eq!(plan.confirmation, Confirmation::TypeName("coredns".into()));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("EKS add-on manager"))
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::DnsCacheHitRises {
            target: 0.8,
            from: Some(0.42),
            p99_from_ms: dns_context().dns.and_then(|d| d.metrics).map(|m| m.p99_ms),
        }
    );
    // `cache 30` has the plugin's 9984-entry denial cache: the profile does not shrink it.
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("keeps its 9984 entries")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(
        plan.verify.before[0],
        ("cache hit ratio".into(), "42%".into())
    );
    assert!(plan.blast_radius.contains("2 CoreDNS replicas reload"));
    assert_undo_restores(&plan, &object);
}

#[test]
fn dns_cache_profile_refuses_a_corefile_it_cannot_parse() {
    let mut object = load(COREDNS_CONFIGMAP);
    object["data"]["Corefile"] = json!(".:53 {\n    cache 30\n    forward . \"/etc/resolv.conf\n");
    let plan = plan(
        &finding(FixKind::DnsCacheProfile, coredns_cm()),
        &object,
        &dns_context(),
    )
    .expect("a refused plan");
    let refusal = plan.refusal.as_deref().expect("refused");
    assert!(refusal.contains("does not parse"), "{refusal}");
    assert!(plan.diff.is_empty());
    assert!(plan.inverse.is_none());
}

#[test]
fn dns_cache_profile_refuses_when_already_applied() {
    let object = load(COREDNS_CONFIGMAP);
    let first = plan(
        &finding(FixKind::DnsCacheProfile, coredns_cm()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    let applied = apply_to(&object, &first.operation).expect("applies");
    let again = plan(
        &finding(FixKind::DnsCacheProfile, coredns_cm()),
        &applied,
        &dns_context(),
    )
    .expect("a refused plan");
    assert!(
        again
            .refusal
            .as_deref()
            .is_some_and(|r| r.contains("nothing to change"))
    );
}

#[test]
fn dns_scale_goes_through_the_scale_subresource() {
    let object = load(COREDNS_DEPLOYMENT);
    let mut context = dns_context();
    if let Some(m) = context.dns.as_mut().and_then(|d| d.metrics.as_mut()) {
        m.qps = 20_000.0;
    }
    let plan = plan(
        &finding(FixKind::DnsScaleReplicas, coredns_deploy()),
        &object,
        &context,
    )
    .expect("a plan");
    assert_eq!(plan.target.subresource.as_deref(), Some("scale"));
    assert_eq!(patch_type(&plan), Some(PatchType::Merge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "51877"}, "spec": {"replicas": 4}})
    );
    assert_eq!(plan.risk, Risk::Low);
    assert_eq!(plan.confirmation, Confirmation::PressY);
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::ReadyReplicasAtLeast { replicas: 4 }
    );
    assert_eq!(plan.diff.len(), 1);
    assert_eq!(plan.diff[0].before, Some(json!(2)));
    assert_eq!(plan.diff[0].after, Some(json!(4)));
    assert!(plan.warnings.iter().any(|w| w.contains("EKS add-on")));
    let inverse = plan.inverse.as_ref().expect("undo");
    assert_eq!(inverse.precondition, Precondition::ResourceVersionFromApply);
    assert_eq!(
        plan.undo_operation("60000"),
        Some(Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"spec": {"replicas": 2}, "metadata": {"resourceVersion": "60000"}}),
        })
    );
    assert_undo_restores(&plan, &object);
    assert!(export::kubectl_command(&plan).contains("--subresource=scale"));
}

#[test]
fn dns_scale_adds_at_least_one_replica() {
    let object = load(COREDNS_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::DnsScaleReplicas, coredns_deploy()),
        &object,
        &PlanContext::default(),
    )
    .expect("a plan");
    assert_eq!(patch_body(&plan)["spec"]["replicas"], 3);
}

#[test]
fn dns_spread_adds_hostname_and_zone_constraints() {
    let object = load(COREDNS_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::DnsSpreadReplicas, coredns_deploy()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::StrategicMerge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "51877"}, "spec": {"template": {"spec": {"topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        ]}}}})
    );
    assert_eq!(plan.risk, Risk::Medium);
    assert_eq!(plan.blast_radius, "2 CoreDNS replicas restart (rollout)");
    assert!(plan.warnings.iter().any(|w| w.contains("lameduck is 5 s")));
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::DnsReplicasOnDistinctNodes
    );
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::StrategicMerge,
            body: json!({"spec": {"template": {"spec": {"topologySpreadConstraints": null}}}}),
        })
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn dns_spread_refuses_with_too_few_nodes() {
    let object = load(COREDNS_DEPLOYMENT);
    let context = PlanContext {
        schedulable_nodes: 1,
        ..dns_context()
    };
    let plan = plan(
        &finding(FixKind::DnsSpreadReplicas, coredns_deploy()),
        &object,
        &context,
    )
    .expect("a refused plan");
    assert!(
        plan.refusal
            .as_deref()
            .is_some_and(|r| r.contains("only 1 schedulable nodes"))
    );
}

#[test]
fn dns_memory_limit_is_one_and_a_half_times_the_peak() {
    let object = load(COREDNS_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::DnsRaiseMemoryLimit, coredns_deploy()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::StrategicMerge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "51877"}, "spec": {"template": {"spec": {"containers": [
            {"name": "coredns", "resources": {"limits": {"memory": "225Mi"}}}
        ]}}}})
    );
    assert_eq!(
        plan.diff,
        vec![FieldChange {
            path: "spec.template.spec.containers[coredns].resources.limits.memory".into(),
            before: Some(json!("170Mi")),
            after: Some(json!("225Mi")),
        }]
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::DnsMemoryBelowLimit {
            limit_mib: 225,
            share: 0.8
        }
    );
    let after = assert_undo_restores(&plan, &object);
    // The other container fields stay as they were.
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["readinessProbe"],
        object["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    );
}

#[test]
fn dns_memory_limit_refuses_when_already_high_enough() {
    let object = load(COREDNS_DEPLOYMENT);
    let mut context = dns_context();
    if let Some(dns) = context.dns.as_mut() {
        for pod in &mut dns.pods {
            pod.memory_mib = Some(90.0);
        }
    }
    let plan = plan(
        &finding(FixKind::DnsRaiseMemoryLimit, coredns_deploy()),
        &object,
        &context,
    )
    .expect("a refused plan");
    assert!(plan.refusal.is_some());
}

#[test]
fn ndots_goes_into_the_pod_template_keeping_other_options() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::DnsLowerNdots, checkout()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::StrategicMerge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "90211"}, "spec": {"template": {"spec": {"dnsConfig": {"options": [
            {"name": "single-request-reopen"}, {"name": "timeout", "value": "2"}, {"name": "ndots", "value": "2"}
        ]}}}}})
    );
    assert_eq!(plan.risk, Risk::Medium);
    assert_eq!(plan.confirmation, Confirmation::TypeName("checkout".into()));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("Argo CD (application shop-checkout)"))
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::NxdomainBelow {
            namespace: "shop".into(),
            workload: "checkout".into(),
            ratio: 0.4
        }
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn ndots_without_dns_config_is_removed_again_on_undo() {
    let mut object = load(CHECKOUT_DEPLOYMENT);
    if let Some(spec) = object
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
    {
        spec.remove("dnsConfig");
    }
    let plan = plan(
        &finding(FixKind::DnsLowerNdots, checkout()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::StrategicMerge,
            body: json!({"spec": {"template": {"spec": {"dnsConfig": null}}}}),
        })
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn ndots_refuses_when_already_low() {
    let mut object = load(CHECKOUT_DEPLOYMENT);
    object["spec"]["template"]["spec"]["dnsConfig"]["options"] =
        json!([{"name": "ndots", "value": "1"}]);
    let plan = plan(
        &finding(FixKind::DnsLowerNdots, checkout()),
        &object,
        &dns_context(),
    )
    .expect("a refused plan");
    assert_eq!(plan.refusal.as_deref(), Some("ndots is already 1"));
}

// ---- Gateways -------------------------------------------------------------------------

#[test]
fn reference_grant_is_created_in_the_backend_namespace() {
    let object = load(HTTPROUTE_CROSS_NAMESPACE);
    let context = PlanContext {
        route: Some(route(
            "storefront",
            vec![backend("payments-api", "payments", 1, 3)],
        )),
        ..PlanContext::default()
    };
    let finding = finding(
        FixKind::GatewayCreateReferenceGrant,
        ObjectRef::namespaced("HTTPRoute", "shop", "storefront"),
    );
    let plan = plan(&finding, &object, &context).expect("a plan");
    assert_eq!(
        plan.operation,
        Operation::Create {
            body: json!({
                "apiVersion": "gateway.networking.k8s.io/v1beta1",
                "kind": "ReferenceGrant",
                "metadata": {"name": "kockpit-storefront", "namespace": "payments"},
                "spec": {
                    "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop"}],
                    "to": [{"group": "", "kind": "Service", "name": "payments-api"}]
                }
            })
        }
    );
    assert_eq!(plan.target.resource, "referencegrants");
    assert_eq!(plan.target.namespace.as_deref(), Some("payments"));
    assert_eq!(plan.precondition, Precondition::MustNotExist);
    assert_eq!(
        plan.inverse,
        Some(Inverse {
            operation: Operation::Delete,
            precondition: Precondition::ResourceVersionFromApply
        })
    );
    assert_eq!(plan.risk, Risk::Medium);
    assert_eq!(
        plan.confirmation,
        Confirmation::TypeName("kockpit-storefront".into())
    );
    assert!(
        plan.diff
            .iter()
            .any(|c| c.path.starts_with("spec.to") && c.before.is_none())
    );
    assert!(plan.warnings[0].contains("security boundary"));
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::RouteAccepted {
            namespace: "shop".into(),
            name: "storefront".into()
        }
    );
    assert_undo_restores(&plan, &object);
    let command = export::kubectl_command(&plan);
    assert!(
        command.starts_with(
            "kubectl create -n payments --field-manager=kockpit -f - <<'KOCKPIT_EOF'\n"
        )
    );
    assert!(command.ends_with("\nKOCKPIT_EOF"));
}

#[test]
fn reference_grant_refuses_a_route_without_cross_namespace_backends() {
    let object = load(HTTPROUTE_CANARY);
    let finding = finding(
        FixKind::GatewayCreateReferenceGrant,
        ObjectRef::namespaced("HTTPRoute", "shop", "checkout"),
    );
    let plan = plan(&finding, &object, &PlanContext::default()).expect("a refused plan");
    assert!(plan.refusal.is_some());
}

fn canary_context(stable_ready: u32) -> PlanContext {
    PlanContext {
        route: Some(route(
            "checkout",
            vec![
                backend("checkout", "shop", 90, stable_ready),
                backend("checkout-canary", "shop", 10, 0),
                backend("cart", "shop", 1, 2),
            ],
        )),
        ..PlanContext::default()
    }
}

#[test]
fn canary_rollback_is_a_json_patch_with_test_ops() {
    let object = load(HTTPROUTE_CANARY);
    let finding = finding(
        FixKind::GatewayRollbackCanary,
        ObjectRef::namespaced("HTTPRoute", "shop", "checkout"),
    );
    let plan = plan(&finding, &object, &canary_context(3)).expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::Json));
    assert_eq!(
        patch_body(&plan),
        &json!([
            {"op": "test", "path": "/spec/rules/0/backendRefs/0/name", "value": "checkout"},
            {"op": "test", "path": "/spec/rules/0/backendRefs/0/weight", "value": 90},
            {"op": "test", "path": "/spec/rules/0/backendRefs/1/name", "value": "checkout-canary"},
            {"op": "test", "path": "/spec/rules/0/backendRefs/1/weight", "value": 10},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 100},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 0}
        ])
    );
    assert!(matches!(&plan.precondition, Precondition::JsonTest(tests) if tests.len() == 4));
    assert_eq!(plan.risk, Risk::Low);
    assert_eq!(
        plan.blast_radius,
        "1 route, 10% of its traffic moves from checkout-canary to checkout"
    );
    assert_eq!(
        plan.diff,
        vec![
            FieldChange {
                path: "spec.rules[0].backendRefs[checkout].weight".into(),
                before: Some(json!(90)),
                after: Some(json!(100)),
            },
            FieldChange {
                path: "spec.rules[0].backendRefs[checkout-canary].weight".into(),
                before: Some(json!(10)),
                after: Some(json!(0)),
            },
        ]
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::CanaryDrained {
            namespace: "shop".into(),
            name: "checkout".into(),
            canaries: vec!["checkout-canary".into()]
        }
    );
    assert_undo_restores(&plan, &object);

    // Someone moved the canary to 20% in between: the patch fails rather than overwrite it.
    let mut changed = object.clone();
    changed["spec"]["rules"][0]["backendRefs"][1]["weight"] = json!(20);
    assert!(apply_to(&changed, &plan.operation).is_err());
}

#[test]
fn canary_rollback_refuses_when_the_stable_backend_is_not_ready() {
    let object = load(HTTPROUTE_CANARY);
    let finding = finding(
        FixKind::GatewayRollbackCanary,
        ObjectRef::namespaced("HTTPRoute", "shop", "checkout"),
    );
    let plan = plan(&finding, &object, &canary_context(0)).expect("a refused plan");
    assert!(
        plan.refusal
            .as_deref()
            .is_some_and(|r| r.contains("no ready endpoints"))
    );
}

// ---- East-West ------------------------------------------------------------------------

fn payments() -> ObjectRef {
    ObjectRef::namespaced("Service", "payments", "payments-api")
}

fn tar_context(counts: &[(&str, u32)]) -> PlanContext {
    PlanContext {
        service: Some(service(counts)),
        zones: vec![
            "us-east-1a".into(),
            "us-east-1b".into(),
            "us-east-1c".into(),
        ],
        service_cross_zone: Some(CrossZoneNow {
            per_sec: 5_000_000.0,
            unit: FlowUnit::Bytes,
            measured: true,
            window: Duration::from_secs(300),
        }),
        ..PlanContext::default()
    }
}

#[test]
fn topology_aware_routing_sets_the_annotation() {
    let object = load(SERVICE_PAYMENTS);
    let context = tar_context(&[("us-east-1a", 2), ("us-east-1b", 2), ("us-east-1c", 3)]);
    let plan = plan(
        &finding(FixKind::FlowsTopologyAwareRouting, payments()),
        &object,
        &context,
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "66020", "annotations": {"service.kubernetes.io/topology-mode": "Auto"}}})
    );
    assert_eq!(plan.risk, Risk::Medium);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("Flux Kustomization payments"))
    );
    // The annotation was "Disabled": undo puts that back, not nothing.
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"metadata": {"annotations": {"service.kubernetes.io/topology-mode": "Disabled"}}}),
        })
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::ZoneHintsPresent {
            namespace: "payments".into(),
            name: "payments-api".into(),
            cross_zone_before: Some(5_000_000.0),
        }
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn topology_aware_routing_uses_traffic_distribution_on_new_clusters() {
    let object = load(SERVICE_PAYMENTS);
    let context = PlanContext {
        kubernetes_minor: Some(32),
        ..tar_context(&[("us-east-1a", 1), ("us-east-1b", 2), ("us-east-1c", 3)])
    };
    let plan = plan(
        &finding(FixKind::FlowsTopologyAwareRouting, payments()),
        &object,
        &context,
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan)["spec"],
        json!({"trafficDistribution": "PreferClose"})
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("fewer than 2 ready endpoints in us-east-1a (1)"))
    );
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"spec": {"trafficDistribution": null}}),
        })
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn topology_aware_routing_refuses_a_zone_without_endpoints() {
    let object = load(SERVICE_PAYMENTS);
    let context = tar_context(&[("us-east-1a", 4), ("us-east-1b", 3)]);
    let plan = plan(
        &finding(FixKind::FlowsTopologyAwareRouting, payments()),
        &object,
        &context,
    )
    .expect("a refused plan");
    let refusal = plan.refusal.as_deref().expect("refused");
    assert!(
        refusal.starts_with("zone us-east-1c has no ready endpoints"),
        "{refusal}"
    );
}

// ---- Nodes ----------------------------------------------------------------------------

fn general() -> ObjectRef {
    ObjectRef::cluster_scoped("NodePool", "general")
}

#[test]
fn freeze_replaces_the_budgets_and_undo_restores_the_old_list() {
    let object = load(NODEPOOL_GENERAL);
    let context = PlanContext {
        nodes_in_pool: 12,
        ..PlanContext::default()
    };
    let plan = plan(
        &finding(FixKind::NodesFreezeDisruption, general()),
        &object,
        &context,
    )
    .expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::Merge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "120455"}, "spec": {"disruption": {"budgets": [{"nodes": "0"}]}}})
    );
    assert_eq!(
        plan.precondition,
        Precondition::ResourceVersion("120455".into())
    );
    assert_eq!(plan.target.namespace, None);
    assert_eq!(plan.target.resource, "nodepools");
    assert_eq!(plan.risk, Risk::Low);
    assert_eq!(plan.confirmation, Confirmation::PressY);
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"spec": {"disruption": {"budgets": [
                {"nodes": "10%"},
                {"nodes": "0", "schedule": "0 9 * * 1-5", "duration": "8h", "reasons": ["Drifted"]}
            ]}}}),
        })
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::DisruptionsStopped {
            nodepool: "general".into()
        }
    );
    assert!(plan.blast_radius.contains("12 nodes"));
    assert_undo_restores(&plan, &object);
    assert_eq!(
        export::kubectl_command(&plan),
        r#"kubectl patch nodepools.karpenter.sh general --field-manager=kockpit --type merge -p '{"metadata":{"resourceVersion":"120455"},"spec":{"disruption":{"budgets":[{"nodes":"0"}]}}}'"#
    );
}

#[test]
fn freeze_refuses_a_pool_already_frozen() {
    let mut object = load(NODEPOOL_GENERAL);
    object["spec"]["disruption"]["budgets"] = json!([{"nodes": "0"}]);
    let plan = plan(
        &finding(FixKind::NodesFreezeDisruption, general()),
        &object,
        &PlanContext::default(),
    )
    .expect("a refused plan");
    assert!(
        plan.refusal
            .as_deref()
            .is_some_and(|r| r.contains("already frozen"))
    );
}

#[test]
fn consolidation_toggles_to_stability_mode() {
    let object = load(NODEPOOL_GENERAL);
    let plan = plan(
        &finding(FixKind::NodesConsolidationPolicy, general()),
        &object,
        &PlanContext::default(),
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "120455"}, "spec": {"disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "300s"}}})
    );
    assert_eq!(plan.risk, Risk::Low);
    assert_undo_restores(&plan, &object);

    let stable = apply_to(&object, &plan.operation).expect("applies");
    let back = super::plan(
        &finding(FixKind::NodesConsolidationPolicy, general()),
        &stable,
        &PlanContext::default(),
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&back)["spec"]["disruption"],
        json!({"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "30s"})
    );
    assert_eq!(back.risk, Risk::Medium);
}

#[test]
fn raise_limit_adds_a_quarter() {
    let object = load(NODEPOOL_GENERAL);
    let context = PlanContext {
        pending_pods: 7,
        usd_per_core_hour: Some(0.04),
        ..PlanContext::default()
    };
    let plan = plan(
        &finding(FixKind::NodesRaiseLimit, general()),
        &object,
        &context,
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "120455"}, "spec": {"limits": {"cpu": "125"}}})
    );
    assert_eq!(plan.risk, Risk::Medium);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("25 cores") && w.contains("$730/month"))
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::NoPendingPodsFor {
            nodepool: "general".into(),
            cpu_limit: 125.0
        }
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn raise_limit_refuses_a_pool_without_a_limit() {
    let mut object = load(NODEPOOL_GENERAL);
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("limits");
    }
    let plan = plan(
        &finding(FixKind::NodesRaiseLimit, general()),
        &object,
        &PlanContext::default(),
    )
    .expect("a refused plan");
    assert!(plan.refusal.is_some());
}

// ---- Right-sizing ---------------------------------------------------------------------

fn rightsizing_context(rows: Vec<crate::domain::model::WorkloadUsage>) -> PlanContext {
    PlanContext {
        vpa_update_mode: rows
            .iter()
            .find_map(|w| w.vpa.as_ref().map(|v| v.update_mode.clone())),
        workload: rows,
        ..PlanContext::default()
    }
}

#[test]
fn requests_are_set_on_the_named_container() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::RightsizeRequests, checkout()),
        &object,
        &rightsizing_context(vec![workload_row("app")]),
    )
    .expect("a plan");
    assert_eq!(patch_type(&plan), Some(PatchType::StrategicMerge));
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "90211"}, "spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "resources": {
                "requests": {"cpu": "360m", "memory": "768Mi"},
                "limits": {"memory": "1152Mi", "cpu": null}
            }
        }]}}}})
    );
    assert_eq!(plan.risk, Risk::Medium);
    let paths: Vec<&str> = plan.diff.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "spec.template.spec.containers[app].resources.limits.cpu",
            "spec.template.spec.containers[app].resources.limits.memory",
            "spec.template.spec.containers[app].resources.requests.cpu",
            "spec.template.spec.containers[app].resources.requests.memory",
        ]
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("memory is lowered"))
    );
    assert_eq!(
        plan.verify.condition,
        VerifyCondition::RequestsApplied {
            namespace: "shop".into(),
            workload: "checkout".into(),
            container: "app".into(),
            cpu_request_m: 360,
            memory_request_mib: 768,
            oom_kills_before: 0
        }
    );
    let after = assert_undo_restores(&plan, &object);
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][1],
        object["spec"]["template"]["spec"]["containers"][1],
        "the envoy container is untouched"
    );
}

#[test]
fn requests_refuse_when_a_vpa_owns_them() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let mut row = workload_row("app");
    row.vpa = Some(crate::domain::model::VpaAdvice {
        update_mode: "Auto".into(),
        cpu_target_m: 250.0,
        memory_target_mib: 512.0,
    });
    let plan = plan(
        &finding(FixKind::RightsizeRequests, checkout()),
        &object,
        &rightsizing_context(vec![row]),
    )
    .expect("a refused plan");
    assert!(
        plan.refusal
            .as_deref()
            .is_some_and(|r| r.contains("Auto mode"))
    );
}

#[test]
fn cpu_limit_removal_nulls_the_limit_and_undo_puts_it_back() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::RightsizeRemoveCpuLimit, checkout()),
        &object,
        &rightsizing_context(vec![workload_row("app")]),
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "90211"}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"cpu": null}}}
        ]}}}})
    );
    assert_eq!(plan.risk, Risk::Low);
    assert_eq!(plan.diff[0].before, Some(json!("2")));
    assert_eq!(plan.diff[0].after, None);
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::StrategicMerge,
            body: json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "resources": {"limits": {"cpu": "2"}}}
            ]}}}}),
        })
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn cpu_limit_removal_refuses_a_container_without_one() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let mut row = workload_row("envoy");
    row.cpu_limit_m = None;
    let plan = plan(
        &finding(FixKind::RightsizeRemoveCpuLimit, checkout()),
        &object,
        &rightsizing_context(vec![row]),
    )
    .expect("a refused plan");
    assert_eq!(
        plan.refusal.as_deref(),
        Some("container envoy has no CPU limit")
    );
}

#[test]
fn vpa_is_created_in_recommendation_mode() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::RightsizeCreateVpa, checkout()),
        &object,
        &PlanContext::default(),
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({
            "apiVersion": "autoscaling.k8s.io/v1",
            "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "checkout-vpa", "namespace": "shop"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
                "updatePolicy": {"updateMode": "Off"},
                "resourcePolicy": {"containerPolicies": [{
                    "containerName": "*",
                    "minAllowed": {"cpu": "50m", "memory": "64Mi"},
                    "maxAllowed": {"cpu": "8000m", "memory": "32Gi"}
                }]}
            }
        })
    );
    assert_eq!(plan.precondition, Precondition::MustNotExist);
    assert_eq!(plan.risk, Risk::Low);
    assert_eq!(plan.target.resource, "verticalpodautoscalers");
    // Ownership warnings are about the object written; the VPA is new.
    assert!(!plan.warnings.iter().any(|w| w.contains("Argo CD")));
    assert_undo_restores(&plan, &object);
}

#[test]
fn vpa_refuses_when_one_exists() {
    let object = load(CHECKOUT_DEPLOYMENT);
    let context = PlanContext {
        vpa_update_mode: Some("Off".into()),
        ..PlanContext::default()
    };
    let plan = plan(
        &finding(FixKind::RightsizeCreateVpa, checkout()),
        &object,
        &context,
    )
    .expect("a refused plan");
    assert!(plan.refusal.is_some());
}

// ---- Spend ----------------------------------------------------------------------------

#[test]
fn cost_labels_are_proposed_from_the_namespace_name() {
    let object = load(NAMESPACE_SEARCH);
    let search = ObjectRef::cluster_scoped("Namespace", "search");
    let plan = plan(
        &finding(FixKind::SpendCostLabels, search),
        &object,
        &PlanContext::default(),
    )
    .expect("a plan");
    assert_eq!(
        patch_body(&plan),
        &json!({"metadata": {"resourceVersion": "3301", "labels": {"team": "search", "cost-center": "search"}}})
    );
    assert_eq!(plan.risk, Risk::Low);
    assert!(plan.warnings[0].contains("proposed from the namespace name"));
    assert_eq!(
        plan.inverse.as_ref().map(|i| i.operation.clone()),
        Some(Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"metadata": {"labels": {"team": null, "cost-center": null}}}),
        })
    );
    assert_undo_restores(&plan, &object);
}

#[test]
fn cost_labels_refuse_a_labelled_namespace() {
    let mut object = load(NAMESPACE_SEARCH);
    object["metadata"]["labels"]["team"] = json!("search");
    object["metadata"]["labels"]["cost-center"] = json!("cc-1");
    let search = ObjectRef::cluster_scoped("Namespace", "search");
    let plan = plan(
        &finding(FixKind::SpendCostLabels, search),
        &object,
        &PlanContext::default(),
    )
    .expect("a refused plan");
    assert!(plan.refusal.is_some());
}

// ---- Errors and export ----------------------------------------------------------------

#[test]
fn a_finding_without_a_fix_or_about_another_object_is_an_error() {
    let object = load(COREDNS_CONFIGMAP);
    let mut no_fix = finding(FixKind::DnsCacheProfile, coredns_cm());
    no_fix.fix = None;
    assert_eq!(
        plan(&no_fix, &object, &PlanContext::default()),
        Err(PlanError::NoFix("test/coredns".into()))
    );
    let other = finding(
        FixKind::DnsCacheProfile,
        ObjectRef::namespaced("ConfigMap", "kube-system", "other"),
    );
    assert!(matches!(
        plan(&other, &object, &PlanContext::default()),
        Err(PlanError::WrongObject { .. })
    ));
    let mut no_rv = object.clone();
    if let Some(metadata) = no_rv.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    assert_eq!(
        plan(
            &finding(FixKind::DnsCacheProfile, coredns_cm()),
            &no_rv,
            &dns_context()
        ),
        Err(PlanError::MissingField("metadata.resourceVersion".into()))
    );
}

#[test]
fn patch_file_names_the_target_and_precondition_and_carries_the_body() {
    let object = load(COREDNS_DEPLOYMENT);
    let plan = plan(
        &finding(FixKind::DnsRaiseMemoryLimit, coredns_deploy()),
        &object,
        &dns_context(),
    )
    .expect("a plan");
    let file = export::patch_file(&plan);
    assert!(file.contains("# target: Deployment kube-system/coredns [apps/v1]"));
    assert!(file.contains("# precondition: metadata.resourceVersion 51877"));
    assert!(file.contains("# patch type: application/strategic-merge-patch+json"));
    let body: String = file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let parsed: Value = serde_json::from_str(&body).expect("the body is JSON");
    assert_eq!(&parsed, patch_body(&plan));
    let command = export::kubectl_command(&plan);
    assert!(command.starts_with(
        "kubectl patch deployments.apps coredns -n kube-system --field-manager=kockpit --type strategic -p '"
    ));
}

#[test]
fn every_plan_serialises_for_the_audit_log() {
    let object = load(NODEPOOL_GENERAL);
    let plan = plan(
        &finding(FixKind::NodesFreezeDisruption, general()),
        &object,
        &PlanContext::default(),
    )
    .expect("a plan");
    let text = serde_json::to_string(&plan).expect("serialises");
    let back: FixPlan = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, plan);
}
