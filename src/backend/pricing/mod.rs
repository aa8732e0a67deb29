//! Instance prices from AWS (`--refresh-prices`): on-demand prices from the Price List Query
//! API and spot prices from EC2's spot price history, each request signed with SigV4 here
//! (the SDK crates for these two services are large), cached per region in the XDG cache
//! directory and laid over the built-in table. Without the flag, cached prices younger than
//! their age limit are used. Any failure (no credentials, access denied, unreachable) is
//! reported and leaves the cache or the built-in table in place.

pub mod cache;
pub mod ondemand;
pub mod spot;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::aws::{self, AwsError, CredentialCache, Signer, endpoint_from_env};
use crate::backend::live::LiveOptions;
use crate::domain::prices::{FetchedPrices, PriceOrigin, PriceTable};
use crate::domain::sanitize::sanitize;
use crate::domain::time::Timestamp;
use cache::{CachedRegion, PriceCache};

/// How long refreshed prices are used when the configuration does not say
/// (`[prices] cache_max_age`). On-demand prices change a few times a year; spot prices drift
/// daily but far less than a months-old table is off.
pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

/// One HTTP request, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The whole refresh, however many types and pages.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(180);

/// Throttled or failed (5xx) requests are tried this many times in all.
const ATTEMPTS: u32 = 3;

/// How much of an unexpected answer goes into an error message.
const ERROR_EXCERPT: usize = 200;

/// The two APIs, named as the user knows them, with the permission each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    PriceList,
    SpotPrices,
}

impl Api {
    pub fn permission(self) -> &'static str {
        match self {
            Api::PriceList => "pricing:GetProducts",
            Api::SpotPrices => "ec2:DescribeSpotPriceHistory",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::PriceList => "AWS Price List API",
            Api::SpotPrices => "EC2 spot price history",
        })
    }
}

/// Why prices could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{api}: cannot reach {endpoint}: {cause}")]
    Unreachable {
        api: Api,
        endpoint: String,
        cause: String,
    },
    #[error("{api}: no answer within {}s", after.as_secs())]
    Timeout { api: Api, after: Duration },
    #[error("{api}: {code}: {message}{}", refusal_hint(*api, code))]
    Refused {
        api: Api,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{api}: unexpected answer: {problem}")]
    Unexpected { api: Api, problem: String },
    #[error("the price refresh took longer than {}s", after.as_secs())]
    TooSlow { after: Duration },
    #[error("AWS returned no prices for the {count} instance types asked about in {region}")]
    Empty { region: String, count: usize },
}

/// What to do about a refused request, for the codes that have an answer.
fn refusal_hint(api: Api, code: &str) -> String {
    let code = code.to_ascii_lowercase();
    if code.contains("accessdenied") || code.contains("unauthorized") {
        format!(
            " (the credentials need the IAM permission {})",
            api.permission()
        )
    } else if [
        "unrecognizedclient",
        "invalidclienttokenid",
        "authfailure",
        "signaturedoesnotmatch",
        "invalidsignature",
        "expiredtoken",
    ]
    .iter()
    .any(|c| code.contains(c))
    {
        " (the AWS credentials were rejected: check the profile, or log in again)".to_string()
    } else {
        String::new()
    }
}

/// Where the two APIs answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub pricing: String,
    /// The region Price List requests are signed for (the API lives in a few regions only).
    pub pricing_region: String,
    pub ec2: String,
}

