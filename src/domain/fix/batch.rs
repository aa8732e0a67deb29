//! One fix on several objects of one cause (topology-aware routing on five Services,
//! requests on three Deployments): which objects a line's fix covers, and the batch as the
//! fix window previews it, with one dry run and one permission per object and a single
//! confirmation. Applying goes one object at a time, each with its own precondition and
//! audit line, and stops at the first failure; the app does that from these values.

use serde::{Deserialize, Serialize};

use super::plan::{Confirmation, Risk};
use super::session::PreparedFix;
use crate::domain::finding::{Finding, Member};

/// The most objects one batch plans and writes. A namespace with hundreds of over-requests
/// is not one change to review on a screen; the rest stay on their own lines.
pub const MAX_BATCH: usize = 20;

/// The members of `line` its fix applies to as well: the same fix kind on an object of
/// their own, each object once, in the order triage ranked them. Empty when the line's fix
/// is for it alone.
pub fn members_sharing_fix(line: &Finding) -> Vec<&Member> {
    let Some(kind) = line.fix else {
        return Vec::new();
    };
    let mut objects = vec![&line.object];
    let mut shared = Vec::new();
    for member in &line.members {
        if member.fix != Some(kind) || objects.contains(&&member.object) {
            continue;
        }
        objects.push(&member.object);
        shared.push(member);
        if shared.len() + 1 >= MAX_BATCH {
            break;
        }
    }
    shared
}

/// A member of a batch that could not be planned (its object is gone, unreadable, or does
/// not fit the fix). The others are still offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unplanned {
    pub finding_id: String,
    pub object: String,
    pub error: String,
}

/// The fix window's content: the line's own plan first, then the others of the batch. A
/// single fix is a batch with no others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedBatch {
    pub lead: PreparedFix,
    pub others: Vec<PreparedFix>,
    pub unplanned: Vec<Unplanned>,
}

impl PreparedBatch {
    pub fn single(lead: PreparedFix) -> Self {
        PreparedBatch {
            lead,
            others: Vec::new(),
            unplanned: Vec::new(),
        }
    }

    /// From the plans made, in order; `None` when none could be made.
    pub fn from_plans(mut plans: Vec<PreparedFix>, unplanned: Vec<Unplanned>) -> Option<Self> {
        if plans.is_empty() {
            return None;
        }
        let lead = plans.remove(0);
        Some(PreparedBatch {
            lead,
            others: plans,
            unplanned,
        })
    }

    pub fn is_batch(&self) -> bool {
        !self.others.is_empty()
    }

    /// Every plan, the lead first.
    pub fn plans(&self) -> impl Iterator<Item = &PreparedFix> {
        std::iter::once(&self.lead).chain(&self.others)
    }

    /// The plans that write something: a refused plan (nothing to change, or a hard
    /// precondition failed) is shown but skipped.
    pub fn to_apply(&self) -> Vec<&PreparedFix> {
        self.plans().filter(|p| !p.plan.is_refused()).collect()
    }

    /// The highest risk among the plans that write.
    pub fn risk(&self) -> Risk {
        self.to_apply()
            .iter()
            .map(|p| p.plan.risk)
            .max()
            .unwrap_or(self.lead.plan.risk)
    }

    /// One confirmation for the whole batch, as for its riskiest write; the name to type is
    /// the lead's, the object the line names.
    pub fn confirmation(&self) -> Confirmation {
        if !self.is_batch() {
            return self.lead.plan.confirmation.clone();
        }
        let lead = self
            .to_apply()
            .first()
            .map(|p| p.plan.target.name.clone())
            .unwrap_or_else(|| self.lead.plan.target.name.clone());
        Confirmation::for_risk(self.risk(), &lead)
    }

