//! A bounded, non-blocking writer of JSON-line records.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    writer: Arc<Writer>,
}

/// The writer thread and its stop flag.
#[derive(Debug, Default)]
struct Writer {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl RecordSink {
    /// Opens `target` and starts its writer thread. A file is opened for
    /// appending (created mode 0640 when missing).
    pub fn open(target: &LogTarget, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match target {
            LogTarget::Off => return Ok(Self::off(metrics)),
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
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("portcullis-records".into())
            .spawn(move || write_loop(rx, out, &thread_stop))?;
        Ok(Self {
            tx: Some(tx),
            metrics,
            writer: Arc::new(Writer {
                stop,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// A sink that discards everything.
    pub fn off(metrics: Arc<Metrics>) -> Self {
        Self {
            tx: None,
            metrics,
            writer: Arc::default(),
        }
    }

    /// Writes out everything queued and stops the writer; records written
    /// after this are dropped. Called once at shutdown.
    pub fn finish(&self) {
        self.writer.stop.store(true, Ordering::Relaxed);
        let thread = self
            .writer
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Queues `record` as one JSON line; never blocks.
    pub fn write<R: Serialize>(&self, record: &R) {
        self.queue(|| serde_json::to_string(record).ok());
    }

    /// Queues one access record; never blocks.
    pub fn write_access(&self, record: &super::AccessRecord) {
        self.queue(|| Some(record.to_json_line()));
    }

    /// Queues the line `serialise` makes (no newline), serialising only
    /// when the sink is on; never blocks.
    fn queue(&self, serialise: impl FnOnce() -> Option<String>) {
        let Some(tx) = &self.tx else { return };
        let Some(line) = serialise() else { return };
        if tx.try_send(line).is_err() {
            self.metrics.records_dropped.inc();
        }
    }
}

/// How often the writer drains the queue. Polling (rather than blocking on
/// the channel) means a request never pays for waking the writer thread; a
/// record reaches the log at most this late.
const DRAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

fn write_loop(mut rx: mpsc::Receiver<String>, out: Box<dyn Write + Send>, stop: &AtomicBool) {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if !stopping {
            std::thread::sleep(DRAIN_EVERY);
        }
        let mut wrote = false;
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.write_all(b"\n");
                    wrote = true;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            }
        }
        if wrote || stopping {
            let _ = out.flush();
        }
        if stopping {
            return;
        }
    }
}
