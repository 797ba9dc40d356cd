//! `dlp`: streaming detection of sensitive data in byte streams.
//!
//! A pure library: no I/O, no threads, no logging. The shape follows
//! ripgrep's libraries — parse a [`RulePack`], compile it once into an
//! [`Engine`], then scan each body through a [`Stream`]:
//!
//! ```
//! let pack = dlp::RulePack::builtin().unwrap();
//! let engine = dlp::Engine::compile(&pack).unwrap();
//! let mut stream = engine.stream();
//! let mut findings = stream.feed(b"card: 4111 1111 ");
//! findings.extend(stream.feed(b"1111 1111\n"));
//! findings.extend(stream.finish());
//! assert_eq!(&*findings[0].rule, "card-visa");
//! assert_eq!(findings[0].excerpt, "4111***********1111");
//! ```
//!
//! Bodies with content codings and media types (gzip, multipart, JSON, ZIP,
//! Office documents, PDF text) go through [`decode::BodyScanner`], which decodes as
//! bytes arrive and reports findings per part.

pub mod decode;
mod engine;
mod error;
mod finding;
pub mod rules;
mod validators;

pub use engine::{Engine, RuleInfo, Stream, MAX_MATCH_LEN};
pub use error::{DecodeError, Location, RuleError};
pub use finding::{count_by_rule, redact, Finding};
pub use rules::{Category, Confidence, RulePack};
