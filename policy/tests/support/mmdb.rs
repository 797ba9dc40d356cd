//! A minimal MaxMind DB (format 2.0) writer for tests: an IPv6 search tree
//! with 24-bit records and `{"country": {"iso_code": CC}}` data records.
//! Spec: https://maxmind.github.io/MaxMind-DB/

use std::net::IpAddr;

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// Values of the MaxMind DB data section we need.
pub enum Value<'a> {
    Str(&'a str),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'a str, Value<'a>)>),
    Array(Vec<Value<'a>>),
}

fn control(out: &mut Vec<u8>, ty: u8, size: usize) {
    assert!(size < 29, "test writer supports small sizes only");
    if ty <= 7 {
        out.push((ty << 5) | size as u8);
    } else {
        out.push(size as u8);
        out.push(ty - 7);
    }
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

/// Encodes `v` in the data-section format.
pub fn encode(out: &mut Vec<u8>, v: &Value<'_>) {
    match v {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::U16(n) => uint(out, 5, u64::from(*n)),
        Value::U32(n) => uint(out, 6, u64::from(*n)),
        Value::U64(n) => uint(out, 9, *n),
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Value::Str(k));
                encode(out, v);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
    }
}

fn bits(ip: IpAddr) -> [bool; 128] {
    let v6 = match ip {
        IpAddr::V4(v4) => {
            // IPv4 lives at ::a.b.c.d in an IPv6 tree.
            let mut b = [0u8; 16];
            b[12..].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut out = [false; 128];
    for (i, bit) in out.iter_mut().enumerate() {
        *bit = v6[i / 8] & (0x80 >> (i % 8)) != 0;
    }
    out
}

/// Builds a database mapping each `(network, prefix length, country)`.
/// IPv4 prefixes are given in IPv4 terms (e.g. 24).
pub fn build(entries: &[(&str, u8, &str)]) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
    let mut data = Vec::new();
    for (net, prefix, cc) in entries {
        let ip: IpAddr = net.parse().expect("test network");
        let depth = match ip {
            IpAddr::V4(_) => 96 + usize::from(*prefix),
            IpAddr::V6(_) => usize::from(*prefix),
        };
        let offset = data.len() as u32;
        encode(
            &mut data,
            &Value::Map(vec![(
                "country",
                Value::Map(vec![("iso_code", Value::Str(cc))]),
            )]),
        );
        let b = bits(ip);
        let mut node = 0usize;
        for (i, &bit) in b.iter().enumerate().take(depth) {
            let side = usize::from(bit);
            if i + 1 == depth {
                nodes[node][side] = Rec::Data(offset);
                break;
            }
            node = match nodes[node][side] {
                Rec::Node(n) => n as usize,
                _ => {
                    nodes.push([Rec::Empty, Rec::Empty]);
                    let n = nodes.len() - 1;
                    nodes[node][side] = Rec::Node(n as u32);
                    n
                }
            };
        }
    }
    let count = nodes.len() as u32;
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(i) => i,
                Rec::Data(off) => count + 16 + off,
            };
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    encode(
        &mut out,
        &Value::Map(vec![
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_700_000_000)),
            ("database_type", Value::Str("Portcullis-Test-Country")),
            ("description", Value::Map(vec![("en", Value::Str("test"))])),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![Value::Str("en")])),
            ("node_count", Value::U32(count)),
            ("record_size", Value::U16(24)),
        ]),
    );
    out
}
