//! A realistic mixed corpus for the DLP throughput benchmark: JSON API
//! payloads, CSV exports, English prose, Korean text and application logs,
//! with known-positive values planted at recorded offsets.

/// One kind of content in the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// JSON API payloads.
    Json,
    /// CSV exports.
    Csv,
    /// English prose.
    Prose,
    /// Korean prose.
    Korean,
    /// Application logs.
    Logs,
}

impl Part {
    /// Every part, in corpus order.
    pub const ALL: [Part; 5] = [Part::Json, Part::Csv, Part::Prose, Part::Korean, Part::Logs];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Part::Json => "json",
            Part::Csv => "csv",
            Part::Prose => "prose",
            Part::Korean => "korean",
            Part::Logs => "logs",
        }
    }
}

/// The generated corpus: bytes, planted positives, each part's byte range.
pub type Corpus = (Vec<u8>, Vec<Planted>, Vec<(Part, std::ops::Range<usize>)>);

/// A planted positive: the rule that must find it and where it is.
#[derive(Debug, Clone)]
pub struct Planted {
    /// Expected rule id.
    pub rule: &'static str,
    /// Byte offset of the value.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

/// Values planted, with the rule that must detect each; all valid
/// (checksums included).
pub const POSITIVES: &[(&str, &str)] = &[
    ("card-visa", "4111 1111 1111 1111"),
    ("card-mastercard", "5555-5555-5555-4444"),
    ("card-amex", "378282246310005"),
    ("us-ssn", "536-22-8726"),
    ("kr-rrn", "900101-1234568"),
    ("kr-mobile", "010-1234-5678"),
    ("email", "jane.doe@example.com"),
    ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE"),
    ("github-pat", "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    (
        "slack-token",
        "xoxb-868433532650-2014620168493-SscDlkrCaqx9vJupc94tnwla",
    ),
    ("google-api-key", "AIzamenCkhvMdgaKjIg8xNbe3nNyjOq9wMxEhh2"),
];

/// Deterministic xorshift generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "what",
    "if",
    "more",
    "no",
    "out",
    "so",
    "said",
    "up",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "time",
    "these",
    "two",
    "may",
    "then",
    "do",
    "first",
    "any",
    "my",
    "now",
    "such",
    "like",
    "our",
    "over",
    "man",
    "me",
    "even",
    "most",
    "made",
    "after",
    "also",
    "did",
    "many",
    "before",
    "must",
    "through",
    "years",
    "where",
    "much",
    "your",
    "way",
    "well",
    "down",
    "should",
    "because",
    "each",
    "just",
    "those",
    "people",
    "how",
    "too",
    "little",
    "state",
    "good",
    "very",
    "make",
    "world",
    "still",
    "own",
    "see",
    "men",
    "work",
    "long",
    "get",
    "here",
    "between",
    "both",
    "life",
    "being",
    "under",
    "never",
    "day",
    "same",
    "another",
    "know",
    "while",
    "last",
    "might",
    "us",
    "great",
    "old",
    "year",
    "off",
    "come",
    "since",
    "against",
    "go",
    "came",
    "right",
    "used",
    "take",
    "three",
    "quarterly",
    "revenue",
    "customer",
    "account",
    "shipment",
    "invoice",
    "meeting",
    "project",
    "engineering",
    "policy",
    "security",
];

const KOREAN: &[&str] = &[
    "우리는",
    "오늘",
    "회의에서",
    "새로운",
    "프로젝트",
    "계획을",
    "논의했습니다",
    "고객",
    "데이터를",
    "안전하게",
    "관리해야",
    "합니다",
    "보고서는",
    "다음",
    "주까지",
    "제출해",
    "주세요",
    "서울",
    "부산",
    "사무실",
    "직원",
    "교육",
    "일정이",
    "변경되었습니다",
    "확인",
    "부탁드립니다",
    "감사합니다",
    "매출이",
    "증가했습니다",
    "시스템",
    "점검",
    "예정입니다",
];

fn sentence(rng: &mut Rng, out: &mut Vec<u8>, words: &[&str], n: usize) {
    for i in 0..n {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(rng.pick(words).as_bytes());
    }
    out.extend_from_slice(b". ");
}

fn json_record(rng: &mut Rng, out: &mut Vec<u8>) {
    let id = rng.next_u64() % 10_000_000;
    let ts = 1_700_000_000 + rng.next_u64() % 10_000_000;
    let amount = rng.next_u64() % 100_000;
    out.extend_from_slice(
        format!(
            "{{\"id\":{id},\"created_at\":{ts},\"status\":\"{}\",\"amount\":{}.{:02},\"currency\":\"USD\",\"customer\":{{\"name\":\"{} {}\",\"tier\":\"{}\"}},\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{}}}],\"note\":\"",
            rng.pick(&["paid", "pending", "refunded", "failed"]),
            amount / 100,
            amount % 100,
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(&["gold", "silver", "free"]),
            rng.next_u64() % 100_000,
            rng.next_u64() % 9 + 1,
        )
        .as_bytes(),
    );
    sentence(rng, out, WORDS, 8);
    out.extend_from_slice(b"\"}\n");
}

