//! Wire types shared by the relay, the widget, the agent client and the tests.
//!
//! Everything that crosses the wire is defined here once: WebSocket frames in both
//! directions ([`ClientFrame`], [`ServerFrame`]), the HTTP bodies ([`http`]), ids and
//! their validation ([`ids`]), limits ([`limits`]) and typed error codes ([`ErrorCode`]).
//! The crate does no I/O, so it compiles into the wasm widget as well as the relay.
//! The widget reads and writes the frames it needs through [`json_tree`], without serde.
//!
//! Ordering rule: the client names every message with a [`ClientMsgId`]; the conversation
//! assigns a strictly increasing [`Seq`] and acknowledges `(client_id, seq)`. A resend of a
//! known client id returns the same ack and stores nothing. Clients order by `seq`, never by
//! clock; a (re)connect says `after_seq` and receives exactly what follows.

pub mod automations;
pub mod content;
pub mod email_reply;
pub mod error;
pub mod frames;
pub mod http;
pub mod ids;
pub mod inbox;
pub mod json_tree;
pub mod limits;
pub mod site;
#[cfg(feature = "token")]
pub mod token;

pub use error::{ErrorCode, ProtocolError};
pub use content::{Card, Contact, Email, Identity, SafeUrl};
pub use frames::{Author, ClientFrame, EmailStatus, Message, ReadMarks, Role, ServerFrame, Status};
pub use ids::{AgentName, ClientMsgId, ConversationId, Seq, SiteId};
pub use inbox::{Account, AccountRole, AgentId, Assignee, InboxEntry};

/// Version of this protocol. A client states it when it connects; the relay answers with
/// its own in `welcome` and refuses versions it cannot speak.
pub const PROTOCOL_VERSION: u16 = 1;
