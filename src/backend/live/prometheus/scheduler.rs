//! When each query runs: the "now" queries every refresh, a pane's long-window (7-day)
//! percentiles at most once per period as one request and cached in between, the last hour
//! as range queries at start (and again for a gap after an outage), all with a bounded number
//! in flight. A cockpit must not be the thing that takes Prometheus down.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::client::{Querier, QueryError};
use crate::domain::model::Pane;
use crate::domain::model::SourceHealth;
use crate::domain::promql::{self, Cost, MetricNames, Query, QueryId, Results, Sample};
use crate::domain::time::Timestamp;

/// How the scheduler paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub refresh: Duration,
    pub concurrency: usize,
    pub expensive_every: Duration,
    /// How often metric names are looked up again (an exporter may be upgraded).
    pub names_every: Duration,
    pub history: Duration,
    pub history_step: Duration,
    /// The window of `rate()` in the "now" queries.
    pub rate_window: String,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            refresh: Duration::from_secs(10),
            concurrency: 4,
            expensive_every: Duration::from_secs(600),
            names_every: Duration::from_secs(600),
            history: Duration::from_secs(3600),
            history_step: Duration::from_secs(30),
            rate_window: promql::RATE_WINDOW.to_string(),
        }
    }
}

/// The answers of the range queries at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub at: Timestamp,
    pub results: Results,
}

/// What the scheduler has learned so far; the live task reads it at each flush.
#[derive(Debug, Clone)]
pub struct Collected {
    pub names: Option<MetricNames>,
    /// The latest successful answer of each query (a failed query keeps its last answer).
    pub results: Results,
    /// Queries whose latest attempt failed: why, and when.
    pub failing: BTreeMap<QueryId, (String, Timestamp)>,
    /// Queries whose latest answer was cut to the limits: what was cut.
    pub truncated: BTreeMap<QueryId, String>,
    pub last_ok: BTreeMap<QueryId, Timestamp>,
    pub health: SourceHealth,
    /// Bumped whenever anything above changed.
    pub generation: u64,
    /// The first full round (names, now, long-window, history) has finished.
    pub first_round_done: bool,
    /// Range-query points not yet handed to the cockpit.
    pub history: Vec<HistoryPoint>,
}

impl Collected {
    pub fn new(endpoint: String) -> Self {
        Collected {
            names: None,
            results: Results::new(),
            failing: BTreeMap::new(),
            truncated: BTreeMap::new(),
            last_ok: BTreeMap::new(),
            health: SourceHealth {
                source: "prometheus".to_string(),
                endpoint,
                last_success: None,
                latency_ms: None,
                last_error: None,
                last_error_at: None,
                queries_ok: 0,
                queries_failed: 0,
                detail: None,
            },
            generation: 0,
            first_round_done: false,
            history: Vec::new(),
        }
    }

    fn succeeded(
        &mut self,
        id: QueryId,
        samples: Vec<Sample>,
        truncated: Option<String>,
        at: Timestamp,
        latency: Duration,
    ) {
        match truncated {
            Some(note) => {
                tracing::warn!(query = ?id, %note, "Prometheus answer truncated");
                self.truncated.insert(id, note);
            }
            None => {
                self.truncated.remove(&id);
            }
        }
        self.results.insert(id, samples);
        self.failing.remove(&id);
        self.last_ok.insert(id, at);
        self.health.queries_ok += 1;
        self.health.last_success = Some(at);
        self.health.latency_ms = Some(latency.as_secs_f64() * 1000.0);
    }

    fn failed(&mut self, id: Option<QueryId>, error: &QueryError, at: Timestamp) {
        let text = error.to_string();
        if let Some(id) = id {
            self.failing.insert(id, (text.clone(), at));
        }
        self.health.queries_failed += 1;
        self.health.last_error = Some(text);
        self.health.last_error_at = Some(at);
    }
}

