//! The CoreDNS Corefile parser.
//!
//! STUB: filled in by the analysis work.
