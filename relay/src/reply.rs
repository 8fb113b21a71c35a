//! Answers in the protocol's shapes: JSON error bodies over HTTP, and over WebSocket an
//! `error` frame followed by a close, so a browser (which cannot read an HTTP refusal of an
//! upgrade) still learns why it was turned away.

use protocol::http::ErrorBody;
use protocol::{ProtocolError, ServerFrame};
use worker::{Request, Response, Result, WebSocket, WebSocketPair};

pub fn json<T: serde::Serialize>(value: &T, status: u16) -> Result<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

pub fn http_error(err: ProtocolError) -> Result<Response> {
    let status = err.code.http_status();
    let retry_after = err.retry_after_secs;
    let mut response = json(&ErrorBody { error: err }, status)?;
    if let Some(secs) = retry_after {
        response.headers_mut().set("Retry-After", &secs.to_string())?;
    }
    Ok(response)
}

pub fn is_websocket_upgrade(req: &Request) -> bool {
    req.headers().get("Upgrade").ok().flatten().is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The upgrade response for a socket this relay accepted, uncompressed. Browsers offer
/// permessage-deflate on every socket and workerd accepts by default; its zlib state costs
/// about 200 KiB per open socket (a bare socket measured 91 KiB without it, 303 KiB with it),
/// to save a few bytes on frames of a few hundred. When the response names its extensions,
/// workerd agrees to what they configure (kj's manual compression mode), and `none` configures
/// no permessage-deflate. (An empty value does not work: it is dropped and the client's offer
/// accepted; the `no_web_socket_compression` flag did not stop it under `wrangler dev`, where
/// another worker in front of ours answers the client.)
pub fn websocket(client: WebSocket) -> Result<Response> {
    let mut response = Response::from_websocket(client)?;
    response.headers_mut().set("Sec-WebSocket-Extensions", "none")?;
    Ok(response)
}

/// Refuses a request in the way its client can read: a frame for a WebSocket, JSON otherwise.
pub fn refuse(req: &Request, err: ProtocolError) -> Result<Response> {
    if !is_websocket_upgrade(req) {
        return http_error(err);
    }
    let pair = WebSocketPair::new()?;
    pair.server.accept()?;
    // Close codes 4000 + HTTP status, so clients can tell "token refused" (4401) apart.
    let close_code = 4000 + err.code.http_status();
    pair.server.send_with_str(ServerFrame::error(err.clone(), None).encode())?;
    pair.server.close(Some(close_code), Some(err.code.as_str()))?;
    websocket(pair.client)
}