impl Endpoints {
    /// The public endpoints for a cluster in `region`, unless `AWS_ENDPOINT_URL_PRICING`,
    /// `AWS_ENDPOINT_URL_EC2` or `AWS_ENDPOINT_URL` (read through `get`) say otherwise.
    pub fn for_region(region: &str, get: impl Fn(&str) -> Option<String>) -> Self {
        let (pricing, pricing_region, suffix) = if region.starts_with("cn-") {
            (
                "https://api.pricing.cn-northwest-1.amazonaws.com.cn",
                "cn-northwest-1",
                "amazonaws.com.cn",
            )
        } else {
            (
                "https://api.pricing.us-east-1.amazonaws.com",
                "us-east-1",
                "amazonaws.com",
            )
        };
        Endpoints {
            pricing: endpoint_from_env("PRICING", &get).unwrap_or_else(|| pricing.to_string()),
            pricing_region: pricing_region.to_string(),
            ec2: endpoint_from_env("EC2", &get)
                .unwrap_or_else(|| format!("https://ec2.{region}.{suffix}")),
        }
    }
}

/// One API's requests: signed, sent, retried when throttled, errors made readable.
pub struct Call<'a> {
    api: Api,
    http: &'a reqwest::Client,
    signer: &'a Signer,
    endpoint: &'a str,
}

impl Call<'_> {
    fn unexpected(&self, problem: impl Into<String>) -> PricingError {
        PricingError::Unexpected {
            api: self.api,
            problem: problem.into(),
        }
    }

    /// Sends the request `build` makes (again for each attempt, so each is signed afresh)
    /// and returns the answer's body.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<Bytes, PricingError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = build(self.http, self.endpoint)
                .build()
                .map_err(|e| self.unexpected(format!("cannot build the request: {e}")))?;
            self.signer.sign(&mut request).await?;
            let response = match self.http.execute(request).await {
                Ok(response) => response,
                Err(error) if error.is_timeout() => {
                    return Err(PricingError::Timeout {
                        api: self.api,
                        after: REQUEST_TIMEOUT,
                    });
                }
                Err(error) => {
                    return Err(PricingError::Unreachable {
                        api: self.api,
                        endpoint: self.endpoint.to_string(),
                        cause: aws::describe(&error),
                    });
                }
            };
            let status = response.status();
            let error_type = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response
                .bytes()
                .await
                .map_err(|e| PricingError::Unreachable {
                    api: self.api,
                    endpoint: self.endpoint.to_string(),
                    cause: aws::describe(&e),
                })?;
            if status.is_success() {
                return Ok(body);
            }
            let (code, message) = match self.api {
                Api::PriceList => ondemand::parse_error(&body, error_type.as_deref()),
                Api::SpotPrices => spot::parse_error(&String::from_utf8_lossy(&body)),
            }
            .unwrap_or_else(|| (format!("HTTP {status}"), excerpt(&body)));
            let retry = status.is_server_error()
                || code.contains("Throttl")
                || code == "RequestLimitExceeded";
            if retry && attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(200 << (attempt - 1))).await;
                continue;
            }
            // Printed on the terminal before the cockpit starts: nothing from the answer may
            // drive it.
            return Err(PricingError::Refused {
                api: self.api,
                status: status.as_u16(),
                code: sanitize(&code).into_owned(),
                message: sanitize(&message).into_owned(),
            });
        }
    }
}

/// The start of an answer, on one line.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ERROR_EXCERPT)
        .collect::<String>()
        .trim()
        .to_string()
}

/// What to fetch, and with what.
#[derive(Debug, Clone)]
pub struct RefreshRequest {
    /// The cluster's region.
    pub region: String,
    pub instance_types: BTreeSet<String>,
    pub endpoints: Endpoints,
    pub credentials: Arc<CredentialCache>,
}

