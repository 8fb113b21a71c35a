//! A client of the relay in Rust: what an agent does today (list conversations, join one,
//! reply), and the visitor's side for tests. Everything it sends and reads is a `protocol`
//! type; it defines no wire struct of its own.

mod connection;

pub use connection::{Connection, ConnectionError};

use protocol::http::{
    account_path, agent_connect_path, agent_messages_path, automations_path, agent_conversations_path, agent_site_connect_path, availability_path, canned_path,
    contact_conversations_path, inbox_settings_path, older_closed_conversations_path, outbound_path, settings_path, start_conversation_path, verified_connect_path,
    visitor_connect_path, widget_view_path, ConversationStarted, ErrorBody, StartConversation, ACCOUNTS_PATH, LOGIN_PATH, LOGOUT_PATH, ClosedCursor,
};
use protocol::automations::Automations;
use protocol::inbox::{
    Account, AccountChange, AccountList, AgentId, CannedResponses, Inbox, InboxSettings, Login, NewAccount, Outbound, OutboundStarted, SignedIn,
};
use protocol::site::{SiteView, WidgetSettings};
use protocol::{ClientFrame, Contact, ConversationId, Email, Identity, ProtocolError, Seq, ServerFrame, SiteId};

/// An HTTP answer that was not a success: its status and the relay's typed error.
#[derive(Debug)]
pub struct HttpError {
    pub status: u16,
    pub error: Option<ProtocolError>,
    pub body: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(error) => write!(f, "HTTP {}: {error}", self.status),
            None => write!(f, "HTTP {}: {}", self.status, self.body),
        }
    }
}

impl std::error::Error for HttpError {}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a non-success answer into an [`HttpError`] carrying the relay's typed error.
pub async fn check(response: reqwest::Response) -> Result<reqwest::Response, HttpError> {
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<ErrorBody>(&body).ok().map(|b| b.error);
    Err(HttpError { status, error, body })
}

fn ws_origin(http_origin: &str) -> String {
    match http_origin.strip_prefix("http") {
        Some(rest) => format!("ws{rest}"),
        None => http_origin.to_owned(),
    }
}

/// A signed-in agent (or admin): the relay's origin, the account and its session token,
/// presented as `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct Agent {
    pub relay: String,
    pub account: Account,
    session: String,
    http: reqwest::Client,
}

impl Agent {
    /// Signs in with an email and password.
    pub async fn login(relay: impl Into<String>, email: &Email, password: &str) -> Result<Agent, BoxError> {
        let relay = relay.into().trim_end_matches('/').to_owned();
        let http = reqwest::Client::new();
        let login = Login { email: email.clone(), password: password.to_owned(), bearer: true };
        let signed_in: SignedIn = check(http.post(format!("{relay}{LOGIN_PATH}")).json(&login).send().await?).await?.json().await?;
        let session = signed_in.token.ok_or("the relay gave no session token")?;
        Ok(Agent { relay, account: signed_in.account, session, http })
    }

    /// An agent whose session was opened elsewhere (load tools reuse one sign-in).
    pub fn with_session(relay: impl Into<String>, account: Account, session: impl Into<String>) -> Agent {
        Agent { relay: relay.into().trim_end_matches('/').to_owned(), account, session: session.into(), http: reqwest::Client::new() }
    }

    /// Ends this session: the connections it opened close; the agent's other sessions go on.
    pub async fn logout(&self) -> Result<(), BoxError> {
        let response = self.http.post(format!("{}{LOGOUT_PATH}", self.relay)).bearer_auth(&self.session).send().await?;
        check(response).await?;
        Ok(())
    }

