//! The snapshot report (`kockpit snapshot`): every pane's figures and the findings, as JSON
//! or Markdown.
//!
//! STUB: filled in by the analysis work.
