//! kockpit: a terminal cockpit for the on-call engineer of an Amazon EKS cluster.
//!
//! Data flows one way: a backend (sim, live or replay) produces `domain::Update`s, the app
//! applies them to its state in `app::update`, and `ui::render` draws that state.
//! `domain` depends on nothing else in the crate; `ui` and `backend` depend on `domain`;
//! `app` ties them together.

pub mod app;
pub mod backend;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod ui;
