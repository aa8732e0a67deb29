//! The built-in simulated EKS cluster: the default when no cluster is at hand, the training
//! ground, and the test bed. Deterministic for a seed; virtual time moves in fixed steps.

mod alerts;
pub mod catalog;
mod corefile;
mod curves;
mod dns;
mod engine;
pub mod exposition;
pub mod flowlogs;
mod flows;
mod gateways;
mod history;
mod karpenter;
mod names;
pub mod objects;
mod rng;
mod runner;
pub mod scenarios;
mod scheduler;
pub mod serve;
mod state;
mod traffic;
mod workloads;
mod writes;

pub use engine::{STEP_SECONDS, SimCluster, scenario_t0};
pub use history::initial_updates;
pub use runner::{MAX_SPEED, Pacer, SimBackend};
pub use scenarios::ScenarioSummary;

#[cfg(test)]
mod facts;
