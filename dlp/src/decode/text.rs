//! Push-based text extractors: each turns input bytes into the text the
//! engine scans, keeping a few bytes of state across chunks.

use crate::error::DecodeError;

/// A streaming transformation from body bytes to scannable text.
pub(crate) trait Extract: Send {
    /// Transforms the next input bytes, appending to `out`.
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError>;
    /// Ends the input.
    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError>;
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded`: `+` → space, `%XX` → byte, `&` →
/// newline (so fields do not run together).
#[derive(Default)]
pub(crate) struct UrlEncoded {
    pending: Vec<u8>,
}

impl Extract for UrlEncoded {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        for &b in input {
            if !self.pending.is_empty() {
                self.pending.push(b);
                if self.pending.len() == 3 {
                    match (hex(self.pending[1]), hex(self.pending[2])) {
                        (Some(h), Some(l)) => out.push(h << 4 | l),
                        _ => out.extend_from_slice(&self.pending),
                    }
                    self.pending.clear();
                }
                continue;
            }
            match b {
                b'%' => self.pending.push(b),
                b'+' => out.push(b' '),
                b'&' => out.push(b'\n'),
                _ => out.push(b),
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        out.append(&mut self.pending);
        Ok(())
    }
}

/// Base64 (standard or URL alphabet; whitespace ignored).
#[derive(Default)]
pub(crate) struct Base64 {
    acc: u32,
    bits: u32,
    done: bool,
}

impl Extract for Base64 {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        for &c in input {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                b'=' => {
                    self.done = true;
                    continue;
                }
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                _ => {
                    return Err(DecodeError::Malformed {
                        format: "base64",
                        message: format!("invalid byte 0x{c:02x}"),
                    })
                }
            };
            if self.done {
                return Err(DecodeError::Malformed {
                    format: "base64",
                    message: "data after padding".into(),
                });
            }
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<u8>) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// XML (Office Open XML parts): text outside tags, entities decoded; a
/// paragraph, row or cell end becomes a newline or a space.
#[derive(Default)]
pub(crate) struct XmlText {
    in_tag: bool,
    tag: Vec<u8>,
    entity: Option<Vec<u8>>,
}

impl XmlText {
    fn close_tag(&mut self, out: &mut Vec<u8>) {
        let t = &self.tag;
        if t.starts_with(b"/w:p")
            || t.starts_with(b"/a:p")
            || t.starts_with(b"/row")
            || t.starts_with(b"/si")
        {
            out.push(b'\n');
        } else if t.starts_with(b"/c") || t.starts_with(b"w:tab") || t.starts_with(b"/w:tc") {
            out.push(b' ');
        }
        self.tag.clear();
    }

    fn entity(name: &[u8], out: &mut Vec<u8>) {
        let decoded: Option<char> = match name {
            b"amp" => Some('&'),
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            [b'#', b'x' | b'X', hexs @ ..] => std::str::from_utf8(hexs)
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32),
            [b'#', decs @ ..] => std::str::from_utf8(decs)
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
                .and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            None => {
                out.push(b'&');
                out.extend_from_slice(name);
                out.push(b';');
            }
        }
    }
}

impl Extract for XmlText {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        for &b in input {
            if self.in_tag {
                if b == b'>' {
                    self.in_tag = false;
                    self.close_tag(out);
                } else if self.tag.len() < 8 {
                    self.tag.push(b);
                }
                continue;
            }
            if let Some(ent) = &mut self.entity {
                if b == b';' {
                    let name = std::mem::take(ent);
                    self.entity = None;
                    Self::entity(&name, out);
                } else if ent.len() < 10 {
                    ent.push(b);
                } else {
                    out.push(b'&');
                    out.extend_from_slice(ent);
                    out.push(b);
                    self.entity = None;
                }
                continue;
            }
            match b {
                b'<' => self.in_tag = true,
                b'&' => self.entity = Some(Vec::new()),
                _ => out.push(b),
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if let Some(ent) = self.entity.take() {
            out.push(b'&');
            out.extend_from_slice(&ent);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mut x: impl Extract, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        for b in input {
            x.push(std::slice::from_ref(b), &mut out)?;
        }
        x.end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn extractors_decode_byte_by_byte() {
        assert_eq!(
            run(UrlEncoded::default(), b"a=1+2&card=4111%201111").unwrap(),
            b"a=1 2\ncard=4111 1111"
        );
        assert_eq!(run(Base64::default(), b"aGVs\nbG8=").unwrap(), b"hello");
        assert!(run(Base64::default(), b"aGVs*").is_err());
        assert_eq!(
            run(
                XmlText::default(),
                b"<w:p><w:t>A&amp;B &#65;</w:t></w:p><w:p><w:t>x</w:t></w:p>"
            )
            .unwrap(),
            b"A&B A\nx\n"
        );
    }
}