pub type Shared = Arc<Mutex<Collected>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Collected> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> Timestamp {
    chrono::Utc::now()
}

/// What came of one request: the queries it carried, their samples (and what was cut of
/// them) or the error, and how long it took.
type Answer = (
    Vec<QueryId>,
    Result<(Vec<(QueryId, Vec<Sample>)>, Option<String>), QueryError>,
    Duration,
);

/// How soon a pane's failed long-window queries are tried again.
const EXPENSIVE_RETRY: Duration = Duration::from_secs(30);

/// One request to send: a single query, or a pane's expensive queries combined.
enum Job {
    One(Query),
    Combined(Vec<Query>),
}

struct Pacing {
    names_at: Option<Instant>,
    expensive_at: BTreeMap<Pane, Instant>,
    /// Where the next range fetch starts (the start of history, or of a gap).
    history_from: Option<Timestamp>,
}

/// Runs until the task is aborted.
pub async fn run<Q: Querier>(querier: Arc<Q>, schedule: Schedule, shared: Shared) {
    let history = chrono::Duration::from_std(schedule.history).unwrap_or_default();
    let mut pacing = Pacing {
        names_at: None,
        expensive_at: BTreeMap::new(),
        history_from: Some(now() - history),
    };
    loop {
        round(&*querier, &schedule, &shared, &mut pacing).await;
        tokio::time::sleep(schedule.refresh).await;
    }
}

