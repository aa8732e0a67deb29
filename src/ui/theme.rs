//! Colour themes: semantic roles (ok, warn, crit, muted…) mapped to styles, loaded from
//! `themes/*.toml` and user files that override them by merging.
//!
//! STUB: filled in by the UI work.

/// The styles every part of the UI draws with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Theme {}
