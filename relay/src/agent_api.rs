//! The agents' routes, `/api/agent/*`: sign-in, sessions, the inbox, settings, and the
//! WebSockets the console (or the `agent` command) works through.
//!
//! Every route but `login` needs a session: the HttpOnly cookie the console holds, or the
//! same token as `Authorization: Bearer` for programs. A request authenticated by cookie
//! that changes something (any method but GET, and every WebSocket upgrade) must come from
//! the relay's own origin: a page on another site cannot act with an agent's cookie.

use crate::conversation::{self, OutboundAnswer, Peer};
use crate::{accounts, body_text, config, conversation_stub, forward_connect, internal, json_body, limit, param, site, site_stub, Handled};
use crate::{client_ip, connect_params, limiter, reply};
use protocol::http::{query, SESSION_COOKIE};
use protocol::inbox::{Account, AccountChange, AccountRole, AgentId, Login, NewAccount, Outbound, SignedIn};
use protocol::{Assignee, ConversationId, ErrorCode, ProtocolError, Role, SiteId};
use worker::{Env, Headers, Method, Request, RequestInit, Response, Url};

/// Dispatches `/api/agent/{rest}`.
pub async fn handle(req: &mut Request, env: &Env, url: &Url, rest: &[&str]) -> Handled {
    let method = req.method();
    if let (Method::Post, ["login"]) = (&method, rest) {
        return login(req, env, url).await;
    }
    let (account, token, credential) = signed_in(req, env, url).await?;
    match (method, rest) {
        (Method::Post, ["logout"]) => logout(env, url, &account, &token).await,
        (Method::Get, ["me"]) => {
            let answer = signed_in_answer(env, account, None, 200)?;
            // The console asks on every start: its cookie lasts as long as the renewed session.
            if cookie(req, SESSION_COOKIE).as_deref() != Some(token.as_str()) {
                return Ok(answer);
            }
            with_cookie(answer, &session_cookie(url, &token, config::session_secs(env)))
        }
        (Method::Get, ["accounts"]) => reply::json(&accounts::list(env).await.map_err(internal)?, 200).map_err(internal),
        (Method::Post, ["accounts"]) => {
            require_admin(&account)?;
            let new: NewAccount = json_body(req).await?;
            match accounts::create(env, &new).await.map_err(internal)? {
                Ok(created) => reply::json(&created, 201).map_err(internal),
                Err(err) => Err(err),
            }
        }
        (Method::Patch, ["accounts", id]) => {
            require_admin(&account)?;
            let id = AgentId::parse(id)?;
            let change: AccountChange = json_body(req).await?;
            let changed = accounts::change(env, &id, &change).await.map_err(internal)??;
            if change.password.is_some() {
                // Its sessions ended: so do the connections they opened.
                agent_gone(env, &id, false).await?;
            }
            if change.name.is_some() {
                let renamed = Assignee { id: changed.id.clone(), name: changed.name.clone() };
                for site in config::sites(env)? {
                    site::agent_renamed(&site_stub(env, &site)?, &renamed).await.map_err(internal)?;
                }
            }
            reply::json(&changed, 200).map_err(internal)
        }
        (Method::Delete, ["accounts", id]) => {
            require_admin(&account)?;
            let id = AgentId::parse(id)?;
            if id == account.id {
                return Err(ProtocolError::new(ErrorCode::Forbidden, "another admin removes your account"));
            }
            let removed = accounts::remove(env, &id).await.map_err(internal)??;
            agent_gone(env, &id, true).await?;
            reply::json(&removed, 200).map_err(internal)
        }
        (Method::Get, ["sites", site, "conversations"]) => {
            // One contact's conversations, or a page of older closed ones: the site checks.
            let filter = [query::EMAIL, query::CLOSED_BEFORE]
                .into_iter()
                .find_map(|name| param(url, name).map(|value| format!("?{name}={}", protocol::http::percent_encode(&value))))
                .unwrap_or_default();
            site_call(env, site, Method::Get, &format!("{}{filter}", site::INBOX_URL), None).await
        }
        (Method::Get, ["sites", site, "settings"]) => {
            let view: protocol::site::SiteView = crate::site_view(env, &config::served_site(env, site)?).await?;
            reply::json(&view.settings, 200).map_err(internal)
        }
        (Method::Put, ["sites", site, "settings"]) => admin_put(req, env, &account, site, site::SETTINGS_URL).await,
        (Method::Get, ["sites", site, "inbox-settings"]) => site_call(env, site, Method::Get, site::INBOX_SETTINGS_URL, None).await,
        (Method::Put, ["sites", site, "inbox-settings"]) => admin_put(req, env, &account, site, site::INBOX_SETTINGS_URL).await,
        (Method::Get, ["sites", site, "automations"]) => {
            require_admin(&account)?;
            site_call(env, site, Method::Get, site::AUTOMATIONS_URL, None).await
        }
        (Method::Put, ["sites", site, "automations"]) => admin_put(req, env, &account, site, site::AUTOMATIONS_URL).await,
        (Method::Get, ["sites", site, "deliveries"]) => {
            require_admin(&account)?;
            site_call(env, site, Method::Get, site::DELIVERIES_URL, None).await
        }
        (Method::Post, ["sites", site, "deliveries", id, "retry"]) => {
            require_admin(&account)?;
            let id: u64 = id.parse().map_err(|_| ProtocolError::new(ErrorCode::NotFound, "no such delivery"))?;
            site_call(env, site, Method::Post, &format!("{}/retry?id={id}", site::DELIVERIES_URL), None).await
        }
        (Method::Get, ["sites", site, "webhook-secret"]) => site_secret(env, &account, site, protocol::token::webhook_secret),
        (Method::Get, ["sites", site, "bot-key"]) => site_secret(env, &account, site, protocol::token::bot_key),
        (Method::Get, ["sites", site, "canned"]) => site_call(env, site, Method::Get, site::CANNED_URL, None).await,
        (Method::Put, ["sites", site, "canned"]) => admin_put(req, env, &account, site, site::CANNED_URL).await,
        (Method::Get, ["sites", site, "analytics"]) => {
            let range = format!("?from={}&to={}", param(url, "from").unwrap_or_default(), param(url, "to").unwrap_or_default());
            site_call(env, site, Method::Get, &format!("{}{range}", site::ANALYTICS_URL), None).await
        }
        (Method::Get, ["sites", site, "identity-secret"]) => site_secret(env, &account, site, protocol::token::identity_secret),
        (Method::Post, ["sites", site, "outbound"]) => outbound(req, env, url, &account, credential, site).await,
        (Method::Get, ["sites", site, "connect"]) => {
            let site = config::served_site(env, site)?;
            crate::require_version(url)?;
            let session = accounts::session_tag(env, &token)?;
            crate::site_connect(req, env, &site, &site::agent_url(&account, &session)).await
        }
        (Method::Get, ["conversations", id, "connect"]) => {
            let id = ConversationId::parse(id)?;
            let after_seq = connect_params(url)?;
            let peer = Peer::agent(&account, accounts::session_tag(env, &token)?);
            forward_connect(req, env, &id, &peer, after_seq).await
        }
        (Method::Post, ["conversations", id, "messages"]) => {
            let id = ConversationId::parse(id)?;
            let text = body_text(req, protocol::limits::MAX_REQUEST_BYTES).await?;
            let peer = Peer::agent(&account, accounts::session_tag(env, &token)?);
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(text.into()));
            let request = Request::new_with_init(&conversation::post_url(&peer), &init).map_err(internal)?;
            conversation_stub(env, &id)?.fetch_with_request(request).await.map_err(internal)
        }
        (Method::Delete, ["conversations", id]) => {
            let id = ConversationId::parse(id)?;
            let admin = account.role == AccountRole::Admin;
            let url = format!("https://conversation/erase?agent={}&admin={}", account.id, admin as u8);
            let request = Request::new_with_init(&url, RequestInit::new().with_method(Method::Post)).map_err(internal)?;
            conversation_stub(env, &id)?.fetch_with_request(request).await.map_err(internal)
        }
        (method, _) => Err(ProtocolError::new(ErrorCode::NotFound, format!("no agent route for {method:?} {}", url.path()))),
    }
}