/// Fetches on-demand and spot prices for every type in the request, both APIs at once.
/// Either failing fails the refresh: a half-refreshed region would mislabel its prices.
pub async fn refresh(
    request: &RefreshRequest,
    now: Timestamp,
) -> Result<FetchedPrices, PricingError> {
    let http = reqwest::Client::builder()
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| PricingError::Unexpected {
            api: Api::PriceList,
            problem: format!("cannot build the HTTP client: {e}"),
        })?;
    let pricing_signer = Signer::new(
        "pricing",
        request.endpoints.pricing_region.clone(),
        request.credentials.clone(),
    );
    let ec2_signer = Signer::new("ec2", request.region.clone(), request.credentials.clone());
    let pricing = Call {
        api: Api::PriceList,
        http: &http,
        signer: &pricing_signer,
        endpoint: &request.endpoints.pricing,
    };
    let ec2 = Call {
        api: Api::SpotPrices,
        http: &http,
        signer: &ec2_signer,
        endpoint: &request.endpoints.ec2,
    };
    let types: Vec<&str> = request.instance_types.iter().map(String::as_str).collect();
    let both = async {
        tokio::try_join!(
            ondemand::fetch(&pricing, &request.region, &types),
            spot::fetch(&ec2, &types, now),
        )
    };
    let (on_demand, spot) = tokio::time::timeout(REFRESH_TIMEOUT, both)
        .await
        .map_err(|_| PricingError::TooSlow {
            after: REFRESH_TIMEOUT,
        })??;
    let fetched = FetchedPrices { on_demand, spot };
    if fetched.on_demand.is_empty() {
        return Err(PricingError::Empty {
            region: request.region.clone(),
            count: types.len(),
        });
    }
    Ok(fetched)
}

/// What the cluster tells about prices: its region and the instance types its nodes run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterFacts {
    pub region: Option<String>,
    pub instance_types: BTreeSet<String>,
}

/// How long `cluster_facts` may take before a refresh goes on without them.
const CLUSTER_FACTS_TIMEOUT: Duration = Duration::from_secs(15);

/// The live cluster's region (from its kubeconfig names, else its nodes' labels) and the
/// instance types of its nodes; whatever cannot be learned quickly is left out.
pub async fn cluster_facts(options: &LiveOptions) -> ClusterFacts {
    use k8s_openapi::api::core::v1::Node;
    let work = async {
        let connection = crate::backend::live::client::connect(options).await.ok()?;
        let mut facts = ClusterFacts {
            region: Some(connection.cluster.region).filter(|r| !r.is_empty()),
            instance_types: BTreeSet::new(),
        };
        let nodes = kube::Api::<Node>::all(connection.client)
            .list_metadata(&kube::api::ListParams::default())
            .await
            .ok()?;
        for node in nodes.items {
            let Some(labels) = node.metadata.labels else {
                continue;
            };
            let label = |name: &str| labels.get(name).filter(|v| !v.is_empty()).cloned();
            if let Some(instance_type) = label("node.kubernetes.io/instance-type")
                .or_else(|| label("beta.kubernetes.io/instance-type"))
            {
                facts.instance_types.insert(instance_type);
            }
            if facts.region.is_none() {
                facts.region = label("topology.kubernetes.io/region");
            }
        }
        Some(facts)
    };
    tokio::time::timeout(CLUSTER_FACTS_TIMEOUT, work)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// What a run asks of prices.
#[derive(Debug, Clone)]
pub struct PriceRequest {
    /// The built-in table with the configured discounts.
    pub table: PriceTable,
    /// Where the cache lives; nothing is cached without one.
    pub cache_dir: Option<PathBuf>,
    pub max_age: Duration,
    /// `--refresh-prices`: fetch from AWS first.
    pub refresh: Option<RefreshTarget>,
}

/// What to refresh.
#[derive(Debug, Clone, Default)]
pub struct RefreshTarget {
    /// `--region`, else the cluster's; the AWS configuration's when `None`.
    pub region: Option<String>,
    /// Types the cluster runs; the table's and the cache's are always asked about too.
    pub instance_types: BTreeSet<String>,
    /// The default AWS credential chain's when `None`.
    pub credentials: Option<Arc<CredentialCache>>,
}

/// The prices a run uses, and what the user should read about them.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub table: PriceTable,
    /// Problems, one line each (refresh failures, an unreadable cache).
    pub notices: Vec<String>,
}