    /// The session token, for callers that speak HTTP themselves.
    pub fn session(&self) -> &str {
        &self.session
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, BoxError> {
        let response = self.http.get(format!("{}{path}", self.relay)).bearer_auth(&self.session).send().await?;
        Ok(check(response).await?.json().await?)
    }

    async fn send_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<T, BoxError> {
        let response = self.http.request(method, format!("{}{path}", self.relay)).bearer_auth(&self.session).json(body).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// The site's inbox, most recently active first.
    pub async fn conversations(&self, site: &SiteId) -> Result<Inbox, BoxError> {
        self.get(&agent_conversations_path(site)).await
    }

    /// The next page of closed conversations, after the oldest one listed.
    pub async fn older_closed(&self, site: &SiteId, cursor: &ClosedCursor) -> Result<Inbox, BoxError> {
        self.get(&older_closed_conversations_path(site, cursor)).await
    }

    /// Writes first to a contact, who gets it by email with a link into the conversation. A
    /// program need not be online: the contact's answer waits for whoever is. Sent again with
    /// the same client id, it answers the same conversation and writes nothing twice.
    pub async fn write_first(&self, site: &SiteId, outbound: &Outbound) -> Result<OutboundStarted, BoxError> {
        self.send_json(reqwest::Method::POST, &outbound_path(site), outbound).await
    }

    /// One contact's conversations on a site.
    pub async fn contact_conversations(&self, site: &SiteId, email: &Email) -> Result<Inbox, BoxError> {
        self.get(&contact_conversations_path(site, email)).await
    }

    /// Opens the agent's site connection and goes online; the agent stays online while the
    /// returned connection is open (and a short grace after). Returns once the relay has
    /// confirmed availability.
    pub async fn go_online(&self, site: &SiteId) -> Result<Connection, ConnectionError> {
        let mut connection = self.site_connection(site).await?;
        connection.send_frame(&ClientFrame::SetStatus { online: true }).await?;
        loop {
            if let ServerFrame::Agents { agents } = connection.next().await? {
                if agents.iter().any(|a| a.id == self.account.id && a.online) {
                    return Ok(connection);
                }
            }
        }
    }

    /// The agent's site connection (live inbox, agents, alerts), without changing presence.
    pub async fn site_connection(&self, site: &SiteId) -> Result<Connection, ConnectionError> {
        let url = format!("{}{}", ws_origin(&self.relay), agent_site_connect_path(site));
        Connection::open(&url, Some(&self.session)).await
    }

    /// Stores the site's widget settings (admins); returns them as stored.
    pub async fn put_settings(&self, site: &SiteId, settings: &WidgetSettings) -> Result<WidgetSettings, BoxError> {
        self.send_json(reqwest::Method::PUT, &settings_path(site), settings).await
    }

    /// The site's routing and time limits.
    pub async fn inbox_settings(&self, site: &SiteId) -> Result<InboxSettings, BoxError> {
        self.get(&inbox_settings_path(site)).await
    }

    /// Stores the site's routing and time limits (admins).
    pub async fn put_inbox_settings(&self, site: &SiteId, settings: &InboxSettings) -> Result<InboxSettings, BoxError> {
        self.send_json(reqwest::Method::PUT, &inbox_settings_path(site), settings).await
    }

    /// The site's webhooks and bot (admins).
    pub async fn automations(&self, site: &SiteId) -> Result<Automations, BoxError> {
        self.get(&automations_path(site)).await
    }

    /// Stores the site's webhooks and bot (admins); returns them as stored.
    pub async fn put_automations(&self, site: &SiteId, automations: &Automations) -> Result<Automations, BoxError> {
        self.send_json(reqwest::Method::PUT, &automations_path(site), automations).await
    }

    /// The site's canned responses.
    pub async fn canned(&self, site: &SiteId) -> Result<CannedResponses, BoxError> {
        self.get(&canned_path(site)).await
    }

    /// Stores the site's canned responses (admins).
    pub async fn put_canned(&self, site: &SiteId, canned: &CannedResponses) -> Result<CannedResponses, BoxError> {
        self.send_json(reqwest::Method::PUT, &canned_path(site), canned).await
    }

    /// The team's accounts.
    pub async fn accounts(&self) -> Result<AccountList, BoxError> {
        self.get(ACCOUNTS_PATH).await
    }

    /// Renames an account, changes its role or sets a new password (admins).
    pub async fn change_account(&self, id: &AgentId, change: &AccountChange) -> Result<Account, BoxError> {
        self.send_json(reqwest::Method::PATCH, &account_path(id), change).await
    }

    /// Removes an account (admins): it is signed out everywhere; answers what it was.
    pub async fn remove_account(&self, id: &AgentId) -> Result<Account, BoxError> {
        let response = self.http.delete(format!("{}{}", self.relay, account_path(id))).bearer_auth(&self.session).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// Creates an agent or admin (admins).
    pub async fn create_account(&self, new: &NewAccount) -> Result<Account, BoxError> {
        self.send_json(reqwest::Method::POST, ACCOUNTS_PATH, new).await
    }

    /// Posts a `send` or `note` frame over HTTP, without a connection: the message as stored.
    pub async fn post(&self, conversation: &ConversationId, frame: &ClientFrame) -> Result<protocol::Message, BoxError> {
        let url = format!("{}{}", self.relay, agent_messages_path(conversation));
        let response = self.http.post(url).bearer_auth(&self.session).body(frame.encode()).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// Opens a conversation; the relay replays every message after `after_seq`.
    pub async fn join(&self, conversation: &ConversationId, after_seq: Seq) -> Result<Connection, ConnectionError> {
        let url = format!("{}{}", ws_origin(&self.relay), agent_connect_path(conversation, after_seq));
        Connection::open(&url, Some(&self.session)).await
    }
}

/// The visitor's side, as the widget speaks it: for tests and load tools.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub relay: String,
    http: reqwest::Client,
}

impl Visitor {
    pub fn new(relay: impl Into<String>) -> Self {
        Self { relay: relay.into().trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    pub async fn start(&self, site: &SiteId) -> Result<ConversationStarted, BoxError> {
        self.start_with(site, Contact::default()).await
    }

    /// Starts a conversation with what the visitor already told us.
    pub async fn start_with(&self, site: &SiteId, contact: Contact) -> Result<ConversationStarted, BoxError> {
        self.start_request(site, &StartConversation { contact, page_url: None, identity: None }).await
    }

    /// Starts a conversation as the widget does, naming the page the visitor is on.
    pub async fn start_on_page(&self, site: &SiteId, contact: Contact, page_url: protocol::SafeUrl) -> Result<ConversationStarted, BoxError> {
        self.start_request(site, &StartConversation { contact, page_url: Some(page_url), identity: None }).await
    }

    /// Starts (or, for a returning verified user, gets back) a conversation as a site's
    /// signed-in user.
    pub async fn start_verified(&self, site: &SiteId, identity: Identity) -> Result<ConversationStarted, BoxError> {
        self.start_request(site, &StartConversation { contact: Contact::default(), page_url: None, identity: Some(identity) }).await
    }

    async fn start_request(&self, site: &SiteId, start: &StartConversation) -> Result<ConversationStarted, BoxError> {
        let url = format!("{}{}", self.relay, start_conversation_path(site));
        let response = self.http.post(url).json(start).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// Connects as a site's signed-in user (sites that verify identities).
    pub async fn connect_verified(&self, token: &str, after_seq: Seq, identity: &Identity) -> Result<Connection, ConnectionError> {
        Connection::open(&format!("{}{}", ws_origin(&self.relay), verified_connect_path(token, after_seq, identity)), None).await
    }

    /// What the widget reads when it opens: settings and availability.
    pub async fn view(&self, site: &SiteId) -> Result<SiteView, BoxError> {
        let response = self.http.get(format!("{}{}", self.relay, widget_view_path(site))).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// The live availability connection an open widget holds.
    pub async fn availability(&self, site: &SiteId) -> Result<Connection, ConnectionError> {
        Connection::open(&format!("{}{}", ws_origin(&self.relay), availability_path(site)), None).await
    }

    pub async fn connect(&self, token: &str, after_seq: Seq) -> Result<Connection, ConnectionError> {
        let url = format!("{}{}", ws_origin(&self.relay), visitor_connect_path(token, after_seq));
        Connection::open(&url, None).await
    }
}
