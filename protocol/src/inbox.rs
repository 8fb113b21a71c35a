//! The agents' side: accounts and sessions, the inbox (one entry per conversation), who is
//! responsible for a conversation, routing and time limits, canned responses.
//!
//! Accounts belong to the team that runs the relay (every site it serves). An admin
//! configures sites and creates agents; an agent works conversations. The console signs in
//! with a session cookie; programs (the `agent` command, tests) present the same session
//! token as `Authorization: Bearer`.

use crate::content::{short_text, Contact, Email};
use crate::error::{ErrorCode, ProtocolError};
use crate::frames::{validate_body, Status};
use crate::ids::{AgentName, ClientMsgId, ConversationId, Seq, SiteId};
use crate::limits::MAX_LABEL_CHARS;
use serde::{Deserialize, Serialize};

/// An account's id: `ag-` and 16 lowercase hex digits, made by the relay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(String);

impl AgentId {
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let hex = s.strip_prefix("ag-").unwrap_or("");
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ProtocolError::new(ErrorCode::InvalidId, "an agent id is ag- and 16 lowercase hex digits"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AgentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Configures sites, agents and canned responses; also works conversations.
    Admin,
    /// Works conversations.
    Agent,
}

/// An agent or admin, as everyone sees them (never their password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AgentId,
    pub email: Email,
    pub name: AgentName,
    pub role: AccountRole,
}

/// The agent responsible for a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Assignee {
    pub id: AgentId,
    pub name: AgentName,
}

/// Shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password (hashing has a cost; nobody types more).
pub const MAX_PASSWORD_CHARS: usize = 200;

pub fn validate_password(password: &str) -> Result<(), ProtocolError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidContent,
            format!("a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `POST /api/agent/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub email: Email,
    pub password: String,
    /// Programs ask for the session token in the answer; the console leaves it in the
    /// HttpOnly cookie, out of reach of any script.
    #[serde(default)]
    pub bearer: bool,
}

/// Answer to a login, and to `GET /api/agent/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub account: Account,
    /// Sites this relay serves, for the console's site picker.
    pub sites: Vec<SiteId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /api/agent/accounts` (admins): a new agent or admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    pub email: Email,
    pub name: AgentName,
    pub role: AccountRole,
    pub password: String,
}

/// `PATCH /api/agent/accounts/{id}` (admins): what changes in an account; `None` keeps it.
/// A new password ends every session the account has. The team always keeps an admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<AgentName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccountRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Answer to `GET /api/agent/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountList {
    pub accounts: Vec<Account>,
}

/// One conversation as the inbox lists it. The conversation keeps it current in its site's
/// index; agents' site connections hear every change as an `inbox` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub conversation_id: ConversationId,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    #[serde(default)]
    pub contact: Contact,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// When the last message was written (or the conversation created).
    pub updated_at: u64,
    /// The newest public message's seq.
    pub last_seq: Seq,
    /// Visitor messages no agent has read yet.
    pub unread: u32,
    /// The newest public message, shortened, as text.
    #[serde(default)]
    pub preview: String,
    /// When an agent first answered, if one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<u64>,
    /// How long the visitor waited for that answer: from their first message, or from when
    /// the site's bot handed them to the queue (not from the conversation's creation, which
    /// an outbound message or a bot's chat may precede by days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_secs: Option<u64>,
    /// When it last ended (an ended conversation written to again opens again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// Where and with what the visitor started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// The site's bot has it: it waits for no agent until the bot hands it over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

impl InboxEntry {
    /// Which list of the inbox it belongs in, for the agent `me`.
    pub fn list_for(&self, me: &AgentId) -> InboxList {
        match (self.status, &self.assignee) {
            (Status::Open, None) if self.bot => InboxList::Others,
            (Status::Open, None) => InboxList::Waiting,
            (Status::Open, Some(a)) if &a.id == me => InboxList::Mine,
            (Status::Open, Some(_)) => InboxList::Others,
            _ => InboxList::Closed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxList {
    Waiting,
    Mine,
    Others,
    Closed,
}

/// Answer to `GET /api/agent/sites/{site}/conversations`, most recently active first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub conversations: Vec<InboxEntry>,
    /// Older closed conversations than those listed exist: ask with the oldest one's cursor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more_closed: bool,
}

/// An agent on a site, as the other agents see them (transfer targets, workload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPresence {
    pub id: AgentId,
    pub name: AgentName,
    pub online: bool,
    /// Open conversations they are responsible for.
    pub open_chats: u32,
    /// At their limit of simultaneous chats: routing skips them.
    pub at_limit: bool,
}

/// Why an agent is being told about a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// Routing (or a transfer) made them responsible.
    Assigned,
    /// Another agent mentioned them in a private note.
    Mentioned { by: AgentName },
    /// A waiting conversation was not accepted in time: it is offered to them.
    Offered,
    /// The responsible agent has not read the visitor's message for too long.
    Unanswered,
    /// The visitor waited too long for their reply: the conversation went back to the queue,
    /// or to the next agent in turn when the site routes automatically.
    Returned,
}

