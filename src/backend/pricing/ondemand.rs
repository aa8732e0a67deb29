//! On-demand prices from the AWS Price List Query API: `GetProducts` (awsJson1_1, a POST with
//! `X-Amz-Target: AWSPriceListService.GetProducts`) for service `AmazonEC2`, one instance type
//! at a time, filtered to Linux, shared tenancy, no pre-installed software and used capacity.
//! Each entry of the answer's `PriceList` is itself a JSON document, sent as a string.

use std::collections::BTreeMap;

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use super::{Call, PricingError};

pub const TARGET: &str = "AWSPriceListService.GetProducts";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Requests in flight at once; the Price List API throttles bursts.
const CONCURRENCY: usize = 4;

/// A type normally has one matching product; the bound only stops a runaway pagination.
const MAX_PAGES: usize = 10;

/// The body of one `GetProducts` request.
pub fn request_body(region: &str, instance_type: &str, next_token: Option<&str>) -> Value {
    let term =
        |field: &str, value: &str| json!({"Type": "TERM_MATCH", "Field": field, "Value": value});
    let mut body = json!({
        "ServiceCode": "AmazonEC2",
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
        "Filters": [
            term("regionCode", region),
            term("instanceType", instance_type),
            term("operatingSystem", "Linux"),
            term("tenancy", "Shared"),
            term("preInstalledSw", "NA"),
            term("capacitystatus", "Used"),
        ],
    });
    if let Some(token) = next_token {
        body["NextToken"] = Value::String(token.to_string());
    }
    body
}

/// One product's hourly on-demand price.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductPrice {
    pub instance_type: String,
    pub usd_per_hour: f64,
    /// Plain `RunInstances` on regular on-demand capacity (not a capacity block, not a
    /// licensed variant), which the filters should already leave alone.
    pub plain: bool,
}

/// One page of a `GetProducts` answer: the products that carry an hourly USD on-demand
/// price, and the token of the next page. Products without one are skipped.
pub fn parse_page(body: &[u8]) -> Result<(Vec<ProductPrice>, Option<String>), String> {
    let page: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let list = page
        .get("PriceList")
        .and_then(Value::as_array)
        .ok_or("no PriceList")?;
    let mut products = Vec::new();
    for entry in list {
        // Documents are strings; tolerate an already-parsed object too.
        let document = match entry {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| format!("a PriceList entry is not JSON: {e}"))?,
            other => other.clone(),
        };
        if let Some(product) = product_price(&document) {
            products.push(product);
        }
    }
    let next = page
        .get("NextToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((products, next))
}

fn product_price(document: &Value) -> Option<ProductPrice> {
    let attributes = document.pointer("/product/attributes")?;
    let attribute = |name: &str| attributes.get(name).and_then(Value::as_str);
    let instance_type = attribute("instanceType")?.to_string();
    let usd_per_hour = document
        .pointer("/terms/OnDemand")?
        .as_object()?
        .values()
        .filter_map(|term| term.get("priceDimensions")?.as_object())
        .flat_map(|dimensions| dimensions.values())
        .filter(|dimension| {
            dimension
                .get("unit")
                .and_then(Value::as_str)
                .is_some_and(|unit| unit.eq_ignore_ascii_case("hrs"))
        })
        .filter_map(|dimension| {
            dimension
                .pointer("/pricePerUnit/USD")?
                .as_str()?
                .parse::<f64>()
                .ok()
        })
        .find(|price| price.is_finite() && *price > 0.0)?;
    let plain = attribute("operation").is_none_or(|op| op == "RunInstances")
        && attribute("marketoption").is_none_or(|market| market == "OnDemand");
    Some(ProductPrice {
        instance_type,
        usd_per_hour,
        plain,
    })
}

/// The price of `instance_type` among `products`: the plain product's, else the cheapest.
pub fn choose(products: &[ProductPrice], instance_type: &str) -> Option<f64> {
    let matching = products.iter().filter(|p| p.instance_type == instance_type);
    let cheapest = |plain_only: bool| {
        matching
            .clone()
            .filter(|p| p.plain || !plain_only)
            .map(|p| p.usd_per_hour)
            .min_by(f64::total_cmp)
    };
    cheapest(true).or_else(|| cheapest(false))
}

