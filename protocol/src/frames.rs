//! WebSocket frames, both directions. JSON objects tagged by `type`.

use crate::content::{validate_suggestions, Card, Contact};
use crate::error::{ErrorCode, ProtocolError};
use crate::ids::{AgentName, ClientMsgId, ConversationId, Seq};
use crate::inbox::{AgentId, AgentPresence, Alert, Assignee, InboxEntry, InboxSettings};
use crate::limits::{MAX_BODY_CHARS, MAX_FRAME_BYTES};
use crate::site::WidgetSettings;
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
    Agent {
        name: AgentName,
        /// The agent's account: names may repeat, accounts do not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<AgentId>,
    },
}

impl Author {
    pub fn role(&self) -> Role {
        match self {
            Author::Visitor => Role::Visitor,
            Author::Agent { .. } => Role::Agent,
        }
    }
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    /// An agent ended it. Writing again starts a new conversation.
    Ended,
    /// An agent blocked the visitor: nothing more can be written, no automation runs.
    Blocked,
    /// Erased at the visitor's request, by an agent, or by the site's retention: no messages,
    /// no contact are kept.
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Ended => "ended",
            Status::Blocked => "blocked",
            Status::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "ended" => Status::Ended,
            "blocked" => Status::Blocked,
            "deleted" => Status::Deleted,
            _ => Status::Open,
        }
    }
}

/// The email fallback's outcome, as agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EmailStatus {
    /// Unread agent messages up to `up_to` went out by email.
    Sent { up_to: Seq },
    /// The visitor left no email address: they cannot be reached by email.
    NoAddress,
    /// The visitor asked for no more emails about this conversation.
    Unsubscribed,
    /// Sending failed for good after retries; `reason` says why.
    Failed { reason: String },
}

/// How far each side has read, as seqs: the visitor up to `visitor`, the agents (any of
/// them) up to `agent`. Unread counts, "seen" receipts and the email fallback derive from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarks {
    pub visitor: Seq,
    pub agent: Seq,
}

/// A stored message as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub seq: Seq,
    pub client_id: ClientMsgId,
    pub author: Author,
    /// Plain text, shown as text. May be empty when the message is a card.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// Replies the agent suggests; tapping one sends it as the visitor's message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// Relay time when it was stored, milliseconds since the Unix epoch. For display only:
    /// order comes from `seq`.
    pub sent_at: u64,
    /// A private note between agents: never sent to the visitor.
    #[serde(default, skip_serializing_if = "is_false")]
    pub note: bool,
    /// Its author changed the text after sending.
    #[serde(default, skip_serializing_if = "is_false")]
    pub edited: bool,
    /// Its author took it back: the body is gone, the place in the thread stays.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Frames a client (visitor widget or agent) sends to its conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post a message. Answered by `ack` (also when the client id was already stored).
    /// Cards and suggestions are for agents only.
    Send {
        client_id: ClientMsgId,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card: Option<Card>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        suggestions: Vec<String>,
    },
    /// This side is (or stopped) typing. Relayed, never stored.
    Typing { active: bool },
    /// This side has read everything up to `up_to`.
    Read { up_to: Seq },
    /// The visitor gives or changes their email and name.
    SetContact { contact: Contact },
    /// An agent ends the conversation.
    End,
    /// An agent blocks the visitor (and marks the conversation as spam).
    Block,
    /// An agent goes online or offline (on the agent's site connection).
    SetStatus { online: bool },
    /// The visitor asks for their data to be deleted: messages, email and contact.
    DeleteMyData,
    /// Keep-alive; answered by `pong` without waking the conversation.
    Ping,
    /// An agent takes responsibility for a waiting conversation.
    Accept,
    /// The responsible agent (or an admin) hands the conversation to another agent, or back
    /// to the queue (`to: null`).
    Transfer {
        #[serde(default)]
        to: Option<AgentId>,
    },
    /// A private note for the other agents; `@Name` mentions alert that agent.
    Note { client_id: ClientMsgId, body: String },
    /// The author changes the text of their own message.
    Edit { seq: Seq, body: String },
    /// The author takes back their own message.
    Retract { seq: Seq },
    /// An agent stops (or resumes) hearing alerts about this conversation.
    Subscribe { on: bool },
}

