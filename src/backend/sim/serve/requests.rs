//! Counts of the requests the server has answered, by what they could do to the cluster:
//! tests use them to show that a read-only cockpit never sent a write.

use std::sync::atomic::{AtomicU64, Ordering};

use hyper::Method;
use serde::Serialize;

#[derive(Debug, Default)]
pub struct RequestCounts {
    reads: AtomicU64,
    dry_runs: AtomicU64,
    writes: AtomicU64,
    reviews: AtomicU64,
}

/// A copy of the counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestTally {
    /// GET: get, list and watch.
    pub reads: u64,
    /// Writes sent with `dryRun=All`: checked, never stored.
    pub dry_runs: u64,
    /// Writes that could change the cluster: POST, PUT, PATCH, DELETE without a dry run.
    pub writes: u64,
    /// Self-access reviews (a POST that asks, and changes nothing).
    pub reviews: u64,
}

impl RequestCounts {
    pub fn count(&self, method: &Method, path: &[String], dry_run: bool) {
        let review = path
            .last()
            .is_some_and(|p| p == "selfsubjectaccessreviews" || p == "selfsubjectrulesreviews");
        let counter = if *method == Method::GET || *method == Method::HEAD {
            &self.reads
        } else if review {
            &self.reviews
        } else if dry_run {
            &self.dry_runs
        } else {
            &self.writes
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tally(&self) -> RequestTally {
        RequestTally {
            reads: self.reads.load(Ordering::Relaxed),
            dry_runs: self.dry_runs.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            reviews: self.reviews.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_told_apart_from_dry_runs_and_reviews() {
        let counts = RequestCounts::default();
        let path = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
        counts.count(&Method::GET, &path("api/v1/pods"), false);
        counts.count(
            &Method::PATCH,
            &path("api/v1/namespaces/a/configmaps/b"),
            true,
        );
        counts.count(
            &Method::PATCH,
            &path("api/v1/namespaces/a/configmaps/b"),
            false,
        );
        counts.count(
            &Method::POST,
            &path("apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
            false,
        );
        assert_eq!(
            counts.tally(),
            RequestTally {
                reads: 1,
                dry_runs: 1,
                writes: 1,
                reviews: 1
            }
        );
    }
}
