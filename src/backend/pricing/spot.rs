//! Spot prices from EC2 `DescribeSpotPriceHistory` (the EC2 query protocol: a POST form with
//! `Action` and `Version`, an XML answer). Asked with `StartTime` = now, EC2 answers each
//! instance type and zone's price in effect now (plus any change since); the latest per type
//! and zone is kept. The few fields needed are read with a small, tolerant XML scanner.

use std::collections::BTreeMap;

use super::{Call, PricingError};
use crate::domain::time::Timestamp;

pub const API_VERSION: &str = "2016-11-15";
pub const PRODUCT: &str = "Linux/UNIX";

/// Instance types per request; the rest go in further requests.
const TYPES_PER_REQUEST: usize = 50;

/// Pages per request at most (a page holds up to 1000 prices).
const MAX_PAGES: usize = 20;

/// The form of one request.
pub fn form(
    instance_types: &[&str],
    start: Timestamp,
    next_token: Option<&str>,
) -> Vec<(String, String)> {
    let mut form = vec![
        ("Action".to_string(), "DescribeSpotPriceHistory".to_string()),
        ("Version".to_string(), API_VERSION.to_string()),
        ("ProductDescription.1".to_string(), PRODUCT.to_string()),
        (
            "StartTime".to_string(),
            start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("MaxResults".to_string(), "1000".to_string()),
    ];
    for (i, instance_type) in instance_types.iter().enumerate() {
        form.push((format!("InstanceType.{}", i + 1), instance_type.to_string()));
    }
    if let Some(token) = next_token {
        form.push(("NextToken".to_string(), token.to_string()));
    }
    form
}

/// `application/x-www-form-urlencoded`.
pub fn form_body(form: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("a fixed, valid URL");
    url.query_pairs_mut()
        .extend_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    url.query().unwrap_or_default().to_string()
}

/// One entry of the spot price history.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotPrice {
    pub instance_type: String,
    pub zone: String,
    pub usd_per_hour: f64,
    pub at: Option<Timestamp>,
}

/// One page of an answer: the Linux/UNIX prices and the token of the next page. Items
/// without a type, zone or usable price are skipped.
pub fn parse_page(xml: &str) -> Result<(Vec<SpotPrice>, Option<String>), String> {
    if element(xml, "DescribeSpotPriceHistoryResponse").is_none() {
        return Err("no DescribeSpotPriceHistoryResponse".to_string());
    }
    let history = element(xml, "spotPriceHistorySet").unwrap_or_default();
    let mut prices = Vec::new();
    for item in elements(history, "item") {
        let field = |name: &str| element(item, name).map(decode);
        let product = field("productDescription").unwrap_or_default();
        if !product.starts_with(PRODUCT) {
            continue;
        }
        let (Some(instance_type), Some(zone), Some(price)) = (
            field("instanceType"),
            field("availabilityZone"),
            field("spotPrice").and_then(|p| p.trim().parse::<f64>().ok()),
        ) else {
            continue;
        };
        if !(price.is_finite() && price >= 0.0) || instance_type.is_empty() || zone.is_empty() {
            continue;
        }
        prices.push(SpotPrice {
            instance_type,
            zone,
            usd_per_hour: price,
            at: field("timestamp").and_then(|t| t.trim().parse().ok()),
        });
    }
    let next = element(xml, "nextToken")
        .map(decode)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    Ok((prices, next))
}

/// The latest price per instance type and zone.
pub fn latest(prices: &[SpotPrice]) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut newest: BTreeMap<(&str, &str), &SpotPrice> = BTreeMap::new();
    for price in prices {
        let key = (price.instance_type.as_str(), price.zone.as_str());
        match newest.get(&key) {
            Some(seen) if seen.at >= price.at => {}
            _ => {
                newest.insert(key, price);
            }
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for ((instance_type, zone), price) in newest {
        out.entry(instance_type.to_string())
            .or_default()
            .insert(zone.to_string(), price.usd_per_hour);
    }
    out
}

/// The code and message of an EC2 error answer
/// (`<Response><Errors><Error><Code>…</Code><Message>…</Message>`).
pub fn parse_error(xml: &str) -> Option<(String, String)> {
    let error = element(xml, "Error")?;
    let code = decode(element(error, "Code")?).trim().to_string();
    let message = element(error, "Message").map(decode).unwrap_or_default();
    Some((code, message.trim().to_string()))
}

/// Every type's latest spot price per zone.
pub async fn fetch(
    call: &Call<'_>,
    instance_types: &[&str],
    now: Timestamp,
) -> Result<BTreeMap<String, BTreeMap<String, f64>>, PricingError> {
    let mut prices = Vec::new();
    for chunk in instance_types.chunks(TYPES_PER_REQUEST) {
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let body = form_body(&form(chunk, now, token.as_deref()));
            let answer = call
                .send(|http, endpoint| {
                    http.post(endpoint)
                        .header(
                            "content-type",
                            "application/x-www-form-urlencoded; charset=utf-8",
                        )
                        .body(body.clone())
                })
                .await?;
            let text = String::from_utf8_lossy(&answer);
            let (page, next) = parse_page(&text).map_err(|e| call.unexpected(e))?;
            prices.extend(page);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    Ok(latest(&prices))
}

/// The content of the first `<name>` element in `xml` (attributes and a namespace prefix
/// allowed); `Some("")` for an empty `<name/>`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    elements(xml, name).next()
}

/// The contents of the `<name>` elements in `xml`, outermost first. Elements of the same
/// name nested inside one another are not expected in these answers and end at the first
/// closing tag.
fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
    let name = name.to_string();
    let mut rest = xml;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find('<')?;
            let after = &rest[open + 1..];
            let tag_end = after.find('>')?;
            let tag = &after[..tag_end];
            rest = &after[tag_end + 1..];
            let self_closing = tag.ends_with('/');
            let tag_name = tag
                .trim_end_matches('/')
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            let local = tag_name.rsplit(':').next().unwrap_or(tag_name);
            if tag.starts_with(['/', '?', '!']) || local != name {
                continue;
            }
            if self_closing {
                return Some("");
            }
            let close = closing_tag(rest, tag_name)?;
            let content = &rest[..close.0];
            rest = &rest[close.1..];
            return Some(content);
        }
    })
}

