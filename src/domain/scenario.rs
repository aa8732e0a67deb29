//! Scenario files for the simulator (`assets/scenarios/*.toml`): their shape and parser.
//!
//! STUB: filled in by the simulator work.