async fn round<Q: Querier>(querier: &Q, schedule: &Schedule, shared: &Shared, pacing: &mut Pacing) {
    let due_names = pacing
        .names_at
        .is_none_or(|at| at.elapsed() >= schedule.names_every);
    if due_names {
        let started = Instant::now();
        let found = querier.metric_names().await;
        let at = now();
        let mut collected = lock(shared);
        match found {
            Ok(names) => {
                // An empty Prometheus (just started, nothing scraped yet) is asked again at
                // the next round rather than in `names_every`.
                pacing.names_at = (!names.is_empty()).then(Instant::now);
                collected.names = Some(MetricNames::detect(&names));
                collected.health.queries_ok += 1;
                collected.health.last_success = Some(at);
                collected.health.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
            Err(error) => collected.failed(None, &error, at),
        }
        collected.generation += 1;
    }
    // Until the names are known, assume the current ones: the figures can still come.
    let names = lock(shared)
        .names
        .clone()
        .unwrap_or_else(|| MetricNames::detect(&BTreeSet::new()));
    let catalogue = promql::catalogue(&names, &schedule.rate_window);
    let mut jobs: Vec<Job> = catalogue
        .iter()
        .filter(|q| q.cost == Cost::Refresh)
        .cloned()
        .map(Job::One)
        .collect();
    for pane in Pane::ALL {
        let expensive: Vec<Query> = catalogue
            .iter()
            .filter(|q| q.pane == pane && q.cost == Cost::Expensive)
            .cloned()
            .collect();
        let due = pacing
            .expensive_at
            .get(&pane)
            .is_none_or(|at| at.elapsed() >= schedule.expensive_every);
        if !expensive.is_empty() && due {
            // Counted from the attempt, failed or not: a struggling Prometheus gets no quick
            // retries (a failed attempt is tried again after `EXPENSIVE_RETRY`, below).
            pacing.expensive_at.insert(pane, Instant::now());
            jobs.push(Job::Combined(expensive));
        }
    }
    let answers: Vec<Answer> = futures::stream::iter(jobs)
        .map(|job| async move {
            let started = Instant::now();
            match job {
                Job::One(query) => {
                    let answer = querier
                        .instant(&query.promql)
                        .await
                        .map(|b| (vec![(query.id, b.value)], b.truncated));
                    (vec![query.id], answer, started.elapsed())
                }
                Job::Combined(queries) => {
                    let parts: Vec<&Query> = queries.iter().collect();
                    let answer = querier
                        .instant(&promql::combine(&parts))
                        .await
                        .map(|b| (promql::split(&parts, b.value), b.truncated));
                    (
                        queries.iter().map(|q| q.id).collect(),
                        answer,
                        started.elapsed(),
                    )
                }
            }
        })
        .buffer_unordered(schedule.concurrency.max(1))
        .collect()
        .await;
    let at = now();
    let all_failed = answers.iter().all(|(_, answer, _)| answer.is_err());
    // A pane whose long-window queries failed (Prometheus was not up yet, say) asks again
    // in `EXPENSIVE_RETRY` rather than a whole `expensive_every` later.
    for (ids, answer, _) in &answers {
        if answer.is_err()
            && ids.len() > 1
            && let Some(query) = catalogue.iter().find(|q| Some(&q.id) == ids.first())
            && let Some(retry_at) =
                Instant::now().checked_sub(schedule.expensive_every.saturating_sub(EXPENSIVE_RETRY))
        {
            pacing.expensive_at.insert(query.pane, retry_at);
        }
    }
    {
        let mut collected = lock(shared);
        for (ids, answer, latency) in answers {
            match answer {
                Ok((parts, truncated)) => {
                    for (id, samples) in parts {
                        collected.succeeded(id, samples, truncated.clone(), at, latency);
                    }
                }
                Err(error) => {
                    for id in ids {
                        collected.failed(Some(id), &error, at);
                    }
                }
            }
        }
        collected.generation += 1;
    }
    if all_failed {
        // An outage: once Prometheus answers again, the gap is fetched as history.
        if pacing.history_from.is_none() {
            let last = lock(shared).health.last_success;
            pacing.history_from = last.or(Some(at));
        }
    } else if let Some(from) = pacing.history_from
        && fetch_history(querier, schedule, &names, from, at, shared).await
    {
        pacing.history_from = None;
    }
    let mut collected = lock(shared);
    if !collected.first_round_done {
        collected.first_round_done = true;
        collected.generation += 1;
    }
}

/// The DNS charts' figures from `from` to `to`; false when Prometheus did not answer.
async fn fetch_history<Q: Querier>(
    querier: &Q,
    schedule: &Schedule,
    names: &MetricNames,
    from: Timestamp,
    to: Timestamp,
    shared: &Shared,
) -> bool {
    let step = schedule.history_step.as_secs_f64().max(1.0);
    if (to - from).num_seconds() < step as i64 * 2 {
        return true;
    }
    let queries = promql::dns_history(names, &schedule.rate_window);
    let answers: Vec<_> = futures::stream::iter(queries)
        .map(|(id, promql)| async move {
            (
                id,
                querier
                    .range(&promql, from.timestamp(), to.timestamp(), step)
                    .await,
            )
        })
        .buffer_unordered(schedule.concurrency.max(1))
        .collect()
        .await;
    let mut points: BTreeMap<i64, Results> = BTreeMap::new();
    let mut any = false;
    let mut collected = lock(shared);
    for (id, answer) in answers {
        match answer {
            Ok(series) => {
                any = true;
                if let Some(note) = &series.truncated {
                    tracing::warn!(query = ?id, %note, "Prometheus history truncated");
                }
                for (labels, samples) in series.value {
                    for (t, value) in samples {
                        points
                            .entry((t * 1000.0) as i64)
                            .or_default()
                            .entry(id)
                            .or_default()
                            .push(Sample {
                                labels: labels.clone(),
                                value,
                            });
                    }
                }
            }
            Err(error) => collected.failed(None, &error, now()),
        }
    }
    // The newest point is what the instant queries already show.
    for (millis, results) in points {
        let Some(at) = chrono::DateTime::from_timestamp_millis(millis) else {
            continue;
        };
        if at < to - chrono::Duration::seconds(step as i64) {
            collected.history.push(HistoryPoint { at, results });
        }
    }
    collected.generation += 1;
    any
}
