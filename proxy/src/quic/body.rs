//! HTTP/3 request and response bodies: an h3 request stream read as an
//! `http_body::Body`, and a relayed response body written to an h3 stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use h3::server::RequestStream;
use http::Response;
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use crate::pipeline::body::{BoxError, ProxyBody};

/// The receiving half of an h3 request stream.
pub type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;
/// The sending half of an h3 request stream.
pub type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// A client's HTTP/3 request body: DATA frames, then optional trailers.
pub struct H3RequestBody {
    recv: RecvHalf,
    data_done: bool,
    ended: bool,
}

impl H3RequestBody {
    /// Reads the body of `recv`.
    pub fn new(recv: RecvHalf) -> Self {
        Self {
            recv,
            data_done: false,
            ended: false,
        }
    }
}

impl Body for H3RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if !this.data_done {
            match this.recv.poll_recv_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Some(mut buf))) => {
                    let data = buf.copy_to_bytes(buf.remaining());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Ok(None)) => this.data_done = true,
                Poll::Ready(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
            }
        }
        let polled = this.recv.poll_recv_trailers(cx);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(trailers))) => {
                this.ended = true;
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            Poll::Ready(Ok(None)) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => {
                this.ended = true;
                Poll::Ready(Some(Err(Box::new(e))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

/// Writes `response` (head, data, trailers) to the h3 stream and finishes
/// it. A failing response body resets the stream, so the client never
/// takes a truncated body for a whole one.
pub async fn send_response(
    send: &mut SendHalf,
    response: Response<ProxyBody>,
) -> Result<(), String> {
    let (mut parts, mut body) = response.into_parts();
    // Connection-specific fields are not allowed in HTTP/3 (RFC 9114 §4.2).
    crate::pipeline::headers::strip_hop_by_hop(&mut parts.headers, false);
    send.send_response(Response::from_parts(parts, ()))
        .await
        .map_err(|e| format!("sending the response head: {e}"))?;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                send.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                return Err(format!("response body: {e}"));
            }
        };
        match frame.into_data() {
            Ok(data) => {
                if !data.is_empty() {
                    send.send_data(data)
                        .await
                        .map_err(|e| format!("sending response data: {e}"))?;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers)
                        .await
                        .map_err(|e| format!("sending trailers: {e}"))?;
                }
            }
        }
    }
    send.finish()
        .await
        .map_err(|e| format!("finishing the stream: {e}"))
}
