//! PDF text: the strings a PDF holds — text shown by content streams
//! (`Tj`, `TJ`, `'`, `"`), strings in objects and object streams (form
//! field values, annotations, titles), XML metadata and embedded files —
//! from uncompressed and `FlateDecode` streams and the objects between
//! them, scanned as a part of their own (`<part>#text`).
//!
//! Fonts are not interpreted. Text in simple fonts (WinAnsi and the other
//! standard encodings, as office suites write Latin text) comes out as
//! written, UTF-16 strings with a byte-order mark are decoded, and text
//! shown through CID fonts stays glyph codes (scanned as they are). Images,
//! embedded fonts and streams in other filters are skipped. Inflated bytes
//! count towards the body's decoded-bytes and ratio limits.

use super::part::{Ctx, PartScanner, TextKind};
use crate::error::DecodeError;
use memchr::memmem;
use std::io::Read;
use std::sync::Arc;

/// How far before a `stream` keyword its dictionary may start.
const MAX_DICT: usize = 4096;
/// A `TJ` adjustment at least this far left reads as a word space.
const SPACE_ADJUSTMENT: f64 = -150.0;

/// How a stream is encoded.
#[derive(Debug, PartialEq, Eq)]
enum Filter {
    None,
    Flate,
    /// A filter not decoded here (images, ASCII85, LZW, …).
    Other,
}

/// What a stream holds, as far as its dictionary tells.
#[derive(Debug, PartialEq, Eq)]
enum Holds {
    /// Content or object streams: scan the strings in them.
    Strings,
    /// XML metadata: scan as text.
    Text,
    /// Images and embedded fonts.
    Skip,
}

/// One stream: where its dictionary starts and its data ends (offsets in
/// the PDF), the dictionary and the raw data.
struct RawStream<'a> {
    start: usize,
    end: usize,
    dict: &'a [u8],
    data: &'a [u8],
}

/// Scans the text of the PDF in `buf` as the part `<parent>#text`.
pub(crate) fn scan(buf: &[u8], parent: Option<&str>, depth: u32, ctx: &mut Ctx) {
    let path: Arc<str> = Arc::from(format!("{}#text", parent.unwrap_or("")));
    let mut part = PartScanner::new(ctx, Some(path), None, TextKind::Plain, depth + 1);
    let mut text = Vec::new();
    let mut decoded_streams = 0usize;
    // Objects outside streams hold strings too (form values, titles).
    let mut between = 0usize;
    for stream in Streams::new(buf) {
        text.clear();
        strings(&buf[between..stream.start], &mut text);
        between = stream.end;
        let holds = holds(stream.dict);
        let filter = filter(stream.dict);
        if holds != Holds::Skip && filter != Filter::Other {
            decoded_streams += 1;
            if decoded_streams > ctx.limits.max_parts {
                ctx.fail(DecodeError::TooLarge("too many PDF streams"));
                part.push(&text, ctx);
                return part.finish(ctx);
            }
            let decoded;
            let data = match filter {
                Filter::Flate => match inflate(stream.data, ctx) {
                    Some(d) => {
                        decoded = d;
                        &decoded[..]
                    }
                    None => {
                        part.push(&text, ctx);
                        return part.finish(ctx);
                    }
                },
                _ => stream.data,
            };
            match holds {
                Holds::Text => text.extend_from_slice(data),
                _ => strings(data, &mut text),
            }
        }
        text.push(b'\n');
        part.push(&text, ctx);
    }
    text.clear();
    strings(&buf[between.min(buf.len())..], &mut text);
    part.push(&text, ctx);
    part.finish(ctx);
}

/// Iterates over `<< … >> stream … endstream` in a buffer.
struct Streams<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Streams<'a> {
    fn new(buf: &'a [u8]) -> Streams<'a> {
        Streams { buf, at: 0 }
    }
}

impl<'a> Iterator for Streams<'a> {
    type Item = RawStream<'a>;

