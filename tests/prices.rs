//! `--refresh-prices` against a loopback stand-in for the AWS Price List API and EC2: the
//! request shapes (X-Amz-Target, SigV4 for `pricing` and `ec2`, the query-protocol form),
//! the prices parsed from canned answers in the real formats, the cache file, the fallbacks
//! when AWS refuses, and the whole path through `kockpit snapshot`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kockpit::backend::aws::CredentialCache;
use kockpit::backend::pricing::cache::{self, PriceCache};
use kockpit::backend::pricing::{self, Prepared, PriceRequest, RefreshTarget};
use kockpit::domain::model::Capacity;
use kockpit::domain::prices::PriceTable;
use kockpit::domain::time::Timestamp;
use serde_json::{Value, json};
use support::aws::{
    ACCESS_KEY_ID, Answer, FakeAws, Handler, Recorded, SECRET_ACCESS_KEY, SESSION_TOKEN,
    assert_signed,
};

const REGION: &str = "eu-west-1";

/// A table of two types in the cluster's region.
const TABLE: &str = r#"
source = "test table, 2026-11"

[regions."eu-west-1"]
control_plane_usd_per_hour = 0.10
cross_zone_usd_per_gb = 0.01

[regions."eu-west-1".instances]
"m6i.large" = { on_demand = 0.107, spot = 0.0396 }
"m6i.xlarge" = { on_demand = 0.2141, spot = 0.0792 }
"#;

fn table() -> PriceTable {
    PriceTable::parse(TABLE, "test table").expect("table")
}

fn now() -> Timestamp {
    "2026-11-25T09:12:00Z".parse().expect("time")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kockpit-prices-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[derive(Debug)]
struct Static;

impl aws_credential_types::provider::ProvideCredentials for Static {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(
            aws_credential_types::Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                Some(SESSION_TOKEN.to_string()),
                None,
                "static",
            ),
        ))
    }
}

/// A product document as the Price List API sends it, trimmed to what matters.
fn product(instance_type: &str, usd: &str) -> String {
    json!({
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "instanceType": instance_type,
                "regionCode": REGION,
                "location": "EU (Ireland)",
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "capacitystatus": "Used",
                "licenseModel": "No License required",
                "operation": "RunInstances",
                "marketoption": "OnDemand",
                "vcpu": "4",
            },
            "sku": "7QXN3WGPJ2MBZPE3",
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                "7QXN3WGPJ2MBZPE3.JRTCKXETXF": {
                    "priceDimensions": {
                        "7QXN3WGPJ2MBZPE3.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": format!("${usd} per On Demand Linux {instance_type} Instance Hour"),
                            "appliesTo": [],
                            "rateCode": "7QXN3WGPJ2MBZPE3.JRTCKXETXF.6YS6EN2CT7",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": usd},
                        }
                    },
                    "sku": "7QXN3WGPJ2MBZPE3",
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            },
            "Reserved": {
                "7QXN3WGPJ2MBZPE3.4NA7Y494T4": {
                    "priceDimensions": {
                        "7QXN3WGPJ2MBZPE3.4NA7Y494T4.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "pricePerUnit": {"USD": "0.0770000000"},
                        }
                    },
                    "termAttributes": {"LeaseContractLength": "1yr", "PurchaseOption": "No Upfront"},
                }
            },
        },
        "version": "20261120000000",
        "publicationDate": "2026-11-20T00:00:00Z",
    })
    .to_string()
}

