//! The `Accounts` Durable Object: one for the team that runs the relay. It holds the agents
//! and admins (passwords as PBKDF2-SHA256 hashes from WebCrypto, salted per account) and
//! their sessions (only a keyed hash of each session token is stored).
//!
//! The first admin comes from `ADMIN_EMAIL` / `ADMIN_PASSWORD` (secrets): while the team has
//! no account, signing in with exactly those creates it. Admins create everyone else, rename
//! them, change their role, set a new password (which ends their sessions) and remove them;
//! the team always keeps an admin.

use crate::{config, reply};
use protocol::inbox::{validate_password, Account, AccountChange, AccountList, AccountRole, AgentId, NewAccount};
use protocol::{AgentName, Email, ErrorCode, ProtocolError};
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{durable_object, js_sys, Date, DurableObject, Env, Method, Request, RequestInit, Response, Result, State, Stub};

/// WebCrypto's PBKDF2 in workerd allows at most 100,000 iterations.
const PBKDF2_ITERATIONS: u32 = 100_000;

/// Internal request: check a password, open a session.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: Email,
    pub password: String,
}

/// Internal answer to a login: the account and its new session token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    pub account: Account,
    pub token: String,
}

pub fn stub(env: &Env) -> Result<Stub> {
    env.durable_object("ACCOUNTS")?.id_from_name("team")?.get_stub()
}

async fn call<T: serde::de::DeserializeOwned>(stub: &Stub, method: Method, url: &str, body: Option<String>) -> Result<std::result::Result<T, ProtocolError>> {
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let mut answer = stub.fetch_with_request(Request::new_with_init(url, &init)?).await?;
    if answer.status_code() < 300 {
        Ok(Ok(answer.json().await?))
    } else {
        let body: protocol::http::ErrorBody = answer.json().await?;
        Ok(Err(body.error))
    }
}

pub async fn login(env: &Env, request: &LoginRequest) -> Result<std::result::Result<Session, ProtocolError>> {
    call(&stub(env)?, Method::Post, "https://accounts/login", Some(serde_json::to_string(request)?)).await
}

/// The account a session token belongs to, if the session is live.
pub async fn session(env: &Env, token: &str) -> Result<std::result::Result<Account, ProtocolError>> {
    call(&stub(env)?, Method::Post, "https://accounts/session", Some(serde_json::to_string(token)?)).await
}

/// What the sockets a session opened carry, so that signing out closes exactly those: a keyed
/// hash, since the token itself never leaves the Worker.
pub fn session_tag(env: &Env, token: &str) -> std::result::Result<String, ProtocolError> {
    let secret = config::token_secret(env)?;
    Ok(protocol::token::sign_bytes(&secret, format!("socket.{token}").as_bytes()))
}

pub async fn logout(env: &Env, token: &str) -> Result<()> {
    let _: std::result::Result<bool, ProtocolError> =
        call(&stub(env)?, Method::Post, "https://accounts/logout", Some(serde_json::to_string(token)?)).await?;
    Ok(())
}

pub async fn list(env: &Env) -> Result<AccountList> {
    call::<AccountList>(&stub(env)?, Method::Get, "https://accounts/accounts", None).await?.map_err(|e| worker::Error::RustError(e.message))
}

pub async fn create(env: &Env, new: &NewAccount) -> Result<std::result::Result<Account, ProtocolError>> {
    call(&stub(env)?, Method::Post, "https://accounts/accounts", Some(serde_json::to_string(new)?)).await
}

pub async fn change(env: &Env, id: &AgentId, change: &AccountChange) -> Result<std::result::Result<Account, ProtocolError>> {
    call(&stub(env)?, Method::Patch, &format!("https://accounts/accounts/{id}"), Some(serde_json::to_string(change)?)).await
}

/// Removes the account and its sessions; answers what it was.
pub async fn remove(env: &Env, id: &AgentId) -> Result<std::result::Result<Account, ProtocolError>> {
    call(&stub(env)?, Method::Delete, &format!("https://accounts/accounts/{id}"), None).await
}

#[durable_object]
pub struct Accounts {
    state: State,
    env: Env,
}

#[derive(Deserialize)]
struct AccountRow {
    id: String,
    email: String,
    name: String,
    role: String,
    salt: String,
    hash: String,
}

