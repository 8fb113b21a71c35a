//! `bench`: the relay load benchmark.
//!
//!     cargo run --release -p bench            the full run (about 12 minutes on 2 cores)
//!     cargo run --release -p bench -- --quick a small run that proves the tool works (CI)
//!     … -- --only NAME                        only the scenario NAME, or those whose name starts with it
//!     … -- --direct                           load the runtime workerd directly, past wrangler's
//!                                             dev proxy (production has no such proxy)
//!     … -- --inspector                        run the relay under the `wrangler dev` command, its
//!                                             DevTools inspector attached (what a developer runs)
//!     … -- --dump DIR                         write every delivery's latency to DIR/*.csv
//!     … -- --repeat N                         run each scenario N times, then min / median / max
//!                                             of every row (one run's tail is noisy on a shared VM)
//!     … -- --floor                            the platform's floor in the relay's place: a minimal
//!                                             Durable Object per conversation in plain JavaScript
//!                                             (bench/floor/), same dev server; what any relay built
//!                                             like ours costs at least on this machine
//!
//! Every scenario runs twice with the same load code: against the real relay (wrangler's dev
//! server, workerd with SQLite Durable Objects, started fresh by the `e2e` harness; without
//! the inspector `wrangler dev` attaches, which production does not have and which costs more
//! CPU per message than the relay itself) and against a
//! minimal tokio WebSocket server with the same routes and frames (the machine's own limit).
//! The relay must be built first (`scripts/build`). The process exits non-zero when a
//! message was lost or duplicated.

mod baseline;
mod idle;
mod load;
mod report;
mod resume;
mod rss;
mod scenarios;
mod stats;
mod target;

use scenarios::Scenario;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use e2e::DevServer;
use target::{Kind, Target};

const USAGE: &str = "usage: bench [--quick] [--only SCENARIO-OR-PREFIX] [--direct] [--inspector] [--dump DIR] [--repeat N] [--floor]";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    if quick {
        return vec![
            Scenario::Live { conversations: 1, interval: ms(50), duration: secs(2) },
            Scenario::Live { conversations: 10, interval: ms(200), duration: secs(2) },
            Scenario::Throughput { conversations: 10, duration: secs(2) },
            Scenario::Idle { visitors: 200, idle: secs(2) },
            Scenario::Resume { histories: vec![100, 400], missed: vec![0, 1, 10, 100], repeats: 3 },
        ];
    }
    vec![
        Scenario::Live { conversations: 1, interval: ms(50), duration: secs(20) },
        Scenario::Live { conversations: 100, interval: ms(1000), duration: secs(20) },
        Scenario::Live { conversations: 1000, interval: ms(4000), duration: secs(30) },
        Scenario::Live { conversations: 1000, interval: secs(15), duration: secs(45) },
        Scenario::Throughput { conversations: 100, duration: secs(15) },
        Scenario::Idle { visitors: 10_000, idle: secs(30) },
        Scenario::Resume { histories: vec![1000, 5000], missed: vec![0, 1, 10, 100, 1000], repeats: 5 },
    ]
}

/// Raises the open-file limit for this process and what it starts (wrangler, workerd, the
/// baseline): 10,000 idle visitors are 10,000 sockets on each side. Returns the soft limit.
fn raise_fd_limit() -> u64 {
    let limit = raise_fd_limit_once();
    FD_LIMIT.store(limit, std::sync::atomic::Ordering::Relaxed);
    limit
}

static FD_LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The open-file limit this run has (and hands to the servers it starts).
pub fn fd_limit() -> u64 {
    FD_LIMIT.load(std::sync::atomic::Ordering::Relaxed)
}