fn csv_row(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "{},{},{},2024-{:02}-{:02},{}.{:02},{},{}\n",
            rng.next_u64() % 1_000_000,
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.next_u64() % 12 + 1,
            rng.next_u64() % 28 + 1,
            rng.next_u64() % 10_000,
            rng.next_u64() % 100,
            rng.pick(&["open", "closed", "n/a"]),
            rng.next_u64() % 500,
        )
        .as_bytes(),
    );
}

fn log_line(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] req={:016x} path=/api/v1/{}/{} status={} latency_ms={} bytes={}\n",
            rng.next_u64() % 28 + 1,
            rng.next_u64() % 24,
            rng.next_u64() % 60,
            rng.next_u64() % 60,
            rng.next_u64() % 1000,
            rng.pick(&["INFO", "WARN", "DEBUG", "ERROR"]),
            rng.pick(&["http", "db", "auth", "worker"]),
            rng.next_u64(),
            rng.pick(WORDS),
            rng.next_u64() % 100_000,
            rng.pick(&["200", "201", "304", "404", "500"]),
            rng.next_u64() % 2000,
            rng.next_u64() % 100_000,
        )
        .as_bytes(),
    );
}

/// Generates about `bytes` of `part` content, planting one positive every
/// `plant_every` bytes (0: none).
pub fn generate_part(
    part: Part,
    bytes: usize,
    plant_every: usize,
    seed: u64,
) -> (Vec<u8>, Vec<Planted>) {
    let mut rng = Rng::new(seed ^ ((part as u64 + 1) * 0x9E37_79B9));
    let mut out = Vec::with_capacity(bytes + 1024);
    let mut planted = Vec::new();
    let mut next_plant = plant_every;
    while out.len() < bytes {
        match part {
            Part::Json => json_record(&mut rng, &mut out),
            Part::Csv => csv_row(&mut rng, &mut out),
            Part::Prose => {
                let n = 6 + rng.below(14);
                sentence(&mut rng, &mut out, WORDS, n);
                if rng.below(8) == 0 {
                    out.push(b'\n');
                }
            }
            Part::Korean => {
                let n = 4 + rng.below(8);
                sentence(&mut rng, &mut out, KOREAN, n);
                if rng.below(8) == 0 {
                    out.push(b'\n');
                }
            }
            Part::Logs => log_line(&mut rng, &mut out),
        }
        if plant_every > 0 && out.len() >= next_plant {
            let (rule, value) = POSITIVES[rng.below(POSITIVES.len())];
            out.extend_from_slice(b" value: ");
            let start = out.len();
            out.extend_from_slice(value.as_bytes());
            planted.push(Planted {
                rule,
                start,
                end: out.len(),
            });
            out.extend_from_slice(b" \n");
            next_plant = out.len() + plant_every;
        }
    }
    (out, planted)
}

/// The mixed corpus: every part in equal share, concatenated; returns the
/// bytes, the planted positives and each part's byte range.
pub fn generate(total: usize, plant_every: usize, seed: u64) -> Corpus {
    let mut out = Vec::with_capacity(total + 4096);
    let mut planted = Vec::new();
    let mut ranges = Vec::new();
    let share = total / Part::ALL.len();
    for part in Part::ALL {
        let (bytes, plants) = generate_part(part, share, plant_every, seed);
        let base = out.len();
        planted.extend(plants.into_iter().map(|p| Planted {
            rule: p.rule,
            start: p.start + base,
            end: p.end + base,
        }));
        out.extend_from_slice(&bytes);
        ranges.push((part, base..out.len()));
    }
    (out, planted, ranges)
}

/// `n` distinct dictionary keywords (about one in ten a two-word phrase),
/// none of which occur in the generated corpus.
pub fn keywords(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let syll = [
        "ka", "zu", "mor", "vex", "tli", "qua", "ron", "bex", "dra", "fyn", "gor", "hul", "jax",
        "kli", "wum", "yor",
    ];
    let mut out = std::collections::BTreeSet::new();
    while out.len() < n {
        let mut w = String::new();
        for _ in 0..(2 + rng.below(3)) {
            w.push_str(syll[rng.below(syll.len())]);
        }
        if rng.below(10) == 0 {
            w.push(' ');
            for _ in 0..2 {
                w.push_str(syll[rng.below(syll.len())]);
            }
        }
        out.insert(w);
    }
    out.into_iter().collect()
}