    /// Why the batch cannot be applied from here, if it cannot. A batch is applied whole or
    /// not at all: one object the server would refuse, or the user may not change, blocks it,
    /// so nothing is half-done by design.
    pub fn blocked(&self) -> Option<String> {
        if !self.is_batch() {
            return self.lead.blocked();
        }
        let writes = self.to_apply();
        if writes.is_empty() {
            return Some(format!(
                "nothing to change: none of the {} objects needs this fix",
                self.others.len() + 1
            ));
        }
        for prepared in writes {
            if let Some(why) = prepared.blocked() {
                if !prepared.writes_allowed {
                    return Some(why);
                }
                return Some(format!("{}: {why}", prepared.plan.target.describe()));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::{FixKind, Fold, Severity};
    use crate::domain::fix::fixtures::prepared_service_fix as prepared;
    use crate::domain::fix::session::DryRun;
    use crate::domain::model::{ObjectRef, Pane};

    fn line(fix: Option<FixKind>, name: &str) -> Finding {
        Finding {
            id: format!("flows/topology-aware-routing/shop/{name}"),
            pane: Pane::Flows,
            severity: Severity::Warning,
            summary: String::new(),
            evidence: Vec::new(),
            object: ObjectRef::namespaced("Service", "shop", name),
            fix,
            impact: Default::default(),
            members: Vec::new(),
        }
    }

    fn member(of: &Finding) -> Member {
        Member {
            id: of.id.clone(),
            fold: Fold::Symptom,
            pane: of.pane,
            severity: of.severity,
            summary: of.summary.clone(),
            object: of.object.clone(),
            fix: of.fix,
        }
    }

    const TAR: FixKind = FixKind::FlowsTopologyAwareRouting;

    #[test]
    fn members_with_the_same_fix_on_other_objects_join_the_batch_once_each() {
        let mut lead = line(Some(TAR), "catalog");
        let symptom = line(None, "ratio");
        let other_fix = line(Some(FixKind::RightsizeRequests), "cart");
        let same_object = line(Some(TAR), "catalog");
        let redis = line(Some(TAR), "redis");
        lead.members = [&symptom, &other_fix, &same_object, &redis, &redis]
            .into_iter()
            .map(member)
            .collect();
        let names: Vec<&str> = members_sharing_fix(&lead)
            .iter()
            .map(|m| m.object.name.as_str())
            .collect();
        assert_eq!(names, ["redis"]);
        assert!(members_sharing_fix(&line(None, "x")).is_empty());
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_objects() {
        let mut lead = line(Some(TAR), "lead");
        lead.members = (0..MAX_BATCH * 2)
            .map(|i| member(&line(Some(TAR), &format!("s{i}"))))
            .collect();
        assert_eq!(members_sharing_fix(&lead).len() + 1, MAX_BATCH);
    }

    #[test]
    fn the_batch_is_confirmed_as_its_riskiest_write_with_the_lead_s_name() {
        let batch = PreparedBatch::from_plans(
            vec![
                prepared("catalog", Risk::Low),
                prepared("redis", Risk::Medium),
            ],
            Vec::new(),
        )
        .unwrap_or_else(|| panic!("two plans make a batch"));
        assert!(batch.is_batch());
        assert_eq!(batch.risk(), Risk::Medium);
        assert_eq!(
            batch.confirmation(),
            Confirmation::TypeName("catalog".into())
        );
        assert_eq!(batch.blocked(), None);
        assert!(PreparedBatch::from_plans(Vec::new(), Vec::new()).is_none());
    }

    #[test]
    fn one_object_the_server_refuses_blocks_the_whole_batch_and_names_it() {
        let mut refused = prepared("redis", Risk::Low);
        refused.dry_run = DryRun::Failed("admission webhook denied".into());
        let batch =
            PreparedBatch::from_plans(vec![prepared("catalog", Risk::Low), refused], Vec::new())
                .unwrap_or_else(|| panic!("two plans make a batch"));
        let why = batch.blocked().unwrap_or_default();
        assert!(why.starts_with("Service shop/redis:"), "{why}");
        assert!(why.contains("admission webhook denied"), "{why}");

        let mut off = batch.clone();
        off.lead.writes_allowed = false;
        off.others[0] = prepared("redis", Risk::Low);
        off.others[0].writes_allowed = false;
        let why = off.blocked().unwrap_or_default();
        assert!(why.starts_with("writes are off"), "{why}");
    }
}
