//! The `Site` Durable Object: one per site. It holds the site's settings (widget, inbox
//! routing, canned responses), its agents' presence, and the inbox: one entry per
//! conversation, kept current by the conversations themselves.
//!
//! Presence: an agent's chosen status (online/offline) is stored, so a console reload keeps
//! it; it counts while the agent has a console connected, and for a short grace after the
//! last one closes (then the alarm makes them offline). An open widget holds an
//! availability socket here: it hears `availability` and `widget_settings` when it opens,
//! then `availability` only when the answer changes and `widget_settings` when an admin
//! saves them.
//!
//! Live inbox: every entry change goes to every agent's site socket as an `inbox` frame;
//! agent changes (status, load) as an `agents` frame. Alerts go to one agent's sockets.
//!
//! Routing and time limits live here because they need every agent and every waiting
//! conversation at once: a new conversation may be handed to the next agent in turn
//! ([`crate::routing`]); the alarm offers conversations nobody accepted in time, alerts
//! agents about visitors left unread, and takes a conversation from an agent who left its
//! visitor without a reply for too long (back to the queue, or on to the next agent).
//!
//! It stays off the visitor's hot path but for the inbox update a message causes. A site
//! with tens of thousands of live conversations would strain this one object; the inbox and
//! the availability sockets can shard by conversation-id prefix into several objects.

use crate::{analytics, automations, config, reply, routing};
use protocol::automations::{Automations, WebhookEvent};
use protocol::http::{query, ClosedCursor};
use protocol::inbox::{Account, AgentPresence, Alert, CannedResponses, Inbox, InboxSettings};
use protocol::site::{SiteView, WidgetSettings};
use protocol::{
    AgentId, AgentName, Assignee, ClientFrame, Contact, ConversationId, ErrorCode, InboxEntry, ProtocolError, ServerFrame, Status,
};
use serde::{Deserialize, Serialize};
use crate::now_ms;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorageValue,
    State, Stub, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

/// Internal URLs the Worker and the conversations call.
pub const VIEW_URL: &str = "https://site/view";
pub const SETTINGS_URL: &str = "https://site/settings";
pub const INBOX_SETTINGS_URL: &str = "https://site/inbox-settings";
pub const CANNED_URL: &str = "https://site/canned";
pub const AUTOMATIONS_URL: &str = "https://site/automations";
pub const DELIVERIES_URL: &str = "https://site/deliveries";
pub const INBOX_URL: &str = "https://site/inbox";
pub const ANALYTICS_URL: &str = "https://site/analytics";
pub const AVAILABILITY_URL: &str = "https://site/availability";
const USERS_URL: &str = "https://site/users";
const AGENTS_URL: &str = "https://site/agents";
const ALERT_URL: &str = "https://site/alert";

/// Most entries a contact's list returns, most recently active first.
const CONTACT_LIST_LIMIT: i64 = 200;
/// Most open conversations the inbox lists: far more than a team works at once, and a bound
/// on the answer's size.
const OPEN_LIST_LIMIT: i64 = 5_000;

const VISITOR_TAG: &str = "visitor";
const AGENT_TAG: &str = "agent";

/// Who hears of a settings change: the agents' open consoles, or the open widgets (on their
/// availability sockets).
enum Hearers {
    Agents,
    Widgets,
}

/// A conversation's entry as it tells the site: the entry, and what the time limits need.
#[derive(Debug, Serialize, Deserialize)]
pub struct PutEntry {
    pub entry: InboxEntry,
    /// It just started: routing may hand it to an agent.
    pub new: bool,
    /// When the oldest visitor message no agent has read was written.
    pub unread_since: Option<u64>,
    /// When the oldest visitor message no agent has replied to was written.
    #[serde(default)]
    pub waiting_since: Option<u64>,
    /// Agents who muted its alerts.
    pub muted: Vec<AgentId>,
    /// What happened since the last update, for the site's automations.
    pub events: Vec<WebhookEvent>,
}

/// The site's answer: an agent routing chose, the site's inactivity limit, and the bot a new
/// conversation starts with.
#[derive(Debug, Serialize, Deserialize)]
pub struct PutAnswer {
    pub assign: Option<Assignee>,
    pub auto_close_ms: u64,
    #[serde(default)]
    pub bot: Option<AgentName>,
}

async fn post<T: Serialize>(stub: &Stub, url: &str, body: &T) -> Result<Response> {
    let body = serde_json::to_string(body)?;
    stub.fetch_with_request(Request::new_with_init(url, RequestInit::new().with_method(Method::Post).with_body(Some(body.into())))?).await
}

pub async fn put_entry(stub: &Stub, put: &PutEntry) -> Result<PutAnswer> {
    post(stub, INBOX_URL, put).await?.json().await
}

/// The agents the site knows (everyone who ever opened its console).
pub async fn agents(stub: &Stub) -> Result<Vec<AgentPresence>> {
    stub.fetch_with_str(AGENTS_URL).await?.json().await
}

pub async fn is_online(stub: &Stub, agent: &AgentId) -> Result<bool> {
    Ok(agents(stub).await?.iter().any(|a| &a.id == agent && a.online))
}

#[derive(Debug, Serialize, Deserialize)]
struct AlertRequest {
    agent: AgentId,
    conversation_id: ConversationId,
    alert: Alert,
}

/// The site's reply timeout ran out: the conversation leaves `from` for `to` (the queue when
/// `None`), unless `from` answered or handed it on meanwhile.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub from: AgentId,
    /// The unanswered message the site counted from: a newer one means the agent replied.
    pub waiting_since: u64,
    pub to: Option<Assignee>,
}

/// Tells one agent's consoles about a conversation.
pub async fn alert(stub: &Stub, agent: &AgentId, conversation_id: &ConversationId, alert: &Alert) -> Result<()> {
    post(stub, ALERT_URL, &AlertRequest { agent: agent.clone(), conversation_id: conversation_id.clone(), alert: alert.clone() }).await?;
    Ok(())
}

/// A contact's conversations on this site, most recently active first.
pub async fn contact_conversations(stub: &Stub, email: &protocol::Email) -> Result<Vec<InboxEntry>> {
    let url = format!("{INBOX_URL}?{}={}", query::EMAIL, protocol::http::percent_encode(email.as_str()));
    let inbox: Inbox = stub.fetch_with_str(&url).await?.json().await?;
    Ok(inbox.conversations)
}