impl ClientFrame {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] =
        &[
        "send", "typing", "read", "set_contact", "end", "block", "set_status", "delete_my_data", "ping", "accept",
        "transfer", "note", "edit", "retract", "subscribe",
    ];

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
                format!("unknown frame type \"{kind}\""),
            ));
        }
        let frame: ClientFrame = match serde_json::from_value(value.clone()) {
            Ok(frame) => frame,
            Err(e) => {
                return Err(explain_checked_field(&value)
                    .unwrap_or_else(|| ProtocolError::new(ErrorCode::MalformedFrame, format!("bad {kind} frame: {e}"))))
            }
        };
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
            ClientFrame::Send { client_id, body, card, suggestions } => {
                let client_id = ClientMsgId::parse(client_id.as_str())?;
                // A card may stand alone; otherwise the text is the message.
                let body = if card.is_some() && body.trim().is_empty() { String::new() } else { validate_body(&body)? };
                let card = card.map(Card::validated).transpose()?;
                let suggestions = validate_suggestions(suggestions)?;
                Ok(ClientFrame::Send { client_id, body, card, suggestions })
            }
            ClientFrame::SetContact { contact } => Ok(ClientFrame::SetContact { contact: contact.validated()? }),
            ClientFrame::Note { client_id, body } => {
                Ok(ClientFrame::Note { client_id: ClientMsgId::parse(client_id.as_str())?, body: validate_body(&body)? })
            }
            ClientFrame::Edit { seq, body } => Ok(ClientFrame::Edit { seq, body: validate_body(&body)? }),
            other => Ok(other),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }
}

/// Emails and links check themselves while decoding, so serde only says "invalid value";
/// this finds which checked field failed, to answer with its own code.
pub fn explain_checked_field(value: &serde_json::Value) -> Option<ProtocolError> {
    if let Some(id) = value.get("client_id").and_then(|v| v.as_str()) {
        if let Err(err) = ClientMsgId::parse(id) {
            return Some(err);
        }
    }
    if let Some(email) = value.pointer("/contact/email").and_then(|v| v.as_str()) {
        if let Err(err) = crate::content::Email::parse(email) {
            return Some(err);
        }
    }
    if let Some(url) = value.pointer("/card/url").and_then(|v| v.as_str()) {
        if let Err(err) = crate::content::SafeUrl::parse(url) {
            return Some(err);
        }
    }
    None
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
    /// First frame on every conversation connection. `last_seq` is the conversation's newest
    /// seq: once the client holds every message up to it, it is caught up.
    Welcome {
        v: u16,
        conversation_id: ConversationId,
        role: Role,
        last_seq: Seq,
        status: Status,
        read: ReadMarks,
        contact: Contact,
        /// To agents: who is responsible (none while it waits in the queue).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<Assignee>,
        /// To an agent: they muted this conversation's alerts.
        #[serde(default, skip_serializing_if = "is_false")]
        muted: bool,
    },
    /// Replay of the messages after the connection's `after_seq`, in order. A long replay
    /// arrives as several frames.
    History { messages: Vec<Message> },
    /// The message with this client id is stored at `seq`. Sent again, unchanged, for a resend.
    Ack { client_id: ClientMsgId, seq: Seq, sent_at: u64 },
    /// A new message from another connection.
    Message { message: Message },
    /// Someone on the other side is typing (or stopped).
    Typing { author: Author, active: bool },
    /// A side read up to a seq.
    Read { role: Role, up_to: Seq },
    /// The conversation's status changed.
    Status { status: Status },
    /// The visitor's contact details changed.
    Contact { contact: Contact },
    /// Whether any agent of the site is online (on the site availability connection).
    Availability { agents_online: bool },
    /// On the site availability connection: an admin saved the widget's settings, which an
    /// open widget takes at once (its colour, greeting, quick replies...).
    WidgetSettings { settings: WidgetSettings },
    /// To agents: what became of the unread-reply email for this conversation.
    EmailFallback { status: EmailStatus },
    /// A refused frame. `client_id` is set when the refused frame was a `send`, so the
    /// client can mark that message failed. The connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientMsgId>,
        /// For `rate_limited`: seconds until trying again makes sense.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u32>,
    },
    /// Answer to `ping`.
    Pong,
    /// To agents: the responsible agent changed (none: back in the queue).
    Assigned {
        #[serde(default)]
        assignee: Option<Assignee>,
    },
    /// A message was edited or taken back: replace the one with the same seq. Live, and after
    /// a (re)connect's replay for every changed message up to its `after_seq` (what the
    /// client may have missed): applying one twice changes nothing.
    Revised { message: Message },
    /// On agents' site connections: a conversation's inbox entry changed (or is new), or,
    /// with status `deleted`, was erased and leaves the lists.
    Inbox { entry: InboxEntry },
    /// On agents' site connections: the site's agents, online or not, and their load.
    Agents { agents: Vec<AgentPresence> },
    /// On an agent's site connection: something in a conversation needs them.
    Alert { conversation_id: ConversationId, alert: Alert },
    /// On agents' site connections: an admin saved the canned responses; the console reads
    /// them again (200 long ones would not fit in one frame).
    CannedChanged,
    /// On agents' site connections: an admin saved how the inbox works (its alert delays).
    InboxSettings { settings: InboxSettings },
}

