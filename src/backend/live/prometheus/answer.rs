//! Reading a Prometheus HTTP API answer within limits: at most so many bytes are read, at
//! most so many series (and points per series) are kept, label values are clipped, and an
//! answer cut at the byte limit still gives the series read before the cut. What was cut is
//! said in `Bounded::truncated`, for the pane to show.
//!
//! The envelope is decoded as a stream (a visitor per level) rather than into a tree: the
//! series past the limit are skipped without being built.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::domain::limits;
use crate::domain::promql::Sample;

/// One series of a range query: its labels and (unix seconds, value) points.
pub type RangeSeries = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// How much of an answer is read and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimits {
    pub bytes: u64,
    pub series: usize,
    pub points: usize,
}

impl Default for AnswerLimits {
    fn default() -> Self {
        AnswerLimits {
            bytes: limits::PROMETHEUS_ANSWER_BYTES.max,
            series: limits::PROMETHEUS_SERIES.max as usize,
            points: limits::PROMETHEUS_POINTS.max as usize,
        }
    }
}

/// A value, and what was left out of it to stay within the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded<T> {
    pub value: T,
    /// "truncated: over 2000000 series, the rest dropped"; `None` when nothing was.
    pub truncated: Option<String>,
}

impl<T> Bounded<T> {
    pub fn whole(value: T) -> Self {
        Bounded {
            value,
            truncated: None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Bounded<U> {
        Bounded {
            value: f(self.value),
            truncated: self.truncated,
        }
    }
}

/// What the answer's `data` held.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Vector(Vec<Sample>),
    Matrix(Vec<RangeSeries>),
    Scalar(f64),
    /// `/api/v1/label/…/values`.
    Strings(Vec<String>),
}

/// Why an answer gave no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// `{"status": "error", "errorType": …, "error": …}`.
    #[error("{kind}: {message}")]
    Refused { kind: String, message: String },
    #[error("{0}")]
    Unreadable(String),
}

/// What has been read so far; kept when the answer breaks off.
#[derive(Default)]
struct Partial {
    status: Option<String>,
    error_type: Option<String>,
    error: Option<String>,
    vector: Vec<Sample>,
    matrix: Vec<RangeSeries>,
    scalar: Vec<ScalarPart>,
    strings: Vec<String>,
    dropped_series: usize,
    clipped_points: bool,
    saw_result: bool,
}

/// A scalar is `[time, "value"]`: the time is read and not kept.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScalarPart {
    Text(String),
    Time(IgnoredAny),
}

/// One element of `result`: a series, or one of the two parts of a scalar.
#[derive(Deserialize)]
#[serde(untagged)]
enum Item {
    Series {
        #[serde(default)]
        metric: BTreeMap<String, String>,
        value: Option<(f64, String)>,
        values: Option<Vec<(f64, String)>>,
    },
    Part(ScalarPart),
}

