//! Harness for the end-to-end tests: starts the real relay under `wrangler dev` (workerd,
//! SQLite-backed Durable Objects) and a real headless Chromium, on free loopback ports.
//!
//! One relay is shared by all tests of a test binary ([`relay`]); each gets its own site data
//! by starting its own conversations. Every process started here is killed when the test
//! binary exits. The relay and widget must be built first (`scripts/build`; `scripts/test`
//! does it).

pub mod browser;
pub mod chat;
pub mod console;
pub mod endpoint;
pub mod host;
pub mod mail_api;
pub mod network;
mod processes;
pub mod procfs;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use processes::{kill_at_exit, stop_group};

/// The site configured in `wrangler.toml` for local runs.
pub const DEMO_SITE: &str = "demo";

/// Sites the test relay serves besides the demo, so tests that change a site's settings or
/// presence do not disturb each other ([`fresh_site`]).
const TEST_SITES: usize = 60;

/// A site no other test in this binary uses.
pub fn fresh_site() -> protocol::SiteId {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert!(n <= TEST_SITES, "more than {TEST_SITES} fresh sites: raise TEST_SITES");
    protocol::SiteId::parse(&format!("site-{n:02}")).unwrap()
}
/// Secrets the test relay runs with.
pub const TOKEN_SECRET: &str = "test-token-secret";
pub const INBOUND_SECRET: &str = "test-inbound-secret";
/// The first admin, created when they first sign in; [`Relay::agent`]`("Admin")` is them.
pub const ADMIN_EMAIL: &str = "admin@team.test";
pub const ADMIN_PASSWORD: &str = "test-admin-password";
pub const ADMIN_NAME: &str = "Admin";
/// Every other test agent's password.
pub const AGENT_PASSWORD: &str = "test-agent-password";

/// The email of the test agent called `name`.
pub fn agent_email(name: &str) -> protocol::Email {
    // FNV-1a: names may be long or odd (the XSS corpus), emails may not.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    protocol::Email::parse(&format!("agent-{hash:016x}@team.test")).expect("a valid email")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repo").to_owned()
}

/// Where tests write logs, screenshots and persist directories: `target/e2e/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    dir
}

/// Removes what the relays of earlier runs left in `target/e2e/` (`{name}-{pid}`: state and
/// logs) once their process is gone and their log has been quiet for an hour: every test
/// binary of a run keeps its relays' logs for a look after the run. Without this a few hundred
/// runs filled the disk.
fn sweep_earlier_runs() {
    const QUIET: Duration = Duration::from_secs(3600);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let Ok(entries) = std::fs::read_dir(artifacts_dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.rsplit_once('-').and_then(|(_, pid)| pid.parse::<u32>().ok()) else { continue };
            let Ok(log) = std::fs::metadata(entry.path().join("wrangler.log")) else { continue };
            let quiet = log.modified().ok().and_then(|at| at.elapsed().ok()).is_some_and(|quiet| quiet > QUIET);
            if quiet && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// A running relay: `wrangler dev` on a loopback port, with its own persist directory.
///
/// Tests talk to the workerd that runs the Worker ([`Relay::origin`]), not through the dev
/// proxy that `wrangler dev` puts in front of it ([`Relay::public_origin`]), which production
/// does not have: that proxy drops an occasional POST with "503 Your worker restarted
/// mid-request" when it lands on a keep-alive connection being closed (workers-sdk#14641).
pub struct Relay {
    pub origin: String,
    /// The port `wrangler dev` serves on, as `scripts/run` shows it to a developer.
    pub public_origin: String,
    pub persist_dir: PathBuf,
    pub log: PathBuf,
    /// Extra `--var NAME:VALUE` settings.
    vars: Vec<(String, String)>,
    server: DevServer,
    /// Another Worker's wrangler config, run in the relay's place (the load benchmark's
    /// floor); `None` for the relay itself.
    worker: Option<&'static str>,
    group: i32,
    /// Signed-in agents by name: each signs in once per relay process.
    agents: std::sync::Mutex<std::collections::HashMap<String, agent::Agent>>,
}

/// How the relay's dev server is started: both are wrangler's dev server running the relay in
/// workerd; they differ only in the DevTools inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevServer {
    /// The `wrangler dev` command as a developer runs it, inspector attached.
    WranglerDev,
    /// Wrangler's dev server with the inspector off (`scripts/wrangler-dev-without-inspector.mjs`):
    /// for the load benchmark, since the inspector costs more CPU per message than the relay
    /// and production has none.
    WithoutInspector,
}

/// An email the relay sent; `wrangler dev` writes it to files instead of sending it.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The relay shared by every test in this binary, started on first use.
pub fn relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| Relay::start("shared"))
}

/// The reply address of a conversation's emails, as the test relay signs it.
pub fn reply_to(conversation: &protocol::ConversationId) -> String {
    protocol::token::reply_address::for_conversation(TOKEN_SECRET.as_bytes(), conversation, "reply.demo.example")
}

