//! HTTP/3 request and response bodies: an h3 request stream read as an
//! `http_body::Body`, and a relayed response body written to an h3 stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use h3::server::RequestStream;
use http::{HeaderMap, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use crate::pipeline::body::{BoxError, ProxyBody};

/// The receiving half of an h3 request stream.
pub type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;
/// The sending half of an h3 request stream.
pub type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// The receiving side of an h3 stream (server: a request; client: a response).
pub trait RecvFrames {
    /// The next DATA payload; `None` once the data is over.
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BoxError>>;
    /// The trailers, after the data, if any.
    fn poll_trailers(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<HeaderMap>, BoxError>>;
}

macro_rules! recv_frames {
    ($t:ty) => {
        impl RecvFrames for $t {
            fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BoxError>> {
                match self.poll_recv_data(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(Some(mut buf))) => {
                        Poll::Ready(Ok(Some(buf.copy_to_bytes(buf.remaining()))))
                    }
                    Poll::Ready(Ok(None)) => Poll::Ready(Ok(None)),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(Box::new(e))),
                }
            }

            fn poll_trailers(
                &mut self,
                cx: &mut Context<'_>,
            ) -> Poll<Result<Option<HeaderMap>, BoxError>> {
                self.poll_recv_trailers(cx)
                    .map_err(|e| Box::new(e) as BoxError)
            }
        }
    };
}

recv_frames!(RecvHalf);
recv_frames!(h3::client::RequestStream<h3_quinn::RecvStream, Bytes>);

/// An HTTP/3 message body: DATA frames, then optional trailers.
pub struct H3Body<R> {
    recv: R,
    data_done: bool,
    ended: bool,
}

impl<R> H3Body<R> {
    /// Reads the body of `recv`.
    pub fn new(recv: R) -> Self {
        Self {
            recv,
            data_done: false,
            ended: false,
        }
    }
}

impl<R: RecvFrames + Unpin> Body for H3Body<R> {
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
            match this.recv.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Some(data))) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Poll::Ready(Ok(None)) => this.data_done = true,
                Poll::Ready(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        let polled = this.recv.poll_trailers(cx);
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
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

/// The sending side of an h3 stream (server: a response; client: a request).
pub trait SendFrames {
    /// Sends one DATA frame.
    async fn data(&mut self, data: Bytes) -> Result<(), h3::error::StreamError>;
    /// Sends the trailers.
    async fn trailers(&mut self, trailers: HeaderMap) -> Result<(), h3::error::StreamError>;
    /// Ends the stream.
    async fn finish(&mut self) -> Result<(), h3::error::StreamError>;
    /// Resets the stream with `code`.
    fn reset(&mut self, code: h3::error::Code);
}

macro_rules! send_frames {
    ($t:ty) => {
        impl SendFrames for $t {
            async fn data(&mut self, data: Bytes) -> Result<(), h3::error::StreamError> {
                self.send_data(data).await
            }

            async fn trailers(
                &mut self,
                trailers: HeaderMap,
            ) -> Result<(), h3::error::StreamError> {
                self.send_trailers(trailers).await
            }

            async fn finish(&mut self) -> Result<(), h3::error::StreamError> {
                <$t>::finish(self).await
            }

            fn reset(&mut self, code: h3::error::Code) {
                self.stop_stream(code);
            }
        }
    };
}

send_frames!(SendHalf);
send_frames!(h3::client::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>);

/// Writes `body` (data, then trailers) to the h3 stream and finishes it. A
/// failing body resets the stream with `reset`, so the peer never takes a
/// truncated body for a whole one.
pub async fn send_body<S: SendFrames>(
    send: &mut S,
    mut body: ProxyBody,
    reset: h3::error::Code,
) -> Result<(), String> {
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                send.reset(reset);
                return Err(format!("body: {e}"));
            }
        };
        match frame.into_data() {
            Ok(data) => {
                if !data.is_empty() {
                    send.data(data)
                        .await
                        .map_err(|e| format!("sending data: {e}"))?;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.trailers(trailers)
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

/// Writes `response` (head, data, trailers) to the h3 stream and finishes
/// it; a failing response body resets the stream.
pub async fn send_response(
    send: &mut SendHalf,
    response: Response<ProxyBody>,
) -> Result<(), String> {
    let (mut parts, body) = response.into_parts();
    // Connection-specific fields are not allowed in HTTP/3 (RFC 9114 §4.2).
    crate::pipeline::headers::strip_hop_by_hop(&mut parts.headers, false);
    send.send_response(Response::from_parts(parts, ()))
        .await
        .map_err(|e| format!("sending the response head: {e}"))?;
    send_body(send, body, h3::error::Code::H3_INTERNAL_ERROR).await
}
