//! JSON text extraction: string contents unescaped (`\uXXXX` with surrogate
//! pairs), numbers as written; each value followed by a newline so values
//! do not run together.

use super::text::Extract;
use crate::error::DecodeError;

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Outside,
    Number,
    String,
    Escape,
    /// Inside `\uXXXX`: digits read so far and the value.
    Unicode(u8, u16),
    /// After a high surrogate: expecting `\`.
    LowBackslash,
    /// After a high surrogate and `\`: expecting `u`.
    LowU,
}

/// Streaming JSON string/number extractor.
#[derive(Default)]
pub(crate) struct JsonText {
    state: State,
    high: Option<u16>,
}

fn malformed(message: &str) -> DecodeError {
    DecodeError::Malformed {
        format: "json",
        message: message.into(),
    }
}

fn push_char(out: &mut Vec<u8>, c: u32) {
    let c = char::from_u32(c).unwrap_or('\u{FFFD}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

impl JsonText {
    fn unit(&mut self, u: u16, out: &mut Vec<u8>) -> State {
        match (self.high.take(), u) {
            (None, 0xD800..=0xDBFF) => {
                self.high = Some(u);
                State::LowBackslash
            }
            (Some(h), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                push_char(out, c);
                State::String
            }
            (Some(_), _) => {
                push_char(out, 0xFFFD);
                self.unit(u, out)
            }
            (None, _) => {
                push_char(out, u32::from(u));
                State::String
            }
        }
    }
}

impl Extract for JsonText {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                State::Outside => match b {
                    b'"' => State::String,
                    b'0'..=b'9' | b'-' => {
                        out.push(b);
                        State::Number
                    }
                    b'{' | b'}' | b'[' | b']' | b',' | b':' | b' ' | b'\t' | b'\r' | b'\n' => {
                        State::Outside
                    }
                    b't' | b'r' | b'u' | b'e' | b'f' | b'a' | b'l' | b's' | b'n' => State::Outside,
                    _ => return Err(malformed("unexpected byte outside a string")),
                },
                State::Number => match b {
                    b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-' => {
                        out.push(b);
                        State::Number
                    }
                    _ => {
                        out.push(b'\n');
                        self.state = State::Outside;
                        continue;
                    }
                },
                State::String => {
                    // Copy the run up to the next quote or backslash at once.
                    let rest = &input[i..];
                    let n = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    i += n;
                    if i >= input.len() {
                        break;
                    }
                    if input[i] == b'"' {
                        out.push(b'\n');
                        State::Outside
                    } else {
                        State::Escape
                    }
                }
                State::Escape => {
                    let mapped = match b {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(malformed("invalid escape")),
                    };
                    match mapped {
                        Some(c) => {
                            if let Some(_h) = self.high.take() {
                                push_char(out, 0xFFFD);
                            }
                            out.push(c);
                            State::String
                        }
                        None => State::Unicode(0, 0),
                    }
                }
                State::Unicode(n, v) => {
                    let d = match b {
                        b'0'..=b'9' => b - b'0',
                        b'a'..=b'f' => b - b'a' + 10,
                        b'A'..=b'F' => b - b'A' + 10,
                        _ => return Err(malformed("invalid \\u escape")),
                    };
                    let v = (v << 4) | u16::from(d);
                    if n == 3 {
                        self.unit(v, out)
                    } else {
                        State::Unicode(n + 1, v)
                    }
                }
                State::LowBackslash => {
                    if b == b'\\' {
                        State::LowU
                    } else {
                        self.high = None;
                        push_char(out, 0xFFFD);
                        self.state = State::String;
                        continue;
                    }
                }
                State::LowU => {
                    if b == b'u' {
                        State::Unicode(0, 0)
                    } else {
                        self.high = None;
                        push_char(out, 0xFFFD);
                        State::Escape
                    }
                }
            };
            i += 1;
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        match self.state {
            State::Outside => Ok(()),
            State::Number => {
                out.push(b'\n');
                Ok(())
            }
            _ => Err(malformed("unterminated string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(input: &[u8], step: usize) -> Result<String, DecodeError> {
        let mut j = JsonText::default();
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            j.push(chunk, &mut out)?;
        }
        j.end(&mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn strings_are_unescaped_in_any_chunking() {
        let input = br#"{"card":"4111\u00201111","n":4111111111111111,"k":"\ud55c\uAD6D \ud83d\ude00","e":"a\"b\/c"}"#;
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                extract(input, step).unwrap(),
                "card\n4111 1111\nn\n4111111111111111\nk\n한국 😀\ne\na\"b/c\n"
            );
        }
    }

    #[test]
    fn malformed_json_is_an_error() {
        for bad in [
            &br#"{"a":"\q"}"#[..],
            br#"{"a":"\u12G4"}"#,
            br#"{"a":"open"#,
            b"{<}",
        ] {
            assert!(extract(bad, 1).is_err(), "{bad:?}");
        }
    }
}
