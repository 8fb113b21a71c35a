//! The visitor's side of the protocol without serde, for the widget.
//!
//! serde's derives define the wire format, and the relay, the console, the agent client and
//! the tests use them. In the widget they were a third of the wasm a visitor downloads, so the
//! widget reads what the relay sends from the browser's own `JSON.parse` result, through
//! [`Tree`], and writes what it sends with [`ToJson`]. Only what a visitor's widget sends and
//! receives is here: frames and fields meant for agents are not decoded. The tests at the
//! bottom hold this codec to serde's encoding, type by type.

use crate::content::{Card, Contact, Email, Identity, SafeUrl};
use crate::error::{ErrorCode, ProtocolError};
use crate::frames::{Author, ClientFrame, Message, ReadMarks, Role, ServerFrame, Status};
use crate::http::{ConversationStarted, ErrorBody, StartConversation};
use crate::ids::{AgentName, ClientMsgId, ConversationId};
use crate::inbox::AgentId;
use crate::site::{EmailCapture, Fallback, Position, QuickAction, QuickReply, SiteView, Theme, WidgetSettings};

/// A parsed JSON value, as much of it as decoding needs.
pub trait Tree: Sized {
    /// The member `key` of an object; `None` when it is missing or `null`, or this is not an object.
    fn member(&self, key: &str) -> Option<Self>;
    fn string(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    fn elements(&self) -> Option<Vec<Self>>;
}

/// A value decoded from a [`Tree`]; `None` when the tree is not one (as serde would refuse it).
pub trait FromTree: Sized {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self>;
}

/// A value written as JSON text.
pub trait ToJson {
    fn write_json(&self, out: &mut String);

    fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
}

// ---- Reading ----

/// The member `key`, decoded.
pub fn field<T: Tree, V: FromTree>(tree: &T, key: &str) -> Option<V> {
    V::from_tree(&tree.member(key)?)
}

/// An optional member: `Some(None)` when missing or null, `None` when present but not a `V`.
pub fn optional<T: Tree, V: FromTree>(tree: &T, key: &str) -> Option<Option<V>> {
    match tree.member(key) {
        None => Some(None),
        Some(value) => V::from_tree(&value).map(Some),
    }
}

/// A list member; `None` when any element is not a `V`.
pub fn list<T: Tree, V: FromTree>(tree: &T, key: &str) -> Option<Vec<V>> {
    field(tree, key)
}

/// A member that takes its default when missing (serde's `#[serde(default)]`).
pub fn defaulted<T: Tree, V: FromTree + Default>(tree: &T, key: &str) -> Option<V> {
    optional(tree, key).map(Option::unwrap_or_default)
}

fn text<T: Tree>(tree: &T, key: &str) -> Option<String> {
    tree.member(key)?.string()
}

/// A member that is one of `options`, by its wire name.
fn one_of<T: Tree, V: Copy>(tree: &T, key: &str, options: &[(&str, V)]) -> Option<V> {
    let name = text(tree, key)?;
    options.iter().find(|(wire, _)| *wire == name).map(|(_, value)| *value)
}

impl FromTree for String {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        tree.string()
    }
}

impl<V: FromTree> FromTree for Vec<V> {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        tree.elements()?.iter().map(V::from_tree).collect()
    }
}

impl FromTree for bool {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        tree.boolean()
    }
}

macro_rules! unsigned_from_tree {
    ($($int:ty),*) => {$(
        impl FromTree for $int {
            /// Whole, non-negative and within range (JSON numbers are doubles in a browser).
            fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
                let n = tree.number()?;
                let whole = n >= 0.0 && n.fract() == 0.0 && n <= <$int>::MAX as f64 && n <= 9_007_199_254_740_992.0;
                whole.then_some(n as $int)
            }
        }
    )*};
}
unsigned_from_tree!(u16, u32, u64);

