//! The servers a scenario runs against: the real relay (`wrangler dev`, started by the `e2e`
//! harness with a fresh persist directory) or the baseline server (this binary, in a child
//! process). Both answer the same routes, so the load code only sees an origin. Each is
//! started fresh for a scenario and killed after it, so memory peaks are the scenario's own.

use crate::baseline;
use crate::rss::{Sampler, Watch};
use e2e::DevServer;
use protocol::{AgentName, SiteId};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Relay,
    /// The platform's floor (`bench/floor/`): a minimal Durable Object per conversation in
    /// plain JavaScript, under the same dev server as the relay.
    Floor,
    Baseline,
}

/// The floor's wrangler config, from the repository's root.
const FLOOR_CONFIG: &str = "bench/floor/wrangler.toml";

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Floor => "floor",
            Kind::Baseline => "baseline",
        }
    }
}

/// Process groups this run started, killed when it ends early (panic or Ctrl-C). The `e2e`
/// harness also kills its groups at a normal exit.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

pub fn kill_all() {
    if let Ok(groups) = GROUPS.lock() {
        for &group in groups.iter() {
            // SAFETY: kill(2) on a process group this process created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    }
}

/// A running server under test.
pub struct Target {
    pub origin: String,
    /// Process group to kill when the scenario is over (wrangler and its workerd, or the
    /// baseline server).
    group: i32,
    pub memory: Sampler,
    kind: Kind,
    agent: tokio::sync::OnceCell<agent::Agent>,
}

impl Target {
    /// Starts a fresh server. With `direct`, the load goes to the workerd that runs the
    /// Worker, past wrangler's dev proxy (which production does not have).
    pub async fn start(kind: Kind, scenario: &str, server: DevServer, direct: bool) -> Target {
        let name = format!("bench-{scenario}");
        tokio::task::spawn_blocking(move || match kind {
            Kind::Relay | Kind::Floor => Target::start_workerd(kind, &name, server, direct),
            Kind::Baseline => Target::start_baseline(),
        })
        .await
        .expect("start the target")
    }

    fn start_workerd(kind: Kind, name: &str, server: DevServer, direct: bool) -> Target {
        let relay = match kind {
            Kind::Floor => e2e::Relay::start_worker(server, name, &[], Some(FLOOR_CONFIG)),
            _ => e2e::Relay::start_on(server, name, &[]),
        };
        let port: u16 =
            relay.public_origin.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the relay origin has a port");
        let wrangler = relay.wrangler_pid();
        GROUPS.lock().unwrap().push(wrangler);
        let watch = Watch::Workerd { wrangler, port };
        // The inspector changes what a message costs: make sure the runtime runs as asked.
        let runtime = watch.runtime_pid().expect("the runtime workerd");
        let inspected = e2e::procfs::cmdline(runtime).iter().any(|a| a.starts_with("--inspector-addr"));
        assert_eq!(inspected, server == DevServer::WranglerDev, "the runtime workerd's inspector is not as asked ({server:?})");
        let origin = if direct { relay.origin } else { relay.public_origin };
        let target = Target { origin, group: wrangler, memory: Sampler::start(watch), kind, agent: Default::default() };
        assert!(target.memory.processes() > 0, "no workerd process below wrangler {wrangler}");
        target
    }

    fn start_baseline() -> Target {
        let exe = std::env::current_exe().expect("this executable");
        let mut command = Command::new(exe);
        command.arg("--serve-baseline").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).process_group(0);
        let mut child = command.spawn().expect("start the baseline server");
        let pid = child.id() as i32;
        GROUPS.lock().unwrap().push(pid);
        e2e::kill_at_exit(pid);
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read the baseline's address");
        let addr = line.trim().strip_prefix(baseline::READY_PREFIX).unwrap_or_else(|| panic!("unexpected baseline output {line:?}"));
        // The child is reaped when the group is killed; its handle is not needed.
        std::mem::forget(child);
        Target {
            origin: format!("http://{addr}"),
            group: pid,
            memory: Sampler::start(Watch::Process(pid)),
            kind: Kind::Baseline,
            agent: Default::default(),
        }
    }

    pub fn visitor(&self) -> agent::Visitor {
        agent::Visitor::new(&self.origin)
    }

    /// The agent that answers: the relay's first admin, signed in once per target (the floor
    /// and the baseline take any session).
    pub async fn agent(&self) -> agent::Agent {
        self.agent
            .get_or_init(|| async {
                let email = protocol::Email::parse(e2e::ADMIN_EMAIL).expect("valid email");
                match self.kind {
                    Kind::Relay => agent::Agent::login(&self.origin, &email, e2e::ADMIN_PASSWORD).await.expect("the admin signs in"),
                    Kind::Floor | Kind::Baseline => {
                        let account = protocol::Account {
                            id: protocol::AgentId::parse("ag-00000000000000be").expect("valid id"),
                            email,
                            name: AgentName::parse(baseline::AGENT_NAME).expect("valid name"),
                            role: protocol::AccountRole::Admin,
                        };
                        agent::Agent::with_session(&self.origin, account, "baseline")
                    }
                }
            })
            .await
            .clone()
    }

    pub fn site() -> SiteId {
        SiteId::parse(e2e::DEMO_SITE).expect("valid site")
    }

    /// Stops the server's process group (wrangler tidies up its bundles) and reaps it.
    pub fn stop(self) {
        e2e::stop_group(self.group);
        GROUPS.lock().unwrap().retain(|&g| g != self.group);
    }
}