    fn next(&mut self) -> Option<RawStream<'a>> {
        let buf = self.buf;
        loop {
            // A dictionary starts after the previous keyword: every byte is
            // looked back at from one keyword at most (linear time).
            let floor = self.at;
            let k = floor + memmem::find(&buf[floor..], b"stream")?;
            self.at = k + 6;
            // The keyword ends a dictionary (`>>` before it) and a line.
            let data_start = match &buf[k + 6..] {
                [b'\r', b'\n', ..] => k + 8,
                [b'\n', ..] | [b'\r', ..] => k + 7,
                _ => continue,
            };
            let dict_end = floor + buf[floor..k].trim_ascii_end().len();
            if !buf[..dict_end].ends_with(b">>") {
                continue;
            }
            let lowest = floor.max(dict_end.saturating_sub(MAX_DICT));
            let Some(start) = dict_start(&buf[lowest..dict_end]).map(|s| lowest + s) else {
                continue;
            };
            let dict = &buf[start..dict_end];
            let rest = &buf[data_start..];
            // An exact direct `/Length` is trusted when `endstream` follows
            // it; otherwise the data runs to `endstream` less its line end.
            let exact = direct_length(dict).filter(|&n| {
                rest.get(n..rest.len().min(n + 64))
                    .is_some_and(|after| after.trim_ascii_start().starts_with(b"endstream"))
            });
            let data = match exact {
                Some(n) => &rest[..n],
                None => trim_eol(&rest[..memmem::find(rest, b"endstream")?]),
            };
            let end = data_start + data.len();
            self.at = end;
            return Some(RawStream {
                start,
                end,
                dict,
                data,
            });
        }
    }
}

/// Where the dictionary ending at the end of `before` starts (nested
/// dictionaries balanced), if it starts within `before`.
fn dict_start(before: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = before.len();
    while i >= 2 {
        match &before[i - 2..i] {
            b">>" => {
                depth += 1;
                i -= 2;
            }
            b"<<" => {
                depth -= 1;
                i -= 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i -= 1,
        }
    }
    None
}

fn trim_eol(data: &[u8]) -> &[u8] {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.strip_suffix(b"\r").unwrap_or(data)
}

/// The value of `/Name` in a dictionary: the bytes up to the next key.
fn value<'d>(dict: &'d [u8], name: &[u8]) -> Option<&'d [u8]> {
    let mut from = 0;
    while let Some(p) = memmem::find(&dict[from..], name) {
        let end = from + p + name.len();
        from = end;
        // Not a longer name (`/Length1` when looking for `/Length`).
        if dict.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let rest = dict[end..].trim_ascii_start();
        let stop = rest
            .iter()
            .skip(1)
            .position(|&b| b == b'/' || b == b'>')
            .map_or(rest.len(), |q| q + 1);
        // An array or a name value: keep it whole.
        let stop = if rest.first() == Some(&b'[') {
            rest.iter()
                .position(|&b| b == b']')
                .map_or(rest.len(), |q| q + 1)
        } else {
            stop
        };
        return Some(rest[..stop].trim_ascii_end());
    }
    None
}

/// `/Length n` when it is a direct number (not `n 0 R`).
fn direct_length(dict: &[u8]) -> Option<usize> {
    let v = value(dict, b"/Length")?;
    let text = std::str::from_utf8(v).ok()?;
    let mut words = text.split_ascii_whitespace();
    let n = words.next()?.parse().ok()?;
    words.next().is_none().then_some(n)
}

fn filter(dict: &[u8]) -> Filter {
    let Some(v) = value(dict, b"/Filter") else {
        return Filter::None;
    };
    let names: Vec<&[u8]> = v
        .split(|&b| b == b'/' || b == b'[' || b == b']' || b.is_ascii_whitespace())
        .filter(|n| !n.is_empty())
        .collect();
    match names.as_slice() {
        [] => Filter::None,
        [b"FlateDecode"] | [b"Fl"] => Filter::Flate,
        _ => Filter::Other,
    }
}

fn holds(dict: &[u8]) -> Holds {
    let is = |name: &[u8], want: &[u8]| {
        value(dict, name).is_some_and(|v| v.strip_prefix(b"/").unwrap_or(v) == want)
    };
    if is(b"/Subtype", b"Image")
        || ["/Length1", "/Length2", "/Length3"]
            .iter()
            .any(|k| value(dict, k.as_bytes()).is_some())
        || ["Type1C", "CIDFontType0C", "OpenType"]
            .iter()
            .any(|t| is(b"/Subtype", t.as_bytes()))
    {
        Holds::Skip
    } else if is(b"/Type", b"Metadata") || is(b"/Subtype", b"XML") || is(b"/Type", b"EmbeddedFile")
    {
        Holds::Text
    } else {
        Holds::Strings
    }
}

