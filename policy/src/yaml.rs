//! YAML decoding with locations: every error names origin, line and field.

use marked_yaml::{LoaderOptions, Span};
use serde::de::DeserializeOwned;

use crate::error::{Location, PolicyError};

/// Location of the start of `span` in `origin`.
pub(crate) fn span_location(origin: &str, span: &Span) -> Location {
    match span.start() {
        Some(m) => Location::new(origin, m.line(), m.column()),
        None => Location::origin(origin),
    }
}

/// Decodes `text` (a YAML mapping) into `T`, turning every failure into a
/// [`PolicyError::Syntax`] that names `origin`, the line and the field path.
pub(crate) fn decode<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, PolicyError> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::from_yaml_with_options(0, text, options).map_err(|e| convert(e, origin, text))
}

fn convert(err: marked_yaml::FromYamlError, origin: &str, text: &str) -> PolicyError {
    use marked_yaml::LoadError;
    match err {
        marked_yaml::FromYamlError::ParseYaml(load) => {
            let (marker, message) = match &load {
                LoadError::TopLevelMustBeMapping(m) => {
                    (Some(*m), "the document must be a mapping".to_owned())
                }
                LoadError::TopLevelMustBeSequence(m) => {
                    (Some(*m), "the document must be a sequence".to_owned())
                }
                LoadError::UnexpectedAnchor(m) => {
                    (Some(*m), "anchors and aliases are not supported".to_owned())
                }
                LoadError::MappingKeyMustBeScalar(m) => {
                    (Some(*m), "mapping keys must be plain scalars".to_owned())
                }
                LoadError::UnexpectedTag(m) => {
                    (Some(*m), "explicit tags are not supported".to_owned())
                }
                LoadError::ScanError(m, e) => (Some(*m), e.to_string()),
                LoadError::DuplicateKey(inner) => (
                    inner.key.span().start().copied(),
                    format!("duplicate key `{}`", inner.key.as_str()),
                ),
            };
            let location = marker.map_or_else(
                || Location::origin(origin),
                |m| Location::new(origin, m.line(), m.column()),
            );
            PolicyError::Syntax {
                location,
                field: "-".to_owned(),
                message,
            }
        }
        marked_yaml::FromYamlError::FromNode(node) => {
            let field = node.path().map_or_else(|| "-".to_owned(), str::to_owned);
            let inner = node.into_inner();
            let mut location = inner.start_mark().map_or_else(
                || Location::origin(origin),
                |m| Location::new(origin, m.line(), m.column()),
            );
            // Unknown-field errors carry the span of the enclosing mapping;
            // point at the offending key itself when it can be found.
            if let marked_yaml::Error::UnknownFieldError(name, _, _) = &inner {
                if let Some((line, column)) = find_key(text, location.line, name) {
                    location = Location::new(origin, line, column);
                }
            }
            // Enum errors carry the span of the enclosing mapping too.
            let message = inner.to_string();
            if let Some(value) = message
                .strip_prefix("unknown variant `")
                .and_then(|rest| rest.split('`').next())
            {
                if let Some((line, column)) = find_value(text, location.line, value) {
                    location = Location::new(origin, line, column);
                }
            }
            PolicyError::Syntax {
                location,
                field,
                message: inner.to_string(),
            }
        }
    }
}

/// The first `name:` key at or after 1-based `from_line`, as (line, column).
fn find_key(text: &str, from_line: usize, name: &str) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(from_line.saturating_sub(1))
        .find_map(|(i, line)| {
            let mut start = 0;
            while let Some(pos) = line[start..].find(name) {
                let at = start + pos;
                let before = line[..at].chars().next_back();
                let after = line[at + name.len()..].trim_start();
                let boundary =
                    before.is_none_or(|c| matches!(c, ' ' | '{' | ',' | '-' | '\'' | '"'));
                if boundary
                    && (after.starts_with(':')
                        || after.starts_with("\":")
                        || after.starts_with("':"))
                {
                    return Some((i + 1, at + 1));
                }
                start = at + name.len();
            }
            None
        })
}

/// The first occurrence of `value` as a whole scalar at or after 1-based
/// `from_line`, as (line, column).
fn find_value(text: &str, from_line: usize, value: &str) -> Option<(usize, usize)> {
    if value.is_empty() {
        return None;
    }
    text.lines()
        .enumerate()
        .skip(from_line.saturating_sub(1))
        .find_map(|(i, line)| {
            let mut start = 0;
            while let Some(pos) = line[start..].find(value) {
                let at = start + pos;
                let before = line[..at].chars().next_back();
                let after = line[at + value.len()..].chars().next();
                let open = before.is_none_or(|c| matches!(c, ' ' | '[' | '{' | ',' | '\'' | '"'));
                let close =
                    after.is_none_or(|c| matches!(c, ' ' | ']' | '}' | ',' | '\'' | '"' | '#'));
                if open && close {
                    return Some((i + 1, at + 1));
                }
                start = at + value.len();
            }
            None
        })
}

/// A YAML value written either as one scalar or as a list of scalars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneOrMany(pub Vec<String>);

impl<'de> serde::Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Scalar>()? {
                    let s = s.0;
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One scalar read as text whatever it looks like (`1`, `true`, `x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar(pub String);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
