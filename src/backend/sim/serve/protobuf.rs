//! Just enough of the API server's protobuf encoding to read access reviews: client-go's
//! typed clients (`kubectl auth can-i`) send those as protobuf, and answer parsing goes by
//! the response's content type, so replies can stay JSON.
//!
//! The envelope is the magic `k8s\0` and a `runtime.Unknown` message whose field 2 holds the
//! object; the object's fields are read by number from `generated.proto` of authorization/v1.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The length-delimited fields of a message, by number (other wire types are skipped).
fn fields(bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = varint(bytes, &mut at)?;
        match key & 7 {
            0 => {
                varint(bytes, &mut at)?;
            }
            1 => at += 8,
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)?).ok()?;
                let end = at.checked_add(len)?;
                out.push((key >> 3, bytes.get(at..end)?));
                at = end;
            }
            5 => at += 4,
            _ => return None,
        }
    }
    Some(out)
}

fn field<'a>(fields: &[(u64, &'a [u8])], number: u64) -> Option<&'a [u8]> {
    fields.iter().find(|(n, _)| *n == number).map(|(_, b)| *b)
}

fn strings(bytes: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let fields = fields(bytes)?;
    let mut map = Map::new();
    for (number, name) in names {
        if let Some(raw) = field(&fields, *number) {
            map.insert(name.to_string(), json!(String::from_utf8_lossy(raw)));
        }
    }
    Some(Value::Object(map))
}

/// A SelfSubjectAccessReview or SelfSubjectRulesReview as JSON, from its protobuf form.
pub fn decode_review(body: &[u8], rules: bool) -> Option<Value> {
    let envelope = fields(body.strip_prefix(MAGIC)?)?;
    let object = fields(field(&envelope, 2)?)?;
    let spec = field(&object, 2).unwrap_or(&[]);
    let spec_fields = fields(spec)?;
    let mut out = json!({"spec": {}});
    if let Some(raw) = field(&spec_fields, 1) {
        if rules {
            out["spec"]["namespace"] = json!(String::from_utf8_lossy(raw));
        } else {
            out["spec"]["resourceAttributes"] = strings(
                raw,
                &[
                    (1, "namespace"),
                    (2, "verb"),
                    (3, "group"),
                    (4, "version"),
                    (5, "resource"),
                    (6, "subresource"),
                    (7, "name"),
                ],
            )?;
        }
    }
    if let Some(raw) = field(&spec_fields, 2) {
        out["spec"]["nonResourceAttributes"] = strings(raw, &[(1, "path"), (2, "verb")])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (number, bytes) in fields {
            out.push(((number << 3) | 2) as u8);
            out.push(bytes.len() as u8);
            out.extend(bytes);
        }
        out
    }

    #[test]
    fn reads_an_access_review() {
        let attributes = message(&[(2, b"list".to_vec()), (5, b"pods".to_vec())]);
        let spec = message(&[(1, attributes)]);
        let review = message(&[(2, spec)]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(2, review)]));
        let value = decode_review(&body, false).unwrap_or_default();
        assert_eq!(value["spec"]["resourceAttributes"]["resource"], "pods");
        assert_eq!(value["spec"]["resourceAttributes"]["verb"], "list");
        assert_eq!(decode_review(b"junk", false), None);
    }
}