/// Inflates a zlib stream within the body's decoded-bytes and ratio
/// limits; `None` (with the error recorded) once they are exceeded. A
/// corrupt stream yields what inflated before the damage.
fn inflate(data: &[u8], ctx: &mut Ctx) -> Option<Vec<u8>> {
    let budget = ctx
        .limits
        .max_decoded_bytes
        .saturating_sub(ctx.archive_bytes);
    let ratio_cap = (data.len() as u64)
        .max(1)
        .saturating_mul(ctx.limits.max_ratio)
        .max(1 << 20);
    // One stream is held whole while its strings are read: no larger than
    // the buffer a whole archive may take.
    let cap = budget
        .min(ratio_cap)
        .min(ctx.limits.max_archive_bytes as u64);
    let mut out = Vec::new();
    let read = flate2::read::ZlibDecoder::new(data)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out);
    ctx.archive_bytes += out.len() as u64;
    if out.len() as u64 > cap {
        ctx.fail(DecodeError::TooLarge(
            "PDF stream expands beyond the limits",
        ));
        return None;
    }
    if let Err(e) = read {
        ctx.fail(DecodeError::Malformed {
            format: "pdf",
            message: format!("FlateDecode stream: {e}"),
        });
    }
    Some(out)
}

/// Appends the strings of a content or object stream to `out`: literal
/// strings with their escapes, hex strings, UTF-16 (with a byte-order mark)
/// decoded; strings of one `TJ` array joined (a wide gap as a space), a
/// space after positioning operators and a line break after a text object.
fn strings(data: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    let mut s = Vec::new();
    let mut in_array = false;
    // Strings shown one after another (`(a) Tj (b) Tj`) join; strings not
    // followed by an operator (dictionary values) are kept apart.
    let string_end = |data: &[u8], i: usize, in_array: bool, out: &mut Vec<u8>| {
        let operator =
            next_token(data, i).is_some_and(|b| b.is_ascii_alphabetic() || b == b'\'' || b == b'"');
        if !in_array && !operator {
            out.push(b' ');
        }
    };
    while i < data.len() {
        match data[i] {
            b'(' => {
                i = literal(data, i + 1, &mut s);
                push_string(&s, out);
                string_end(data, i, in_array, out);
            }
            b'<' if data.get(i + 1) == Some(&b'<') => i += 2,
            b'<' => {
                i = hex(data, i + 1, &mut s);
                push_string(&s, out);
                string_end(data, i, in_array, out);
            }
            b'[' => {
                in_array = true;
                i += 1;
            }
            b']' => {
                in_array = false;
                i += 1;
            }
            b'%' => {
                while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' | b'.' => {
                let start = i;
                i += 1;
                while i < data.len() && matches!(data[i], b'0'..=b'9' | b'.') {
                    i += 1;
                }
                let n = std::str::from_utf8(&data[start..i])
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok());
                // Inside a TJ array, a wide gap before the next string.
                if in_array
                    && n.is_some_and(|n| n <= SPACE_ADJUSTMENT)
                    && matches!(next_token(data, i), Some(b'(' | b'<'))
                {
                    out.push(b' ');
                }
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'\'' | b'"' | b'*' => {
                let start = i;
                while i < data.len()
                    && (data[i].is_ascii_alphabetic() || b"'\"*".contains(&data[i]))
                {
                    i += 1;
                }
                match &data[start..i] {
                    b"Td" | b"TD" | b"Tm" | b"T*" | b"'" | b"\"" => out.push(b' '),
                    b"ET" => out.push(b'\n'),
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
}

fn next_token(data: &[u8], from: usize) -> Option<u8> {
    data[from..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// Appends a decoded string, turning UTF-16BE (with its mark) into UTF-8.
fn push_string(s: &[u8], out: &mut Vec<u8>) {
    match s.strip_prefix(b"\xfe\xff") {
        Some(utf16) => {
            let units = utf16
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            for ch in char::decode_utf16(units) {
                let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
        }
        None => out.extend_from_slice(s),
    }
}

/// Decodes a literal string starting after its `(`; returns the index
/// after its closing `)` (or the end).
fn literal(data: &[u8], mut i: usize, s: &mut Vec<u8>) -> usize {
    s.clear();
    let mut depth = 1usize;
    while i < data.len() {
        let b = data[i];
        i += 1;
        match b {
            b'(' => {
                depth += 1;
                s.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
                s.push(b);
            }
            b'\\' => {
                let Some(&e) = data.get(i) else { break };
                i += 1;
                match e {
                    b'n' => s.push(b'\n'),
                    b'r' => s.push(b'\r'),
                    b't' => s.push(b'\t'),
                    b'b' => s.push(0x08),
                    b'f' => s.push(0x0c),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match data.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        s.push((v & 0xff) as u8);
                    }
                    // A backslash before a line break continues the string.
                    b'\r' => {
                        if data.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => s.push(other),
                }
            }
            _ => s.push(b),
        }
    }
    i
}

/// Decodes a hex string starting after its `<`; returns the index after
/// its `>` (or the end). An odd final digit counts as followed by 0.
fn hex(data: &[u8], mut i: usize, s: &mut Vec<u8>) -> usize {
    s.clear();
    let mut high: Option<u8> = None;
    while i < data.len() {
        let b = data[i];
        i += 1;
        let v = match b {
            b'>' => break,
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => continue,
        };
        match high.take() {
            Some(h) => s.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        s.push(h << 4);
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(content: &[u8]) -> String {
        let mut out = Vec::new();
        strings(content, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn content_stream_text_is_extracted() {
        assert_eq!(
            text(b"BT /F1 12 Tf 72 700 Td (Card: 4111 1111 ) Tj (1111 1111) Tj ET"),
            " Card: 4111 1111 1111 1111\n"
        );
        assert_eq!(
            text(b"BT [(Hel)-20(lo)-333(W)10(orld)] TJ ET"),
            "Hello World\n"
        );
        assert_eq!(text(br"(a\(b\) \101\102\n\\) Tj"), "a(b) AB\n\\");
        assert_eq!(text(b"<48 65 6c6C 6f> Tj <4> Tj"), "Hello@");
        assert_eq!(text(b"<FEFF00410042C548> Tj"), "AB\u{c548}");
        assert_eq!(text(b"% (comment) Tj\n(x) Tj"), "x");
        assert_eq!(
            text(b"<< /T (field) /V (536-22-8726) >>"),
            "field 536-22-8726 "
        );
    }

    #[test]
    fn streams_and_their_dictionaries_are_found() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<< /Length 5 /Filter [/FlateDecode] /DecodeParms << /Predictor 1 >> >>\nstream\r\nabcde\r\nendstream\nendobj\n2 0 obj\n<</Length 9 0 R>>stream\nxyz\nendstream\n3 0 obj (stream) endobj";
        let found: Vec<(Vec<u8>, Vec<u8>)> = Streams::new(pdf)
            .map(|s| (s.dict.to_vec(), s.data.to_vec()))
            .collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, b"abcde");
        assert_eq!(filter(&found[0].0), Filter::Flate);
        assert_eq!(direct_length(&found[0].0), Some(5));
        assert_eq!(found[1].1, b"xyz");
        assert_eq!(direct_length(&found[1].0), None);
        assert_eq!(filter(&found[1].0), Filter::None);
        assert_eq!(
            holds(b"<< /Subtype /Image /Filter /DCTDecode >>"),
            Holds::Skip
        );
        assert_eq!(holds(b"<< /Length 10 /Length1 20 >>"), Holds::Skip);
        assert_eq!(holds(b"<< /Type /Metadata /Subtype /XML >>"), Holds::Text);
        assert_eq!(filter(b"<< /Filter /DCTDecode >>"), Filter::Other);
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        for input in [
            &b"("[..],
            b"(\\",
            b"(\\1",
            b"<",
            b"<<",
            b"-",
            b"--1e999",
            b">> stream",
            b"<<>>stream\n",
            b"<< /Length 999999999999999999999 >>stream\nendstream",
            b"<< /Filter [ >>stream\nx",
            b"<FEFFD800> Tj",
        ] {
            let _ = text(input);
            let _ = Streams::new(input).count();
        }
    }
}