/// A key derived for a site from the relay's secret (identity hashes, webhook signatures), for
/// admins to give the site's server.
fn site_secret(env: &Env, account: &Account, site: &str, derive: fn(&[u8], &SiteId) -> String) -> Handled {
    require_admin(account)?;
    let site = config::served_site(env, site)?;
    let secret = derive(&config::token_secret(env)?, &site);
    reply::json(&protocol::http::IdentitySecret { secret }, 200).map_err(internal)
}

fn require_admin(account: &Account) -> Result<(), ProtocolError> {
    match account.role {
        AccountRole::Admin => Ok(()),
        AccountRole::Agent => Err(ProtocolError::new(ErrorCode::AdminOnly, "only an admin may change this")),
    }
}

fn same_origin(req: &Request, url: &Url) -> bool {
    req.headers().get("Origin").ok().flatten().is_some_and(|origin| origin == url.origin().ascii_serialization())
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    let header = req.headers().get("Cookie").ok().flatten()?;
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

/// How a request shows its session: the console's cookie, or the token a program sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Cookie,
    Bearer,
}

/// The signed-in account, its session token and how it came, or `unauthorized`.
async fn signed_in(req: &Request, env: &Env, url: &Url) -> Result<(Account, String, Credential), ProtocolError> {
    let bearer = req.headers().get("Authorization").ok().flatten().and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned));
    let credential = if bearer.is_some() { Credential::Bearer } else { Credential::Cookie };
    let token = match bearer {
        Some(token) => token,
        None => {
            let token = cookie(req, SESSION_COOKIE)
                .ok_or_else(|| ProtocolError::new(ErrorCode::Unauthorized, "sign in first"))?;
            let changes = req.method() != Method::Get || reply::is_websocket_upgrade(req);
            if changes && !same_origin(req, url) {
                return Err(ProtocolError::new(ErrorCode::Forbidden, "agent requests with a cookie must come from the console"));
            }
            token
        }
    };
    if token.is_empty() || token.len() > 128 {
        return Err(ProtocolError::new(ErrorCode::Unauthorized, "sign in first"));
    }
    let account = accounts::session(env, &token).await.map_err(internal)??;
    Ok((account, token, credential))
}