impl AccountRow {
    fn account(&self) -> Option<Account> {
        Some(Account {
            id: AgentId::parse(&self.id).ok()?,
            email: Email::parse(&self.email).ok()?,
            name: AgentName::parse(&self.name).ok()?,
            role: if self.role == "admin" { AccountRole::Admin } else { AccountRole::Agent },
        })
    }
}

fn now_secs() -> u64 {
    Date::now().as_millis() / 1000
}

fn js_error(err: JsValue) -> worker::Error {
    worker::Error::RustError(format!("webcrypto: {err:?}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn subtle() -> Result<JsValue> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js_error)?;
    js_sys::Reflect::get(&crypto, &"subtle".into()).map_err(js_error)
}

/// `n` bytes from the runtime's cryptographic random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js_error)?;
    let get_random: js_sys::Function = js_sys::Reflect::get(&crypto, &"getRandomValues".into()).map_err(js_error)?.unchecked_into();
    let array = js_sys::Uint8Array::new_with_length(n as u32);
    get_random.call1(&crypto, &array).map_err(js_error)?;
    Ok(array.to_vec())
}

/// PBKDF2-HMAC-SHA256 of the password with the salt, 32 bytes, by WebCrypto (native code:
/// slow on purpose, without costing the Worker's own CPU time in wasm).
async fn pbkdf2(password: &str, salt: &[u8]) -> Result<Vec<u8>> {
    let subtle = subtle()?;
    let method = |name: &str| -> Result<js_sys::Function> {
        Ok(js_sys::Reflect::get(&subtle, &name.into()).map_err(js_error)?.unchecked_into())
    };
    let usages = js_sys::Array::of1(&"deriveBits".into());
    let raw = js_sys::Uint8Array::from(password.as_bytes());
    let args = js_sys::Array::of5(&"raw".into(), &raw, &"PBKDF2".into(), &false.into(), &usages);
    let key = JsFuture::from(js_sys::Promise::from(method("importKey")?.apply(&subtle, &args).map_err(js_error)?))
        .await
        .map_err(js_error)?;
    let params = js_sys::Object::new();
    for (name, value) in [
        ("name", JsValue::from("PBKDF2")),
        ("hash", JsValue::from("SHA-256")),
        ("salt", js_sys::Uint8Array::from(salt).into()),
        ("iterations", JsValue::from(PBKDF2_ITERATIONS)),
    ] {
        js_sys::Reflect::set(&params, &name.into(), &value).map_err(js_error)?;
    }
    let args = js_sys::Array::of3(&params, &key, &JsValue::from(256));
    let bits = JsFuture::from(js_sys::Promise::from(method("deriveBits")?.apply(&subtle, &args).map_err(js_error)?))
        .await
        .map_err(js_error)?;
    Ok(js_sys::Uint8Array::new(&bits).to_vec())
}

/// Equal in time whatever the contents, so a comparison leaks nothing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(code: ErrorCode, message: &str) -> Result<Response> {
    reply::http_error(ProtocolError::new(code, message))
}

fn answer(result: std::result::Result<Account, ProtocolError>, status: u16) -> Result<Response> {
    match result {
        Ok(account) => reply::json(&account, status),
        Err(err) => reply::http_error(err),
    }
}

fn no_such_account() -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidId, "no such account")
}

fn last_admin() -> ProtocolError {
    ProtocolError::new(ErrorCode::Forbidden, "the team needs an admin: make someone else an admin first")
}

impl Accounts {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    fn account_by_email(&self, email: &Email) -> Result<Option<AccountRow>> {
        let rows: Vec<AccountRow> = self
            .sql()
            .exec("SELECT id, email, name, role, salt, hash FROM accounts WHERE email = ?", vec![email.as_str().to_lowercase().into()])?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    fn account_by_id(&self, id: &AgentId) -> Result<Option<Account>> {
        let rows: Vec<AccountRow> =
            self.sql().exec("SELECT id, email, name, role, salt, hash FROM accounts WHERE id = ?", vec![id.as_str().into()])?.to_array()?;
        Ok(rows.first().and_then(AccountRow::account))
    }

    fn count(&self) -> Result<usize> {
        self.count_where("1")
    }

    fn admins(&self) -> Result<usize> {
        self.count_where("role = 'admin'")
    }

    fn count_where(&self, condition: &str) -> Result<usize> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        Ok(self.sql().exec(&format!("SELECT COUNT(*) AS n FROM accounts WHERE {condition}"), None)?.one::<Count>()?.n as usize)
    }

