//! VPC Flow Logs through CloudWatch Logs Insights (`--flow-logs LOG_GROUP`): a task that asks
//! for the bytes between IPs of one recent window every few minutes and keeps the latest
//! answer for the live task to join to the pods. Logs Insights bills by the bytes it scans:
//! each query covers one window and asks for at most `limit` rows, queries run at most once
//! per `every`, and the Sources window shows what the last one scanned.
//!
//! Default-format logs are summed by Logs Insights itself (`stats`); a custom format, whose
//! fields Logs Insights does not discover, is read as raw records and summed here. An answer
//! that fills the row limit is asked again in halves of its window.
//!
//! The IAM identity needs `logs:StartQuery` and `logs:GetQueryResults` on the log group.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::{Credentials, Region};
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use tokio::task::JoinHandle;

use super::client::{CloudWatchError, classify};
use crate::domain::flow_logs::{self, LogFormat, MAX_ROWS};
use crate::domain::model::{FlowSourceInfo, FlowSourceKind, FlowUnit, SourceHealth, ZoneBasis};
use crate::domain::time::Timestamp;
use crate::domain::traffic::{Observation, Observed};

/// How often the answer of a running query is asked for.
const POLL: Duration = Duration::from_millis(500);
/// How many times a full answer's window is halved before the cut answer is used as it is.
const MAX_SPLITS: u32 = 3;
/// Result pages followed for one query at most.
const MAX_PAGES: usize = 20;

/// Where the flow logs are and how to ask for them.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowLogsOptions {
    /// The CloudWatch Logs log group the VPC's flow logs are delivered to.
    pub group: String,
    /// The flow log's record format (the default format unless given).
    pub format: LogFormat,
    /// One query per this period at most.
    pub every: Duration,
    /// The stretch of time one query covers.
    pub window: Duration,
    /// How far behind now the window ends: flow logs aggregate for up to 10 minutes and are
    /// delivered a few minutes after that.
    pub lag: Duration,
    /// Rows asked for per query (Logs Insights returns at most 10,000).
    pub limit: u32,
    /// `--region`; the default chain's region when `None`.
    pub region: Option<String>,
    /// Another endpoint than AWS's (`AWS_ENDPOINT_URL` is honoured without this).
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the default chain (tools and tests).
    pub credentials: Option<Credentials>,
    /// The longest one query may run before it is given up.
    pub query_timeout: Duration,
}

impl FlowLogsOptions {
    pub fn new(group: impl Into<String>) -> Self {
        FlowLogsOptions {
            group: group.into(),
            format: LogFormat::default(),
            every: Duration::from_secs(300),
            window: Duration::from_secs(600),
            lag: Duration::from_secs(600),
            limit: MAX_ROWS,
            region: None,
            endpoint_url: None,
            credentials: None,
            query_timeout: Duration::from_secs(60),
        }
    }

    /// What the East-West source line says about this source.
    pub fn source(&self) -> FlowSourceInfo {
        FlowSourceInfo {
            kind: FlowSourceKind::FlowLogs,
            unit: FlowUnit::Bytes,
            zones: ZoneBasis::Measured,
            destinations: true,
            detail: format!(
                "CloudWatch Logs {}, {} ending {} ago",
                self.group,
                crate::domain::format::go_duration(self.window),
                crate::domain::format::go_duration(self.lag)
            ),
            window_seconds: (self.window + self.lag + self.every).as_secs(),
        }
    }
}

/// The status of a query, as the answers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Running,
    Complete,
    /// Failed, cancelled or timed out on the service's side.
    Failed,
}

/// One page of a query's answer: rows of field → value, and what it scanned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryAnswer {
    pub state: Option<QueryState>,
    pub rows: Vec<BTreeMap<String, String>>,
    pub bytes_scanned: f64,
    pub next_token: Option<String>,
}

/// What the source needs from CloudWatch Logs; tests use the SDK against moto, or mocks.
pub trait LogsApi: Send + Sync + 'static {
    /// Starts a query over [start, end) (epoch seconds); returns its id.
    fn start_query(
        &self,
        group: &str,
        query: &str,
        start: i64,
        end: i64,
        limit: u32,
    ) -> impl Future<Output = Result<String, CloudWatchError>> + Send;

    fn query_results(
        &self,
        query_id: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<QueryAnswer, CloudWatchError>> + Send;
}

/// The AWS SDK client.
#[derive(Debug, Clone)]
pub struct SdkLogs {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl SdkLogs {
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        SdkLogs { client }
    }
}