/// Each type's on-demand price in `region`; types AWS does not list there are left out.
pub async fn fetch(
    call: &Call<'_>,
    region: &str,
    instance_types: &[&str],
) -> Result<BTreeMap<String, f64>, PricingError> {
    let prices: Vec<Option<(String, f64)>> = futures::stream::iter(instance_types.iter().copied())
        .map(|instance_type| async move {
            let mut products = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let body =
                    serde_json::to_vec(&request_body(region, instance_type, token.as_deref()))
                        .map_err(|e| call.unexpected(e.to_string()))?;
                let answer = call
                    .send(|http, endpoint| {
                        http.post(endpoint)
                            .header("content-type", CONTENT_TYPE)
                            .header("x-amz-target", TARGET)
                            .body(body.clone())
                    })
                    .await?;
                let (page, next) = parse_page(&answer).map_err(|e| call.unexpected(e))?;
                products.extend(page);
                match next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            Ok::<_, PricingError>(
                choose(&products, instance_type).map(|price| (instance_type.to_string(), price)),
            )
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(prices.into_iter().flatten().collect())
}

/// The error code and message of an awsJson error answer: `{"__type": "…#Code", "message": …}`,
/// or the `x-amzn-errortype` header.
pub fn parse_error(body: &[u8], error_type_header: Option<&str>) -> Option<(String, String)> {
    let document: Option<Value> = serde_json::from_slice(body).ok();
    let field = |names: &[&str]| {
        names.iter().find_map(|name| {
            document
                .as_ref()?
                .get(*name)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    let code =
        field(&["__type", "code", "Code"]).or_else(|| error_type_header.map(str::to_string))?;
    // "com.amazon.coral.service#AccessDeniedException" or "AccessDeniedException:http://…".
    let code = code.rsplit('#').next().unwrap_or(&code);
    let code = code.split(':').next().unwrap_or(code).trim().to_string();
    let message = field(&["message", "Message"]).unwrap_or_default();
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product document the way the Price List API sends it (trimmed).
    fn product(instance_type: &str, usd: &str, operation: &str) -> String {
        json!({
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "instanceType": instance_type,
                    "regionCode": "us-east-1",
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "operation": operation,
                    "marketoption": "OnDemand",
                },
                "sku": "JRTCKXETXF7Y8BNP",
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "JRTCKXETXF7Y8BNP.JRTCKXETXF": {
                        "priceDimensions": {
                            "JRTCKXETXF7Y8BNP.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": "$0.192 per On Demand Linux m6i.xlarge Instance Hour",
                                "appliesTo": [],
                                "rateCode": "JRTCKXETXF7Y8BNP.JRTCKXETXF.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": "JRTCKXETXF7Y8BNP",
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    "JRTCKXETXF7Y8BNP.4NA7Y494T4": {
                        "priceDimensions": {
                            "x": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0500000000"}}
                        }
                    }
                },
            },
            "version": "20261120000000",
            "publicationDate": "2026-11-20T00:00:00Z",
        })
        .to_string()
    }

    #[test]
    fn the_request_filters_one_linux_type() {
        let body = request_body("eu-west-1", "m7g.large", Some("tok"));
        assert_eq!(body["ServiceCode"], "AmazonEC2");
        assert_eq!(body["NextToken"], "tok");
        let filters = body["Filters"].as_array().expect("filters");
        let has = |field: &str, value: &str| {
            filters
                .iter()
                .any(|f| f["Field"] == field && f["Value"] == value && f["Type"] == "TERM_MATCH")
        };
        for (field, value) in [
            ("regionCode", "eu-west-1"),
            ("instanceType", "m7g.large"),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
            ("preInstalledSw", "NA"),
            ("capacitystatus", "Used"),
        ] {
            assert!(has(field, value), "{field}");
        }
        assert!(
            request_body("eu-west-1", "m7g.large", None)
                .get("NextToken")
                .is_none()
        );
    }

    #[test]
    fn price_list_strings_are_parsed_for_the_hourly_on_demand_price() {
        let page = json!({
            "FormatVersion": "aws_v1",
            "PriceList": [
                product("m6i.xlarge", "0.1920000000", "RunInstances"),
                product("m6i.xlarge", "0.2500000000", "RunInstances:0004"),
                // Zero-priced dimensions (e.g. unused reservations) are not a price.
                product("m6i.xlarge", "0.0000000000", "RunInstances"),
            ],
            "NextToken": "next",
        });
        let (products, next) = parse_page(page.to_string().as_bytes()).expect("parses");
        assert_eq!(next.as_deref(), Some("next"));
        assert_eq!(products.len(), 2);
        assert_eq!(products[0].usd_per_hour, 0.192);
        assert!(products[0].plain);
        assert!(!products[1].plain);
        assert_eq!(choose(&products, "m6i.xlarge"), Some(0.192));
        assert_eq!(choose(&products[1..], "m6i.xlarge"), Some(0.25));
        assert_eq!(choose(&products, "m5.large"), None);

        let last = json!({"PriceList": [], "NextToken": ""});
        assert_eq!(parse_page(last.to_string().as_bytes()), Ok((vec![], None)));
        assert!(parse_page(b"{}").is_err());
        assert!(parse_page(b"<html>").is_err());
        assert!(parse_page(br#"{"PriceList": ["{not json"]}"#).is_err());
    }

    #[test]
    fn error_answers_give_code_and_message() {
        let body = br#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:iam::1:user/x is not authorized to perform: pricing:GetProducts"}"#;
        let (code, message) = parse_error(body, None).expect("error");
        assert_eq!(code, "AccessDeniedException");
        assert!(message.contains("pricing:GetProducts"));
        let (code, _) =
            parse_error(b"", Some("ThrottlingException:http://internal")).expect("header");
        assert_eq!(code, "ThrottlingException");
        assert_eq!(parse_error(b"oops", None), None);
    }
}
