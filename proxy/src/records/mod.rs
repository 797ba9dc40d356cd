//! Records are data, not diagnostics: JSON lines with a documented schema,
//! written by one background writer per log so the request path never
//! blocks on disk.

mod access;
mod sink;

pub use access::{AccessRecord, Mode};
pub use sink::RecordSink;
