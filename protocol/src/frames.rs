//! WebSocket frames, both directions. JSON objects tagged by `type`.

use crate::error::{ErrorCode, ProtocolError};
use crate::ids::{AgentName, ClientMsgId, ConversationId, Seq};
use crate::limits::{MAX_BODY_CHARS, MAX_FRAME_BYTES};
use serde::{Deserialize, Serialize};

/// Which side of a conversation a connection speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Visitor,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Agent => "agent",
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Agent { name: AgentName },
}

impl Author {
    pub fn role(&self) -> Role {
        match self {
            Author::Visitor => Role::Visitor,
            Author::Agent { .. } => Role::Agent,
        }
    }
}

/// A stored message as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub seq: Seq,
    pub client_id: ClientMsgId,
    pub author: Author,
    pub body: String,
    /// Relay time when it was stored, milliseconds since the Unix epoch. For display only:
    /// order comes from `seq`.
    pub sent_at: u64,
}

/// Frames a client (visitor widget or agent) sends to its conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post a message. Answered by `ack` (also when the client id was already stored).
    Send { client_id: ClientMsgId, body: String },
    /// Keep-alive; answered by `pong` without waking the conversation.
    Ping,
}

impl ClientFrame {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &["send", "ping"];

    /// The exact text of a ping frame. The relay answers it at the socket, so the
    /// text must be byte-for-byte this.
    pub const PING_TEXT: &'static str = r#"{"type":"ping"}"#;

    /// Decodes and validates one frame. The size is checked before parsing; the error
    /// code says exactly what was wrong.
    pub fn decode(text: &str) -> Result<ClientFrame, ProtocolError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::FrameTooLarge,
                format!("frames are at most {MAX_FRAME_BYTES} bytes"),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(ErrorCode::MalformedFrame, format!("not JSON: {e}")))?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| ProtocolError::new(ErrorCode::MalformedFrame, "a frame is an object with a string \"type\""))?;
        if !Self::TYPES.contains(&kind.as_str()) {
            return Err(ProtocolError::new(
                ErrorCode::UnknownFrameType,
                format!("unknown frame type {kind:?}"),
            ));
        }
        let frame: ClientFrame = serde_json::from_value(value)
            .map_err(|e| ProtocolError::new(ErrorCode::MalformedFrame, format!("bad {kind} frame: {e}")))?;
        frame.validated()
    }

    /// The client id of a frame that failed to decode, when it has a valid one, so the
    /// refusal can name the message it refuses.
    pub fn client_id_hint(text: &str) -> Option<ClientMsgId> {
        if text.len() > MAX_FRAME_BYTES {
            return None;
        }
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        ClientMsgId::parse(value.get("client_id")?.as_str()?).ok()
    }

    /// Checks ids and limits, and normalises the body (trimmed).
    pub fn validated(self) -> Result<ClientFrame, ProtocolError> {
        match self {
            ClientFrame::Send { client_id, body } => {
                let client_id = ClientMsgId::parse(client_id.as_str())?;
                let body = validate_body(&body)?;
                Ok(ClientFrame::Send { client_id, body })
            }
            ClientFrame::Ping => Ok(ClientFrame::Ping),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }
}

