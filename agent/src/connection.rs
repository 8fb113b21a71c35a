//! One WebSocket to a conversation, speaking `protocol` frames.

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientFrame, ClientMsgId, ProtocolError, Seq, ServerFrame};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long [`Connection::next`] waits for a frame before giving up.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum ConnectionError {
    /// The WebSocket failed to open or broke.
    Socket(tokio_tungstenite::tungstenite::Error),
    /// The relay closed the connection (code and reason).
    Closed(Option<(u16, String)>),
    /// No frame within [`FRAME_TIMEOUT`].
    Timeout,
    /// A frame that is not a valid server frame.
    Protocol(ProtocolError),
    /// The relay refused what we sent, with a typed error.
    Refused(ProtocolError),
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionError::Socket(e) => write!(f, "socket: {e}"),
            ConnectionError::Closed(Some((code, reason))) => write!(f, "closed by the relay: {code} {reason}"),
            ConnectionError::Closed(None) => write!(f, "closed by the relay"),
            ConnectionError::Timeout => write!(f, "no frame within {FRAME_TIMEOUT:?}"),
            ConnectionError::Protocol(e) => write!(f, "protocol: {e}"),
            ConnectionError::Refused(e) => write!(f, "refused: {e}"),
        }
    }
}

impl std::error::Error for ConnectionError {}

impl From<tokio_tungstenite::tungstenite::Error> for ConnectionError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        ConnectionError::Socket(e)
    }
}

pub struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Connection {
    /// Opens a WebSocket, with `Authorization: Bearer` when a key is given.
    pub async fn open(url: &str, bearer: Option<&str>) -> Result<Connection, ConnectionError> {
        let mut request = url.into_client_request()?;
        if let Some(key) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|e| ConnectionError::Socket(e.into()))?;
            request.headers_mut().insert("Authorization", value);
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Connection { ws })
    }

    /// Sends any text as one frame: tests use it for malformed input.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ConnectionError> {
        self.ws.send(WsMessage::Text(text.into().into())).await?;
        Ok(())
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), ConnectionError> {
        self.ws.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    pub async fn send_frame(&mut self, frame: &ClientFrame) -> Result<(), ConnectionError> {
        self.send_text(frame.encode()).await
    }

    /// Sends a message and waits for its ack; returns its seq. Frames arriving meanwhile
    /// (other people's messages) are skipped.
    pub async fn post(&mut self, client_id: &ClientMsgId, body: &str) -> Result<Seq, ConnectionError> {
        let frame = ClientFrame::Send { client_id: client_id.clone(), body: body.to_owned(), card: None, suggestions: vec![] };
        self.post_frame(client_id, &frame).await
    }

    /// Sends a `send` frame (cards, suggestions) and waits for its ack; returns its seq.
    pub async fn post_frame(&mut self, client_id: &ClientMsgId, frame: &ClientFrame) -> Result<Seq, ConnectionError> {
        self.send_frame(frame).await?;
        loop {
            match self.next().await? {
                ServerFrame::Ack { client_id: acked, seq, .. } if &acked == client_id => return Ok(seq),
                ServerFrame::Error { code, message, client_id: Some(refused), retry_after_secs } if &refused == client_id => {
                    return Err(ConnectionError::Refused(ProtocolError { code, message, retry_after_secs }))
                }
                _ => continue,
            }
        }
    }

    /// The next server frame (pings and pongs of the socket layer are skipped).
    pub async fn next(&mut self) -> Result<ServerFrame, ConnectionError> {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next()).await.map_err(|_| ConnectionError::Timeout)?;
            match message {
                None => return Err(ConnectionError::Closed(None)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(WsMessage::Text(text))) => return ServerFrame::decode(&text).map_err(ConnectionError::Protocol),
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(ConnectionError::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string()))))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