impl Relay {
    /// Delivers a mail as the provider's inbound hook does, signed with `secret`.
    pub async fn post_inbound(&self, mail: &protocol::http::InboundEmail, secret: &str) -> reqwest::Response {
        let body = serde_json::to_string(mail).unwrap();
        reqwest::Client::new()
            .post(format!("{}{}", self.origin, protocol::http::INBOUND_EMAIL_PATH))
            .header(protocol::http::INBOUND_SIGNATURE_HEADER, protocol::token::sign_bytes(secret.as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a relay with a fresh persist directory named after `name`.
    pub fn start(name: &str) -> Relay {
        Self::start_with(name, &[])
    }

    /// Starts a relay with extra variables (e.g. `MAIL_API_URL`).
    pub fn start_with(name: &str, vars: &[(&str, &str)]) -> Relay {
        Self::start_on(DevServer::WranglerDev, name, vars)
    }

    /// Starts a relay on the given dev server.
    pub fn start_on(server: DevServer, name: &str, vars: &[(&str, &str)]) -> Relay {
        let root = repo_root();
        for built in ["relay/build/index.js", "dist/site/embed.js"] {
            assert!(root.join(built).exists(), "{built} is missing: run scripts/build first (scripts/test does)");
        }
        Self::start_worker(server, name, vars, None)
    }

    /// Starts the Worker of `config` (a wrangler config, from the repository's root) in the
    /// relay's place, the same way; it answers `GET /ready` once it serves.
    pub fn start_worker(server: DevServer, name: &str, vars: &[(&str, &str)], config: Option<&'static str>) -> Relay {
        sweep_earlier_runs();
        let dir = artifacts_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create relay dir");
        let relay = Relay {
            origin: String::new(),
            public_origin: String::new(),
            persist_dir: dir.join("state"),
            log: dir.join("wrangler.log"),
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            server,
            worker: config,
            group: 0,
            agents: Default::default(),
        };
        relay.launch()
    }

    /// Starts wrangler on a free port with this relay's persist directory (so a restart
    /// finds the same Durable Object storage). A port is free when picked, but another
    /// process (a workerd of another relay starting meanwhile) may bind it before wrangler
    /// does: then it starts again on another.
    fn launch(mut self) -> Relay {
        const ATTEMPTS: u32 = 3;
        for attempt in 1..=ATTEMPTS {
            let log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len());
            let port = free_port();
            self.spawn(port);
            match wait_until_serving(&format!("{}{}", self.public_origin, self.ready_path()), &self.log, log_start) {
                Ok(()) => {
                    self.origin = self.runtime_origin(port);
                    return self;
                }
                Err(log) if attempt < ATTEMPTS && log.contains(PORT_TAKEN) => processes::kill_group(self.group),
                Err(log) => panic!("the relay did not start; its log:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn spawn(&mut self, port: u16) {
        let root = repo_root();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open relay log");
        let mut command = match self.server {
            DevServer::WranglerDev => {
                let mut wrangler = Command::new(root.join("node_modules/.bin/wrangler"));
                wrangler.arg("dev");
                wrangler
            }
            DevServer::WithoutInspector => {
                let mut node = Command::new("node");
                node.arg(root.join("scripts/wrangler-dev-without-inspector.mjs"));
                node
            }
        };
        command
            .current_dir(&root)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &free_port().to_string()])
            .arg("--persist-to")
            .arg(&self.persist_dir)
            .args(["--var", &format!("TOKEN_SECRET:{TOKEN_SECRET}")])
            .args(["--var", &format!("ADMIN_EMAIL:{ADMIN_EMAIL}"), "--var", &format!("ADMIN_PASSWORD:{ADMIN_PASSWORD}")])
            .args(["--var", &format!("SITES:{}", site_list()), "--var", &format!("INBOUND_SECRET:{INBOUND_SECRET}")])
            .args(self.worker.iter().flat_map(|config| ["--config", config]))
            .args(["--show-interactive-dev-session=false", "--log-level"])
            // Info: the sent emails are read from it. RELAY_LOG_LEVEL=debug shows more.
            .arg(std::env::var("RELAY_LOG_LEVEL").unwrap_or_else(|_| "info".to_owned()))
            // Every test starts conversations from 127.0.0.1: limits high unless a test sets them.
            .args(["--var", "LIMIT_CONVERSATIONS_PER_HOUR:1000000", "--var", "LIMIT_MESSAGES_PER_SECOND:100000"])
            .args(["--var", "LIMIT_CONTACT_CHANGES_PER_HOUR:1000000", "--var", "LIMIT_LOGINS_PER_15_MINUTES:1000000"])
            // A closed console makes its agent offline after a second, not half a minute.
            .args(["--var", "PRESENCE_GRACE_SECONDS:1"])
            .args(self.vars.iter().flat_map(|(k, v)| ["--var".to_owned(), format!("{k}:{v}")]))
            .env("WRANGLER_SEND_METRICS", "false")
            // No fetch of Cloudflare's sample `Request.cf` (this machine cannot reach it).
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        self.group = processes::spawn_group(&mut command);
        self.public_origin = format!("http://127.0.0.1:{port}");
    }

    /// What answers 200 once the Worker serves.
    fn ready_path(&self) -> &'static str {
        if self.worker.is_some() { "/ready" } else { "/embed.js" }
    }

    /// The origin of the workerd that runs the Worker, below the wrangler serving on `port`.
    fn runtime_origin(&self, port: u16) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let runtime = procfs::runtime_pid(self.group, port);
            if let Some(runtime_port) = runtime.and_then(|pid| procfs::runtime_port(pid, self.ready_path())) {
                return format!("http://127.0.0.1:{runtime_port}");
            }
            assert!(Instant::now() < deadline, "no workerd below wrangler {} serves the relay (runtime {runtime:?})", self.group);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process group leader: wrangler, with its workerd processes below it.
    pub fn wrangler_pid(&self) -> i32 {
        self.group
    }

    /// Kills workerd and wrangler outright (no clean shutdown) and starts them again on the
    /// same persist directory, as a crashed and restarted relay. The port changes. (Wrangler
    /// gets no chance to remove its bundles, nor the emails it wrote, which tests still read.)
    pub fn restart(self) -> Relay {
        processes::kill_group(self.group);
        self.agents.lock().unwrap().clear();
        std::thread::sleep(Duration::from_millis(300));
        self.launch()
    }

    /// Every email sent so far, oldest first.
    pub fn emails(&self) -> Vec<SentEmail> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let field = |block: &str, name: &str| {
            block.lines().find_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
        };
        log.split("send_email binding called with MessageBuilder:")
            .skip(1)
            .map(|block| SentEmail {
                from: field(block, "From:"),
                to: field(block, "To:"),
                subject: field(block, "Subject:"),
                text: std::fs::read_to_string(field(block, "Text:")).unwrap_or_default(),
                html: std::fs::read_to_string(field(block, "HTML:")).unwrap_or_default(),
            })
            .collect()
    }

    /// The emails about one conversation (their links carry its id).
    pub fn emails_about(&self, conversation: &protocol::ConversationId) -> Vec<SentEmail> {
        self.emails().into_iter().filter(|e| e.text.contains(conversation.as_str())).collect()
    }

    /// Waits until at least `count` emails about `conversation` are written (the relay reports
    /// a send a moment before `wrangler dev` has logged it), and returns them.
    pub async fn wait_for_emails(&self, conversation: &protocol::ConversationId, count: usize) -> Vec<SentEmail> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let emails = self.emails_about(conversation);
            if emails.len() >= count || Instant::now() > deadline {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn ws_origin(&self) -> String {
        self.origin.replacen("http", "ws", 1)
    }

    pub fn visitor(&self) -> agent::Visitor {
        agent::Visitor::new(&self.origin)
    }

    /// The agent called `name`, signed in: made by the admin on first use. "Admin" is the
    /// first admin.
    pub async fn agent(&self, name: &str) -> agent::Agent {
        // A fresh client each time: every test has its own runtime, and a client's pooled
        // connections die with the runtime that made them.
        if let Some(agent) = self.agents.lock().unwrap().get(name) {
            return agent::Agent::with_session(&self.origin, agent.account.clone(), agent.session());
        }
        let agent = if name == ADMIN_NAME {
            let email = protocol::Email::parse(ADMIN_EMAIL).unwrap();
            agent::Agent::login(&self.origin, &email, ADMIN_PASSWORD).await.expect("the first admin signs in")
        } else {
            let email = agent_email(name);
            match agent::Agent::login(&self.origin, &email, AGENT_PASSWORD).await {
                Ok(agent) => agent,
                Err(_) => {
                    let new = protocol::inbox::NewAccount {
                        email: email.clone(),
                        name: protocol::AgentName::parse(name).expect("valid agent name"),
                        role: protocol::AccountRole::Agent,
                        password: AGENT_PASSWORD.to_owned(),
                    };
                    // Another test may have made it meanwhile: signing in settles it.
                    let _ = Box::pin(self.agent(ADMIN_NAME)).await.create_account(&new).await;
                    agent::Agent::login(&self.origin, &email, AGENT_PASSWORD).await.expect("the new agent signs in")
                }
            }
        };
        self.agents.lock().unwrap().insert(name.to_owned(), agent.clone());
        agent
    }
}

fn site_list() -> String {
    std::iter::once(DEMO_SITE.to_owned()).chain((1..=TEST_SITES).map(|n| format!("site-{n:02}"))).collect::<Vec<_>>().join(",")
}

/// What wrangler says when its port was taken.
const PORT_TAKEN: &str = "Address already in use";

/// Waits up to 90 s for the relay to serve; on failure, what it logged since `log_start`
/// (at once when its port was taken).
fn wait_until_serving(url: &str, log: &Path, log_start: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let logged = || {
        let all = std::fs::read(log).unwrap_or_default();
        String::from_utf8_lossy(all.get(log_start as usize..).unwrap_or_default()).into_owned()
    };
    while Instant::now() < deadline {
        let ready = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
            .output()
            .map(|o| o.stdout == b"200")
            .unwrap_or(false);
        if ready {
            return Ok(());
        }
        if logged().contains(PORT_TAKEN) {
            return Err(logged());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("(not serving within 90 s)\n{}", logged()))
}