/// Prometheus writes values as strings: `"1.5"`, `"NaN"`, `"+Inf"`.
fn number(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

fn clipped(labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .map(|(name, value)| {
            let name = limits::clip_label(&name).into_owned();
            let value = match limits::clip_label(&value) {
                std::borrow::Cow::Borrowed(_) => value,
                std::borrow::Cow::Owned(clipped) => clipped,
            };
            (name, value)
        })
        .collect()
}

struct Top<'a> {
    out: &'a mut Partial,
    limits: AnswerLimits,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the Prometheus API envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "status" => self.out.status = Some(map.next_value()?),
                "errorType" => self.out.error_type = Some(map.next_value()?),
                "error" => self.out.error = Some(map.next_value()?),
                "data" => map.next_value_seed(DataSeed {
                    out: &mut *self.out,
                    limits: self.limits,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct DataSeed<'a> {
    out: &'a mut Partial,
    limits: AnswerLimits,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the answer's data")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "result" {
                self.out.saw_result = true;
                map.next_value_seed(ResultSeed {
                    out: &mut *self.out,
                    limits: self.limits,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    // Label values: a list of strings.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.saw_result = true;
        while self.out.strings.len() < self.limits.series {
            match seq.next_element::<String>()? {
                Some(text) => self.out.strings.push(text),
                None => return Ok(()),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            self.out.dropped_series += 1;
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

struct ResultSeed<'a> {
    out: &'a mut Partial,
    limits: AnswerLimits,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of series or a scalar")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let kept = self.out.vector.len() + self.out.matrix.len();
            if kept >= self.limits.series {
                // Past the limit: skipped without being built.
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    self.out.dropped_series += 1;
                }
                return Ok(());
            }
            let Some(item) = seq.next_element::<Item>()? else {
                return Ok(());
            };
            match item {
                Item::Series {
                    metric,
                    value: Some((_, value)),
                    ..
                } => self.out.vector.push(Sample {
                    labels: clipped(metric),
                    value: number(&value),
                }),
                Item::Series {
                    metric,
                    values: Some(mut values),
                    ..
                } => {
                    if values.len() > self.limits.points {
                        values.truncate(self.limits.points);
                        self.out.clipped_points = true;
                    }
                    let points = values.into_iter().map(|(t, v)| (t, number(&v))).collect();
                    self.out.matrix.push((clipped(metric), points));
                }
                // A series with neither (a native histogram): nothing kockpit reads.
                Item::Series { .. } => {}
                Item::Part(part) => self.out.scalar.push(part),
            }
        }
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Decodes an answer's body. `cut` says the body stopped at the byte limit: what was read
/// before the cut is kept, if the answer had begun as a success.
pub fn decode(body: &[u8], cut: bool, limits: AnswerLimits) -> Result<Bounded<Data>, AnswerError> {
    let mut partial = Partial::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let decoded = Top {
        out: &mut partial,
        limits,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    if partial.status.as_deref() == Some("error") {
        return Err(AnswerError::Refused {
            kind: partial.error_type.unwrap_or_else(|| "error".into()),
            message: partial.error.unwrap_or_default(),
        });
    }
    let mut notes = Vec::new();
    match decoded {
        Ok(()) => {}
        Err(_) if cut && partial.status.as_deref() == Some("success") && partial.saw_result => {
            notes.push(format!(
                "answer over {}, cut there",
                shown_bytes(limits.bytes)
            ))
        }
        Err(error) if cut => {
            return Err(AnswerError::Unreadable(format!(
                "answer over {} and unreadable before it ({error})",
                shown_bytes(limits.bytes)
            )));
        }
        Err(error) => return Err(AnswerError::Unreadable(error.to_string())),
    }
    if partial.status.as_deref() != Some("success") {
        return Err(AnswerError::Unreadable(
            "not a Prometheus API answer (no status)".into(),
        ));
    }
    if partial.dropped_series > 0 {
        notes.push(format!(
            "over {} series, {} dropped",
            limits.series, partial.dropped_series
        ));
    }
    if partial.clipped_points {
        notes.push(format!("series over {} points clipped", limits.points));
    }
    let data = if !partial.strings.is_empty() {
        Data::Strings(partial.strings)
    } else if !partial.matrix.is_empty() {
        Data::Matrix(partial.matrix)
    } else if let [_, ScalarPart::Text(value)] = partial.scalar.as_slice() {
        Data::Scalar(number(value))
    } else {
        Data::Vector(partial.vector)
    };
    Ok(Bounded {
        value: data,
        truncated: (!notes.is_empty()).then(|| format!("truncated: {}", notes.join("; "))),
    })
}

fn shown_bytes(bytes: u64) -> String {
    limits::Limit {
        what: "",
        max: bytes,
        unit: "bytes",
    }
    .shown()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(series: usize) -> AnswerLimits {
        AnswerLimits {
            bytes: 1 << 20,
            series,
            points: 3,
        }
    }

    #[test]
    fn vectors_scalars_matrices_and_names_are_read() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"1.5"]},{"metric":{},"value":[1,"NaN"]}]}}"#;
        let Ok(Bounded {
            value: Data::Vector(samples),
            truncated: None,
        }) = decode(vector, false, AnswerLimits::default())
        else {
            panic!("a vector");
        };
        assert_eq!(samples[0].labels["pod"], "a");
        assert_eq!(samples[0].value, 1.5);
        assert!(samples[1].value.is_nan());

        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}"#;
        assert_eq!(
            decode(scalar, false, AnswerLimits::default()).map(|b| b.value),
            Ok(Data::Scalar(f64::INFINITY))
        );
        let names = br#"{"status":"success","data":["up","coredns_dns_requests_total"]}"#;
        assert_eq!(
            decode(names, false, AnswerLimits::default()).map(|b| b.value),
            Ok(Data::Strings(vec![
                "up".into(),
                "coredns_dns_requests_total".into()
            ]))
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"2"],[3,"3"],[4,"4"]]}]}}"#;
        let bounded = decode(matrix, false, small(10)).expect("a matrix");
        let Data::Matrix(series) = bounded.value else {
            panic!("a matrix")
        };
        assert_eq!(series[0].1, vec![(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]);
        assert_eq!(
            bounded.truncated.as_deref(),
            Some("truncated: series over 3 points clipped")
        );
    }

    #[test]
    fn series_past_the_limit_are_dropped_and_said_so() {
        let mut body =
            String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
        for i in 0..10 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"metric":{{"pod":"p{i}"}},"value":[1,"{i}"]}}"#
            ));
        }
        body.push_str("]}}");
        let bounded = decode(body.as_bytes(), false, small(4)).expect("an answer");
        let Data::Vector(samples) = bounded.value else {
            panic!("a vector")
        };
        assert_eq!(samples.len(), 4);
        assert_eq!(
            bounded.truncated.as_deref(),
            Some("truncated: over 4 series, 6 dropped")
        );
        // Cut mid-answer at the byte limit: what came before the cut is kept.
        let cut = &body.as_bytes()[..body.len() / 2];
        let bounded = decode(cut, true, small(100)).expect("the part before the cut");
        let Data::Vector(samples) = bounded.value else {
            panic!("a vector")
        };
        assert!((3..10).contains(&samples.len()), "{}", samples.len());
        assert_eq!(
            bounded.truncated.as_deref(),
            Some("truncated: answer over 1 MiB, cut there")
        );
    }

    #[test]
    fn refusals_and_garbage_are_errors() {
        let refused = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(
            decode(refused, false, AnswerLimits::default()),
            Err(AnswerError::Refused {
                kind: "bad_data".into(),
                message: "parse error".into()
            })
        );
        assert!(matches!(
            decode(b"<html>502</html>", false, AnswerLimits::default()),
            Err(AnswerError::Unreadable(_))
        ));
        assert!(matches!(
            decode(br#"{"data":[]}"#, false, AnswerLimits::default()),
            Err(AnswerError::Unreadable(_))
        ));
    }

    #[test]
    fn long_label_values_are_clipped() {
        let long = "v".repeat(5_000);
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"pod":"{long}"}},"value":[1,"1"]}}]}}}}"#
        );
        let Ok(Bounded {
            value: Data::Vector(samples),
            ..
        }) = decode(body.as_bytes(), false, AnswerLimits::default())
        else {
            panic!("a vector");
        };
        assert_eq!(
            samples[0].labels["pod"].chars().count(),
            limits::LABEL_VALUE_CHARS.max as usize
        );
    }
}