impl ServerFrame {
    /// The exact text of a pong frame (see [`ClientFrame::PING_TEXT`]).
    pub const PONG_TEXT: &'static str = r#"{"type":"pong"}"#;

    pub fn error(err: ProtocolError, client_id: Option<ClientMsgId>) -> Self {
        ServerFrame::Error { code: err.code, message: err.message, client_id, retry_after_secs: err.retry_after_secs }
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

    use crate::content::{Email, SafeUrl};

    fn sample_message(author: Author) -> Message {
        Message {
            seq: 7,
            client_id: cid("c-7"),
            author,
            body: "héllo <b>".into(),
            card: None,
            suggestions: vec![],
            sent_at: 1_700_000_000_000,
            note: false,
            edited: false,
            deleted: false,
        }
    }

    #[test]
    fn every_client_frame_round_trips() {
        let card = Card::Link { label: "Track".into(), url: SafeUrl::parse("https://example.com/t").unwrap() };
        let frames = [
            ClientFrame::Send { client_id: cid("abc"), body: "hi".into(), card: None, suggestions: vec![] },
            ClientFrame::Typing { active: true },
            ClientFrame::Read { up_to: 4 },
            ClientFrame::SetContact { contact: Contact { email: Some(Email::parse("a@b.co").unwrap()), name: Some("Ana".into()) } },
            ClientFrame::End,
            ClientFrame::Block,
            ClientFrame::SetStatus { online: true },
            ClientFrame::DeleteMyData,
            ClientFrame::Ping,
            ClientFrame::Accept,
            ClientFrame::Transfer { to: Some(crate::inbox::AgentId::parse("ag-00000000000000ff").unwrap()) },
            ClientFrame::Note { client_id: cid("n1"), body: "@Bo look".into() },
            ClientFrame::Edit { seq: 3, body: "fixed".into() },
            ClientFrame::Retract { seq: 3 },
            ClientFrame::Subscribe { on: false },
        ];
        assert_eq!(frames.len(), ClientFrame::TYPES.len());
        assert_eq!(ClientFrame::decode(r#"{"type":"transfer"}"#).unwrap(), ClientFrame::Transfer { to: None });
        let with_card = ClientFrame::Send { client_id: cid("c"), body: String::new(), card: Some(card), suggestions: vec!["Yes".into()] };
        assert_eq!(ClientFrame::decode(&with_card.encode()).unwrap(), with_card);
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
        }
        assert_eq!(ClientFrame::Ping.encode(), ClientFrame::PING_TEXT);
    }

    #[test]
    fn every_server_frame_round_trips() {
        let agent = Author::Agent { name: AgentName::parse("Ana").unwrap(), id: Some(AgentId::parse("ag-00000000000000aa").unwrap()) };
        let frames = [
            ServerFrame::Welcome {
                v: crate::PROTOCOL_VERSION,
                conversation_id: ConversationId::parse(&"ab".repeat(32)).unwrap(),
                role: Role::Visitor,
                last_seq: 3,
                status: Status::Open,
                read: ReadMarks { visitor: 1, agent: 3 },
                contact: Contact::default(),
                assignee: None,
                muted: false,
            },
            ServerFrame::History { messages: vec![sample_message(Author::Visitor), sample_message(agent.clone())] },
            ServerFrame::Ack { client_id: cid("x"), seq: 1, sent_at: 5 },
            ServerFrame::Message { message: sample_message(agent.clone()) },
            ServerFrame::Typing { author: agent, active: true },
            ServerFrame::Read { role: Role::Agent, up_to: 3 },
            ServerFrame::Status { status: Status::Ended },
            ServerFrame::Contact { contact: Contact { email: None, name: Some("Ana".into()) } },
            ServerFrame::Availability { agents_online: false },
            ServerFrame::EmailFallback { status: EmailStatus::Sent { up_to: 4 } },
            ServerFrame::EmailFallback { status: EmailStatus::NoAddress },
            ServerFrame::error(ProtocolError::new(ErrorCode::BodyTooLong, "too long"), Some(cid("y"))),
            ServerFrame::error(ProtocolError::new(ErrorCode::MalformedFrame, "bad"), None),
            ServerFrame::Pong,
            ServerFrame::Assigned { assignee: None },
            ServerFrame::Revised { message: Message { edited: true, ..sample_message(Author::Visitor) } },
            ServerFrame::Alert {
                conversation_id: ConversationId::parse(&"ab".repeat(32)).unwrap(),
                alert: crate::inbox::Alert::Mentioned { by: AgentName::parse("Bo").unwrap() },
            },
            ServerFrame::CannedChanged,
            ServerFrame::InboxSettings { settings: InboxSettings::default() },
            ServerFrame::WidgetSettings { settings: WidgetSettings::default() },
        ];
        for frame in frames {
            assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
        }
        assert_eq!(ServerFrame::Pong.encode(), ServerFrame::PONG_TEXT);
    }

    #[test]
    fn wire_shape_is_stable() {
        let json = ServerFrame::Message { message: sample_message(Author::Agent { name: AgentName::parse("Ana").unwrap(), id: None }) }.encode();
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
    fn content_is_checked_when_decoded() {
        let js_link = r#"{"type":"send","client_id":"a","body":"","card":{"kind":"link","label":"x","url":"javascript:alert(1)"}}"#;
        assert_eq!(code(js_link), ErrorCode::InvalidUrl);
        let empty_without_card = r#"{"type":"send","client_id":"a","body":""}"#;
        assert_eq!(code(empty_without_card), ErrorCode::EmptyBody);
        let bad_email = r#"{"type":"set_contact","contact":{"email":"nope"}}"#;
        assert_eq!(code(bad_email), ErrorCode::InvalidEmail);
        let too_many = format!(r#"{{"type":"send","client_id":"a","body":"x","suggestions":{}}}"#, serde_json::to_string(&vec!["s"; 7]).unwrap());
        assert_eq!(code(&too_many), ErrorCode::InvalidContent);
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
        let frame = ClientFrame::Send { client_id: cid("a"), body: "😀".repeat(MAX_BODY_CHARS), card: None, suggestions: vec![] }
            .encode();
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
