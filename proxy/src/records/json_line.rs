//! A writer for one flat JSON object on one line, byte-for-byte what
//! `serde_json::to_string` writes for the same fields in the same order.
//!
//! The access record is written once per request. serde's derive escapes
//! every key of every record, and that made serialising it an eighth of the
//! proxy's user-space instructions per keep-alive request (callgrind). Here
//! keys are the literal fragments they are, and values take a fast path
//! when nothing in them needs escaping.

use std::fmt::Write as _;

/// One JSON object being written into a line; [`JsonObject::finish`]
/// closes it.
pub struct JsonObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> JsonObject<'a> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// Writes `"key":`, with the comma before it unless it is the first.
    /// Keys are plain ASCII identifiers chosen by this crate: nothing in
    /// them needs escaping.
    fn key(&mut self, key: &'static str) {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        self.out.push_str(if self.first { "\"" } else { ",\"" });
        self.first = false;
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// A string value.
    pub fn str(&mut self, key: &'static str, value: &str) {
        self.key(key);
        escape_into(self.out, value);
    }

    /// A string value, or `null`.
    pub fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => {
                self.key(key);
                self.out.push_str("null");
            }
        }
    }

    /// A value serialised as its `Display` form in a string (as serde does
    /// for socket addresses), escaped like any other string.
    pub fn display(&mut self, key: &'static str, value: impl std::fmt::Display) {
        self.key(key);
        let start = self.out.len();
        let _ = write!(self.out, "{value}");
        if needs_escape(&self.out[start..]) {
            let shown = self.out.split_off(start);
            escape_into(self.out, &shown);
        } else {
            self.out.insert(start, '"');
            self.out.push('"');
        }
    }

    /// An unsigned integer.
    pub fn u64(&mut self, key: &'static str, value: u64) {
        self.key(key);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    /// A boolean.
    pub fn bool(&mut self, key: &'static str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// An array of strings.
    pub fn str_list(&mut self, key: &'static str, values: &[String]) {
        self.key(key);
        self.out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            escape_into(self.out, v);
        }
        self.out.push(']');
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push('}');
    }
}

/// True when `s` holds a byte JSON requires escaped: `"`, `\` or a control
/// character below 0x20. Eight bytes at a time.
fn needs_escape(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `w` is zero / below `n` (n <= 0x80): exact for "any byte".
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        if below(w, 0x20) | zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5c)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes `s` as a JSON string, escaped as serde_json escapes: `\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`;
/// everything else (DEL and non-ASCII included) as it is.
fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_serde(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_does() {
        let mut every_byte = String::new();
        for c in (0u8..0x80).map(char::from) {
            every_byte.push(c);
        }
        for s in [
            "",
            "plain",
            "quote\" back\\slash",
            "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}",
            "주민등록번호 ünïcödé \u{2028}",
            "ends with \n",
            every_byte.as_str(),
        ] {
            let mut ours = String::new();
            escape_into(&mut ours, s);
            assert_eq!(ours, as_serde(s), "{s:?}");
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_seen_at_every_offset() {
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for len in 1..20 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    let s = String::from_utf8(bytes).unwrap();
                    assert!(needs_escape(&s), "{s:?}");
                }
            }
        }
        for clean in [
            "",
            "a",
            "abcdefgh",
            "abcdefghi",
            "ünïcödé 주민등록번호 ~\u{7f}!#/",
        ] {
            assert!(!needs_escape(clean), "{clean:?}");
        }
    }

    #[test]
    fn an_object_reads_back_as_written() {
        let mut line = String::new();
        let mut o = JsonObject::new(&mut line);
        o.str("a", "x\"y");
        o.opt_str("b", None);
        o.opt_str("c", Some("z"));
        o.display("d", std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
        o.u64("e", u64::MAX);
        o.bool("f", true);
        o.str_list("g", &["1".into(), "\n".into()]);
        o.str_list("h", &[]);
        o.display("i", "needs \"escaping\"");
        o.finish();
        assert_eq!(
            line,
            r#"{"a":"x\"y","b":null,"c":"z","d":"127.0.0.1:8080","e":18446744073709551615,"f":true,"g":["1","\n"],"h":[],"i":"needs \"escaping\""}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["a"], "x\"y");
    }
}
