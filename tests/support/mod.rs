//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod aws;
pub mod backfill;
pub mod moto;
pub mod servers;
pub mod tmux;
