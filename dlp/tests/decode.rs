//! Body decoding: content codings, bombs, multipart, urlencoded, JSON,
//! ZIP/OOXML, sniffing, hashing, malformed input.

use dlp::decode::{scan_body, Blocklist, BodyMeta, BodyReport, BodyScanner, FileType, Limits};
use dlp::{DecodeError, Engine, RulePack};
use std::io::Write;
use std::sync::{Arc, OnceLock};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::compile(&RulePack::builtin().unwrap()).unwrap())
}

fn meta(ce: Option<&str>, ct: Option<&str>) -> BodyMeta {
    BodyMeta {
        content_encoding: ce.map(str::to_string),
        content_type: ct.map(str::to_string),
    }
}

fn scan(ce: Option<&str>, ct: Option<&str>, body: &[u8]) -> BodyReport {
    scan_body(
        engine(),
        &meta(ce, ct),
        body,
        Limits::default(),
        Arc::new(Blocklist::new()),
    )
}

fn scan_chunked(
    ce: Option<&str>,
    ct: Option<&str>,
    body: &[u8],
    step: usize,
    limits: Limits,
) -> BodyReport {
    let mut s = BodyScanner::new(engine(), &meta(ce, ct), limits, Arc::new(Blocklist::new()));
    let mut found = Vec::new();
    for c in body.chunks(step) {
        found.extend(s.feed(c));
    }
    let mut r = s.finish();
    found.append(&mut r.findings);
    r.findings = found;
    r
}

fn rules(r: &BodyReport) -> Vec<String> {
    let mut v: Vec<String> = r.findings.iter().map(|f| f.rule.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const JSON: &[u8] = br#"{"user":"kim","ssn":"536-22-8726","note":"card 4111\u00201111 1111 1111"}"#;

#[test]
fn every_content_coding_decodes_in_any_chunking() {
    let zlib = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(JSON).unwrap();
        e.finish().unwrap()
    };
    let raw = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(JSON).unwrap();
        e.finish().unwrap()
    };
    let br = {
        let mut out = Vec::new();
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(JSON).unwrap();
        drop(w);
        out
    };
    let zst = zstd::encode_all(JSON, 3).unwrap();
    let cases: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, JSON.to_vec()),
        (Some("gzip"), gzip(JSON)),
        (Some("deflate"), zlib),
        (Some("deflate"), raw),
        (Some("br"), br),
        (Some("zstd"), zst),
    ];
    for (ce, body) in cases {
        for step in [1, 3, 64, 100_000] {
            let r = scan_chunked(ce, Some("application/json"), &body, step, Limits::default());
            assert_eq!(r.error, None, "{ce:?}");
            assert_eq!(rules(&r), vec!["card-visa", "us-ssn"], "{ce:?} step {step}");
        }
    }
}

#[test]
fn decompression_bombs_stop_at_the_limits() {
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&zeros);
    let limits = Limits {
        max_decoded_bytes: 8 << 20,
        ..Limits::default()
    };
    let r = scan_chunked(Some("gzip"), None, &bomb, 16 << 10, limits);
    assert!(r.too_large(), "{:?}", r.error);
    let shown = r.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.starts_with("undecodable: too large"), "{shown}");
    // Ratio: 64 MiB of zeros compresses ~1000:1, beyond the default 200.
    let r = scan(Some("gzip"), None, &bomb);
    assert!(r.too_large());
    let zbomb = zstd::encode_all(&zeros[..], 19).unwrap();
    assert!(scan(Some("zstd"), None, &zbomb).too_large());
}

#[test]
fn corrupt_and_unsupported_codings_are_errors() {
    let r = scan(Some("gzip"), None, b"definitely not gzip");
    assert!(
        matches!(r.error, Some(DecodeError::Corrupt { .. })),
        "{:?}",
        r.error
    );
    let r = scan(Some("compress"), None, b"x");
    assert_eq!(
        r.error,
        Some(DecodeError::UnsupportedCoding("compress".into()))
    );
    let mut truncated = gzip(JSON);
    truncated.truncate(truncated.len() / 2);
    let r = scan(Some("gzip"), None, &truncated);
    assert!(r.error.is_some());
}

fn multipart_body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"--BOUND\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nplain AKIAIOSFODNN7EXAMPLE text\r\n");
    b.extend_from_slice(b"--BOUND\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nSSN 536-22-8726\r\n");
    b.extend_from_slice(b"--BOUND\r\nContent-Disposition: form-data; name=\"b64\"; filename=\"enc.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    // "card 4111 1111 1111 1111" in base64
    b.extend_from_slice(b"Y2FyZCA0MTExIDExMTEgMTExMSAxMTEx\r\n");
    b.extend_from_slice(b"--BOUND--\r\n");
    b
}