/// An account lost a session (signed out), all of them (a new password), or was removed: what
/// they had open disconnects from the site and from the conversations; a removed agent
/// leaves the team, and the open conversations it was responsible for go on (`to`: back to
/// the queue when `None`).
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentGone {
    pub agent: AgentId,
    pub removed: bool,
    /// Chosen by the site for each conversation the agent was responsible for.
    #[serde(default)]
    pub to: Option<Assignee>,
    /// Only the sockets this session opened ([`crate::accounts::session_tag`]); all of the
    /// agent's when `None`.
    #[serde(default)]
    pub session: Option<String>,
}

impl AgentGone {
    /// Whether a socket opened by `agent` with `session` is one that goes.
    pub fn closes(&self, agent: &AgentId, session: Option<&str>) -> bool {
        &self.agent == agent && self.session.as_deref().is_none_or(|gone| session == Some(gone))
    }
}

/// An agent's new name, for the team's presence and the conversations routing hands out.
pub async fn agent_renamed(stub: &Stub, agent: &Assignee) -> Result<()> {
    post(stub, "https://site/agent-renamed", agent).await?;
    Ok(())
}

/// Tells the site an agent signed out (`session`), lost every session (`None`), or was removed.
pub async fn agent_gone(stub: &Stub, agent: &AgentId, removed: bool, session: Option<&str>) -> Result<()> {
    let gone = AgentGone { agent: agent.clone(), removed, to: None, session: session.map(str::to_owned) };
    post(stub, "https://site/agent-gone", &gone).await?;
    Ok(())
}

/// The conversation a verified user last started on this site, if any.
pub async fn user_conversation(stub: &Stub, user_id: &str) -> Result<Option<ConversationId>> {
    let url = format!("{USERS_URL}?user={}", protocol::http::percent_encode(user_id));
    let mut answer = stub.fetch_with_str(&url).await?;
    let found: Option<String> = answer.json().await?;
    Ok(found.and_then(|id| ConversationId::parse(&id).ok()))
}

/// Remembers a verified user's conversation, so their other devices find it.
pub async fn remember_user(stub: &Stub, user_id: &str, conversation: &ConversationId) -> Result<()> {
    post(stub, USERS_URL, &serde_json::json!({ "user": user_id, "conversation": conversation })).await?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct Forget {
    conversation: String,
    erased: Option<WebhookEvent>,
}

/// Removes an erased conversation from the inbox and from its user, and tells the
/// automations that want to know.
pub async fn forget_conversation(stub: &Stub, conversation: &str, erased: Option<WebhookEvent>) -> Result<()> {
    let answer = post(stub, "https://site/forget", &Forget { conversation: conversation.to_owned(), erased }).await?;
    match answer.status_code() {
        200..=299 => Ok(()),
        status => Err(worker::Error::RustError(format!("the site answered {status}"))),
    }
}

/// A conversation's id, as a query answers it.
#[derive(Deserialize)]
struct IdRow {
    id: String,
}

/// A conversation an agent's session has open, or no longer has: the site keeps the list, so
/// signing out, a new password or a removal reaches exactly those conversations.
#[derive(Debug, Serialize, Deserialize)]
pub struct Viewer {
    pub conversation: String,
    pub agent: AgentId,
    pub session: String,
    pub open: bool,
}

pub async fn viewer(stub: &Stub, viewer: &Viewer) -> Result<()> {
    post(stub, "https://site/viewer", viewer).await?;
    Ok(())
}

/// Internal URL of an agent's site connection.
pub fn agent_url(account: &Account, session: &str) -> String {
    format!("https://site/agent?id={}&name={}&session={session}", account.id, protocol::http::percent_encode(account.name.as_str()))
}

/// An agent's site socket: whose it is and which session opened it (kept in the attachment,
/// so it survives hibernation).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Presence {
    id: AgentId,
    #[serde(default)]
    session: Option<String>,
}

#[durable_object]
pub struct Site {
    state: State,
    env: Env,
    /// Settings documents by key, as stored (see [`Site::stored`]).
    settings_cache: std::cell::RefCell<std::collections::HashMap<String, String>>,
    alarm: crate::alarm::Alarm,
}

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct UserRow {
    conversation_id: String,
}

#[derive(Deserialize)]
struct AgentRow {
    id: String,
    name: String,
    online: i64,
    leaving_at: Option<i64>,
}

#[derive(Deserialize)]
struct EntryRow {
    entry: String,
}

impl EntryRow {
    /// The entries the rows hold (a row that no longer parses is skipped).
    fn parse_all(rows: Vec<EntryRow>) -> Vec<InboxEntry> {
        rows.iter().filter_map(|r| serde_json::from_str(&r.entry).ok()).collect()
    }
}

#[derive(Deserialize)]
struct LoadRow {
    status: String,
    assignee_id: Option<String>,
}

/// What the time limits need of an open conversation.
#[derive(Deserialize)]
struct TimedRow {
    entry: String,
    unread_since: Option<i64>,
    waiting_since: Option<i64>,
    responsible_since: Option<i64>,
    offered_at: Option<i64>,
    alerted_at: Option<i64>,
    muted: String,
}

impl TimedRow {
    fn clocks(&self) -> routing::Clocks {
        let at = |value: Option<i64>| value.map(|v| v as u64);
        routing::Clocks {
            unread_since: at(self.unread_since),
            waiting_since: at(self.waiting_since),
            responsible_since: at(self.responsible_since),
            offered_at: at(self.offered_at),
            alerted_at: at(self.alerted_at),
        }
    }
}

/// An open conversation's next time limit, and what it counts from.
struct Timed {
    entry: InboxEntry,
    limit: routing::TimeLimit,
    clocks: routing::Clocks,
    /// Agents who muted its alerts.
    muted: Vec<AgentId>,
}

#[derive(Deserialize)]
struct ResponsibleRow {
    responsible_since: Option<i64>,
}

fn send(ws: &WebSocket, frame: &ServerFrame) {
    let _ = ws.send_with_str(frame.encode());
}


fn int(value: u64) -> Result<SqlStorageValue> {
    SqlStorageValue::try_from_i64(value as i64)
}

impl Site {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    // ---- settings ----------------------------------------------------------------------