macro_rules! parsed_from_tree {
    ($($type:ty),*) => {$(
        impl FromTree for $type {
            fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
                <$type>::parse(&tree.string()?).ok()
            }
        }
    )*};
}
parsed_from_tree!(ConversationId, ClientMsgId, AgentName, AgentId, Email, SafeUrl);

impl FromTree for Role {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        match tree.string()?.as_str() {
            "visitor" => Some(Role::Visitor),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

impl FromTree for Status {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        let name = tree.string()?;
        [Status::Open, Status::Ended, Status::Blocked, Status::Deleted].into_iter().find(|s| s.as_str() == name)
    }
}

impl FromTree for ErrorCode {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        ErrorCode::parse(&tree.string()?)
    }
}

impl FromTree for ProtocolError {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(ProtocolError {
            code: field(tree, "code")?,
            message: text(tree, "message")?,
            retry_after_secs: optional(tree, "retry_after_secs")?,
        })
    }
}

impl FromTree for ErrorBody {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(ErrorBody { error: field(tree, "error")? })
    }
}

impl FromTree for ConversationStarted {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(ConversationStarted { conversation_id: field(tree, "conversation_id")?, token: text(tree, "token")? })
    }
}

impl FromTree for Contact {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(Contact { email: optional(tree, "email")?, name: optional(tree, "name")? })
    }
}

impl FromTree for ReadMarks {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(ReadMarks { visitor: field(tree, "visitor")?, agent: field(tree, "agent")? })
    }
}

impl FromTree for Author {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        match field(tree, "role")? {
            Role::Visitor => Some(Author::Visitor),
            Role::Agent => Some(Author::Agent { name: field(tree, "name")?, id: optional(tree, "id")? }),
        }
    }
}

impl FromTree for Card {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        match text(tree, "kind")?.as_str() {
            "article" => Some(Card::Article { title: text(tree, "title")?, summary: text(tree, "summary")?, url: field(tree, "url")? }),
            "link" => Some(Card::Link { label: text(tree, "label")?, url: field(tree, "url")? }),
            _ => None,
        }
    }
}

impl FromTree for Message {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(Message {
            seq: field(tree, "seq")?,
            client_id: field(tree, "client_id")?,
            author: field(tree, "author")?,
            body: text(tree, "body")?,
            card: optional(tree, "card")?,
            suggestions: defaulted(tree, "suggestions")?,
            sent_at: field(tree, "sent_at")?,
            note: defaulted(tree, "note")?,
            edited: defaulted(tree, "edited")?,
            deleted: defaulted(tree, "deleted")?,
        })
    }
}

impl FromTree for ServerFrame {
    /// The frames a visitor's connections receive; agents' frames (`assigned`, `inbox`,
    /// `agents`, `alert`, `email_fallback`) and agents' fields of `welcome` are not decoded.
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        let frame = match text(tree, "type")?.as_str() {
            "welcome" => ServerFrame::Welcome {
                v: field(tree, "v")?,
                conversation_id: field(tree, "conversation_id")?,
                role: field(tree, "role")?,
                last_seq: field(tree, "last_seq")?,
                status: field(tree, "status")?,
                read: field(tree, "read")?,
                contact: field(tree, "contact")?,
                assignee: None,
                muted: false,
            },
            "history" => ServerFrame::History { messages: list(tree, "messages")? },
            "ack" => ServerFrame::Ack { client_id: field(tree, "client_id")?, seq: field(tree, "seq")?, sent_at: field(tree, "sent_at")? },
            "message" => ServerFrame::Message { message: field(tree, "message")? },
            "revised" => ServerFrame::Revised { message: field(tree, "message")? },
            "typing" => ServerFrame::Typing { author: field(tree, "author")?, active: field(tree, "active")? },
            "read" => ServerFrame::Read { role: field(tree, "role")?, up_to: field(tree, "up_to")? },
            "status" => ServerFrame::Status { status: field(tree, "status")? },
            "contact" => ServerFrame::Contact { contact: field(tree, "contact")? },
            "availability" => ServerFrame::Availability { agents_online: field(tree, "agents_online")? },
            "widget_settings" => ServerFrame::WidgetSettings { settings: field(tree, "settings")? },
            "error" => ServerFrame::Error {
                code: field(tree, "code")?,
                message: text(tree, "message")?,
                client_id: optional(tree, "client_id")?,
                retry_after_secs: optional(tree, "retry_after_secs")?,
            },
            "pong" => ServerFrame::Pong,
            _ => return None,
        };
        Some(frame)
    }
}