#[test]
fn multipart_parts_are_reported_with_names() {
    let body = multipart_body();
    for step in [1, 7, 4096] {
        let r = scan_chunked(
            None,
            Some("multipart/form-data; boundary=BOUND"),
            &body,
            step,
            Limits::default(),
        );
        assert_eq!(r.error, None);
        let mut got: Vec<(String, String)> = r
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.to_string(),
                    f.part.as_deref().unwrap_or("").to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("aws-access-key-id".into(), "comment".into()),
                ("card-visa".into(), "enc.txt".into()),
                ("us-ssn".into(), "notes.txt".into())
            ]
        );
        assert_eq!(r.parts.len(), 3);
        assert_eq!(
            r.parts[1].headers.as_ref().unwrap().filename.as_deref(),
            Some("notes.txt")
        );
        assert_eq!(r.parts[1].file_type, FileType::Text);
    }
}

#[test]
fn urlencoded_bodies_are_decoded() {
    let r = scan(
        None,
        Some("application/x-www-form-urlencoded"),
        b"name=kim&card=4111%201111%201111%201111&x=1",
    );
    assert_eq!(rules(&r), vec!["card-visa"]);
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_and_office_documents_are_opened() {
    let docx = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        (
            "word/document.xml",
            b"<w:document><w:body><w:p><w:r><w:t>key AKIAIOSFODNN7</w:t></w:r><w:r><w:t>EXAMPLE here</w:t></w:r></w:p></w:body></w:document>",
        ),
    ]);
    let r = scan(None, Some("application/octet-stream"), &docx);
    assert_eq!(r.error, None);
    assert_eq!(r.parts[0].file_type, FileType::Docx);
    let f = r
        .findings
        .iter()
        .find(|f| &*f.rule == "aws-access-key-id")
        .expect("key in docx");
    assert_eq!(f.part.as_deref(), Some("word/document.xml"));

    let inner = zip_of(&[("secrets/ssn.txt", b"SSN: 536-22-8726")]);
    let outer = zip_of(&[("inner.zip", &inner), ("readme.txt", b"nothing")]);
    let r = scan(None, None, &outer);
    let f = r
        .findings
        .iter()
        .find(|f| &*f.rule == "us-ssn")
        .expect("nested");
    assert_eq!(f.part.as_deref(), Some("inner.zip/secrets/ssn.txt"));
    // Depth 1: the inner archive is hashed but not opened.
    let limits = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let r = scan_body(
        engine(),
        &meta(None, None),
        &outer,
        limits,
        Arc::new(Blocklist::new()),
    );
    assert!(r.findings.iter().all(|f| &*f.rule != "us-ssn"));
}

#[test]
fn zip_bombs_and_malformed_archives_are_errors() {
    let zeros = vec![0u8; 16 << 20];
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("zeros.bin", opts).unwrap();
    w.write_all(&zeros).unwrap();
    let bomb = w.finish().unwrap().into_inner();
    assert!(scan(None, None, &bomb).too_large());

    let mut broken = zip_of(&[("a.txt", b"hello 536-22-8726")]);
    let n = broken.len();
    broken.truncate(n - 10);
    let r = scan(None, None, &broken);
    assert!(
        matches!(r.error, Some(DecodeError::Malformed { format: "zip", .. })),
        "{:?}",
        r.error
    );
}

#[test]
fn malformed_bodies_are_errors_and_still_scanned() {
    let r = scan(
        None,
        Some("application/json"),
        br#"{"a": "\q", "b": "536-22-8726"}"#,
    );
    assert!(matches!(
        r.error,
        Some(DecodeError::Malformed { format: "json", .. })
    ));
    assert_eq!(rules(&r), vec!["us-ssn"]);
    let r = scan(
        None,
        Some("multipart/form-data; boundary=zz"),
        b"--zz\r\nno end of headers 536-22-8726",
    );
    assert!(r.error.is_some());
    let r = scan(
        None,
        Some("multipart/form-data; boundary=zz"),
        b"--zzjunk 536-22-8726 more",
    );
    assert!(r.error.is_some());
    assert_eq!(rules(&r), vec!["us-ssn"]);
}