    /// A stored settings document. Every inbox update reads some, so each is read from
    /// storage once per life of the object (it is their only writer) and kept.
    fn stored<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        let cached = self.settings_cache.borrow().get(key).cloned();
        let json = match cached {
            Some(json) => json,
            None => {
                let rows: Vec<ValueRow> = self.sql().exec("SELECT value FROM settings WHERE key = ?", vec![key.into()])?.to_array()?;
                let json = rows.into_iter().next().map(|r| r.value).unwrap_or_default();
                self.settings_cache.borrow_mut().insert(key.to_owned(), json.clone());
                json
            }
        };
        Ok(serde_json::from_str(&json).unwrap_or_default())
    }

    fn store<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value)?;
        self.sql().exec(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![key.into(), json.as_str().into()],
        )?;
        self.settings_cache.borrow_mut().insert(key.to_owned(), json);
        Ok(())
    }

    fn settings(&self) -> Result<WidgetSettings> {
        self.stored("widget")
    }

    fn inbox_settings(&self) -> Result<InboxSettings> {
        self.stored("inbox")
    }

    /// Checks and stores a settings document; answers with it as stored. `tell` is what the
    /// open consoles or widgets hear of it: what they work with reaches them at once, not on
    /// their next reload.
    async fn put_settings<T, F>(&self, mut req: Request, key: &str, validate: F, tell: fn(T) -> Option<(Hearers, ServerFrame)>) -> Result<Response>
    where
        T: serde::de::DeserializeOwned + Serialize + Clone,
        F: FnOnce(T) -> std::result::Result<T, ProtocolError>,
    {
        let parsed = match req.json::<T>().await {
            Ok(value) => validate(value),
            Err(why) => Err(ProtocolError::new(ErrorCode::InvalidContent, format!("not valid settings: {why}"))),
        };
        match parsed {
            Ok(value) => {
                self.store(key, &value)?;
                // A bot set up or taken away changes whether the chat is answered.
                self.announce(None)?;
                match tell(value.clone()) {
                    Some((Hearers::Agents, frame)) => self.tell_agents(&frame),
                    Some((Hearers::Widgets, frame)) => self.tell_widgets(&frame),
                    None => {}
                }
                reply::json(&value, 200)
            }
            Err(err) => reply::http_error(err),
        }
    }

    // ---- presence ----------------------------------------------------------------------

    fn agent_rows(&self) -> Result<Vec<AgentRow>> {
        self.sql().exec("SELECT id, name, online, leaving_at FROM agents ORDER BY id", None)?.to_array()
    }

    /// The agents' consoles that are open. One the relay closed (signed out) stays listed,
    /// closing, until the other side answers: it no longer counts, nor hears anything.
    fn agent_sockets(&self) -> Vec<WebSocket> {
        let open = worker::web_sys::WebSocket::OPEN;
        self.state.get_websockets_with_tag(AGENT_TAG).into_iter().filter(|ws| ws.as_ref().ready_state() == open).collect()
    }

    fn has_socket(&self, id: &str, except: Option<&WebSocket>) -> bool {
        self.agent_sockets().iter().any(|ws| {
            Some(ws) != except && ws.deserialize_attachment::<Presence>().ok().flatten().is_some_and(|p| p.id.as_str() == id)
        })
    }

    /// Whether an agent counts as online: they said so, and a console is open (or just
    /// closed, within the grace).
    fn row_online(&self, row: &AgentRow, except: Option<&WebSocket>) -> bool {
        row.online != 0 && (self.has_socket(&row.id, except) || row.leaving_at.is_some_and(|at| at as u64 > now_ms()))
    }

    fn presences(&self, except: Option<&WebSocket>) -> Result<Vec<AgentPresence>> {
        #[derive(Deserialize)]
        struct LoadCount {
            assignee_id: String,
            n: i64,
        }
        let limit = self.inbox_settings()?.max_chats_per_agent;
        // Counted over every open conversation, not only the ones a list shows.
        let loads: Vec<LoadCount> = self
            .sql()
            .exec("SELECT assignee_id, COUNT(*) AS n FROM inbox WHERE status = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id", None)?
            .to_array()?;
        Ok(self
            .agent_rows()?
            .iter()
            .filter_map(|row| {
                let id = AgentId::parse(&row.id).ok()?;
                let open_chats = loads.iter().find(|l| l.assignee_id == row.id).map_or(0, |l| l.n as u32);
                Some(AgentPresence {
                    name: AgentName::parse(&row.name).ok()?,
                    online: self.row_online(row, except),
                    open_chats,
                    at_limit: open_chats >= limit,
                    id,
                })
            })
            .collect())
    }

    /// Whether a visitor writing now is answered live: an agent is online, or the site's bot
    /// takes new conversations (what widgets hear as `agents_online`).
    fn agents_online(&self, except: Option<&WebSocket>) -> Result<bool> {
        Ok(self.agent_rows()?.iter().any(|row| self.row_online(row, except)) || self.stored::<Automations>("automations")?.bot.is_some())
    }

    /// After a presence change: widgets hear availability when it differs from what they
    /// were last told (a grace running out changes it with nobody acting), agents hear the
    /// agent list.
    fn announce(&self, except: Option<&WebSocket>) -> Result<()> {
        let now_online = self.agents_online(except)?;
        if self.stored::<bool>("announced_online")? != now_online {
            self.store("announced_online", &now_online)?;
            let frame = ServerFrame::Availability { agents_online: now_online }.encode();
            for ws in self.state.get_websockets() {
                let _ = ws.send_with_str(&frame);
            }
        }
        self.tell_agents(&ServerFrame::Agents { agents: self.presences(except)? });
        Ok(())
    }

    /// The open widgets, on their availability sockets.
    fn tell_widgets(&self, frame: &ServerFrame) {
        let text = frame.encode();
        for ws in self.state.get_websockets_with_tag(VISITOR_TAG) {
            let _ = ws.send_with_str(&text);
        }
    }

    fn tell_agents(&self, frame: &ServerFrame) {
        let text = frame.encode();
        for ws in self.agent_sockets() {
            let _ = ws.send_with_str(&text);
        }
    }

    fn accept_agent(&self, id: AgentId, name: AgentName, session: Option<String>) -> Result<Response> {
        // Known agents keep their chosen status; a newcomer starts offline.
        self.sql().exec(
            "INSERT INTO agents (id, name, online) VALUES (?, ?, 0)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, leaving_at = NULL",
            vec![id.as_str().into(), name.as_str().into()],
        )?;
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[AGENT_TAG]);
        pair.server.serialize_attachment(&Presence { id, session })?;
        send(&pair.server, &ServerFrame::Availability { agents_online: self.agents_online(None)? });
        self.announce(None)?;
        reply::websocket(pair.client)
    }

    fn accept_widget(&self) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[VISITOR_TAG]);
        send(&pair.server, &ServerFrame::Availability { agents_online: self.agents_online(None)? });
        // A page open for hours has the settings of its load: an admin may have saved since.
        send(&pair.server, &ServerFrame::WidgetSettings { settings: self.settings()? });
        reply::websocket(pair.client)
    }

    async fn set_status(&self, ws: &WebSocket, online: bool) -> Result<()> {
        let Some(presence) = ws.deserialize_attachment::<Presence>()? else { return Ok(()) };
        self.sql().exec("UPDATE agents SET online = ? WHERE id = ?", vec![(online as i64).into(), presence.id.as_str().into()])?;
        self.announce(None)?;
        if online {
            self.assign_waiting(None).await?;
        }
        Ok(())
    }

    /// Someone came online or has room again: conversations that waited for a free agent
    /// are routed now, oldest first. `returned`: a conversation just given back to the queue,
    /// and by whom; it goes to someone else (or waits), never straight back to them.
    async fn assign_waiting(&self, returned: Option<(&ConversationId, AgentId)>) -> Result<()> {
        // The bot's conversations are not waiting: they come to the queue when it hands them over.
        let mut waiting: Vec<InboxEntry> = self.open_entries()?.into_iter().filter(|e| e.assignee.is_none() && !e.bot).collect();
        waiting.sort_by_key(|e| e.created_at);
        for entry in waiting {
            // Each routing awaits the conversation, which lets other passes in: one may have
            // routed this entry meanwhile, and it must not get a second agent.
            if !self.still_waiting(&entry.conversation_id)? {
                continue;
            }
            let except = returned.as_ref().filter(|(id, _)| **id == entry.conversation_id).map(|(_, agent)| agent);
            let Some(assignee) = self.route(except)? else {
                if except.is_some() {
                    continue; // only its last agent has room: it waits, and others may still be routed
                }
                break;
            };
            let mut routed = entry.clone();
            routed.assignee = Some(assignee.clone());
            self.sql().exec(
                "UPDATE inbox SET assignee_id = ?, entry = ? WHERE id = ?",
                vec![assignee.id.as_str().into(), serde_json::to_string(&routed)?.into(), entry.conversation_id.as_str().into()],
            )?;
            let stub = self.conversation_stub(entry.conversation_id.as_str())?;
            post(&stub, "https://conversation/assign", &assignee).await?;
        }
        Ok(())
    }

    /// Whether the inbox still lists this conversation as open and nobody's.
    fn still_waiting(&self, conversation: &ConversationId) -> Result<bool> {
        let rows: Vec<LoadRow> =
            self.sql().exec("SELECT status, assignee_id FROM inbox WHERE id = ?", vec![conversation.as_str().into()])?.to_array()?;
        Ok(rows.first().is_some_and(|row| row.status == Status::Open.as_str() && row.assignee_id.is_none()))
    }

    /// A console closed: its agent's last one starts the grace before they go offline.
    async fn socket_gone(&self, ws: &WebSocket) -> Result<()> {
        let Some(presence) = ws.deserialize_attachment::<Presence>().ok().flatten() else { return Ok(()) };
        if self.has_socket(presence.id.as_str(), Some(ws)) {
            return Ok(());
        }
        let leaving_at = now_ms() + config::presence_grace_ms(&self.env);
        self.sql().exec("UPDATE agents SET leaving_at = ? WHERE id = ?", vec![int(leaving_at)?, presence.id.as_str().into()])?;
        self.arm(leaving_at).await
    }

    // ---- the inbox ---------------------------------------------------------------------

    /// A contact's conversations, or the inbox: every open conversation (an old one still
    /// waiting must not drop off the queue) and the most recent closed ones; newest first.
    fn entries(&self, email: Option<&str>) -> Result<Vec<InboxEntry>> {
        let rows: Vec<EntryRow> = match email {
            Some(email) => self.sql().exec(
                "SELECT entry FROM inbox WHERE email = ? ORDER BY updated_at DESC LIMIT ?",
                vec![email.to_lowercase().into(), CONTACT_LIST_LIMIT.into()],
            )?,
            None => self.sql().exec(
                "SELECT entry FROM (
                   SELECT * FROM (SELECT entry, updated_at FROM inbox WHERE status = 'open' ORDER BY updated_at DESC LIMIT ?)
                   UNION ALL
                   SELECT * FROM (SELECT entry, updated_at FROM inbox WHERE status != 'open' ORDER BY updated_at DESC LIMIT ?)
                 ) ORDER BY updated_at DESC",
                vec![OPEN_LIST_LIMIT.into(), (config::inbox_closed_listed(&self.env) as i64).into()],
            )?,
        }
        .to_array()?;
        Ok(EntryRow::parse_all(rows))
    }

    /// Every open conversation, for routing and the bot's handover (not the closed ones the
    /// inbox also lists).
    fn open_entries(&self) -> Result<Vec<InboxEntry>> {
        Ok(EntryRow::parse_all(self.sql().exec("SELECT entry FROM inbox WHERE status = 'open'", None)?.to_array()?))
    }

    /// What agents list: a contact's conversations; or the inbox, every open conversation and
    /// the newest closed ones; or, after `closed_before`, the next page of closed ones.
    fn listing(&self, email: Option<&str>, closed_before: Option<ClosedCursor>) -> Result<Inbox> {
        let page = config::inbox_closed_listed(&self.env) as usize;
        let older_closed = |cursor: Option<&ClosedCursor>| -> Result<Vec<EntryRow>> {
            let (at, id) = cursor.map_or((i64::MAX, String::new()), |c| (c.updated_at as i64, c.conversation_id.to_string()));
            // One more than a page: whether there are more to ask for.
            self.sql()
                .exec(
                    "SELECT entry FROM inbox WHERE status != 'open' AND (updated_at < ? OR (updated_at = ? AND id < ?))
                     ORDER BY updated_at DESC, id DESC LIMIT ?",
                    vec![at.into(), at.into(), id.into(), (page as i64 + 1).into()],
                )?
                .to_array()
        };
        let (mut conversations, more_closed) = match (email, closed_before) {
            (Some(email), _) => (self.entries(Some(email))?, false),
            (None, cursor) => {
                let mut closed = EntryRow::parse_all(older_closed(cursor.as_ref())?);
                let more = closed.len() > page;
                closed.truncate(page);
                if cursor.is_none() {
                    let open: Vec<EntryRow> = self
                        .sql()
                        .exec("SELECT entry FROM inbox WHERE status = 'open' ORDER BY updated_at DESC LIMIT ?", vec![OPEN_LIST_LIMIT.into()])?
                        .to_array()?;
                    closed.extend(EntryRow::parse_all(open));
                }
                (closed, more)
            }
        };
        conversations.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| b.conversation_id.as_str().cmp(a.conversation_id.as_str())));
        Ok(Inbox { conversations, more_closed })
    }

    /// Stores the entry with what the visitor waits for; answers its clocks. A change of
    /// assignee (or a return to the queue), or a conversation just made routable (`routable`:
    /// new, or handed over by the bot), starts the responsibility clock again.
    fn write_entry(&self, entry: &InboxEntry, waits: routing::Clocks, muted: &[AgentId], routable: bool) -> Result<routing::Clocks> {
        let email = entry.contact.email.as_ref().map(|e| e.as_str().to_lowercase());
        let since = |at: Option<u64>| at.map(|at| at as i64);
        let row: ResponsibleRow = self
            .sql()
            .exec(
                "INSERT INTO inbox (id, status, assignee_id, email, updated_at, unread_since, waiting_since, responsible_since, muted, entry)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, assignee_id = excluded.assignee_id,
                   email = excluded.email, updated_at = excluded.updated_at, unread_since = excluded.unread_since,
                   waiting_since = excluded.waiting_since,
                   responsible_since = CASE WHEN ? = 0 AND inbox.assignee_id IS excluded.assignee_id THEN inbox.responsible_since
                                            ELSE excluded.responsible_since END,
                   muted = excluded.muted, entry = excluded.entry
                 RETURNING responsible_since",
                vec![
                    entry.conversation_id.as_str().into(),
                    entry.status.as_str().into(),
                    entry.assignee.as_ref().map(|a| a.id.as_str().to_owned()).into(),
                    email.into(),
                    int(entry.updated_at)?,
                    since(waits.unread_since).into(),
                    since(waits.waiting_since).into(),
                    int(now_ms())?,
                    serde_json::to_string(muted)?.into(),
                    serde_json::to_string(entry)?.into(),
                    (routable as i32).into(),
                ],
            )?
            .one()?;
        Ok(routing::Clocks { responsible_since: row.responsible_since.map(|at| at as u64), ..waits })
    }

    /// The next agent in turn, if the site routes automatically and someone is free.
    fn route(&self, except: Option<&AgentId>) -> Result<Option<Assignee>> {
        if !self.inbox_settings()?.auto_assign {
            return Ok(None);
        }
        self.next_in_turn(except)
    }

    /// The next online agent below their limit in round-robin order, other than `except`;
    /// their turn is taken.
    fn next_in_turn(&self, except: Option<&AgentId>) -> Result<Option<Assignee>> {
        let mut agents = self.presences(None)?;
        agents.retain(|agent| Some(&agent.id) != except);
        let last = self.stored::<Option<AgentId>>("round_robin_last")?;
        let Some(next) = routing::next_agent(&agents, last.as_ref()) else { return Ok(None) };
        self.store("round_robin_last", &Some(next.id.clone()))?;
        Ok(Some(Assignee { id: next.id.clone(), name: next.name.clone() }))
    }

    async fn put_entry(&self, put: PutEntry) -> Result<PutAnswer> {
        // What counted for workloads before: the row's columns, no need to parse its entry.
        let before: Option<LoadRow> = self
            .sql()
            .exec("SELECT status, assignee_id FROM inbox WHERE id = ?", vec![put.entry.conversation_id.as_str().into()])?
            .to_array::<LoadRow>()?
            .into_iter()
            .next();
        let mut entry = put.entry;
        let waiting = put.new && entry.status == Status::Open && entry.assignee.is_none();
        // A conversation just made starts with the site's bot, if it has one.
        let bot = if waiting && before.is_none() { self.stored::<Automations>("automations")?.bot.map(|bot| bot.name) } else { None };
        entry.bot |= bot.is_some();
        let assign = if waiting && !entry.bot { self.route(None)? } else { None };
        if assign.is_some() {
            // Counted now, so the next new conversation sees this agent's load.
            entry.assignee = assign.clone();
        }
        let waits = routing::Clocks { unread_since: put.unread_since, waiting_since: put.waiting_since, ..routing::Clocks::default() };
        let clocks = self.write_entry(&entry, waits, &put.muted, put.new)?;
        self.queue_deliveries(put.events, entry.bot).await?;
        let put_entry_for_limits = entry.clone();
        let conversation_id = entry.conversation_id.clone();
        let entry_status = entry.status;
        let entry_assignee_gone = entry.assignee.is_none();
        let assignee_id = entry.assignee.as_ref().map(|a| a.id.as_str().to_owned());
        let load_changed = before.as_ref().map(|b| (b.assignee_id.clone(), b.status.clone()))
            != Some((assignee_id, entry.status.as_str().to_owned()));
        self.tell_agents(&ServerFrame::Inbox { entry });
        if load_changed {
            self.tell_agents(&ServerFrame::Agents { agents: self.presences(None)? });
        }
        let freed = before.as_ref().is_some_and(|b| b.status == Status::Open.as_str() && b.assignee_id.is_some())
            && (entry_status != Status::Open || entry_assignee_gone);
        if freed {
            // An agent has room again: a conversation waiting for one goes to them; this one,
            // if it went back to the queue, to someone else.
            let returned = (entry_status == Status::Open)
                .then(|| before.as_ref().and_then(|b| b.assignee_id.as_deref()).and_then(|id| AgentId::parse(id).ok()))
                .flatten()
                .map(|agent| (&conversation_id, agent));
            self.assign_waiting(returned).await?;
        }
        // A due time already past (a limit shortened in the settings, say) is due now.
        if let Some(due) = self.time_limit_due(&put_entry_for_limits, &clocks)? {
            self.arm(due.max(now_ms())).await?;
        }
        Ok(PutAnswer { assign, auto_close_ms: self.inbox_settings()?.auto_close_minutes as u64 * config::minute_ms(&self.env), bot })
    }

    /// Webhook calls for these events, to the endpoints that want them (and the site's bot,
    /// while it has the conversation), sent by the alarm.
    async fn queue_deliveries(&self, events: Vec<WebhookEvent>, with_bot: bool) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let automations: Automations = self.stored("automations")?;
        let bot = automations.bot.as_ref().filter(|_| with_bot).map(protocol::automations::Bot::as_webhook);
        if automations.webhooks.is_empty() && bot.is_none() {
            return Ok(());
        }
        let site_name = self.settings()?.site_name;
        let mut queued = false;
        for mut event in events {
            event.site_name = site_name.clone();
            queued |= automations::enqueue(&self.sql(), automations.webhooks.iter().chain(&bot), &event)?;
        }
        if queued {
            self.arm(now_ms()).await?;
        }
        Ok(())
    }

    fn alert(&self, request: &AlertRequest) {
        let frame = ServerFrame::Alert { conversation_id: request.conversation_id.clone(), alert: request.alert.clone() }.encode();
        for ws in self.agent_sockets() {
            if ws.deserialize_attachment::<Presence>().ok().flatten().is_some_and(|p| p.id == request.agent) {
                let _ = ws.send_with_str(&frame);
            }
        }
    }

    // ---- time limits -------------------------------------------------------------------

    /// One alarm per object: at the earliest of what is due. Every inbox update may arm it.
    async fn arm(&self, due: u64) -> Result<()> {
        self.alarm.arm(&self.state.storage(), due).await
    }

    fn timed_rows(&self) -> Result<Vec<TimedRow>> {
        self.sql()
            .exec(
                "SELECT entry, unread_since, waiting_since, responsible_since, offered_at, alerted_at, muted FROM inbox WHERE status = 'open'",
                None,
            )?
            .to_array()
    }

    /// When the time limits next need a look, if ever.
    fn next_time_limit(&self) -> Result<Option<u64>> {
        Ok(self.time_limits()?.into_iter().map(|timed| timed.limit.at()).min())
    }

    /// Every open conversation's time limit, with the agents who muted it.
    fn time_limits(&self) -> Result<Vec<Timed>> {
        let settings = self.inbox_settings()?;
        let minute = config::minute_ms(&self.env);
        Ok(self
            .timed_rows()?
            .into_iter()
            .filter_map(|row| {
                let entry = serde_json::from_str::<InboxEntry>(&row.entry).ok()?;
                let clocks = row.clocks();
                let limit = routing::time_limit(&settings, minute, &entry, &clocks)?;
                Some(Timed { entry, limit, clocks, muted: serde_json::from_str(&row.muted).unwrap_or_default() })
            })
            .collect())
    }

    /// When one conversation's time limit falls due, if it has one: checked on every inbox
    /// update without looking at the others (the alarm keeps the earliest).
    fn time_limit_due(&self, entry: &InboxEntry, clocks: &routing::Clocks) -> Result<Option<u64>> {
        if entry.status != Status::Open {
            return Ok(None);
        }
        let limit = routing::time_limit(&self.inbox_settings()?, config::minute_ms(&self.env), entry, clocks);
        Ok(limit.map(routing::TimeLimit::at))
    }

    /// Waiting too long: offered to the next agent in turn (or routed to them when the site
    /// routes automatically). Unread too long: every online agent who did not mute it hears.
    /// Unanswered too long: taken from its agent, back to the queue or on to the next agent.
    async fn enforce_time_limits(&self) -> Result<()> {
        let auto_assign = self.inbox_settings()?.auto_assign;
        let now = now_ms();
        for Timed { entry, limit, clocks, muted } in self.time_limits()? {
            if limit.at() > now {
                continue;
            }
            let id = entry.conversation_id.clone();
            match limit {
                routing::TimeLimit::Offer(_) => {
                    self.sql().exec("UPDATE inbox SET offered_at = ? WHERE id = ?", vec![int(now)?, id.as_str().into()])?;
                    let Some(next) = self.next_in_turn(None)? else { continue };
                    if auto_assign {
                        let stub = self.conversation_stub(id.as_str())?;
                        post(&stub, "https://conversation/assign", &next).await?;
                    } else {
                        self.alert(&AlertRequest { agent: next.id, conversation_id: id, alert: Alert::Offered });
                    }
                }
                routing::TimeLimit::Alert(_) => {
                    self.sql().exec("UPDATE inbox SET alerted_at = ? WHERE id = ?", vec![int(now)?, id.as_str().into()])?;
                    for agent in self.presences(None)?.into_iter().filter(|a| a.online && !muted.contains(&a.id)) {
                        self.alert(&AlertRequest { agent: agent.id, conversation_id: id.clone(), alert: Alert::Unanswered });
                    }
                }
                routing::TimeLimit::Return(_) => {
                    let (Some(from), Some(waiting_since)) = (entry.assignee, clocks.waiting_since) else { continue };
                    // Its clock starts again now, whatever the conversation answers: if the
                    // agent replied meanwhile, its inbox update is on its way.
                    self.sql().exec("UPDATE inbox SET responsible_since = ? WHERE id = ?", vec![int(now)?, id.as_str().into()])?;
                    let to = if auto_assign { self.next_in_turn(Some(&from.id))? } else { None };
                    let stub = self.conversation_stub(id.as_str())?;
                    post(&stub, "https://conversation/return", &ReturnRequest { from: from.id, waiting_since, to }).await?;
                }
            }
        }
        Ok(())
    }

    /// Closes the consoles that go; the agent is offline at once unless one of theirs stays.
    fn sign_out(&self, gone: &AgentGone) -> Result<()> {
        let mut stays = false;
        for ws in self.agent_sockets() {
            let Some(presence) = ws.deserialize_attachment::<Presence>().ok().flatten() else { continue };
            if gone.closes(&presence.id, presence.session.as_deref()) {
                let _ = ws.close(Some(4401), Some("signed out"));
            } else if presence.id == gone.agent {
                stays = true;
            }
        }
        if !stays {
            self.sql().exec("UPDATE agents SET online = 0, leaving_at = NULL WHERE id = ?", vec![gone.agent.as_str().into()])?;
        }
        self.announce(None)
    }

    fn conversation_stub(&self, id: &str) -> Result<Stub> {
        self.env.durable_object("CONVERSATION_OBJECTS")?.id_from_string(id)?.get_stub()
    }

    /// The site no longer has a bot: the open conversations it had join the agents' queue.
    async fn hand_over_from_bot(&self) -> Result<()> {
        let with_bot: Vec<InboxEntry> = self.open_entries()?.into_iter().filter(|e| e.bot).collect();
        for entry in with_bot {
            let stub = self.conversation_stub(entry.conversation_id.as_str())?;
            if let Err(err) = post(&stub, "https://conversation/bot-gone", &()).await {
                worker::console_error!("site: conversation {} stayed with the bot: {err}", entry.conversation_id);
            }
        }
        Ok(())
    }

    /// The conversations the agent has open or is responsible for hear their new name: what
    /// they write from now on carries it, and the inbox shows it.
    async fn rename_in_conversations(&self, agent: &Assignee) -> Result<()> {
        let rows: Vec<IdRow> = self
            .sql()
            .exec(
                "SELECT conversation_id AS id FROM viewers WHERE agent_id = ?
                 UNION SELECT id FROM inbox WHERE status = 'open' AND assignee_id = ?",
                vec![agent.id.as_str().into(), agent.id.as_str().into()],
            )?
            .to_array()?;
        for IdRow { id } in rows {
            let stub = self.conversation_stub(&id)?;
            if let Err(err) = post(&stub, "https://conversation/agent-renamed", agent).await {
                worker::console_error!("site: conversation {id} did not hear an agent's new name: {err}");
            }
        }
        Ok(())
    }

    /// See [`AgentGone`]. The conversations the gone sessions have open hear it (the site
    /// keeps that list, [`Viewer`]), and on a removal the open ones the agent was responsible
    /// for; one that cannot be reached is logged and the rest still hear.
    async fn agent_gone(&self, gone: AgentGone) -> Result<()> {
        self.sign_out(&gone)?;
        if gone.removed {
            self.sql().exec("DELETE FROM agents WHERE id = ?", vec![gone.agent.as_str().into()])?;
            self.tell_agents(&ServerFrame::Agents { agents: self.presences(None)? });
        }
        let agent = gone.agent.as_str();
        // The gone sessions' conversations leave the list as they are read from it.
        let viewed: Vec<IdRow> = match &gone.session {
            Some(session) => self.sql().exec(
                "DELETE FROM viewers WHERE agent_id = ? AND session = ? RETURNING conversation_id AS id",
                vec![agent.into(), session.as_str().into()],
            )?,
            None => self.sql().exec("DELETE FROM viewers WHERE agent_id = ? RETURNING conversation_id AS id", vec![agent.into()])?,
        }
        .to_array()?;
        let responsible: Vec<IdRow> = if gone.removed {
            self.sql().exec("SELECT id FROM inbox WHERE status = 'open' AND assignee_id = ?", vec![agent.into()])?.to_array()?
        } else {
            Vec::new()
        };
        let auto_assign = self.inbox_settings()?.auto_assign;
        let mut told_already = std::collections::HashSet::new();
        for row in responsible.iter().map(|r| (r, true)).chain(viewed.iter().map(|r| (r, false))) {
            let (IdRow { id }, theirs) = row;
            if !told_already.insert(id.clone()) {
                continue;
            }
            let to = if theirs && auto_assign { self.next_in_turn(Some(&gone.agent))? } else { None };
            let told = AgentGone { agent: gone.agent.clone(), removed: gone.removed, to, session: gone.session.clone() };
            let stub = self.conversation_stub(id)?;
            if let Err(err) = post(&stub, "https://conversation/agent-gone", &told).await {
                worker::console_error!("site: conversation {id} did not hear that an agent left: {err}");
            }
        }
        Ok(())
    }

    /// Agents whose grace ran out go offline.
    fn expire_presence(&self) -> Result<Option<u64>> {
        let now = now_ms();
        let mut changed = false;
        let mut next = None;
        for row in self.agent_rows()? {
            let Some(leaving_at) = row.leaving_at.map(|at| at as u64) else { continue };
            if self.has_socket(&row.id, None) {
                self.sql().exec("UPDATE agents SET leaving_at = NULL WHERE id = ?", vec![row.id.as_str().into()])?;
            } else if leaving_at <= now {
                self.sql().exec("UPDATE agents SET online = 0, leaving_at = NULL WHERE id = ?", vec![row.id.as_str().into()])?;
                changed = true;
            } else {
                next = Some(next.map_or(leaving_at, |n: u64| n.min(leaving_at)));
            }
        }
        if changed {
            self.announce(None)?;
        }
        Ok(next)
    }

    fn analytics(&self, url: &worker::Url) -> Result<protocol::inbox::Analytics> {
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default();
        let entries = EntryRow::parse_all(self.sql().exec("SELECT entry FROM inbox", None)?.to_array()?);
        Ok(analytics::compute(&entries, &self.presences(None)?, &param("from"), &param("to"), now_ms()))
    }
}

