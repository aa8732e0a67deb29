//! Pane snapshots assembled from compact projections of cluster objects. Pure: the live
//! backend keeps a `ClusterObjects` store up to date from its watchers and calls these
//! functions; tests build the store by hand or from fixtures.

pub mod dns;
pub mod flows;
pub mod gateways;
pub mod nodes;
pub mod objects;
pub mod pods;
pub mod quantity;
pub mod workloads;

pub use dns::dns;
pub use flows::{flows, flows_observed};
pub use gateways::gateways;
pub use nodes::nodes;
pub use objects::*;
pub use workloads::workloads;