#[test]
fn file_parts_are_hashed_sniffed_and_checked_against_the_blocklist() {
    let exe = b"MZ\x90\x00\x03\x00\x00\x00 this program cannot be run in DOS mode";
    let digest = "2f1c41d9a0f51b4a7e2f0d4f0a7f5e8c4d3b2a1908f7e6d5c4b3a29180706050";
    let real = {
        use sha2::Digest;
        let d: [u8; 32] = sha2::Sha256::digest(exe).into();
        dlp::decode::hex(&d)
    };
    let list = Arc::new(Blocklist::from_hex([digest, real.as_str()]).unwrap());
    let r = scan_body(engine(), &meta(None, None), exe, Limits::default(), list);
    assert!(r.blocklisted());
    assert_eq!(r.parts[0].file_type, FileType::Exe);
    assert_eq!(r.parts[0].sha256.as_ref().map(dlp::decode::hex), Some(real));
    assert!(Blocklist::from_hex(["nothex"]).is_err());
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Appends object `n`: a FlateDecode stream of `plain`, with `keys` (e.g.
/// `/Type /EmbeddedFile `) before `/Length` in its dictionary.
fn push_flate_object(pdf: &mut Vec<u8>, n: u32, keys: &str, plain: &[u8]) {
    let z = zlib(plain);
    pdf.extend_from_slice(
        format!(
            "{n} 0 obj\n<< {keys}/Length {} /Filter /FlateDecode >>\nstream\n",
            z.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&z);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
}

/// A PDF whose page text and form field live in FlateDecode streams, the
/// way office suites write them.
fn pdf_with(content: &[u8], form: &[u8]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    for (n, plain) in [(4, content), (5, form)] {
        push_flate_object(&mut pdf, n, "", plain);
    }
    pdf.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    pdf
}

#[test]
fn pdf_text_is_extracted_from_compressed_streams() {
    let pdf = pdf_with(
        b"BT /F1 11 Tf 72 720 Td [(Card on file: 4111 )-40(1111 1111 1111)] TJ ET",
        b"<< /T (ssn) /V (536-22-8726) >>",
    );
    // Compressed, the secrets are not in the raw bytes.
    assert!(engine().scan(&pdf).is_empty());
    for step in [1, 7, 4096, pdf.len()] {
        let r = scan_chunked(
            None,
            Some("multipart/form-data; boundary=B"),
            &[
                &b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"statement.pdf\"\r\n\r\n"[..],
                &pdf,
                b"\r\n--B--\r\n",
            ]
            .concat(),
            step,
            Limits::default(),
        );
        assert_eq!(rules(&r), vec!["card-visa", "us-ssn"], "step {step}");
        assert!(r
            .findings
            .iter()
            .all(|f| f.part.as_deref() == Some("statement.pdf#text")));
        let pdf_part = r
            .parts
            .iter()
            .find(|p| p.path.as_deref() == Some("statement.pdf"));
        assert_eq!(pdf_part.map(|p| p.file_type), Some(FileType::Pdf));
        assert_eq!(r.error, None);
    }
    // Opening is the archive setting: depth 0 leaves the PDF raw.
    let limits = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    assert!(scan_chunked(None, None, &pdf, 4096, limits)
        .findings
        .is_empty());
}

#[test]
fn pdf_bombs_and_broken_streams_are_errors() {
    let zeros = vec![b'0'; 8 << 20];
    let bomb = pdf_with(&zeros, b"(x)");
    let limits = Limits {
        max_archive_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = scan_chunked(None, None, &bomb, 64 << 10, limits);
    assert!(r.too_large(), "{:?}", r.error);

    let mut broken = pdf_with(b"BT (536-22-8726) Tj ET", b"(x)");
    // Damage the first stream's deflate data after its zlib header.
    let at = broken.windows(7).position(|w| w == b"stream\n").unwrap() + 9;
    broken[at] ^= 0xff;
    broken[at + 1] ^= 0xff;
    let r = scan(None, None, &broken);
    assert!(
        matches!(r.error, Some(DecodeError::Malformed { format: "pdf", .. })),
        "{:?}",
        r.error
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// A damaged PDF (bytes flipped, cut short) is scanned without a panic,
    /// in any chunking.
    #[test]
    fn damaged_pdfs_never_panic(
        flips in proptest::collection::vec((0usize..4096, 1u8..=255), 0..12),
        cut in 0usize..4096,
        step in 1usize..600,
    ) {
        let mut pdf = pdf_with(
            b"BT [(4111 )-400(1111 1111 1111)] TJ (\\101\\\n) ' <FEFF0041> Tj ET",
            b"<< /T (ssn) /V (536-22-8726) /Kids [<< /V <4142> >>] >>",
        );
        for (at, x) in flips {
            let n = pdf.len();
            pdf[at % n] ^= x;
        }
        pdf.truncate(cut.max(16).min(pdf.len()));
        let _ = scan_chunked(None, None, &pdf, step, Limits::default());
    }
}

#[test]
fn pdf_strings_outside_streams_and_embedded_files_are_scanned() {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    // A form value as LibreOffice writes it: UTF-16 in a plain object.
    pdf.extend_from_slice(b"3 0 obj\n<< /FT /Tx /T (card) /V <FEFF0034003100310031002000310031003100310020003100310031003100200031003100310031> >>\nendobj\n");
    push_flate_object(
        &mut pdf,
        6,
        "/Type /EmbeddedFile /Subtype /text#2Fcsv ",
        b"name,card\nkim,5555 5555 5555 4444\n",
    );
    pdf.extend_from_slice(b"7 0 obj\n<< /Title <FEFF00530053004E0020003500330036002D00320032002D0038003700320036> >>\nendobj\n%%EOF\n");
    let r = scan(None, None, &pdf);
    assert_eq!(
        rules(&r),
        vec!["card-mastercard", "card-visa", "us-ssn"],
        "{:?}",
        r.error
    );
}