impl DurableObject for Site {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, name TEXT NOT NULL, online INTEGER NOT NULL,
             leaving_at INTEGER)",
            "CREATE TABLE IF NOT EXISTS inbox (id TEXT PRIMARY KEY, status TEXT NOT NULL, assignee_id TEXT, email TEXT,
             updated_at INTEGER NOT NULL, unread_since INTEGER, offered_at INTEGER, alerted_at INTEGER,
             muted TEXT NOT NULL DEFAULT '[]', entry TEXT NOT NULL, waiting_since INTEGER, responsible_since INTEGER)",
            "CREATE TABLE IF NOT EXISTS viewers (agent_id TEXT NOT NULL, session TEXT NOT NULL, conversation_id TEXT NOT NULL,
             PRIMARY KEY (agent_id, session, conversation_id))",
            "CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox (updated_at)",
            "CREATE INDEX IF NOT EXISTS inbox_by_email ON inbox (email)",
        ] {
            if let Err(err) = sql.exec(statement, None) {
                worker::console_error!("site: migration failed: {err}");
            }
        }
        if let Err(err) = crate::schema::add_missing_columns(&sql, "inbox", &[("waiting_since", "INTEGER"), ("responsible_since", "INTEGER")]) {
            worker::console_error!("site: migration failed: {err}");
        }
        if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new(ClientFrame::PING_TEXT, ServerFrame::PONG_TEXT) {
            state.set_websocket_auto_response(&pair);
        }
        if let Err(err) = automations::migrate(&sql) {
            worker::console_error!("site: migration failed: {err}");
        }
        Self { state, env, settings_cache: Default::default(), alarm: Default::default() }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        match (req.method(), url.path()) {
            (Method::Get, "/view") => {
                reply::json(&SiteView { settings: self.settings()?, agents_online: self.agents_online(None)? }, 200)
            }
            (Method::Put, "/settings") => {
                self.put_settings(req, "widget", WidgetSettings::validated, |settings| Some((Hearers::Widgets, ServerFrame::WidgetSettings { settings })))
                    .await
            }
            (Method::Get, "/inbox-settings") => reply::json(&self.inbox_settings()?, 200),
            (Method::Put, "/inbox-settings") => self.put_settings(req, "inbox", InboxSettings::validated, |settings| Some((Hearers::Agents, ServerFrame::InboxSettings { settings }))).await,
            (Method::Get, "/automations") => reply::json(&self.stored::<Automations>("automations")?, 200),
            (Method::Put, "/automations") => {
                let had_bot = self.stored::<Automations>("automations")?.bot.is_some();
                let answer = self.put_settings(req, "automations", Automations::validated, |_| None).await?;
                if had_bot && self.stored::<Automations>("automations")?.bot.is_none() {
                    self.hand_over_from_bot().await?;
                }
                Ok(answer)
            }
            (Method::Get, "/deliveries") => reply::json(&automations::log(&self.sql())?, 200),
            (Method::Post, "/deliveries/retry") => {
                let id = param("id").and_then(|id| id.parse().ok()).unwrap_or(0);
                match automations::send_again(&self.sql(), id, now_ms())? {
                    Some(delivery) => {
                        self.arm(now_ms()).await?;
                        reply::json(&delivery, 200)
                    }
                    None => reply::http_error(ProtocolError::new(ErrorCode::NotFound, "no failed delivery with that id")),
                }
            }
            (Method::Get, "/canned") => reply::json(&self.stored::<CannedResponses>("canned")?, 200),
            (Method::Put, "/canned") => self.put_settings(req, "canned", CannedResponses::validated, |_| Some((Hearers::Agents, ServerFrame::CannedChanged))).await,
            (Method::Get, "/inbox") => {
                let cursor = match param(query::CLOSED_BEFORE).map(|raw| ClosedCursor::parse(&raw)).transpose() {
                    Ok(cursor) => cursor,
                    Err(err) => return reply::http_error(err),
                };
                reply::json(&self.listing(param(query::EMAIL).as_deref(), cursor)?, 200)
            }
            (Method::Post, "/inbox") => reply::json(&self.put_entry(req.json().await?).await?, 200),
            (Method::Get, "/analytics") => reply::json(&self.analytics(&url)?, 200),
            (Method::Get, "/agents") => reply::json(&self.presences(None)?, 200),
            (Method::Post, "/alert") => {
                self.alert(&req.json().await?);
                Response::empty()
            }
            (Method::Post, "/agent-gone") => {
                self.agent_gone(req.json().await?).await?;
                Response::empty()
            }
            (Method::Post, "/agent-renamed") => {
                let agent: Assignee = req.json().await?;
                self.sql().exec("UPDATE agents SET name = ? WHERE id = ?", vec![agent.name.as_str().into(), agent.id.as_str().into()])?;
                self.tell_agents(&ServerFrame::Agents { agents: self.presences(None)? });
                self.rename_in_conversations(&agent).await?;
                Response::empty()
            }
            (Method::Get, "/availability") => self.accept_widget(),
            (Method::Get, "/agent") => {
                let id = param("id").and_then(|id| AgentId::parse(&id).ok());
                let name = param("name").and_then(|n| AgentName::parse(&n).ok());
                match (id, name) {
                    (Some(id), Some(name)) => self.accept_agent(id, name, param("session")),
                    _ => reply::refuse(&req, ProtocolError::new(ErrorCode::InvalidId, "an agent is needed")),
                }
            }
            (Method::Get, "/users") => {
                let rows: Vec<UserRow> = self
                    .sql()
                    .exec("SELECT conversation_id FROM users WHERE user_id = ?", vec![param("user").unwrap_or_default().into()])?
                    .to_array()?;
                Response::from_json(&rows.into_iter().next().map(|r| r.conversation_id))
            }
            (Method::Post, "/users") => {
                let body: serde_json::Value = req.json().await?;
                let user = body["user"].as_str().unwrap_or_default().to_owned();
                let conversation = body["conversation"].as_str().unwrap_or_default().to_owned();
                self.sql().exec(
                    "INSERT INTO users (user_id, conversation_id) VALUES (?, ?)
                     ON CONFLICT (user_id) DO UPDATE SET conversation_id = excluded.conversation_id",
                    vec![user.into(), conversation.into()],
                )?;
                Response::empty()
            }
            (Method::Post, "/viewer") => {
                let viewer: Viewer = req.json().await?;
                let row = vec![viewer.agent.as_str().into(), viewer.session.into(), viewer.conversation.into()];
                let statement = if viewer.open {
                    "INSERT OR IGNORE INTO viewers (agent_id, session, conversation_id) VALUES (?, ?, ?)"
                } else {
                    "DELETE FROM viewers WHERE agent_id = ? AND session = ? AND conversation_id = ?"
                };
                self.sql().exec(statement, row)?;
                Response::empty()
            }
            (Method::Post, "/forget") => {
                let Forget { conversation, erased } = req.json().await?;
                self.queue_deliveries(erased.into_iter().collect(), false).await?;
                let listed: Vec<EntryRow> =
                    self.sql().exec("SELECT entry FROM inbox WHERE id = ?", vec![conversation.as_str().into()])?.to_array()?;
                self.sql().exec("DELETE FROM inbox WHERE id = ?", vec![conversation.as_str().into()])?;
                self.sql().exec("DELETE FROM users WHERE conversation_id = ?", vec![conversation.as_str().into()])?;
                self.sql().exec("DELETE FROM viewers WHERE conversation_id = ?", vec![conversation.as_str().into()])?;
                // Open consoles drop it from their lists: the entry once more, as deleted and
                // without anything of the visitor.
                if let Some(entry) = listed.first().and_then(|row| serde_json::from_str::<InboxEntry>(&row.entry).ok()) {
                    let entry = InboxEntry {
                        status: Status::Deleted,
                        contact: Contact::default(),
                        preview: String::new(),
                        page_url: None,
                        browser: None,
                        ..entry
                    };
                    self.tell_agents(&ServerFrame::Inbox { entry });
                }
                self.tell_agents(&ServerFrame::Agents { agents: self.presences(None)? });
                Response::empty()
            }
            _ => reply::http_error(ProtocolError::new(ErrorCode::NotFound, "no such site route")),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            send(&ws, &ServerFrame::error(ProtocolError::new(ErrorCode::MalformedFrame, "frames are JSON text"), None));
            return Ok(());
        };
        let is_agent = self.state.get_tags(&ws).iter().any(|t| t == AGENT_TAG);
        match ClientFrame::decode(&text) {
            Ok(ClientFrame::SetStatus { online }) if is_agent => self.set_status(&ws, online).await?,
            Ok(ClientFrame::Ping) => send(&ws, &ServerFrame::Pong),
            Ok(_) => send(
                &ws,
                &ServerFrame::error(ProtocolError::new(ErrorCode::Forbidden, "this connection only carries presence"), None),
            ),
            Err(err) => send(&ws, &ServerFrame::error(err, None)),
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.socket_gone(&ws).await?;
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some("closing"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _err: worker::Error) -> Result<()> {
        self.socket_gone(&ws).await
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm.fired();
        let presence_due = self.expire_presence()?;
        // One conversation that cannot be reached must not hold up every webhook: logged,
        // and its limit is looked at again on the next alarm.
        if let Err(err) = self.enforce_time_limits().await {
            worker::console_error!("site: a time limit could not be enforced: {err}");
        }
        automations::deliver_due(&self.sql(), &self.env, now_ms()).await?;
        let next = [presence_due, self.next_time_limit()?, automations::next_due(&self.sql())?].into_iter().flatten().min();
        if let Some(due) = next {
            self.arm(due.max(now_ms() + 1000)).await?;
        }
        Response::empty()
    }
}
