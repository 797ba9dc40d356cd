//! Streaming `multipart/form-data` (RFC 7578) parser.

use crate::error::DecodeError;
use memchr::memmem;

/// Headers of one part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHeaders {
    /// The form field name.
    pub name: Option<String>,
    /// The file name, for file fields.
    pub filename: Option<String>,
    /// The part's declared Content-Type.
    pub content_type: Option<String>,
    /// The part's Content-Transfer-Encoding (e.g. `base64`).
    pub transfer_encoding: Option<String>,
}

/// What the parser reports.
pub(crate) enum Event<'a> {
    Start(PartHeaders),
    Data(&'a [u8]),
    End,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Epilogue,
}

fn malformed(message: impl Into<String>) -> DecodeError {
    DecodeError::Malformed {
        format: "multipart",
        message: message.into(),
    }
}

/// Splits `value` (a header value with `;` parameters) into its parameters.
pub(crate) fn parameters(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    // Skip the main value.
    match rest.find(';') {
        Some(i) => rest = &rest[i + 1..],
        None => return out,
    }
    loop {
        rest = rest.trim_start();
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let val;
        if let Some(stripped) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = stripped.char_indices();
            let mut end = stripped.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => v.push(c),
                }
            }
            val = v;
            rest = &stripped[end.min(stripped.len())..];
            rest = rest.find(';').map_or("", |i| &rest[i + 1..]);
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = if end < rest.len() {
                &rest[end + 1..]
            } else {
                ""
            };
        }
        out.push((key, val));
        if rest.is_empty() {
            break;
        }
    }
    out
}

/// The boundary of a `multipart/*` Content-Type value.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    parameters(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

fn parse_headers(block: &[u8]) -> PartHeaders {
    let text = String::from_utf8_lossy(block);
    let mut h = PartHeaders::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-disposition" => {
                for (k, v) in parameters(value) {
                    match k.as_str() {
                        "name" => h.name = Some(v),
                        "filename" => h.filename = Some(v),
                        "filename*" => {
                            let v = v.rsplit('\'').next().unwrap_or(&v).to_string();
                            h.filename = Some(v);
                        }
                        _ => {}
                    }
                }
            }
            "content-type" => h.content_type = Some(value.to_string()),
            "content-transfer-encoding" => h.transfer_encoding = Some(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    h
}

/// A streaming multipart parser.
pub(crate) struct Multipart {
    delimiter: Vec<u8>,
    state: State,
    buf: Vec<u8>,
    parts: usize,
    max_parts: usize,
    max_header: usize,
}

impl Multipart {
    pub fn new(boundary: &str, max_parts: usize, max_header: usize) -> Multipart {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Multipart {
            delimiter,
            state: State::Preamble,
            // The first delimiter may start the body: pretend a CRLF before it.
            buf: b"\r\n".to_vec(),
            parts: 0,
            max_parts,
            max_header,
        }
    }

    pub fn push(
        &mut self,
        input: &[u8],
        f: &mut dyn FnMut(Event<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(input);
        let mut at = 0;
        loop {
            let data = &self.buf[at..];
            match self.state {
                State::Preamble => match memmem::find(data, &self.delimiter) {
                    Some(i) => {
                        at += i + self.delimiter.len();
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        at += data.len().saturating_sub(self.delimiter.len() - 1);
                        break;
                    }
                },
                State::AfterDelimiter => {
                    let ws = data
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    let d = &data[ws..];
                    if d.len() < 2 {
                        break;
                    }
                    if d.starts_with(b"--") {
                        f(Event::End)?;
                        self.state = State::Epilogue;
                    } else if d.starts_with(b"\r\n") {
                        at += ws + 2;
                        self.state = State::Headers;
                    } else if d.starts_with(b"\n") {
                        at += ws + 1;
                        self.state = State::Headers;
                    } else {
                        return Err(malformed("garbage after boundary"));
                    }
                    if self.state == State::Headers && self.parts > 0 {
                        f(Event::End)?;
                    }
                }
                State::Headers => {
                    let end = memmem::find(data, b"\r\n\r\n")
                        .map(|i| (i, 4))
                        .or_else(|| memmem::find(data, b"\n\n").map(|i| (i, 2)));
                    match end {
                        Some((i, n)) => {
                            self.parts += 1;
                            if self.parts > self.max_parts {
                                return Err(DecodeError::TooLarge("too many multipart parts"));
                            }
                            let headers = parse_headers(&data[..i]);
                            at += i + n;
                            self.state = State::Body;
                            f(Event::Start(headers))?;
                        }
                        None => {
                            if data.len() > self.max_header {
                                return Err(malformed("part headers too long"));
                            }
                            break;
                        }
                    }
                }
                State::Body => match memmem::find(data, &self.delimiter) {
                    Some(i) => {
                        f(Event::Data(&data[..i]))?;
                        at += i + self.delimiter.len();
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        let keep = self.delimiter.len() - 1;
                        let n = data.len().saturating_sub(keep);
                        f(Event::Data(&data[..n]))?;
                        at += n;
                        break;
                    }
                },
                State::Epilogue => {
                    at = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..at);
        Ok(())
    }

    /// Bytes held by the parser (after an error: to be scanned raw).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    pub fn end(
        &mut self,
        f: &mut dyn FnMut(Event<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        match self.state {
            State::Epilogue => Ok(()),
            State::Body => {
                let rest = std::mem::take(&mut self.buf);
                f(Event::Data(&rest))?;
                f(Event::End)?;
                Err(malformed("missing closing boundary"))
            }
            State::Preamble => Err(malformed("no boundary found")),
            _ => Err(malformed("truncated part headers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (Vec<(PartHeaders, Vec<u8>)>, Result<(), DecodeError>);

    fn parse(body: &[u8], step: usize) -> Parsed {
        let mut m = Multipart::new("XyZ", 100, 4096);
        let mut parts: Vec<(PartHeaders, Vec<u8>)> = Vec::new();
        let mut f = |e: Event<'_>| {
            match e {
                Event::Start(h) => parts.push((h, Vec::new())),
                Event::Data(d) => {
                    if let Some(p) = parts.last_mut() {
                        p.1.extend_from_slice(d)
                    }
                }
                Event::End => {}
            }
            Ok(())
        };
        for chunk in body.chunks(step) {
            if let Err(e) = m.push(chunk, &mut f) {
                return (parts, Err(e));
            }
        }
        let r = m.end(&mut f);
        (parts, r)
    }

    #[test]
    fn parts_are_split_in_any_chunking() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n-- not a delimiter\r\n--XyZ--\r\n";
        for step in [1, 2, 5, 1000] {
            let (parts, r) = parse(body, step);
            r.unwrap();
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].0.name.as_deref(), Some("a"));
            assert_eq!(parts[0].1, b"hello");
            assert_eq!(parts[1].0.filename.as_deref(), Some("x.txt"));
            assert_eq!(parts[1].1, b"line1\r\n-- not a delimiter");
        }
    }

    #[test]
    fn malformed_multipart_is_an_error() {
        assert!(parse(b"no boundary here", 3).1.is_err());
        assert!(parse(b"--XyZ\r\nContent-Type: x\r\n\r\nunterminated", 3)
            .1
            .is_err());
        assert!(parse(b"--XyZ\r\nbroken headers without end", 3).1.is_err());
        assert!(parse(b"--XyZgarbage", 3).1.is_err());
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\""),
            Some("a b".into())
        );
        assert_eq!(
            boundary("multipart/form-data; charset=x; boundary=q1"),
            Some("q1".into())
        );
    }
}
