//! The built-in simulated EKS cluster: the default when no cluster is at hand, the training
//! ground, and the test bed.
//!
//! STUB: filled in by the simulator work.
