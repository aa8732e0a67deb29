//! One shape for "this file is wrong here": origin, line, column and the problem, shared by
//! every parser of user-supplied files (scenarios, prices, keymaps, themes, configuration).

/// A problem at a position in a text file. Displays as `origin: line L, column C: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: line {line}, column {column}: {problem}")]
pub struct FileError {
    pub origin: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub problem: String,
}

impl FileError {
    /// A problem at byte `offset` of `text` (clamped to the text).
    pub fn at_offset(origin: &str, text: &str, offset: usize, problem: impl Into<String>) -> Self {
        let (line, column) = line_and_column(text, offset);
        FileError {
            origin: origin.to_string(),
            line,
            column,
            problem: problem.into(),
        }
    }

    /// Turns a TOML error into a positioned one. The toml crate's own message repeats the
    /// offending line with a caret; only its first line (the problem) is kept.
    pub fn from_toml(origin: &str, text: &str, error: &toml::de::Error) -> Self {
        let offset = error.span().map(|span| span.start).unwrap_or(0);
        let problem = error
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_string();
        FileError::at_offset(origin, text, offset, problem)
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Where `field = …` is set under the table `[path]` (or at the top level for an empty
/// path): the line of the key, found by scanning the table's own lines. Inline tables and
/// dotted keys fall back to the needles.
pub fn locate_field(text: &str, path: &[String], field: &str) -> Option<(usize, usize)> {
    let header_matches = |line: &str| {
        let Some(inner) = line
            .trim()
            .strip_prefix('[')
            .and_then(|l| l.split(']').next())
        else {
            return false;
        };
        let parts: Vec<String> = inner
            .split('.')
            .map(|p| p.trim().trim_matches('"').to_string())
            .collect();
        parts == path
    };
    let mut in_table = path.is_empty();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_table = !path.is_empty() && header_matches(trimmed);
        } else if in_table
            && let Some(rest) = trimmed.strip_prefix(field)
            && rest.trim_start().starts_with('=')
        {
            let column_offset = offset + (line.len() - trimmed.len());
            return Some(line_and_column(text, column_offset));
        }
        offset += line.len();
    }
    None
}

/// The first value that is not a finite number (`inf`, `nan`), as its table path and key.
pub fn non_finite(table: &toml::Table, path: &mut Vec<String>) -> Option<(Vec<String>, String)> {
    for (key, value) in table {
        match value {
            toml::Value::Float(f) if !f.is_finite() => return Some((path.clone(), key.clone())),
            toml::Value::Table(inner) => {
                path.push(key.clone());
                let found = non_finite(inner, path);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            toml::Value::Array(items) => {
                let nested = items.iter().any(|item| match item {
                    toml::Value::Float(f) => !f.is_finite(),
                    toml::Value::Table(inner) => non_finite(inner, &mut Vec::new()).is_some(),
                    _ => false,
                });
                if nested {
                    return Some((path.clone(), key.clone()));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        assert_eq!(line_and_column(text, 8), (2, 3));
        assert_eq!(line_and_column(text, 999), (3, 1));
    }

    #[test]
    fn toml_errors_keep_position_and_problem() {
        let text = "name = \"x\"\nreplicas = \"two\"\n";
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            name: String,
            replicas: u32,
        }
        let error = toml::from_str::<Doc>(text).unwrap_err();
        let positioned = FileError::from_toml("demo.toml", text, &error);
        assert_eq!(positioned.line, 2);
        assert!(
            positioned
                .to_string()
                .starts_with("demo.toml: line 2, column")
        );
        assert!(!positioned.problem.contains('\n'));
    }
}