/// The table for this run: the built-in one, under the cached regions still within their age
/// limit, under a region refreshed now when asked. `progress` hears what is going on as it
/// happens; `env` reads endpoint overrides.
pub async fn prepare(
    request: PriceRequest,
    now: Timestamp,
    env: impl Fn(&str) -> Option<String>,
    progress: &mut dyn FnMut(&str),
) -> Prepared {
    let mut notices = Vec::new();
    let cache_path = request.cache_dir.as_deref().map(cache::path_in);
    let mut stored = match &cache_path {
        None => PriceCache::default(),
        Some(path) => match PriceCache::read(path) {
            Ok(found) => found.unwrap_or_default(),
            Err(error) => {
                notices.push(format!("{error}; cached prices not used"));
                PriceCache::default()
            }
        },
    };
    let fallback = |stored: &PriceCache, region: Option<&str>| match region
        .and_then(|r| stored.fresh_region(r, now, request.max_age))
    {
        Some(at) => format!(
            "using the prices cached on {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ),
        None => format!("using the {}", request.table.source),
    };

    let mut refreshed: Option<String> = None;
    if let Some(target) = request.refresh {
        let (region, credentials) = match (&target.region, &target.credentials) {
            (Some(region), Some(credentials)) => (Some(region.clone()), credentials.clone()),
            _ => {
                let environment = aws::default_environment(target.region.as_deref()).await;
                (
                    target.region.clone().or(environment.region),
                    target
                        .credentials
                        .clone()
                        .unwrap_or(environment.credentials),
                )
            }
        };
        match region {
            None => notices.push(format!(
                "cannot refresh prices: no AWS region (pass --region or set AWS_REGION); {}",
                fallback(&stored, None)
            )),
            Some(region) => {
                let mut instance_types = request.table.instance_types();
                instance_types.extend(target.instance_types);
                if let Some(cached) = stored.regions.get(&region) {
                    instance_types.extend(cached.prices.on_demand.keys().cloned());
                }
                let endpoints = Endpoints::for_region(&region, &env);
                progress(&format!(
                    "refreshing prices for {region} ({} instance types) from the AWS Price List API and EC2 spot price history",
                    instance_types.len()
                ));
                let refresh_request = RefreshRequest {
                    region: region.clone(),
                    instance_types,
                    endpoints,
                    credentials,
                };
                match refresh(&refresh_request, now).await {
                    Ok(fetched) => {
                        let summary = format!(
                            "prices refreshed for {region}: {} on-demand and {} spot prices",
                            fetched.on_demand.len(),
                            fetched.spot_prices()
                        );
                        stored.regions.insert(
                            region.clone(),
                            CachedRegion {
                                fetched_at: now,
                                prices: fetched,
                            },
                        );
                        match &cache_path {
                            Some(path) => match stored.write(path) {
                                Ok(()) => {
                                    progress(&format!("{summary}, cached in {}", path.display()))
                                }
                                Err(error) => {
                                    progress(&summary);
                                    notices.push(format!(
                                        "cannot cache the refreshed prices: {error}; they are used for this run only"
                                    ));
                                }
                            },
                            None => {
                                progress(&format!("{summary} (no cache directory: this run only)"))
                            }
                        }
                        refreshed = Some(region);
                    }
                    Err(error) => notices.push(format!(
                        "cannot refresh prices: {error}; {}",
                        fallback(&stored, Some(&region))
                    )),
                }
            }
        }
    }

    // Cached regions first, then the one fetched now marked as such.
    let (mut table, stale) = stored.apply(request.table, now, request.max_age);
    if let Some(region) = refreshed
        && let Some(fresh) = stored.regions.get(&region)
    {
        table = table.overlay(
            &region,
            &fresh.prices,
            PriceOrigin::Aws {
                fetched_at: fresh.fetched_at,
            },
        );
    }
    if !stale.is_empty() {
        notices.push(format!(
            "prices cached for {} are older than {} and not used; run with --refresh-prices",
            stale.join(", "),
            crate::domain::time::format_duration(request.max_age)
        ));
    }
    Prepared { table, notices }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_to_the_public_ones() {
        let none = |_: &str| None;
        let endpoints = Endpoints::for_region("eu-west-1", none);
        assert_eq!(
            endpoints.pricing,
            "https://api.pricing.us-east-1.amazonaws.com"
        );
        assert_eq!(endpoints.pricing_region, "us-east-1");
        assert_eq!(endpoints.ec2, "https://ec2.eu-west-1.amazonaws.com");
        let china = Endpoints::for_region("cn-north-1", none);
        assert_eq!(china.ec2, "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_eq!(china.pricing_region, "cn-northwest-1");
        let local = Endpoints::for_region("eu-west-1", |name| {
            (name == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:5055".to_string())
        });
        assert_eq!(local.pricing, "http://127.0.0.1:5055");
        assert_eq!(local.ec2, "http://127.0.0.1:5055");
    }

    #[test]
    fn refusals_say_which_permission_is_missing() {
        let denied = PricingError::Refused {
            api: Api::SpotPrices,
            status: 403,
            code: "UnauthorizedOperation".to_string(),
            message: "You are not authorized to perform this operation.".to_string(),
        };
        assert_eq!(
            denied.to_string(),
            "EC2 spot price history: UnauthorizedOperation: You are not authorized to perform this operation. (the credentials need the IAM permission ec2:DescribeSpotPriceHistory)"
        );
        let rejected = PricingError::Refused {
            api: Api::PriceList,
            status: 400,
            code: "UnrecognizedClientException".to_string(),
            message: "The security token included in the request is invalid.".to_string(),
        };
        assert!(rejected.to_string().contains("credentials were rejected"));
    }

    #[tokio::test]
    async fn without_a_refresh_the_fresh_cache_is_laid_over_the_table() {
        let dir = std::env::temp_dir().join(format!("kockpit-prepare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().expect("time");
        let mut stored = PriceCache::default();
        let mut prices = FetchedPrices::default();
        prices.on_demand.insert("m6i.large".into(), 0.09);
        for (region, fetched_at) in [
            ("us-east-1", "2026-11-25T10:00:00Z"),
            ("eu-west-1", "2026-10-01T10:00:00Z"),
        ] {
            stored.regions.insert(
                region.into(),
                CachedRegion {
                    fetched_at: fetched_at.parse().expect("time"),
                    prices: prices.clone(),
                },
            );
        }
        stored.write(&cache::path_in(&dir)).expect("written");
        let mut heard = Vec::new();
        let prepared = prepare(
            PriceRequest {
                table: PriceTable::builtin(),
                cache_dir: Some(dir.clone()),
                max_age: DEFAULT_CACHE_MAX_AGE,
                refresh: None,
            },
            now,
            |_| None,
            &mut |line| heard.push(line.to_string()),
        )
        .await;
        assert!(heard.is_empty());
        assert_eq!(
            prepared.table.source_for("us-east-1").to_string(),
            "AWS 2026-11-25 10:00 UTC, cached 2h00m ago"
        );
        assert_eq!(
            prepared.table.source_for("eu-west-1").to_string(),
            "built-in table, 2026-11"
        );
        assert_eq!(prepared.notices.len(), 1);
        assert!(
            prepared.notices[0].starts_with("prices cached for eu-west-1 are older than 7d00h")
        );

        std::fs::write(cache::path_in(&dir), "garbage").expect("write");
        let prepared = prepare(
            PriceRequest {
                table: PriceTable::builtin(),
                cache_dir: Some(dir.clone()),
                max_age: DEFAULT_CACHE_MAX_AGE,
                refresh: None,
            },
            now,
            |_| None,
            &mut |_| {},
        )
        .await;
        assert_eq!(prepared.table, PriceTable::builtin());
        assert!(
            prepared.notices[0].contains("prices.json: line 1"),
            "{:?}",
            prepared.notices
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