/// Trims a message body and checks it is neither empty nor over [`MAX_BODY_CHARS`].
pub fn validate_body(body: &str) -> Result<String, ProtocolError> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Err(ProtocolError::new(ErrorCode::EmptyBody, "a message needs some text"));
    }
    if trimmed.chars().count() > MAX_BODY_CHARS {
        return Err(ProtocolError::new(
            ErrorCode::BodyTooLong,
            format!("a message is at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Frames the relay sends to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection. `last_seq` is the conversation's newest seq: once the
    /// client holds every message up to it, it is caught up.
    Welcome {
        v: u16,
        conversation_id: ConversationId,
        role: Role,
        last_seq: Seq,
    },
    /// Replay of the messages after the connection's `after_seq`, in order. A long replay
    /// arrives as several frames.
    History { messages: Vec<Message> },
    /// The message with this client id is stored at `seq`. Sent again, unchanged, for a resend.
    Ack { client_id: ClientMsgId, seq: Seq, sent_at: u64 },
    /// A new message from another connection.
    Message { message: Message },
    /// A refused frame. `client_id` is set when the refused frame was a `send`, so the
    /// client can mark that message failed. The connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientMsgId>,
    },
    /// Answer to `ping`.
    Pong,
}

impl ServerFrame {
    /// The exact text of a pong frame (see [`ClientFrame::PING_TEXT`]).
    pub const PONG_TEXT: &'static str = r#"{"type":"pong"}"#;

    pub fn error(err: ProtocolError, client_id: Option<ClientMsgId>) -> Self {
        ServerFrame::Error { code: err.code, message: err.message, client_id }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }

    pub fn decode(text: &str) -> Result<ServerFrame, ProtocolError> {
        serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(ErrorCode::MalformedFrame, format!("bad server frame: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(s: &str) -> ClientMsgId {
        ClientMsgId::parse(s).unwrap()
    }

    fn sample_message(author: Author) -> Message {
        Message { seq: 7, client_id: cid("c-7"), author, body: "héllo <b>".into(), sent_at: 1_700_000_000_000 }
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = [ClientFrame::Send { client_id: cid("abc"), body: "hi".into() }, ClientFrame::Ping];
        assert_eq!(frames.len(), ClientFrame::TYPES.len());
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
        }
        assert_eq!(ClientFrame::Ping.encode(), ClientFrame::PING_TEXT);
    }

    #[test]
    fn every_server_frame_round_trips() {
        let agent = Author::Agent { name: AgentName::parse("Ana").unwrap() };
        let frames = [
            ServerFrame::Welcome {
                v: crate::PROTOCOL_VERSION,
                conversation_id: ConversationId::parse(&"ab".repeat(32)).unwrap(),
                role: Role::Visitor,
                last_seq: 3,
            },
            ServerFrame::History { messages: vec![sample_message(Author::Visitor), sample_message(agent.clone())] },
            ServerFrame::Ack { client_id: cid("x"), seq: 1, sent_at: 5 },
            ServerFrame::Message { message: sample_message(agent) },
            ServerFrame::error(ProtocolError::new(ErrorCode::BodyTooLong, "too long"), Some(cid("y"))),
            ServerFrame::error(ProtocolError::new(ErrorCode::MalformedFrame, "bad"), None),
            ServerFrame::Pong,
        ];
        for frame in frames {
            assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
        }
        assert_eq!(ServerFrame::Pong.encode(), ServerFrame::PONG_TEXT);
    }

    #[test]
    fn wire_shape_is_stable() {
        let json = ServerFrame::Message { message: sample_message(Author::Agent { name: AgentName::parse("Ana").unwrap() }) }.encode();
        assert_eq!(
            json,
            r#"{"type":"message","message":{"seq":7,"client_id":"c-7","author":{"role":"agent","name":"Ana"},"body":"héllo <b>","sent_at":1700000000000}}"#
        );
        let err = ServerFrame::error(ProtocolError::new(ErrorCode::EmptyBody, "e"), None).encode();
        assert_eq!(err, r#"{"type":"error","code":"empty_body","message":"e"}"#);
    }

    fn code(text: &str) -> ErrorCode {
        ClientFrame::decode(text).unwrap_err().code
    }

    #[test]
    fn decode_names_what_is_wrong() {
        assert_eq!(code("not json"), ErrorCode::MalformedFrame);
        assert_eq!(code("[1,2]"), ErrorCode::MalformedFrame);
        assert_eq!(code(r#"{"type":5}"#), ErrorCode::MalformedFrame);
        assert_eq!(code(r#"{"type":"shout"}"#), ErrorCode::UnknownFrameType);
        assert_eq!(code(r#"{"type":"send","body":"x"}"#), ErrorCode::MalformedFrame);
        assert_eq!(code(r#"{"type":"send","client_id":"a b","body":"x"}"#), ErrorCode::InvalidClientId);
        assert_eq!(code(r#"{"type":"send","client_id":"a","body":"  \n "}"#), ErrorCode::EmptyBody);
        let long = format!(r#"{{"type":"send","client_id":"a","body":"{}"}}"#, "x".repeat(MAX_BODY_CHARS + 1));
        assert_eq!(code(&long), ErrorCode::BodyTooLong);
        let huge = format!(r#"{{"type":"send","client_id":"a","body":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
        assert_eq!(code(&huge), ErrorCode::FrameTooLarge);
    }

    #[test]
    fn refusals_name_the_message_when_they_can() {
        let too_long = format!(r#"{{"type":"send","client_id":"m1","body":"{}"}}"#, "x".repeat(MAX_BODY_CHARS + 1));
        assert_eq!(ClientFrame::client_id_hint(&too_long), Some(cid("m1")));
        assert_eq!(ClientFrame::client_id_hint(r#"{"type":"send","client_id":"a b"}"#), None);
        assert_eq!(ClientFrame::client_id_hint("nope"), None);
    }

    #[test]
    fn body_limits_count_characters_and_trim() {
        let at_limit = "é".repeat(MAX_BODY_CHARS);
        assert_eq!(validate_body(&format!("  {at_limit}\n")).unwrap(), at_limit);
        assert_eq!(validate_body(&"é".repeat(MAX_BODY_CHARS + 1)).unwrap_err().code, ErrorCode::BodyTooLong);
        // the largest valid body still fits in a frame
        let frame = ClientFrame::Send { client_id: cid("a"), body: "😀".repeat(MAX_BODY_CHARS) }.encode();
        assert!(ClientFrame::decode(&frame).is_ok());
    }

    #[test]
    fn error_codes_have_statuses_and_wire_names() {
        for (code, name) in [
            (ErrorCode::InvalidToken, "invalid_token"),
            (ErrorCode::UnknownConversation, "unknown_conversation"),
            (ErrorCode::FrameTooLarge, "frame_too_large"),
        ] {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
            assert_eq!(code.as_str(), name);
        }
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(ErrorCode::UnknownConversation.http_status(), 404);
    }
}
