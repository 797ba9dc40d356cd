//! Blind byte relay between two connections, for bypassed tunnels and
//! upgraded (WebSocket) connections: counts bytes each way and closes when
//! both sides are done or nothing moved for the idle timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes moved by a finished relay and how it ended.
#[derive(Debug, Default)]
pub struct Relayed {
    /// Bytes from the first side (the client) to the second.
    pub a_to_b: u64,
    /// Bytes from the second side (the origin) to the first.
    pub b_to_a: u64,
    /// Why it stopped, when not by both sides closing.
    pub error: Option<String>,
}

/// Relays until both directions close, an error occurs, or nothing moves
/// for `idle`.
pub async fn relay<A, B>(a: A, b: B, idle: Duration) -> Relayed
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let clock = Arc::new(Clock {
        origin: Instant::now(),
        last: AtomicU64::new(0),
    });
    let (a_read, b_read) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut a = Tracked::new(a, clock.clone(), a_read.clone());
    let mut b = Tracked::new(b, clock.clone(), b_read.clone());
    let copy = tokio::io::copy_bidirectional(&mut a, &mut b);
    tokio::pin!(copy);
    let error = loop {
        let since = clock.idle_for();
        if since >= idle {
            break Some(format!("idle for {idle:?}"));
        }
        tokio::select! {
            result = &mut copy => break result.err().map(|e| e.to_string()),
            _ = tokio::time::sleep(idle - since) => {}
        }
    };
    Relayed {
        a_to_b: a_read.load(Ordering::Relaxed),
        b_to_a: b_read.load(Ordering::Relaxed),
        error,
    }
}

struct Clock {
    origin: Instant,
    last: AtomicU64,
}

impl Clock {
    fn touch(&self) {
        self.last
            .store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

struct Tracked<T> {
    inner: T,
    clock: Arc<Clock>,
    read: Arc<AtomicU64>,
}

impl<T> Tracked<T> {
    fn new(inner: T, clock: Arc<Clock>, read: Arc<AtomicU64>) -> Self {
        Self { inner, clock, read }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            self.clock.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