/// How the site hands out conversations, and its time limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxSettings {
    /// New conversations go to online agents in turn (round robin), skipping agents at their
    /// limit. Off: they wait in the queue until someone accepts.
    pub auto_assign: bool,
    /// Most open conversations one agent is responsible for at once.
    pub max_chats_per_agent: u32,
    /// A waiting conversation not accepted in this many minutes is offered to the next agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_timeout_minutes: Option<u32>,
    /// A visitor message the responsible agent has not read in this many minutes alerts every
    /// online agent.
    pub unanswered_alert_minutes: u32,
    /// A visitor left without a reply for this many minutes takes the conversation from the
    /// responsible agent: back to the queue, or to the next agent in turn when routing is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_timeout_minutes: Option<u32>,
    /// An open conversation with no message for this many minutes is ended, with a notice.
    pub auto_close_minutes: u32,
}

impl Default for InboxSettings {
    fn default() -> Self {
        InboxSettings {
            auto_assign: false,
            max_chats_per_agent: 5,
            accept_timeout_minutes: None,
            unanswered_alert_minutes: 10,
            reply_timeout_minutes: None,
            auto_close_minutes: 60,
        }
    }
}

impl InboxSettings {
    pub fn validated(self) -> Result<Self, ProtocolError> {
        let in_range = |value: u32, max: u32, what: &str| {
            if value == 0 || value > max {
                Err(ProtocolError::new(ErrorCode::InvalidContent, format!("{what} is 1 to {max}")))
            } else {
                Ok(())
            }
        };
        in_range(self.max_chats_per_agent, 100, "the chat limit per agent")?;
        if let Some(minutes) = self.accept_timeout_minutes {
            in_range(minutes, 24 * 60, "the accept timeout (minutes)")?;
        }
        in_range(self.unanswered_alert_minutes, 24 * 60, "the unanswered alert (minutes)")?;
        if let Some(minutes) = self.reply_timeout_minutes {
            in_range(minutes, 24 * 60, "the reply timeout (minutes)")?;
        }
        in_range(self.auto_close_minutes, 30 * 24 * 60, "the auto-close period (minutes)")?;
        Ok(self)
    }
}

/// A saved answer agents insert by typing `//` and part of its name or text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub name: String,
    pub text: String,
}

/// Most canned responses a site keeps.
pub const MAX_CANNED: usize = 200;

/// The site's canned responses: `GET` for agents, `PUT` for admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponses {
    pub responses: Vec<CannedResponse>,
}

impl CannedResponses {
    pub fn validated(self) -> Result<Self, ProtocolError> {
        if self.responses.len() > MAX_CANNED {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, format!("at most {MAX_CANNED} canned responses")));
        }
        let responses = self
            .responses
            .into_iter()
            .map(|r| {
                Ok(CannedResponse {
                    name: short_text(&r.name, MAX_LABEL_CHARS, "a canned response's name")?,
                    text: validate_body(&r.text)?,
                })
            })
            .collect::<Result<_, ProtocolError>>()?;
        Ok(CannedResponses { responses })
    }

    /// Those whose name or text contains `query` (any case), names first.
    pub fn search(&self, query: &str) -> Vec<&CannedResponse> {
        let query = query.to_lowercase();
        let mut by_name: Vec<&CannedResponse> = Vec::new();
        let mut by_text: Vec<&CannedResponse> = Vec::new();
        for response in &self.responses {
            if response.name.to_lowercase().contains(&query) {
                by_name.push(response);
            } else if response.text.to_lowercase().contains(&query) {
                by_text.push(response);
            }
        }
        by_name.extend(by_text);
        by_name
    }
}

/// The agents a private note mentions: `@Name` for each agent name in `names` that follows
/// an `@` (names may have spaces, so each known name is looked for).
pub fn mentions<'a>(note: &str, names: impl IntoIterator<Item = &'a AgentName>) -> Vec<&'a AgentName> {
    let lower = note.to_lowercase();
    names
        .into_iter()
        .filter(|name| {
            let needle = format!("@{}", name.as_str().to_lowercase());
            lower.match_indices(&needle).any(|(at, _)| {
                // The name must end there: "@Ana" is not a mention of "Anabel".
                lower[at + needle.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
            })
        })
        .collect()
}