    /// Renames, changes the role, sets a new password (ending every session of the account).
    async fn change(&self, id: &AgentId, change: AccountChange) -> Result<std::result::Result<Account, ProtocolError>> {
        // Hashed first, which lets other requests in; everything checked after it.
        let password = match &change.password {
            Some(password) => {
                if let Err(err) = validate_password(password) {
                    return Ok(Err(err));
                }
                let salt = random_bytes(16)?;
                Some((hex(&pbkdf2(password, &salt).await?), hex(&salt)))
            }
            None => None,
        };
        let Some(mut account) = self.account_by_id(id)? else { return Ok(Err(no_such_account())) };
        if account.role == AccountRole::Admin && change.role == Some(AccountRole::Agent) && self.admins()? == 1 {
            return Ok(Err(last_admin()));
        }
        account.name = change.name.unwrap_or(account.name);
        account.role = change.role.unwrap_or(account.role);
        let role = if account.role == AccountRole::Admin { "admin" } else { "agent" };
        self.sql().exec("UPDATE accounts SET name = ?, role = ? WHERE id = ?", vec![account.name.as_str().into(), role.into(), id.as_str().into()])?;
        if let Some((hash, salt)) = password {
            self.sql().exec("UPDATE accounts SET hash = ?, salt = ? WHERE id = ?", vec![hash.into(), salt.into(), id.as_str().into()])?;
            self.sql().exec("DELETE FROM sessions WHERE account_id = ?", vec![id.as_str().into()])?;
        }
        Ok(Ok(account))
    }

    /// The account and its sessions go; the last admin stays.
    fn remove(&self, id: &AgentId) -> Result<std::result::Result<Account, ProtocolError>> {
        let Some(account) = self.account_by_id(id)? else { return Ok(Err(no_such_account())) };
        if account.role == AccountRole::Admin && self.admins()? == 1 {
            return Ok(Err(last_admin()));
        }
        self.sql().exec("DELETE FROM sessions WHERE account_id = ?", vec![id.as_str().into()])?;
        self.sql().exec("DELETE FROM accounts WHERE id = ?", vec![id.as_str().into()])?;
        Ok(Ok(account))
    }