/// Where `</name>` starts and ends in `xml`.
fn closing_tag(xml: &str, name: &str) -> Option<(usize, usize)> {
    let needle = format!("</{name}");
    let mut from = 0;
    while let Some(found) = xml[from..].find(&needle) {
        let start = from + found;
        let after = &xml[start + needle.len()..];
        let end = after.find('>')?;
        if after[..end].trim().is_empty() {
            return Some((start, start + needle.len() + end + 1));
        }
        from = start + needle.len();
    }
    None
}

/// Text content with the XML entities and character references resolved.
fn decode(text: &str) -> String {
    let text = text.trim();
    if let Some(raw) = text
        .strip_prefix("<![CDATA[")
        .and_then(|t| t.strip_suffix("]]>"))
    {
        return raw.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let resolved = after
            .find(';')
            .filter(|semi| *semi <= 10)
            .and_then(|semi| Some((entity(&after[..semi])?, semi)));
        match resolved {
            Some((ch, semi)) => {
                out.push(ch);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => name.strip_prefix('#')?.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <spotPriceHistorySet>
        <item>
            <instanceType>m6i.xlarge</instanceType>
            <productDescription>Linux/UNIX</productDescription>
            <spotPrice>0.067200</spotPrice>
            <timestamp>2026-11-25T08:00:00.000Z</timestamp>
            <availabilityZone>us-east-1a</availabilityZone>
        </item>
        <item>
            <instanceType>m6i.xlarge</instanceType>
            <productDescription>Linux/UNIX</productDescription>
            <spotPrice>0.070100</spotPrice>
            <timestamp>2026-11-25T09:00:00.000Z</timestamp>
            <availabilityZone>us-east-1a</availabilityZone>
        </item>
        <item>
            <instanceType>m6i.xlarge</instanceType>
            <productDescription>Linux/UNIX (Amazon VPC)</productDescription>
            <spotPrice>0.0650</spotPrice>
            <timestamp>2026-11-25T07:00:00.000Z</timestamp>
            <availabilityZone>us-east-1b</availabilityZone>
        </item>
        <item>
            <instanceType>m6i.xlarge</instanceType>
            <productDescription>Windows</productDescription>
            <spotPrice>0.5</spotPrice>
            <timestamp>2026-11-25T07:00:00.000Z</timestamp>
            <availabilityZone>us-east-1c</availabilityZone>
        </item>
        <item>
            <instanceType>c7g.large</instanceType>
            <productDescription>Linux/UNIX</productDescription>
            <spotPrice>not-a-price</spotPrice>
            <availabilityZone>us-east-1a</availabilityZone>
        </item>
    </spotPriceHistorySet>
    <nextToken>abc&amp;def</nextToken>
</DescribeSpotPriceHistoryResponse>"#;

    #[test]
    fn the_latest_linux_price_per_type_and_zone() {
        let (prices, next) = parse_page(PAGE).expect("parses");
        assert_eq!(next.as_deref(), Some("abc&def"));
        assert_eq!(prices.len(), 3);
        let latest = latest(&prices);
        assert_eq!(latest.len(), 1);
        let zones = &latest["m6i.xlarge"];
        assert_eq!(zones["us-east-1a"], 0.0701);
        assert_eq!(zones["us-east-1b"], 0.065);
        assert!(!zones.contains_key("us-east-1c"));

        let empty = r#"<DescribeSpotPriceHistoryResponse><requestId>x</requestId><spotPriceHistorySet/><nextToken/></DescribeSpotPriceHistoryResponse>"#;
        assert_eq!(parse_page(empty), Ok((vec![], None)));
        assert!(parse_page("<html>busy</html>").is_err());
    }

    #[test]
    fn the_form_names_the_action_version_and_types() {
        let start: Timestamp = "2026-11-25T09:12:00Z".parse().expect("time");
        let form = form(&["m6i.large", "c7g.xlarge"], start, Some("t"));
        let body = form_body(&form);
        assert_eq!(
            body,
            "Action=DescribeSpotPriceHistory&Version=2016-11-15&ProductDescription.1=Linux%2FUNIX&StartTime=2026-11-25T09%3A12%3A00Z&MaxResults=1000&InstanceType.1=m6i.large&InstanceType.2=c7g.xlarge&NextToken=t"
        );
    }

    #[test]
    fn errors_and_entities() {
        let error = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:iam::1:user/x &amp; friends</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        let (code, message) = parse_error(error).expect("error");
        assert_eq!(code, "UnauthorizedOperation");
        assert!(message.ends_with("x & friends"), "{message}");
        assert_eq!(parse_error("<Response/>"), None);
        assert_eq!(decode("a&lt;b&#62;c&#x41;&unknown;&"), "a<b>cA&unknown;&");
        assert_eq!(decode("<![CDATA[a&b]]>"), "a&b");
        assert_eq!(element("<a:item x=\"1\">v</a:item>", "item"), Some("v"));
        assert_eq!(
            element("<itemSet><item>1</item></itemSet>", "item"),
            Some("1")
        );
    }
}