impl LogsApi for SdkLogs {
    async fn start_query(
        &self,
        group: &str,
        query: &str,
        start: i64,
        end: i64,
        limit: u32,
    ) -> Result<String, CloudWatchError> {
        let output = self
            .client
            .start_query()
            .log_group_name(group)
            .query_string(query)
            .start_time(start)
            .end_time(end)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("logs:StartQuery", &e))?;
        output
            .query_id()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| CloudWatchError::Other("StartQuery gave no query id".to_string()))
    }

    async fn query_results(
        &self,
        query_id: &str,
        next_token: Option<String>,
    ) -> Result<QueryAnswer, CloudWatchError> {
        let output = self
            .client
            .get_query_results()
            .query_id(query_id)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| classify("logs:GetQueryResults", &e))?;
        let state = output.status().map(|status| match status {
            QueryStatus::Complete => QueryState::Complete,
            QueryStatus::Running | QueryStatus::Scheduled => QueryState::Running,
            _ => QueryState::Failed,
        });
        let rows = output
            .results()
            .iter()
            .map(|row| {
                row.iter()
                    .filter_map(|field| {
                        Some((field.field()?.to_string(), field.value()?.to_string()))
                    })
                    .collect()
            })
            .collect();
        Ok(QueryAnswer {
            state,
            rows,
            bytes_scanned: output.statistics().map_or(0.0, |s| s.bytes_scanned()),
            next_token: output.next_token().map(str::to_string),
        })
    }
}

/// Builds the SDK client from the default AWS configuration chain.
pub async fn sdk(options: &FlowLogsOptions) -> Result<SdkLogs, CloudWatchError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = options.region.clone().filter(|r| !r.is_empty()) {
        loader = loader.region(Region::new(region));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(credentials) = options.credentials.clone() {
        loader = loader.credentials_provider(credentials);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(CloudWatchError::NoRegion);
    }
    Ok(SdkLogs::new(aws_sdk_cloudwatchlogs::Client::new(&config)))
}

/// Runs one query to its end and gathers every page of its answer.
async fn run_query<A: LogsApi>(
    api: &A,
    options: &FlowLogsOptions,
    query: &str,
    start: i64,
    end: i64,
) -> Result<QueryAnswer, CloudWatchError> {
    let id = api
        .start_query(&options.group, query, start, end, options.limit)
        .await?;
    let answer = tokio::time::timeout(options.query_timeout, async {
        loop {
            let answer = api.query_results(&id, None).await?;
            match answer.state {
                Some(QueryState::Complete) => return Ok(answer),
                Some(QueryState::Failed) => {
                    return Err(CloudWatchError::Service {
                        code: "QueryFailed".to_string(),
                        message: format!("the Logs Insights query {id} did not complete"),
                    });
                }
                Some(QueryState::Running) | None => tokio::time::sleep(POLL).await,
            }
        }
    })
    .await
    .map_err(|_| CloudWatchError::Timeout(options.query_timeout))??;
    let mut all = answer;
    let mut pages = 1;
    while let Some(token) = all.next_token.take().filter(|t| !t.is_empty()) {
        if pages >= MAX_PAGES {
            break;
        }
        let page = api.query_results(&id, Some(token)).await?;
        all.rows.extend(page.rows);
        all.next_token = page.next_token;
        pages += 1;
    }
    Ok(all)
}

/// The observations of one window and the bytes scanned to get them. A stats answer that
/// fills the limit may be missing pairs, and a raw one records: such a window is asked
/// again in two halves.
pub async fn observe<A: LogsApi>(
    api: &A,
    options: &FlowLogsOptions,
    start: i64,
    end: i64,
) -> Result<(Vec<Observation>, f64), CloudWatchError> {
    let stats = options.format.is_default();
    let limit = options.limit.min(MAX_ROWS);
    let query = if stats {
        flow_logs::stats_query(limit)
    } else {
        flow_logs::raw_query(limit)
    };
    let mut pending = vec![(start, end, 0u32)];
    let mut rows = Vec::new();
    let mut scanned = 0.0;
    // Raw records are summed over the whole window; stats rows per part, then added up.
    let mut observations: Vec<Observation> = Vec::new();
    while let Some((from, to, depth)) = pending.pop() {
        let answer = run_query(api, options, &query, from, to).await?;
        scanned += answer.bytes_scanned;
        let full = answer.rows.len() >= limit as usize;
        if full && depth < MAX_SPLITS && to - from >= 2 {
            let middle = from + (to - from) / 2;
            pending.push((middle, to, depth + 1));
            pending.push((from, middle, depth + 1));
            continue;
        }
        if full {
            tracing::warn!(
                from,
                to,
                "flow log answer still full after splitting: traffic is undercounted"
            );
        }
        if stats {
            observations.extend(flow_logs::from_stats(&answer.rows, (end - start) as f64));
        } else {
            rows.extend(answer.rows);
        }
    }
    if !stats {
        let records: Vec<_> = rows
            .iter()
            .filter_map(|row| options.format.record(row.get("@message")?))
            .collect();
        observations = flow_logs::from_records(&records, (end - start) as f64);
    }
    Ok((observations, scanned))
}

