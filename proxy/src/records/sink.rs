//! A bounded, non-blocking writer of JSON-line records.

use std::io::Write;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::LogTarget;
use crate::metrics::Metrics;

/// How many serialized records may wait for the writer before new ones are
/// dropped (and counted in `portcullis_records_dropped`).
const QUEUE: usize = 65_536;

/// Where records go. Cloning is cheap; all clones feed one writer thread.
#[derive(Clone, Debug)]
pub struct RecordSink {
    tx: Option<mpsc::Sender<String>>,
    metrics: Arc<Metrics>,
}

impl RecordSink {
    /// Opens `target` and starts its writer thread. A file is opened for
    /// appending (created mode 0640 when missing).
    pub fn open(target: &LogTarget, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match target {
            LogTarget::Off => return Ok(Self { tx: None, metrics }),
            LogTarget::Stdout => Box::new(std::io::stdout()),
            LogTarget::File(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.append(true).create(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o640);
                }
                Box::new(options.open(path)?)
            }
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("portcullis-records".into())
            .spawn(move || write_loop(rx, out))?;
        Ok(Self {
            tx: Some(tx),
            metrics,
        })
    }

    /// A sink that discards everything.
    pub fn off(metrics: Arc<Metrics>) -> Self {
        Self { tx: None, metrics }
    }

    /// Queues `record` as one JSON line; never blocks.
    pub fn write<R: Serialize>(&self, record: &R) {
        let Some(tx) = &self.tx else { return };
        let Ok(line) = serde_json::to_string(record) else {
            return;
        };
        if tx.try_send(line).is_err() {
            self.metrics.records_dropped.inc();
        }
    }
}

fn write_loop(mut rx: mpsc::Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    while let Some(line) = rx.blocking_recv() {
        let _ = writeln!(out, "{line}");
        // Drain what is queued, then flush once: a burst costs one write.
        while let Ok(line) = rx.try_recv() {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}