/// `GetProducts`: the instance type's price; m6i.xlarge comes on a second page; an unknown
/// type has no products.
fn price_list(request: &Recorded) -> Answer {
    let json = "application/x-amz-json-1.1";
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let filter = |field: &str| {
        body["Filters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["Field"] == field)
            .and_then(|f| f["Value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let instance_type = filter("instanceType");
    let page = |list: Vec<String>, next: Option<&str>| {
        let mut page = json!({"FormatVersion": "aws_v1", "PriceList": list});
        if let Some(next) = next {
            page["NextToken"] = json!(next);
        }
        (200, json, page.to_string())
    };
    match (instance_type.as_str(), body["NextToken"].as_str()) {
        ("m6i.large", _) => page(vec![product("m6i.large", "0.1070000000")], None),
        ("m6i.xlarge", None) => page(vec![], Some("page-2")),
        ("m6i.xlarge", Some("page-2")) => page(vec![product("m6i.xlarge", "0.2140000000")], None),
        ("c7g.2xlarge", _) => page(vec![product("c7g.2xlarge", "0.3233000000")], None),
        _ => page(vec![], None),
    }
}

fn spot_item(instance_type: &str, zone: &str, price: &str, at: &str) -> String {
    format!(
        "<item><instanceType>{instance_type}</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>{price}</spotPrice><timestamp>{at}</timestamp><availabilityZone>{zone}</availabilityZone></item>"
    )
}

/// `DescribeSpotPriceHistory`: two pages; m6i.xlarge in eu-west-1a changed during the hour.
fn spot_history(request: &Recorded) -> Answer {
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    let (items, next) = match form.get("NextToken").map(String::as_str) {
        None => (
            [
                spot_item(
                    "m6i.xlarge",
                    "eu-west-1a",
                    "0.080000",
                    "2026-11-25T08:00:00.000Z",
                ),
                spot_item(
                    "m6i.xlarge",
                    "eu-west-1a",
                    "0.075000",
                    "2026-11-25T09:00:00.000Z",
                ),
                spot_item(
                    "m6i.xlarge",
                    "eu-west-1b",
                    "0.085000",
                    "2026-11-25T07:30:00.000Z",
                ),
            ]
            .concat(),
            "<nextToken>spot-page-2</nextToken>",
        ),
        Some(_) => (
            [
                spot_item(
                    "m6i.large",
                    "eu-west-1a",
                    "0.041000",
                    "2026-11-25T06:00:00.000Z",
                ),
                spot_item(
                    "c7g.2xlarge",
                    "eu-west-1c",
                    "0.110000",
                    "2026-11-25T06:00:00.000Z",
                ),
            ]
            .concat(),
            "<nextToken/>",
        ),
    };
    (
        200,
        "text/xml;charset=UTF-8",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>3f5e2a1c-0b9d-4e8f-a7c6-5d4e3f2a1b0c</requestId>
    <spotPriceHistorySet>{items}</spotPriceHistorySet>
    {next}
</DescribeSpotPriceHistoryResponse>"#
        ),
    )
}

fn is_price_list(request: &Recorded) -> bool {
    request.header("x-amz-target") == "AWSPriceListService.GetProducts"
}

fn healthy(request: &Recorded) -> Answer {
    if is_price_list(request) {
        price_list(request)
    } else {
        spot_history(request)
    }
}

async fn prepare(
    server: &FakeAws,
    cache_dir: &Path,
    cluster_types: &[&str],
) -> (Prepared, Vec<String>) {
    let url = server.url();
    let mut heard = Vec::new();
    let prepared = pricing::prepare(
        PriceRequest {
            table: table(),
            cache_dir: Some(cache_dir.to_path_buf()),
            max_age: pricing::DEFAULT_CACHE_MAX_AGE,
            refresh: Some(RefreshTarget {
                region: Some(REGION.to_string()),
                instance_types: cluster_types.iter().map(|t| t.to_string()).collect(),
                credentials: Some(Arc::new(CredentialCache::new(Static))),
            }),
        },
        now(),
        move |name| {
            matches!(name, "AWS_ENDPOINT_URL_PRICING" | "AWS_ENDPOINT_URL_EC2").then(|| url.clone())
        },
        &mut |line| heard.push(line.to_string()),
    )
    .await;
    (prepared, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_fetches_signs_parses_and_caches() {
    let server = FakeAws::start(Arc::new(healthy) as Handler).await;
    let dir = temp_dir("refresh");
    let (prepared, heard) = prepare(&server, &dir, &["c7g.2xlarge", "x9.huge"]).await;
    assert!(prepared.notices.is_empty(), "{:?}", prepared.notices);
    assert_eq!(
        heard[0],
        "refreshing prices for eu-west-1 (4 instance types) from the AWS Price List API and EC2 spot price history"
    );
    assert!(
        heard[1].starts_with(
            "prices refreshed for eu-west-1: 3 on-demand and 4 spot prices, cached in "
        ),
        "{}",
        heard[1]
    );

    // Request shapes.
    let requests = server.requests();
    let (price_lists, spot): (Vec<&Recorded>, Vec<&Recorded>) =
        requests.iter().partition(|r| is_price_list(r));
    // One request per type, and a second page for m6i.xlarge.
    assert_eq!(price_lists.len(), 5);
    for request in &price_lists {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/");
        assert_eq!(request.header("content-type"), "application/x-amz-json-1.1");
        assert_signed(request, "pricing", "us-east-1");
        assert_eq!(request.header("x-amz-security-token"), SESSION_TOKEN);
        let authorization = request.header("authorization");
        assert!(
            authorization.contains("x-amz-target"),
            "the target is signed: {authorization}"
        );
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        assert_eq!(body["ServiceCode"], "AmazonEC2");
        let filters: BTreeMap<String, String> = body["Filters"]
            .as_array()
            .expect("filters")
            .iter()
            .map(|f| {
                assert_eq!(f["Type"], "TERM_MATCH");
                (
                    f["Field"].as_str().unwrap_or_default().to_string(),
                    f["Value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(filters["regionCode"], REGION);
        assert_eq!(filters["operatingSystem"], "Linux");
        assert_eq!(filters["tenancy"], "Shared");
        assert_eq!(filters["preInstalledSw"], "NA");
        assert_eq!(filters["capacitystatus"], "Used");
    }
    let asked: BTreeSet<String> = price_lists
        .iter()
        .filter_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            body["Filters"]
                .as_array()?
                .iter()
                .find(|f| f["Field"] == "instanceType")
                .and_then(|f| f["Value"].as_str())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        asked,
        BTreeSet::from(["c7g.2xlarge", "m6i.large", "m6i.xlarge", "x9.huge"].map(String::from))
    );
    assert_eq!(spot.len(), 2, "two pages of spot history");
    for request in &spot {
        assert_eq!(request.method, "POST");
        assert!(
            request
                .header("content-type")
                .starts_with("application/x-www-form-urlencoded")
        );
        assert_signed(request, "ec2", REGION);
        let form: BTreeMap<String, String> = request.form().into_iter().collect();
        assert_eq!(form["Action"], "DescribeSpotPriceHistory");
        assert_eq!(form["Version"], "2016-11-15");
        assert_eq!(form["ProductDescription.1"], "Linux/UNIX");
        assert_eq!(form["StartTime"], "2026-11-25T09:12:00Z");
        let types: BTreeSet<&str> = form
            .iter()
            .filter(|(k, _)| k.starts_with("InstanceType."))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(types.len(), 4);
    }
    assert_eq!(
        spot[1]
            .form()
            .into_iter()
            .find(|(k, _)| k == "NextToken")
            .map(|(_, v)| v),
        Some("spot-page-2".to_string())
    );

    // Parsed prices, laid over the table.
    let table = &prepared.table;
    let hourly =
        |t: &str, zone: Option<&str>, capacity| table.effective_hourly(REGION, zone, t, capacity);
    assert_eq!(hourly("m6i.xlarge", None, Capacity::OnDemand), Some(0.214));
    assert_eq!(
        hourly("m6i.xlarge", Some("eu-west-1a"), Capacity::Spot),
        Some(0.075)
    );
    assert_eq!(
        hourly("m6i.xlarge", Some("eu-west-1b"), Capacity::Spot),
        Some(0.085)
    );
    assert_eq!(
        hourly("m6i.large", Some("eu-west-1a"), Capacity::Spot),
        Some(0.041)
    );
    // A type the table did not know, priced from AWS alone.
    assert_eq!(
        hourly("c7g.2xlarge", None, Capacity::OnDemand),
        Some(0.3233)
    );
    assert_eq!(
        hourly("c7g.2xlarge", Some("eu-west-1c"), Capacity::Spot),
        Some(0.11)
    );
    assert_eq!(hourly("x9.huge", None, Capacity::OnDemand), None);
    assert_eq!(
        table.source_for(REGION).to_string(),
        "AWS 2026-11-25 09:12 UTC"
    );

    // The cache file, with the time of the fetch.
    let cached = PriceCache::read(&cache::path_in(&dir))
        .expect("readable")
        .expect("written");
    let region = &cached.regions[REGION];
    assert_eq!(region.fetched_at, now());
    assert_eq!(region.prices.on_demand["m6i.xlarge"], 0.214);
    assert_eq!(region.prices.spot["m6i.xlarge"]["eu-west-1a"], 0.075);
    assert!(!region.prices.on_demand.contains_key("x9.huge"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_permission_and_fall_back() {
    let dir = temp_dir("denied");
    // An earlier refresh left a cache an hour old.
    let earlier = FakeAws::start(Arc::new(healthy) as Handler).await;
    let (first, _) = prepare(&earlier, &dir, &[]).await;
    assert!(first.notices.is_empty(), "{:?}", first.notices);
    let mut stored = PriceCache::read(&cache::path_in(&dir))
        .expect("read")
        .expect("cache");
    stored.regions.get_mut(REGION).expect("region").fetched_at =
        "2026-11-25T08:12:00Z".parse().expect("time");
    stored.write(&cache::path_in(&dir)).expect("write");

    let denied = FakeAws::start(Arc::new(|request: &Recorded| -> Answer {
        if is_price_list(request) {
            (
                400,
                "application/x-amz-json-1.1",
                r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: pricing:GetProducts"}"#
                    .to_string(),
            )
        } else {
            spot_history(request)
        }
    }) as Handler)
    .await;
    let (prepared, _) = prepare(&denied, &dir, &[]).await;
    assert_eq!(prepared.notices.len(), 1, "{:?}", prepared.notices);
    let notice = &prepared.notices[0];
    assert!(
        notice.starts_with("cannot refresh prices: AWS Price List API: AccessDeniedException: User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: pricing:GetProducts (the credentials need the IAM permission pricing:GetProducts)"),
        "{notice}"
    );
    assert!(
        notice.ends_with("; using the prices cached on 2026-11-25 08:12 UTC"),
        "{notice}"
    );
    assert_eq!(
        prepared.table.source_for(REGION).to_string(),
        "AWS 2026-11-25 08:12 UTC, cached 1h00m ago"
    );
    // A failed refresh leaves the cache as it was.
    let after = PriceCache::read(&cache::path_in(&dir))
        .expect("read")
        .expect("cache");
    assert_eq!(after, stored);

    let no_spot = FakeAws::start(Arc::new(|request: &Recorded| -> Answer {
        if is_price_list(request) {
            price_list(request)
        } else {
            (
                403,
                "text/xml;charset=UTF-8",
                r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: ec2:DescribeSpotPriceHistory</Message></Error></Errors><RequestID>5a1b</RequestID></Response>"#
                    .to_string(),
            )
        }
    }) as Handler)
    .await;
    let empty = temp_dir("denied-empty");
    let (prepared, _) = prepare(&no_spot, &empty, &[]).await;
    let notice = &prepared.notices[0];
    assert!(
        notice.contains("EC2 spot price history: UnauthorizedOperation"),
        "{notice}"
    );
    assert!(
        notice.contains("(the credentials need the IAM permission ec2:DescribeSpotPriceHistory)"),
        "{notice}"
    );
    assert!(
        notice.ends_with("; using the test table, 2026-11"),
        "{notice}"
    );
    assert_eq!(prepared.table, table());
    assert!(!cache::path_in(&empty).exists());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_tried_again() {
    let throttled = Arc::new(AtomicUsize::new(0));
    let count = throttled.clone();
    let server = FakeAws::start(Arc::new(move |request: &Recorded| -> Answer {
        if is_price_list(request) && count.fetch_add(1, Ordering::SeqCst) == 0 {
            return (
                400,
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
            );
        }
        healthy(request)
    }) as Handler)
    .await;
    let dir = temp_dir("throttled");
    let (prepared, _) = prepare(&server, &dir, &[]).await;
    assert!(prepared.notices.is_empty(), "{:?}", prepared.notices);
    assert!(throttled.load(Ordering::SeqCst) > 1);
    // Each attempt is signed afresh and verifies.
    assert!(server.requests().iter().all(|r| r.signature_ok));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `kockpit` with the fake AWS endpoints, the test credentials and private directories.
fn kockpit(args: &[&str], endpoint: &str, dirs: &Path) -> (String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(args)
        .env("KOCKPIT_CACHE_DIR", dirs.join("cache"))
        .env("KOCKPIT_CONFIG_DIR", dirs.join("config"))
        .env("KOCKPIT_STATE_DIR", dirs.join("state"))
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_CONFIG_FILE", dirs.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dirs.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("KUBECONFIG")
        .output()
        .expect("kockpit runs");
    assert!(
        output.status.success(),
        "kockpit {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_says_which_prices_it_used() {
    // Every type the simulator's table knows costs $1/h on demand and $0.30/h on spot.
    let server = FakeAws::start(Arc::new(|request: &Recorded| -> Answer {
        if is_price_list(request) {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let instance_type = body["Filters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["Field"] == "instanceType")
                .and_then(|f| f["Value"].as_str())
                .unwrap_or_default()
                .to_string();
            let page = json!({"PriceList": [product(&instance_type, "1.0000000000")]});
            (200, "application/x-amz-json-1.1", page.to_string())
        } else {
            let form = request.form();
            let items: String = form
                .iter()
                .filter(|(k, _)| k.starts_with("InstanceType."))
                .flat_map(|(_, t)| {
                    ["us-east-1a", "us-east-1b", "us-east-1c"]
                        .map(|zone| spot_item(t, zone, "0.300000", "2026-11-25T06:00:00.000Z"))
                })
                .collect();
            (
                200,
                "text/xml",
                format!(
                    "<DescribeSpotPriceHistoryResponse><spotPriceHistorySet>{items}</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>"
                ),
            )
        }
    }) as Handler)
    .await;
    let dirs = temp_dir("snapshot");
    std::fs::create_dir_all(dirs.join("config")).expect("config dir");
    std::fs::write(
        dirs.join("config").join("config.toml"),
        "[prices]\non_demand_discount = 0.28\n",
    )
    .expect("config");
    let endpoint = server.url();
    let run = {
        let dirs = dirs.clone();
        move |args: &'static [&'static str]| {
            let endpoint = endpoint.clone();
            let dirs = dirs.clone();
            tokio::task::spawn_blocking(move || kockpit(args, &endpoint, &dirs))
        }
    };
    let (builtin, _) = run(&["snapshot", "--demo", "--format", "json"])
        .await
        .expect("run");
    let builtin: Value = serde_json::from_str(&builtin).expect("JSON report");
    assert_eq!(
        builtin["spend"]["prices"],
        "built-in table, 2026-11, on-demand \u{2212}28%"
    );
    assert!(server.requests().is_empty(), "no refresh without the flag");

    let (refreshed, stderr) = run(&["snapshot", "--demo", "--format", "json", "--refresh-prices"])
        .await
        .expect("run");
    assert!(
        stderr.contains("kockpit: refreshing prices for us-east-1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kockpit: prices refreshed for us-east-1"),
        "{stderr}"
    );
    let refreshed: Value = serde_json::from_str(&refreshed).expect("JSON report");
    let label = refreshed["spend"]["prices"].as_str().expect("label");
    assert!(label.starts_with("AWS 20"), "{label}");
    assert!(label.ends_with(" UTC, on-demand \u{2212}28%"), "{label}");
    assert_eq!(refreshed["spend"]["price_source"]["origin"]["kind"], "aws");
    assert_eq!(
        refreshed["spend"]["price_source"]["discounts"]["on_demand"],
        0.28
    );
    assert_ne!(
        refreshed["spend"]["run_rate_usd_per_hour"],
        builtin["spend"]["run_rate_usd_per_hour"]
    );
    assert!(server.requests().iter().all(|r| r.signature_ok));
    assert!(cache::path_in(&dirs.join("cache")).exists());

    // The next run, without the flag, uses the cache and says so.
    let requests = server.requests().len();
    let (cached, _) = run(&["snapshot", "--demo", "--format", "json"])
        .await
        .expect("run");
    let cached: Value = serde_json::from_str(&cached).expect("JSON report");
    let label = cached["spend"]["prices"].as_str().expect("label");
    assert!(label.contains(" UTC, cached "), "{label}");
    assert_eq!(cached["spend"]["price_source"]["origin"]["kind"], "cache");
    assert_eq!(
        cached["spend"]["run_rate_usd_per_hour"],
        refreshed["spend"]["run_rate_usd_per_hour"]
    );
    assert_eq!(server.requests().len(), requests);
    let _ = std::fs::remove_dir_all(&dirs);
}