impl FromTree for QuickReply {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        let action = tree.member("action")?;
        let action = match text(&action, "kind")?.as_str() {
            "send" => QuickAction::Send { text: text(&action, "text")? },
            "url" => QuickAction::Url { url: field(&action, "url")? },
            "flow" => QuickAction::Flow { replies: list(&action, "replies")? },
            _ => return None,
        };
        Some(QuickReply { label: text(tree, "label")?, action })
    }
}

impl FromTree for Fallback {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(Fallback { message: text(tree, "message")?, link: optional(tree, "link")?, link_label: optional(tree, "link_label")? })
    }
}

impl FromTree for WidgetSettings {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(WidgetSettings {
            site_name: text(tree, "site_name")?,
            title: text(tree, "title")?,
            greeting: text(tree, "greeting")?,
            color: text(tree, "color")?,
            position: one_of(tree, "position", &[("right", Position::Right), ("left", Position::Left)])?,
            theme: one_of(tree, "theme", &[("auto", Theme::Auto), ("light", Theme::Light), ("dark", Theme::Dark)])?,
            email_capture: one_of(
                tree,
                "email_capture",
                &[("off", EmailCapture::Off), ("pre_chat", EmailCapture::PreChat), ("in_chat", EmailCapture::InChat)],
            )?,
            async_mode: field(tree, "async_mode")?,
            fallback: field(tree, "fallback")?,
            quick_replies: list(tree, "quick_replies")?,
            reply_time_minutes: optional(tree, "reply_time_minutes")?,
            sound: field(tree, "sound")?,
            email_delay_seconds: optional(tree, "email_delay_seconds")?.unwrap_or(WidgetSettings::default().email_delay_seconds),
            retention_days: optional(tree, "retention_days")?,
            identity_verification: defaulted(tree, "identity_verification")?,
            allowed_origins: defaulted(tree, "allowed_origins")?,
        })
    }
}

impl FromTree for SiteView {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(SiteView { settings: field(tree, "settings")?, agents_online: field(tree, "agents_online")? })
    }
}

// ---- Writing ----

/// Writes `text` as a JSON string.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One JSON object being written, member by member.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

/// Writes an object whose members `members` adds.
pub fn write_object(out: &mut String, members: impl FnOnce(&mut Object<'_>)) {
    out.push('{');
    members(&mut Object { out: &mut *out, empty: true });
    out.push('}');
}

impl Object<'_> {
    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_string(self.out, key);
        self.out.push(':');
        self.out
    }

    pub fn text(&mut self, key: &str, value: &str) -> &mut Self {
        write_string(self.key(key), value);
        self
    }

    pub fn number(&mut self, key: &str, value: u64) -> &mut Self {
        let out = self.key(key);
        out.push_str(&value.to_string());
        self
    }

    pub fn flag(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    pub fn value(&mut self, key: &str, value: &(impl ToJson + ?Sized)) -> &mut Self {
        value.write_json(self.key(key));
        self
    }

    /// A member written only when there is one (serde's `skip_serializing_if = "Option::is_none"`).
    pub fn maybe(&mut self, key: &str, value: Option<&(impl ToJson + ?Sized)>) -> &mut Self {
        if let Some(value) = value {
            self.value(key, value);
        }
        self
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).push_str("null");
        self
    }

    /// `"type": kind`, the tag of a frame.
    fn tag(&mut self, kind: &str) -> &mut Self {
        self.text("type", kind)
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_string(out, self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_string(out, self);
    }
}