/// `POST /api/agent/sites/{site}/outbound`: an online agent, or a program with an account's
/// token, writes first to a known contact. A program's conversation waits in the queue for
/// whoever is online to answer the contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    pub email: Email,
    pub body: String,
    /// The caller's id for this message: sent again with it (a retry after a lost answer),
    /// the answer names the same conversation and nothing is written or emailed twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientMsgId>,
}

/// Answer to an [`Outbound`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundStarted {
    pub conversation_id: ConversationId,
}

/// Conversations started on one day (UTC), by where they stand now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub open: u32,
    pub ended: u32,
    pub blocked: u32,
}

/// One agent's load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub id: AgentId,
    pub name: AgentName,
    /// Open conversations they are responsible for now.
    pub open_chats: u32,
    /// Conversations they were responsible for that ended today (UTC).
    pub handled_today: u32,
}

/// Answer to `GET /api/agent/sites/{site}/analytics?from&to`: conversations started in the
/// date range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analytics {
    pub days: Vec<DayCount>,
    /// Seconds from the first visitor message to the first agent answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_median_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_p90_secs: Option<u64>,
    /// Ended conversations that had an answer.
    pub completed: u32,
    pub workload: Vec<Workload>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AgentName {
        AgentName::parse(s).unwrap()
    }

    #[test]
    fn agent_ids() {
        assert!(AgentId::parse("ag-0123456789abcdef").is_ok());
        for bad in ["", "ag-", "ag-0123456789ABCDEF", "xx-0123456789abcdef", "ag-0123456789abcde"] {
            assert_eq!(AgentId::parse(bad).unwrap_err().code, ErrorCode::InvalidId, "{bad}");
        }
    }

    #[test]
    fn lists_follow_status_and_assignee() {
        let me = AgentId::parse("ag-000000000000000a").unwrap();
        let other = Assignee { id: AgentId::parse("ag-000000000000000b").unwrap(), name: name("Bo") };
        let mut entry = InboxEntry {
            conversation_id: ConversationId::parse(&"0a".repeat(32)).unwrap(),
            status: Status::Open,
            assignee: None,
            contact: Contact::default(),
            created_at: 1,
            updated_at: 1,
            last_seq: 0,
            unread: 0,
            preview: String::new(),
            first_response_at: None,
            first_response_secs: None,
            ended_at: None,
            page_url: None,
            browser: None,
            bot: false,
        };
        assert_eq!(entry.list_for(&me), InboxList::Waiting);
        entry.assignee = Some(Assignee { id: me.clone(), name: name("Ana") });
        assert_eq!(entry.list_for(&me), InboxList::Mine);
        entry.assignee = Some(other);
        assert_eq!(entry.list_for(&me), InboxList::Others);
        entry.status = Status::Ended;
        assert_eq!(entry.list_for(&me), InboxList::Closed);
    }

    #[test]
    fn mentions_match_whole_names_in_any_case() {
        let names = [name("Ana"), name("Bo Li"), name("Anabel")];
        let found = mentions("thanks @bo li, and @Ana: see above", names.iter());
        assert_eq!(found, vec![&names[0], &names[1]]);
        assert!(mentions("mail ana@example.com", names.iter()).is_empty());
        assert_eq!(mentions("@Anabel!", names.iter()), vec![&names[2]]);
    }

    #[test]
    fn canned_search_prefers_names() {
        let canned = CannedResponses {
            responses: vec![
                CannedResponse { name: "Refund".into(), text: "Refunds take 5 days.".into() },
                CannedResponse { name: "Hours".into(), text: "We answer refund questions 9–5.".into() },
            ],
        };
        let found: Vec<_> = canned.search("REFUND").iter().map(|r| r.name.as_str()).collect();
        assert_eq!(found, ["Refund", "Hours"]);
        assert!(canned.search("nothing").is_empty());
    }

    #[test]
    fn settings_and_passwords_are_checked() {
        assert!(InboxSettings::default().validated().is_ok());
        let zero = InboxSettings { max_chats_per_agent: 0, ..InboxSettings::default() };
        assert_eq!(zero.validated().unwrap_err().code, ErrorCode::InvalidContent);
        let no_time_to_reply = InboxSettings { reply_timeout_minutes: Some(0), ..InboxSettings::default() };
        assert_eq!(no_time_to_reply.validated().unwrap_err().code, ErrorCode::InvalidContent);
        assert!(InboxSettings { reply_timeout_minutes: Some(15), ..InboxSettings::default() }.validated().is_ok());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough password").is_ok());
    }
}
