//! The relay: a Cloudflare Worker in front of one Durable Object per conversation
//! ([`conversation::Conversation`]) and one per site ([`site::Site`]).
//!
//! The Worker is the edge: it checks every input with the `protocol` crate (site ids, tokens,
//! versions, agent credentials) and only then forwards to the object that owns the state.
//! Static files (demo page, embed loader, widget) are Workers assets; only `/api/*` runs here.
//!
//! Routes:
//! - `GET  /api/sites/{site}/widget` → `SiteView` (settings and availability)
//! - `GET  /api/sites/{site}/availability?v` → WebSocket of `availability` frames
//! - `POST /api/sites/{site}/conversations` (`StartConversation`) → `ConversationStarted`
//! - `GET  /api/connect?token&after_seq&v` → visitor WebSocket
//! - `/api/agent/*` → the agents' routes, behind a session ([`agent_api`])
//! - `POST /api/inbound/email` (`InboundEmail`, signed) → the reply as a visitor message
//!   (or the same through Cloudflare Email Workers: the `email` event below)
//! - `GET|POST /api/email/unsubscribe?token` → a confirmation page / stop the emails

mod accounts;
mod alarm;
mod agent_api;
mod analytics;
mod automations;
mod config;
mod conversation;
mod email;
mod limiter;
mod reply;
mod routing;
mod schema;
mod site;

pub use accounts::Accounts;
pub use conversation::Conversation;
pub use limiter::Limiter;
pub use site::Site;

use conversation::{InboundReply, InitConversation, Outbound, Peer};
use protocol::http::{query, ConversationStarted, InboundEmail, StartConversation};
use protocol::token;
use protocol::site::WidgetSettings;
use protocol::{ClientMsgId, ConversationId, ErrorCode, Identity, ProtocolError, Role, Seq, SiteId, PROTOCOL_VERSION};
use worker::{
    event, Context, Date, Env, ForwardableEmailMessage, Headers, Method, Request, RequestInit, Response, Result, Stub, Url,
};

pub(crate) type Handled = std::result::Result<Response, ProtocolError>;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    let method = req.method();
    let handled = match (method.clone(), segments.as_slice()) {
        (Method::Options, ["api", "sites", _, "conversations"]) => cors_preflight(),
        (Method::Post, ["api", "sites", site, "conversations"]) => start_conversation(&mut req, &env, &url, site).await,
        (Method::Get, ["api", "sites", site, "widget"]) => match config::served_site(&env, site) {
            Ok(site) => site_view(&env, &site).await.and_then(|view| reply::json(&view, 200).map_err(internal)),
            Err(err) => Err(err),
        },
        (Method::Get, ["api", "sites", site, "availability"]) => availability(&req, &env, &url, site).await,
        (Method::Get, ["api", "connect"]) => visitor_connect(&req, &env, &url).await,
        (_, ["api", "agent", rest @ ..]) => agent_api::handle(&mut req, &env, &url, rest).await,
        (Method::Post, ["api", "inbound", "email"]) => inbound_email(&mut req, &env).await,
        (Method::Post, ["api", "bot", "conversations", id, action @ ("messages" | "handover")]) => bot_call(&mut req, &env, id, action).await,
        (Method::Get | Method::Post, ["api", "email", "unsubscribe"]) => unsubscribe(&req, &env, &url).await,
        (_, ["api", "sites", _, "conversations" | "widget" | "availability"] | ["api", "connect"]) => {
            Err(ProtocolError::new(ErrorCode::MethodNotAllowed, format!("{method:?} is not allowed here")))
        }
        _ => Err(ProtocolError::new(ErrorCode::NotFound, format!("no route for {}", url.path()))),
    };
    let response = match handled {
        Ok(response) => response,
        Err(err) => reply::refuse(&req, err)?,
    };
    // Visitor API calls come from other sites' pages; they carry no cookies, so any origin
    // may read the answers. (Per-site allowed origins come with site settings.)
    if segments.get(1) == Some(&"sites") && response.status_code() != 101 {
        // Answers from a Durable Object have immutable headers: set them on a copy.
        let headers = response.headers().clone();
        headers.set("Access-Control-Allow-Origin", "*")?;
        return Ok(response.with_headers(headers));
    }
    Ok(response)
}

