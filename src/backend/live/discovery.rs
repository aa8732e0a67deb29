//! Which optional APIs the cluster serves: Gateway API, Karpenter, the VPA. Asked once at
//! start (and retried while the API server cannot answer), before their watchers start.

use std::collections::BTreeMap;

use kube::Client;

use super::crds::{self, CrdKind};

/// The CRD kinds whose group, version and resource the server lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Installed {
    pub kinds: Vec<CrdKind>,
    /// Every API group the server serves, with its versions (for `kockpit doctor`).
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Installed {
    pub fn has(&self, kind: CrdKind) -> bool {
        self.kinds.contains(&kind)
    }
}

/// Every CRD kind kockpit can read.
pub const WANTED: [CrdKind; 9] = [
    crds::GATEWAY_CLASS,
    crds::GATEWAY,
    crds::HTTP_ROUTE,
    crds::GRPC_ROUTE,
    crds::REFERENCE_GRANT,
    crds::NODE_POOL,
    crds::NODE_CLAIM,
    crds::EC2_NODE_CLASS,
    crds::VPA,
];

pub async fn discover(client: &Client) -> Result<Installed, kube::Error> {
    let groups = client.list_api_groups().await?;
    let served = |gv: &str| {
        groups
            .groups
            .iter()
            .flat_map(|g| g.versions.iter())
            .any(|v| v.group_version == gv)
    };
    let mut installed = Installed {
        groups: groups
            .groups
            .iter()
            .map(|g| {
                let versions = g.versions.iter().map(|v| v.version.clone()).collect();
                (g.name.clone(), versions)
            })
            .collect(),
        ..Installed::default()
    };
    let mut checked: Vec<(String, Vec<String>)> = Vec::new();
    for kind in WANTED {
        let group_version = kind.group_version();
        if !served(&group_version) {
            continue;
        }
        let resources = match checked.iter().find(|(gv, _)| *gv == group_version) {
            Some((_, resources)) => resources.clone(),
            None => {
                let list = client.list_api_group_resources(&group_version).await?;
                let names: Vec<String> = list.resources.into_iter().map(|r| r.name).collect();
                checked.push((group_version.clone(), names.clone()));
                names
            }
        };
        if resources.iter().any(|r| r == kind.plural) {
            installed.kinds.push(kind);
        }
    }
    Ok(installed)
}
