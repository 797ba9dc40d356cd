//! Records are data, not diagnostics: JSON lines with a documented schema,
//! written by one background writer per log so the request path never
//! blocks on disk. Usage counters go to SQLite, also off the request path
//! (see [`usage`]).

mod access;
mod incident;
mod json_line;
mod sink;
pub mod usage;

pub use access::{new_request_id, now_rfc3339, AccessRecord, Listener, Mode, ProxyProtocol};
pub use incident::{IncidentRecord, MAX_EXCERPTS};
pub use sink::RecordSink;
pub use usage::UsageRecorder;