fn raise_fd_limit_once() -> u64 {
    const WANT: libc::rlim_t = 65_536;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit { rlim_cur: WANT.max(limit.rlim_cur), rlim_max: WANT.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not allowed to raise the hard limit: go as far as it.
            let soft = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

fn machine(fd_limit: u64) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let wasm = e2e::repo_root().join("relay/build/index_bg.wasm");
    let wasm_size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    format!(
        "machine: {cores} cores, {:.1} GiB RAM, {}; open-file limit {fd_limit}\nrelay: {} ({:.1} MiB wasm); load generator and servers share these cores",
        mem_kib as f64 / 1024.0 / 1024.0,
        model.unwrap_or("unknown CPU"),
        wasm.display(),
        wasm_size as f64 / 1024.0 / 1024.0,
    )
}

struct Options {
    quick: bool,
    only: Option<String>,
    direct: bool,
    inspector: bool,
    dump: Option<PathBuf>,
    /// Runs of each scenario (relay and baseline in turn each time).
    repeat: usize,
    /// The platform's floor in the relay's place.
    floor: bool,
}

async fn run(scenarios: Vec<Scenario>, options: &Options) -> bool {
    println!("{}", machine(fd_limit()));
    let route = if options.direct {
        "straight to the workerd that runs the Worker (--direct), past wrangler's dev proxy"
    } else {
        "through the dev server's public port (wrangler's proxy workerd, then the runtime workerd)"
    };
    let server = if options.inspector {
        println!("relay: the `wrangler dev` command, DevTools inspector attached (--inspector)");
        DevServer::WranglerDev
    } else {
        println!("relay: wrangler's dev server with the inspector off (production has none)");
        DevServer::WithoutInspector
    };
    let measured = if options.floor { Kind::Floor } else { Kind::Relay };
    if options.floor {
        println!("floor: bench/floor/worker.js in the relay's place (--floor)");
    }
    println!("relay load goes {route}\n");
    let mut integrity = Vec::new();
    let mut clean = true;
    for scenario in scenarios {
        let name = scenario.name();
        let mut rounds: [Vec<report::Outcome>; 2] = [Vec::new(), Vec::new()];
        for round in 1..=options.repeat {
            // A repeated scenario's runs are told apart in the report and the dumps.
            let run_name = if options.repeat > 1 { format!("{name}, run {round} of {}", options.repeat) } else { name.clone() };
            let file_name = if options.repeat > 1 { format!("{name}-{round}") } else { name.clone() };
            for (index, kind) in [measured, Kind::Baseline].into_iter().enumerate() {
                eprintln!("[bench] {run_name} on the {}", kind.name());
                let target = Arc::new(Target::start(kind, &name, server, options.direct).await);
                let dump = options.dump.as_ref().map(|dir| dir.join(format!("{file_name}-{}.csv", kind.name())));
                // The machine is shared: say how much CPU other work took meanwhile.
                let (started, busy, ours) = (std::time::Instant::now(), rss::machine_busy(), rss::own_tree_cpu());
                let mut outcome = scenario.run(target.clone(), dump).await;
                let others = (rss::machine_busy().saturating_sub(busy)).saturating_sub(rss::own_tree_cpu().saturating_sub(ours));
                outcome.note(format!(
                    "other work on the machine meanwhile: {:.0}% of one core",
                    100.0 * others.as_secs_f64() / started.elapsed().as_secs_f64()
                ));
                let target = Arc::try_unwrap(target).unwrap_or_else(|_| panic!("scenario {name} still holds its target"));
                target.stop();
                clean &= outcome.lost == 0 && outcome.duplicated == 0;
                integrity.push(report::integrity(&name, kind.name(), &outcome));
                rounds[index].push(outcome);
            }
            let [relay, baseline] = &rounds;
            println!("{}", report::table(&run_name, &scenario.describe(), measured.name(), &relay[round - 1], &baseline[round - 1]));
        }
        if options.repeat > 1 {
            println!("{}", report::spread(&name, measured.name(), &rounds[0], &rounds[1]));
        }
    }
    for line in integrity {
        println!("{line}");
    }
    clean
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-baseline") {
        baseline::serve();
        return;
    }
    let mut options = Options { quick: false, only: None, direct: false, inspector: false, dump: None, repeat: 1, floor: false };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => options.only = Some(rest.next().expect(USAGE).clone()),
            "--direct" => options.direct = true,
            "--inspector" => options.inspector = true,
            "--floor" => options.floor = true,
            "--dump" => options.dump = Some(PathBuf::from(rest.next().expect(USAGE))),
            "--repeat" => options.repeat = rest.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0).expect(USAGE),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let mut chosen = scenarios(options.quick);
    if let Some(name) = &options.only {
        // A scenario's exact name picks it alone (`live-100` is not `live-1000`); otherwise a prefix.
        let exact = chosen.iter().any(|s| s.name() == *name);
        chosen.retain(|s| if exact { s.name() == *name } else { s.name().starts_with(name.as_str()) });
    }
    if let Some(dir) = &options.dump {
        std::fs::create_dir_all(dir).expect("create the dump directory");
    }

    // Servers started here die with us, also on a panic (release builds abort) or Ctrl-C.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        target::kill_all();
    }));
    raise_fd_limit();
    stats::epoch();

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let clean = runtime.block_on(async {
        tokio::select! {
            clean = run(chosen, &options) => clean,
            _ = tokio::signal::ctrl_c() => {
                target::kill_all();
                std::process::exit(130);
            }
        }
    });
    // Sockets still held by background tasks go with the runtime; then the harness's exit
    // handler kills any relay left.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if !clean {
        eprintln!("[bench] messages were lost or duplicated");
        std::process::exit(1);
    }
}