/// What the task knows, shared with the live task.
#[derive(Debug, Clone)]
pub struct FlowLogsState {
    pub observed: Option<Observed>,
    pub health: SourceHealth,
    /// Bumped whenever `observed` changes.
    pub generation: u64,
    /// The first query has ended, one way or the other.
    pub ready: bool,
}

type Shared = Arc<Mutex<FlowLogsState>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, FlowLogsState> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running task and what the live task has already passed on.
pub struct FlowLogsHandle {
    shared: Shared,
    task: JoinHandle<()>,
    seen_generation: u64,
}

impl Drop for FlowLogsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts querying with the SDK client. Must be called on a tokio runtime.
pub fn start(options: FlowLogsOptions) -> FlowLogsHandle {
    let shared = new_shared(&options);
    let task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            match sdk(&options).await {
                Ok(api) => run(api, options, shared).await,
                Err(error) => {
                    let mut state = lock(&shared);
                    state.health.last_error = Some(error.to_string());
                    state.health.last_error_at = Some(chrono::Utc::now());
                    state.health.queries_failed += 1;
                    state.ready = true;
                }
            }
        })
    };
    FlowLogsHandle {
        shared,
        task,
        seen_generation: 0,
    }
}

/// Starts querying through any API (tests).
pub fn start_with<A: LogsApi>(api: A, options: FlowLogsOptions) -> FlowLogsHandle {
    let shared = new_shared(&options);
    let task = tokio::spawn(run(api, options, shared.clone()));
    FlowLogsHandle {
        shared,
        task,
        seen_generation: 0,
    }
}

fn new_shared(options: &FlowLogsOptions) -> Shared {
    Arc::new(Mutex::new(FlowLogsState {
        observed: None,
        health: SourceHealth::new("flow-logs", &format!("CloudWatch Logs {}", options.group)),
        generation: 0,
        ready: false,
    }))
}

fn epoch(at: Timestamp) -> i64 {
    at.timestamp()
}

async fn run<A: LogsApi>(api: A, options: FlowLogsOptions, shared: Shared) {
    let mut ticker = tokio::time::interval(options.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let end = chrono::Utc::now() - chrono::Duration::from_std(options.lag).unwrap_or_default();
        let start = end - chrono::Duration::from_std(options.window).unwrap_or_default();
        let began = std::time::Instant::now();
        let result = observe(&api, &options, epoch(start), epoch(end)).await;
        let now = chrono::Utc::now();
        let mut state = lock(&shared);
        state.ready = true;
        state.health.latency_ms = Some(began.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok((observations, scanned)) => {
                state.health.last_success = Some(now);
                state.health.queries_ok += 1;
                state.health.detail = Some(flow_logs::scanned_text(scanned));
                state.observed = Some(Observed {
                    source: options.source(),
                    observations,
                });
                state.generation += 1;
            }
            Err(error) => {
                tracing::warn!(%error, group = %options.group, "flow log query failed");
                state.health.last_error = Some(error.to_string());
                state.health.last_error_at = Some(now);
                state.health.queries_failed += 1;
            }
        }
    }
}

impl FlowLogsHandle {
    /// The latest observations, if a query has answered.
    pub fn observed(&self) -> Option<Observed> {
        lock(&self.shared).observed.clone()
    }

    pub fn health(&self) -> SourceHealth {
        lock(&self.shared).health.clone()
    }

    /// Whether the first query has ended (a one-shot snapshot waits for it).
    pub fn ready(&self) -> bool {
        lock(&self.shared).ready
    }

    /// True once per new answer: the East-West pane must be sent again.
    pub fn changed(&mut self) -> bool {
        let generation = lock(&self.shared).generation;
        let changed = generation != self.seen_generation;
        self.seen_generation = generation;
        changed
    }
}
