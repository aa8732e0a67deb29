//! The application: state, messages, the update function, the loop that runs effects, and
//! configuration and key map resolution. The only place where backend, domain and ui meet.

pub mod audit;
pub mod config;
pub mod crash;
pub mod export;
pub mod fix_cli;
pub mod fix_flow;
pub mod fixes;
pub mod fleet;
pub mod keymap;
pub mod logging;
pub mod message;
pub mod record;
pub mod runner;
pub mod snapshot;
pub mod state;
pub mod timeline;
pub mod update;
