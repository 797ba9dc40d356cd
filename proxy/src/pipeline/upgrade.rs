//! Relaying a connection after `101 Switching Protocols` (WebSocket): blind
//! when the policy asks for no DLP, otherwise client messages are scanned
//! (see [`super::websocket`]) before they are forwarded.

use std::sync::Arc;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use policy::{ActionKind, Context, Phase};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::record::PendingRecord;
use super::websocket::{WsEvent, WsParser};
use crate::inspect::context::verdict;
use crate::relay::relay as relay_bytes;
use crate::state::ProxyState;

/// DLP on a WebSocket: what the scan needs.
pub struct WsScan {
    /// Shared state (engine, policy, incident log).
    pub state: Arc<ProxyState>,
    /// The request's policy context.
    pub ctx: Context,
    /// permessage-deflate negotiated.
    pub deflate: bool,
    /// The client resets its compression context per message.
    pub client_no_context_takeover: bool,
}

/// Waits for both sides to finish switching, then relays until either
/// closes or the connection idles out; the record is written at the end.
pub async fn relay(
    client: OnUpgrade,
    upstream: OnUpgrade,
    mut pending: PendingRecord,
    idle: Duration,
    scan: Option<WsScan>,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            pending.fail(format!("upgrade failed: {e}"));
            return;
        }
    };
    let (client, upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    let outcome = match scan {
        None => relay_bytes(client, upstream, idle).await,
        Some(scan) => scanned(client, upstream, idle, scan, &mut pending).await,
    };
    let record = pending.record_mut();
    record.bytes_in += outcome.a_to_b;
    record.bytes_out += outcome.b_to_a;
    match outcome.error {
        Some(e) => pending.fail(e),
        None => pending.complete(),
    }
}

/// Client → origin through the frame parser and the DLP engine; origin →
/// client copied as is.
async fn scanned<C, U>(
    client: C,
    upstream: U,
    idle: Duration,
    mut scan: WsScan,
    pending: &mut PendingRecord,
) -> crate::relay::Relayed
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_r, mut client_w) = tokio::io::split(client);
    let (mut upstream_r, mut upstream_w) = tokio::io::split(upstream);
    let max = usize::try_from(scan.state.config.dlp.hold_limit).unwrap_or(usize::MAX);
    let mut parser = WsParser::new(scan.deflate, scan.client_no_context_takeover, max);
    let mut up_bytes = 0u64;
    let client_to_origin = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::time::timeout(idle, client_r.read(&mut buf)).await {
                Err(_) => return Err(format!("idle for {idle:?}")),
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => n,
            };
            up_bytes += n as u64;
            let events = parser.push(&buf[..n]).map_err(|e| e.to_string())?;
            for event in events {
                let raw = match event {
                    WsEvent::Forward(raw) => raw,
                    WsEvent::Message { payload, raw } => {
                        let findings = scan.state.inspect.engine.scan(&payload);
                        if !findings.is_empty() {
                            scan.ctx.dlp = Some(verdict(&findings));
                            let decision = scan
                                .state
                                .inspect
                                .policy
                                .evaluate(&scan.ctx, Phase::AfterDlp);
                            super::incident::report(
                                &scan.state,
                                pending.record_mut(),
                                "upload",
                                &findings,
                                &[],
                                &decision,
                            );
                            if decision.action == ActionKind::Block {
                                return Err(format!(
                                    "WebSocket message blocked by DLP (policy rule {})",
                                    decision.rule_label()
                                ));
                            }
                        }
                        raw
                    }
                };
                upstream_w
                    .write_all(&raw)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    };
    let origin_to_client = tokio::io::copy(&mut upstream_r, &mut client_w);
    let (error, down) = tokio::select! {
        result = client_to_origin => (result.err(), 0),
        result = origin_to_client => match result {
            Ok(n) => (None, n),
            Err(e) => (Some(e.to_string()), 0),
        },
    };
    crate::relay::Relayed {
        a_to_b: up_bytes,
        b_to_a: down,
        error,
    }
}