    async fn insert(&self, new: &NewAccount) -> Result<std::result::Result<Account, ProtocolError>> {
        if let Err(err) = validate_password(&new.password) {
            return Ok(Err(err));
        }
        let salt = random_bytes(16)?;
        let hash = pbkdf2(&new.password, &salt).await?;
        // Checked after the hashing (which lets other requests in) and right before the
        // insert (which does not): two creations of one email cannot both pass.
        if self.account_by_email(&new.email)?.is_some() {
            return Ok(Err(ProtocolError::new(ErrorCode::AccountExists, "an account with this email exists")));
        }
        let id = AgentId::parse(&format!("ag-{}", hex(&random_bytes(8)?))).map_err(|e| worker::Error::RustError(e.message))?;
        let role = if new.role == AccountRole::Admin { "admin" } else { "agent" };
        self.sql().exec(
            "INSERT INTO accounts (id, email, name, role, salt, hash) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                id.as_str().into(),
                new.email.as_str().to_lowercase().into(),
                new.name.as_str().into(),
                role.into(),
                hex(&salt).into(),
                hex(&hash).into(),
            ],
        )?;
        Ok(Ok(Account { id, email: new.email.clone(), name: new.name.clone(), role: new.role }))
    }

    /// The first admin, from the environment, while the team has nobody.
    async fn bootstrap(&self, email: &Email, password: &str) -> Result<()> {
        if self.count()? > 0 {
            return Ok(());
        }
        let Some((admin_email, admin_password)) = config::first_admin(&self.env) else { return Ok(()) };
        if !admin_email.eq_ignore_ascii_case(email.as_str()) || !same(&admin_password, password) {
            return Ok(());
        }
        let name = AgentName::parse(&config::first_admin_name(&self.env)).unwrap_or_else(|_| AgentName::parse("Admin").expect("a valid name"));
        let new = NewAccount { email: email.clone(), name, role: AccountRole::Admin, password: password.to_owned() };
        if let Err(err) = self.insert(&new).await? {
            worker::console_error!("accounts: the first admin could not be created: {}", err.message);
        }
        Ok(())
    }

    fn session_key(&self, token: &str) -> Result<String> {
        let secret = config::token_secret(&self.env).map_err(|e| worker::Error::RustError(e.message))?;
        Ok(protocol::token::sign_bytes(&secret, format!("session.{token}").as_bytes()))
    }

    async fn login(&self, request: LoginRequest) -> Result<Response> {
        self.bootstrap(&request.email, &request.password).await?;
        let wrong = || refuse(ErrorCode::BadCredentials, "the email or the password is wrong");
        let Some(row) = self.account_by_email(&request.email)? else {
            // Hash anyway: an unknown email takes as long as a wrong password.
            pbkdf2(&request.password, b"no such account.").await?;
            return wrong();
        };
        let salt: Vec<u8> = (0..row.salt.len() / 2).filter_map(|i| u8::from_str_radix(&row.salt[2 * i..2 * i + 2], 16).ok()).collect();
        if !same(&hex(&pbkdf2(&request.password, &salt).await?), &row.hash) {
            return wrong();
        }
        let Some(account) = row.account() else { return wrong() };
        let token = hex(&random_bytes(32)?);
        let expires = now_secs() + config::session_secs(&self.env);
        self.sql().exec(
            "INSERT INTO sessions (key, account_id, expires_at) VALUES (?, ?, ?)",
            vec![self.session_key(&token)?.into(), account.id.as_str().into(), (expires as i64).into()],
        )?;
        self.sql().exec("DELETE FROM sessions WHERE expires_at < ?", vec![(now_secs() as i64).into()])?;
        reply::json(&Session { account, token }, 200)
    }

    fn session(&self, token: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct SessionRow {
            #[serde(flatten)]
            account: AccountRow,
            expires_at: i64,
        }
        let key = self.session_key(token)?;
        let now = now_secs();
        let rows: Vec<SessionRow> = self
            .sql()
            .exec(
                "SELECT a.id, a.email, a.name, a.role, a.salt, a.hash, s.expires_at FROM sessions s
                 JOIN accounts a ON a.id = s.account_id WHERE s.key = ? AND s.expires_at > ?",
                vec![key.as_str().into(), (now as i64).into()],
            )?
            .to_array()?;
        let Some((account, expires_at)) = rows.first().and_then(|row| Some((row.account.account()?, row.expires_at as u64))) else {
            return refuse(ErrorCode::Unauthorized, "not signed in, or the session has expired");
        };
        // In use: it lasts a full term again. Renewed once half the term has gone, so a busy
        // console does not write on every request.
        let term = config::session_secs(&self.env);
        if expires_at < now + term / 2 {
            self.sql().exec("UPDATE sessions SET expires_at = ? WHERE key = ?", vec![((now + term) as i64).into(), key.into()])?;
        }
        reply::json(&account, 200)
    }

    fn list(&self) -> Result<AccountList> {
        let rows: Vec<AccountRow> =
            self.sql().exec("SELECT id, email, name, role, salt, hash FROM accounts ORDER BY name", None)?.to_array()?;
        Ok(AccountList { accounts: rows.iter().filter_map(AccountRow::account).collect() })
    }
}

impl DurableObject for Accounts {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
             role TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, account_id TEXT NOT NULL, expires_at INTEGER NOT NULL)",
        ] {
            if let Err(err) = sql.exec(statement, None) {
                worker::console_error!("accounts: migration failed: {err}");
            }
        }
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.url()?.path().to_owned();
        match (req.method(), path.as_str()) {
            (Method::Post, "/login") => self.login(req.json().await?).await,
            (Method::Post, "/session") => self.session(&req.json::<String>().await?),
            (Method::Post, "/logout") => {
                let token: String = req.json().await?;
                self.sql().exec("DELETE FROM sessions WHERE key = ?", vec![self.session_key(&token)?.into()])?;
                reply::json(&true, 200)
            }
            (Method::Get, "/accounts") => reply::json(&self.list()?, 200),
            (Method::Post, "/accounts") => answer(self.insert(&req.json().await?).await?, 201),
            (method, path) => {
                let id = path.strip_prefix("/accounts/").and_then(|id| AgentId::parse(id).ok());
                match (method, id) {
                    (Method::Patch, Some(id)) => answer(self.change(&id, req.json().await?).await?, 200),
                    (Method::Delete, Some(id)) => answer(self.remove(&id)?, 200),
                    _ => refuse(ErrorCode::NotFound, "no such accounts route"),
                }
            }
        }
    }
}