macro_rules! text_to_json {
    ($($type:ty),*) => {$(
        impl ToJson for $type {
            fn write_json(&self, out: &mut String) {
                write_string(out, self.as_str());
            }
        }
    )*};
}
text_to_json!(ConversationId, ClientMsgId, AgentName, AgentId, Email, SafeUrl);

impl<V: ToJson> ToJson for [V] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, value) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            value.write_json(out);
        }
        out.push(']');
    }
}

impl<V: ToJson> ToJson for Vec<V> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl ToJson for Contact {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.maybe("email", self.email.as_ref()).maybe("name", self.name.as_ref());
        });
    }
}

impl ToJson for Identity {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.text("user_id", &self.user_id).text("user_hash", &self.user_hash);
        });
    }
}

impl ToJson for StartConversation {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.value("contact", &self.contact).maybe("page_url", self.page_url.as_ref()).maybe("identity", self.identity.as_ref());
        });
    }
}

impl ToJson for Card {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| match self {
            Card::Article { title, summary, url } => {
                o.text("kind", "article").text("title", title).text("summary", summary).text("url", url.as_str());
            }
            Card::Link { label, url } => {
                o.text("kind", "link").text("label", label).text("url", url.as_str());
            }
        });
    }
}

impl ToJson for Author {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| match self {
            Author::Visitor => {
                o.text("role", "visitor");
            }
            Author::Agent { name, id } => {
                o.text("role", "agent").value("name", name).maybe("id", id.as_ref());
            }
        });
    }
}

impl ToJson for Message {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.number("seq", self.seq).value("client_id", &self.client_id).value("author", &self.author).text("body", &self.body);
            o.maybe("card", self.card.as_ref());
            if !self.suggestions.is_empty() {
                o.value("suggestions", &self.suggestions);
            }
            o.number("sent_at", self.sent_at);
            for (key, set) in [("note", self.note), ("edited", self.edited), ("deleted", self.deleted)] {
                if set {
                    o.flag(key, true);
                }
            }
        });
    }
}

impl ToJson for ClientFrame {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| match self {
            ClientFrame::Send { client_id, body, card, suggestions } => {
                o.tag("send").value("client_id", client_id).text("body", body).maybe("card", card.as_ref());
                if !suggestions.is_empty() {
                    o.value("suggestions", suggestions);
                }
            }
            ClientFrame::Typing { active } => {
                o.tag("typing").flag("active", *active);
            }
            ClientFrame::Read { up_to } => {
                o.tag("read").number("up_to", *up_to);
            }
            ClientFrame::SetContact { contact } => {
                o.tag("set_contact").value("contact", contact);
            }
            ClientFrame::End => {
                o.tag("end");
            }
            ClientFrame::Block => {
                o.tag("block");
            }
            ClientFrame::SetStatus { online } => {
                o.tag("set_status").flag("online", *online);
            }
            ClientFrame::DeleteMyData => {
                o.tag("delete_my_data");
            }
            ClientFrame::Ping => {
                o.tag("ping");
            }
            ClientFrame::Accept => {
                o.tag("accept");
            }
            ClientFrame::Transfer { to } => {
                o.tag("transfer");
                // serde writes `"to": null` for the queue.
                match to {
                    Some(to) => o.value("to", to),
                    None => o.null("to"),
                };
            }
            ClientFrame::Note { client_id, body } => {
                o.tag("note").text("client_id", client_id.as_str()).text("body", body);
            }
            ClientFrame::Edit { seq, body } => {
                o.tag("edit").number("seq", *seq).text("body", body);
            }
            ClientFrame::Retract { seq } => {
                o.tag("retract").number("seq", *seq);
            }
            ClientFrame::Subscribe { on } => {
                o.tag("subscribe").flag("on", *on);
            }
        });
    }
}

/// serde's own tree, so the tests (and native programs) can use this codec too.
impl Tree for serde_json::Value {
    fn member(&self, key: &str) -> Option<Self> {
        self.get(key).filter(|v| !v.is_null()).cloned()
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn elements(&self) -> Option<Vec<Self>> {
        self.as_array().cloned()
    }
}