pub(crate) fn internal(err: worker::Error) -> ProtocolError {
    worker::console_error!("relay: {err}");
    ProtocolError::new(ErrorCode::Internal, "the relay failed; nothing was stored")
}

/// Milliseconds since the Unix epoch, as the runtime tells it (it moves on with I/O).
pub(crate) fn now_ms() -> u64 {
    Date::now().as_millis()
}

fn cors_preflight() -> Handled {
    let headers = Headers::new();
    for (name, value) in [
        ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"),
        ("Access-Control-Max-Age", "86400"),
    ] {
        headers.set(name, value).map_err(internal)?;
    }
    Ok(Response::empty().map_err(internal)?.with_status(204).with_headers(headers))
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `v` must be a version this relay speaks; `after_seq` defaults to 0 (everything).
pub(crate) fn connect_params(url: &Url) -> std::result::Result<Seq, ProtocolError> {
    match param(url, query::VERSION).as_deref() {
        Some(v) if v == PROTOCOL_VERSION.to_string() => {}
        other => {
            return Err(ProtocolError::new(
                ErrorCode::UnsupportedVersion,
                format!("this relay speaks protocol version {PROTOCOL_VERSION}, not {other:?}"),
            ))
        }
    }
    match param(url, query::AFTER_SEQ) {
        None => Ok(0),
        Some(raw) => raw.parse().map_err(|_| {
            ProtocolError::new(ErrorCode::InvalidParameter, "after_seq is a whole number of 0 or more")
        }),
    }
}

pub(crate) fn conversation_stub(env: &Env, id: &ConversationId) -> std::result::Result<Stub, ProtocolError> {
    let namespace = env.durable_object("CONVERSATION_OBJECTS").map_err(internal)?;
    // Ids this namespace never issued fail here: to the caller, no such conversation.
    let object_id = namespace
        .id_from_string(id.as_str())
        .map_err(|_| ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"))?;
    object_id.get_stub().map_err(internal)
}

pub(crate) fn site_stub(env: &Env, site: &SiteId) -> std::result::Result<Stub, ProtocolError> {
    let namespace = env.durable_object("SITE_OBJECTS").map_err(internal)?;
    namespace.id_from_name(site.as_str()).and_then(|id| id.get_stub()).map_err(internal)
}

/// A request's body, refused with `FrameTooLarge` past `max` bytes: a declared length over it
/// is refused unread, and a body sent without one is read only that far.
pub(crate) async fn body_bytes(req: &mut Request, max: usize) -> std::result::Result<Vec<u8>, ProtocolError> {
    use futures_util::StreamExt;
    let too_large = || ProtocolError::new(ErrorCode::FrameTooLarge, format!("the request body is larger than {max} bytes"));
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|length| length.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    if req.inner().body().is_none() {
        return Ok(body);
    }
    let mut stream = req.stream().map_err(internal)?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(internal)?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The same, as text.
pub(crate) async fn body_text(req: &mut Request, max: usize) -> std::result::Result<String, ProtocolError> {
    String::from_utf8(body_bytes(req, max).await?)
        .map_err(|_| ProtocolError::new(ErrorCode::MalformedFrame, "the request body is not UTF-8 text"))
}

/// The body of a JSON request, or a typed refusal saying what is wrong with it.
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(req: &mut Request) -> std::result::Result<T, ProtocolError> {
    parse_body(&body_text(req, protocol::limits::MAX_REQUEST_BYTES).await?)
}

/// The same, where no body at all means the default (a visitor who told us nothing yet).
async fn optional_json_body<T: serde::de::DeserializeOwned + Default>(req: &mut Request) -> std::result::Result<T, ProtocolError> {
    let text = body_text(req, protocol::limits::MAX_REQUEST_BYTES).await?;
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    parse_body(&text)
}

fn parse_body<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, ProtocolError> {
    serde_json::from_str(text).map_err(|e| {
        // Emails and links check themselves while decoding: answer with their own code.
        serde_json::from_str(text)
            .ok()
            .and_then(|value| protocol::frames::explain_checked_field(&value))
            .unwrap_or_else(|| ProtocolError::new(ErrorCode::MalformedFrame, format!("the request body is not valid: {e}")))
    })
}

/// Takes one hit from the limit named `key`; refused with `rate_limited` when over.
pub(crate) async fn limit(env: &Env, key: &str, what: &str, take: limiter::Take) -> std::result::Result<(), ProtocolError> {
    let namespace = env.durable_object("LIMITERS").map_err(internal)?;
    let stub = namespace.id_from_name(key).and_then(|id| id.get_stub()).map_err(internal)?;
    let body = serde_json::to_string(&take).map_err(|e| internal(e.into()))?;
    let request = Request::new_with_init("https://limiter/take", RequestInit::new().with_method(Method::Post).with_body(Some(body.into())))
        .map_err(internal)?;
    let taken: limiter::Taken =
        stub.fetch_with_request(request).await.map_err(internal)?.json().await.map_err(internal)?;
    if taken.allowed {
        Ok(())
    } else {
        Err(ProtocolError::rate_limited(what, taken.retry_after_secs))
    }
}

/// Who is asking, for the rate limits: the client's IPv4 address, or its IPv6 /64 (one
/// subscriber's whole network: anyone can change the other 64 bits at will).
pub(crate) fn client_ip(req: &Request) -> String {
    let ip = req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_else(|| "unknown".to_owned());
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip,
    }
}

pub(crate) async fn site_view(env: &Env, site: &SiteId) -> std::result::Result<protocol::site::SiteView, ProtocolError> {
    let request = Request::new(site::VIEW_URL, Method::Get).map_err(internal)?;
    site_stub(env, site)?.fetch_with_request(request).await.map_err(internal)?.json().await.map_err(internal)
}

async fn site_settings(env: &Env, site: &SiteId) -> std::result::Result<WidgetSettings, ProtocolError> {
    Ok(site_view(env, site).await?.settings)
}

/// A site that lists its origins can only be embedded there. Browsers always send `Origin`
/// on these requests; the relay's own pages (demo, resume) are always allowed.
fn require_allowed_origin(req: &Request, url: &Url, settings: &WidgetSettings) -> std::result::Result<(), ProtocolError> {
    let Some(origin) = req.headers().get("Origin").ok().flatten() else { return Ok(()) };
    if origin == url.origin().ascii_serialization() || settings.allows_origin(&origin) {
        Ok(())
    } else {
        Err(ProtocolError::new(ErrorCode::Forbidden, format!("this chat may not be embedded on {origin}")))
    }
}

/// The page a conversation started on becomes the link in its emails, so it is kept only on
/// one of the site's origins (or the relay's own pages): a forged start must not make the
/// site mail its visitor a link to somewhere else.
fn page_is_the_sites(page: &protocol::SafeUrl, url: &Url, settings: &WidgetSettings) -> bool {
    let Ok(page) = Url::parse(page.as_str()) else { return false };
    let origin = page.origin().ascii_serialization();
    origin == url.origin().ascii_serialization() || settings.allows_origin(&origin)
}

/// On a site that verifies identities: the identity given, checked against the site's secret.
fn verified_identity(
    env: &Env,
    site: &SiteId,
    settings: &WidgetSettings,
    identity: Option<Identity>,
) -> std::result::Result<Option<Identity>, ProtocolError> {
    if !settings.identity_verification {
        return Ok(None);
    }
    let identity = identity
        .ok_or_else(|| ProtocolError::new(ErrorCode::IdentityRequired, "this site's chat needs its signed-in user"))?
        .validated()?;
    let secret = token::identity_secret(&config::token_secret(env)?, site);
    if token::verify_identity(&secret, &identity) {
        Ok(Some(identity))
    } else {
        Err(ProtocolError::new(ErrorCode::InvalidIdentity, "the user hash does not match"))
    }
}

async fn start_conversation(req: &mut Request, env: &Env, url: &Url, site: &str) -> Handled {
    let site = config::served_site(env, site)?;
    let settings = site_settings(env, &site).await?;
    require_allowed_origin(req, url, &settings)?;
    let secret = config::token_secret(env)?;
    let start: StartConversation = optional_json_body(req).await?;
    let contact = start.contact.validated()?;
    let identity = verified_identity(env, &site, &settings, start.identity)?;

    // A verified user gets their open conversation back, on any device.
    if let Some(identity) = &identity {
        if let Some(conversation_id) = site::user_conversation(&site_stub(env, &site)?, &identity.user_id).await.map_err(internal)? {
            let status = conversation::status_of(&conversation_stub(env, &conversation_id)?).await.map_err(internal)?;
            // An ended or erased one is theirs no more: they start anew.
            if !matches!(status, protocol::Status::Ended | protocol::Status::Deleted) {
                let grant = token::VisitorGrant { site, conversation: conversation_id.clone() };
                let token = token::sign(&secret, &grant, now_ms() / 1000 + token::TOKEN_LIFETIME_SECS);
                return reply::json(&ConversationStarted { conversation_id, token }, 200).map_err(internal);
            }
        }
    }

    // Checked before anything is created: a refused start stores nothing.
    let take = limiter::Take { limit: config::conversations_per_hour(env), window_secs: 3600 };
    limit(env, &format!("conversations:{}", client_ip(req)), "new conversations", take).await?;
    let user_id = identity.as_ref().map(|i| i.user_id.clone());
    let browser = req.headers().get("User-Agent").ok().flatten().map(|ua| conversation::browser_name(&ua));
    let page_url = start.page_url.filter(|page| page_is_the_sites(page, url, &settings));
    let origin = Origin { relay: url.origin().ascii_serialization(), page_url, browser };
    let conversation_id = create_conversation(env, &site, contact, origin, user_id, None).await?;
    if let Some(identity) = &identity {
        site::remember_user(&site_stub(env, &site)?, &identity.user_id, &conversation_id).await.map_err(internal)?;
    }

    let grant = token::VisitorGrant { site, conversation: conversation_id.clone() };
    let token = token::sign(&secret, &grant, now_ms() / 1000 + token::TOKEN_LIFETIME_SECS);
    reply::json(&ConversationStarted { conversation_id, token }, 201).map_err(internal)
}

/// Where a conversation starts: the relay's public origin (for links in emails), the page.
pub(crate) struct Origin {
    pub relay: String,
    pub page_url: Option<protocol::SafeUrl>,
    pub browser: Option<String>,
}

/// Creates a conversation on a site; it enters the site's inbox itself. An outbound
/// conversation starts with its first message to the contact.
pub(crate) async fn create_conversation(
    env: &Env,
    site: &SiteId,
    contact: protocol::Contact,
    origin: Origin,
    user_id: Option<String>,
    outbound: Option<Outbound>,
) -> std::result::Result<ConversationId, ProtocolError> {
    let namespace = env.durable_object("CONVERSATION_OBJECTS").map_err(internal)?;
    let object_id = namespace.unique_id().map_err(internal)?;
    let conversation_id = ConversationId::parse(&object_id.to_string())?;
    let init = InitConversation {
        site: site.clone(),
        contact,
        origin: origin.relay,
        page_url: origin.page_url,
        browser: origin.browser,
        user_id,
        outbound,
    };
    let init = serde_json::to_string(&init).map_err(|e| internal(e.into()))?;
    let request = Request::new_with_init(
        "https://conversation/init",
        RequestInit::new().with_method(Method::Post).with_body(Some(init.into())),
    )
    .map_err(internal)?;
    let answer = object_id.get_stub().map_err(internal)?.fetch_with_request(request).await.map_err(internal)?;
    if answer.status_code() >= 300 {
        return Err(ProtocolError::new(ErrorCode::Internal, "the conversation could not be created"));
    }
    Ok(conversation_id)
}

/// Hands a WebSocket upgrade to the conversation, keeping the upgrade headers.
pub(crate) async fn forward_connect(req: &Request, env: &Env, id: &ConversationId, peer: &Peer, after_seq: Seq) -> Handled {
    hand_upgrade(req, conversation_stub(env, id)?, &conversation::connect_url(peer, after_seq)).await
}

async fn visitor_connect(req: &Request, env: &Env, url: &Url) -> Handled {
    let after_seq = connect_params(url)?;
    let secret = config::token_secret(env)?;
    let raw = param(url, query::TOKEN)
        .ok_or_else(|| ProtocolError::new(ErrorCode::InvalidToken, "a visitor connection needs its token"))?;
    let grant = token::verify(&secret, &raw, now_ms() / 1000)?;
    // A token for a site this relay no longer serves opens nothing.
    config::served_site(env, grant.site.as_str())?;
    let settings = site_settings(env, &grant.site).await?;
    require_allowed_origin(req, url, &settings)?;
    let identity = match (param(url, query::USER_ID), param(url, query::USER_HASH)) {
        (Some(user_id), Some(user_hash)) => Some(Identity { user_id, user_hash }),
        _ => None,
    };
    // On a verifying site, the conversation opens only for its own user.
    let user = verified_identity(env, &grant.site, &settings, identity)?.map(|i| i.user_id);
    let peer = Peer { role: Role::Visitor, name: None, user, agent: None, session: None };
    forward_connect(req, env, &grant.conversation, &peer, after_seq).await
}

/// Hands a WebSocket upgrade to the site's object.
pub(crate) async fn site_connect(req: &Request, env: &Env, site: &SiteId, url: &str) -> Handled {
    hand_upgrade(req, site_stub(env, site)?, url).await
}

/// Hands a WebSocket upgrade to an object at `url`, keeping the upgrade headers; the object's
/// answer goes back as it is (its `Sec-WebSocket-Extensions` decides the client's compression,
/// see `reply::websocket`).
async fn hand_upgrade(req: &Request, object: Stub, url: &str) -> Handled {
    if !reply::is_websocket_upgrade(req) {
        return Err(ProtocolError::new(ErrorCode::InvalidParameter, "this route takes a WebSocket upgrade"));
    }
    let request = Request::new_with_init(url, RequestInit::new().with_method(Method::Get).with_headers(req.headers().clone()))
        .map_err(internal)?;
    object.fetch_with_request(request).await.map_err(internal)
}

pub(crate) fn require_version(url: &Url) -> std::result::Result<(), ProtocolError> {
    connect_params(url).map(|_| ())
}

async fn availability(req: &Request, env: &Env, url: &Url, site: &str) -> Handled {
    let site = config::served_site(env, site)?;
    require_version(url)?;
    require_allowed_origin(req, url, &site_settings(env, &site).await?)?;
    site_connect(req, env, &site, site::AVAILABILITY_URL).await
}

/// Largest inbound email body accepted, in bytes.
const MAX_INBOUND_BYTES: usize = 256 * 1024;

/// A visitor's reply to one of our emails, posted by the mail provider's inbound hook.
async fn inbound_email(req: &mut Request, env: &Env) -> Handled {
    let secret = config::inbound_secret(env)?;
    let raw = body_bytes(req, MAX_INBOUND_BYTES).await?;
    let signature = req.headers().get(protocol::http::INBOUND_SIGNATURE_HEADER).ok().flatten().unwrap_or_default();
    if !token::verify_bytes(&secret, &raw, &signature) {
        worker::console_warn!("inbound email refused: bad signature");
        return Err(ProtocolError::new(ErrorCode::Unauthorized, "the inbound email signature does not match"));
    }
    let mail: InboundEmail = serde_json::from_slice(&raw)
        .map_err(|e| ProtocolError::new(ErrorCode::MalformedFrame, format!("not an inbound email: {e}")))?;
    deliver_reply(env, &mail.to, &mail.text, mail.message_id.as_deref()).await
}

/// A visitor's reply, however it arrived: checked against its reply address, quotes and
/// signature stripped, stored once per mail as the visitor's message.
async fn deliver_reply(env: &Env, to: &str, text: &str, message_id: Option<&str>) -> Handled {
    let token_secret = config::token_secret(env)?;
    let conversation = token::reply_address::conversation_of(&token_secret, to)
        .inspect_err(|err| worker::console_warn!("inbound email refused: {}", err.message))?;
    let body = protocol::frames::validate_body(&protocol::email_reply::new_text(text))?;
    // One message per mail, however often it is delivered.
    let identity = message_id.unwrap_or(text);
    let client_id = ClientMsgId::parse(&format!("email-{}", &token::sign_bytes(b"inbound-email", identity.as_bytes())[..40]))?;
    let reply = serde_json::to_string(&InboundReply { client_id, body }).map_err(|e| internal(e.into()))?;
    let request = Request::new_with_init(
        "https://conversation/inbound",
        RequestInit::new().with_method(Method::Post).with_body(Some(reply.into())),
    )
    .map_err(internal)?;
    conversation_stub(env, &conversation)?.fetch_with_request(request).await.map_err(internal)
}

/// The site's bot answers a visitor (`messages`) or hands the conversation over to the agents
/// (`handover`), with the site's bot key as bearer; the conversation checks the key, since it
/// knows its site.
async fn bot_call(req: &mut Request, env: &Env, id: &str, action: &str) -> Handled {
    let id = ConversationId::parse(id)?;
    let key = req.headers().get("Authorization").ok().flatten().and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned));
    let key = key.ok_or_else(|| ProtocolError::new(ErrorCode::Unauthorized, "send the site's bot key as Authorization: Bearer"))?;
    let text = body_text(req, protocol::limits::MAX_REQUEST_BYTES).await?;
    let (path, body) = match action {
        "messages" => {
            let reply = parse_body::<protocol::automations::BotReply>(&text)?.validated()?;
            ("https://conversation/bot-reply", Some(serde_json::to_string(&reply).map_err(|e| internal(e.into()))?))
        }
        _ => ("https://conversation/bot-handover", None),
    };
    let headers = Headers::new();
    headers.set(conversation::BOT_KEY_HEADER, &key).map_err(internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let request = Request::new_with_init(path, &init).map_err(internal)?;
    conversation_stub(env, &id)?.fetch_with_request(request).await.map_err(internal)
}

/// Replies through Cloudflare Email Workers: route the reply domain's mail to this Worker.
/// A refused mail bounces with the reason.
#[event(email)]
async fn email(message: ForwardableEmailMessage, env: Env, _ctx: Context) -> Result<()> {
    if message.raw_size() as usize > MAX_INBOUND_BYTES {
        message.set_reject("that email is too large");
        return Ok(());
    }
    let raw = message.raw_bytes().await?;
    let Some(parsed) = mail_parser::MessageParser::default().parse(&raw) else {
        message.set_reject("that email could not be read");
        return Ok(());
    };
    let text = parsed.body_text(0).unwrap_or_default();
    match deliver_reply(&env, &message.to(), &text, parsed.message_id()).await {
        Ok(response) if response.status_code() < 300 => {}
        Ok(response) => message.set_reject(&format!("refused ({})", response.status_code())),
        Err(err) => message.set_reject(&err.message),
    }
    Ok(())
}

fn page(title: &str, body: &str) -> Handled {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/demo.css\"></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    Response::from_html(html).map_err(internal)
}

/// The unsubscribe link of an email: a page to confirm (GET, so link scanners change
/// nothing), then the change itself (POST).
async fn unsubscribe(req: &Request, env: &Env, url: &Url) -> Handled {
    let secret = config::token_secret(env)?;
    let raw = param(url, query::TOKEN).unwrap_or_default();
    let Ok(conversation) = token::unsubscribe::verify(&secret, &raw) else {
        return page("This link does not work", "<p>Open the chat on the site to manage your emails.</p>");
    };
    if req.method() == Method::Get {
        let action = format!("/api/email/unsubscribe?token={}", protocol::http::percent_encode(&raw));
        return page(
            "Stop these emails?",
            &format!(
                "<p>You will get no more emails about this conversation.</p>\
                 <form method=\"post\" action=\"{action}\"><button type=\"submit\">Stop the emails</button></form>"
            ),
        );
    }
    let request = Request::new_with_init("https://conversation/unsubscribe", RequestInit::new().with_method(Method::Post))
        .map_err(internal)?;
    conversation_stub(env, &conversation)?.fetch_with_request(request).await.map_err(internal)?;
    page("Done", "<p>You will get no more emails about this conversation.</p>")
}
