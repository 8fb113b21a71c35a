//! A client of the relay in Rust: what an agent does today (list conversations, join one,
//! reply), and the visitor's side for tests. Everything it sends and reads is a `protocol`
//! type; it defines no wire struct of its own.

mod connection;

pub use connection::{Connection, ConnectionError};

use protocol::http::{
    agent_connect_path, agent_conversations_path, agent_site_connect_path, availability_path, settings_path,
    start_conversation_path, verified_connect_path, visitor_connect_path, widget_view_path, ConversationList, ConversationStarted, ErrorBody,
    StartConversation,
};
use protocol::site::{SiteView, WidgetSettings};
use protocol::{AgentName, ClientFrame, Contact, ConversationId, Identity, ProtocolError, Seq, ServerFrame, SiteId};

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

/// An agent: a name, the relay's origin and the agent key.
#[derive(Debug, Clone)]
pub struct Agent {
    pub relay: String,
    pub key: String,
    pub name: AgentName,
    http: reqwest::Client,
}

impl Agent {
    pub fn new(relay: impl Into<String>, key: impl Into<String>, name: AgentName) -> Self {
        Self { relay: relay.into().trim_end_matches('/').to_owned(), key: key.into(), name, http: reqwest::Client::new() }
    }

    /// The site's conversations, newest first.
    pub async fn conversations(&self, site: &SiteId) -> Result<ConversationList, BoxError> {
        let url = format!("{}{}", self.relay, agent_conversations_path(site));
        let response = self.http.get(url).bearer_auth(&self.key).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// Opens the agent's site connection and goes online; the agent stays online while the
    /// returned connection is open. Returns once the relay has confirmed availability.
    pub async fn go_online(&self, site: &SiteId) -> Result<Connection, ConnectionError> {
        let url = format!("{}{}", ws_origin(&self.relay), agent_site_connect_path(site, &self.name));
        let mut connection = Connection::open(&url, Some(&self.key)).await?;
        connection.send_frame(&ClientFrame::SetStatus { online: true }).await?;
        loop {
            if let ServerFrame::Availability { agents_online: true } = connection.next().await? {
                return Ok(connection);
            }
        }
    }

    /// Stores the site's widget settings (admins, once accounts exist); returns them as stored.
    pub async fn put_settings(&self, site: &SiteId, settings: &WidgetSettings) -> Result<WidgetSettings, BoxError> {
        let url = format!("{}{}", self.relay, settings_path(site));
        let response = self.http.put(url).bearer_auth(&self.key).json(settings).send().await?;
        Ok(check(response).await?.json().await?)
    }

    /// Joins a conversation; the relay replays every message after `after_seq`.
    pub async fn join(&self, conversation: &ConversationId, after_seq: Seq) -> Result<Connection, ConnectionError> {
        let url = format!("{}{}", ws_origin(&self.relay), agent_connect_path(conversation, &self.name, after_seq));
        Connection::open(&url, Some(&self.key)).await
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