fn session_cookie(url: &Url, token: &str, max_age: u64) -> String {
    let secure = if url.scheme() == "https" { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/api/agent; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn signed_in_answer(env: &Env, account: Account, token: Option<String>, status: u16) -> Handled {
    let sites = config::sites(env)?;
    reply::json(&SignedIn { account, sites, token }, status).map_err(internal)
}

async fn login(req: &mut Request, env: &Env, url: &Url) -> Handled {
    // A login form on another site must not sign the agent's browser into its account.
    if req.headers().get("Origin").ok().flatten().is_some() && !same_origin(req, url) {
        return Err(ProtocolError::new(ErrorCode::Forbidden, "sign in from the console"));
    }
    let login: Login = json_body(req).await?;
    // Per address and account: nobody guesses an account's password quickly, and one
    // person's typos do not lock out a colleague behind the same office address. Per
    // account from anywhere, ten times that: many addresses guessing together are slowed too.
    let take = limiter::Take { limit: config::logins_per_window(env), window_secs: 15 * 60 };
    let from_anywhere = limiter::Take { limit: take.limit.saturating_mul(10), window_secs: take.window_secs };
    let who = login.email.as_str().to_lowercase();
    limit(env, &format!("logins:{}:{who}", client_ip(req)), "sign-in attempts", take).await?;
    limit(env, &format!("logins:{who}"), "sign-in attempts", from_anywhere).await?;
    let request = accounts::LoginRequest { email: login.email, password: login.password };
    let session = accounts::login(env, &request).await.map_err(internal)??;
    let cookie = session_cookie(url, &session.token, config::session_secs(env));
    let token = login.bearer.then_some(session.token);
    with_cookie(signed_in_answer(env, session.account, token, 200)?, &cookie)
}

/// A signed-in answer (JSON) that sets the session cookie; never cached.
fn with_cookie(answer: Response, cookie: &str) -> Handled {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json").map_err(internal)?;
    headers.set("Set-Cookie", cookie).map_err(internal)?;
    headers.set("Cache-Control", "no-store").map_err(internal)?;
    Ok(answer.with_headers(headers))
}

/// Ends the session: what it had open disconnects, on every site and in every conversation;
/// the agent goes offline unless another of their sessions has a console open.
async fn logout(env: &Env, url: &Url, account: &Account, token: &str) -> Handled {
    let session = accounts::session_tag(env, token)?;
    accounts::logout(env, token).await.map_err(internal)?;
    for site in config::sites(env)? {
        site::agent_gone(&site_stub(env, &site)?, &account.id, false, Some(&session)).await.map_err(internal)?;
    }
    let headers = Headers::new();
    headers.set("Set-Cookie", &session_cookie(url, "", 0)).map_err(internal)?;
    Ok(Response::empty().map_err(internal)?.with_status(204).with_headers(headers))
}

/// Every site hears that the agent's sessions ended or their account went.
async fn agent_gone(env: &Env, agent: &AgentId, removed: bool) -> Result<(), ProtocolError> {
    for site in config::sites(env)? {
        site::agent_gone(&site_stub(env, &site)?, agent, removed, None).await.map_err(internal)?;
    }
    Ok(())
}

/// A request the site's object answers.
async fn site_call(env: &Env, site: &str, method: Method, url: &str, body: Option<String>) -> Handled {
    let site = config::served_site(env, site)?;
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let request = Request::new_with_init(url, &init).map_err(internal)?;
    site_stub(env, &site)?.fetch_with_request(request).await.map_err(internal)
}

async fn admin_put(req: &mut Request, env: &Env, account: &Account, site: &str, url: &str) -> Handled {
    require_admin(account)?;
    let body = body_text(req, protocol::limits::MAX_SETTINGS_BYTES).await?;
    site_call(env, site, Method::Put, url, Some(body)).await
}

/// Someone writes first to a known contact: into the contact's latest conversation whose
/// email is proven theirs (opened again if it had ended), else a new one, and the message goes out by email at once with a
/// link into it. An agent in the console must be online, and the conversation is theirs; a
/// program (an account's token) need not be, and its conversation goes to whoever is online,
/// unless its account is online itself.
async fn outbound(req: &mut Request, env: &Env, url: &Url, account: &Account, credential: Credential, site: &str) -> Handled {
    let site: SiteId = config::served_site(env, site)?;
    let outbound: Outbound = json_body(req).await?;
    let body = protocol::frames::validate_body(&outbound.body)?;
    let online = site::is_online(&site_stub(env, &site)?, &account.id).await.map_err(internal)?;
    if !online && credential == Credential::Cookie {
        return Err(ProtocolError::new(ErrorCode::AgentOffline, "go online to start a conversation"));
    }
    let author = Assignee { id: account.id.clone(), name: account.name.clone() };
    let first = crate::conversation::Outbound { author, take: online, body, client_id: outbound.client_id };

    // The contact's latest conversation that can open again and whose email is proven theirs
    // (the site wrote to it, or they answered by email): their browser may hold it, so the
    // widget shows the message there. A conversation where the address was only typed in may
    // be anyone's, so the message starts a new one instead.
    let theirs = site::contact_conversations(&site_stub(env, &site)?, &outbound.email).await.map_err(internal)?;
    let first_json = serde_json::to_string(&first).map_err(|e| internal(e.into()))?;
    for candidate in theirs.into_iter().filter(|e| matches!(e.status, protocol::Status::Open | protocol::Status::Ended)) {
        let request = Request::new_with_init(
            "https://conversation/outbound",
            RequestInit::new().with_method(Method::Post).with_body(Some(first_json.clone().into())),
        )
        .map_err(internal)?;
        let mut answer = conversation_stub(env, &candidate.conversation_id)?.fetch_with_request(request).await.map_err(internal)?;
        if answer.status_code() >= 300 {
            let refused: protocol::http::ErrorBody = answer.json().await.map_err(internal)?;
            return Err(refused.error);
        }
        if answer.json::<OutboundAnswer>().await.map_err(internal)? == OutboundAnswer::NotProven {
            continue;
        }
        return reply::json(&protocol::inbox::OutboundStarted { conversation_id: candidate.conversation_id }, 200).map_err(internal);
    }
    let contact = protocol::Contact { email: Some(outbound.email), name: None };
    let origin = crate::Origin { relay: url.origin().ascii_serialization(), page_url: None, browser: None };
    let started = crate::create_conversation(env, &site, contact, origin, None, Some(first)).await?;
    reply::json(&protocol::inbox::OutboundStarted { conversation_id: started }, 201).map_err(internal)
}

impl Peer {
    /// An agent's connection to a conversation, opened with the session `session` tags.
    pub fn agent(account: &Account, session: String) -> Peer {
        Peer {
            role: Role::Agent,
            name: Some(account.name.clone()),
            user: None,
            agent: Some(Assignee { id: account.id.clone(), name: account.name.clone() }),
            session: Some(session),
        }
    }
}
