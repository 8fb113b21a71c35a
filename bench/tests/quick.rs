//! The benchmark's quick mode against a real relay (and the baseline): the tool runs every
//! scenario, and no acknowledged message is lost or duplicated. Timings belong in the report,
//! so nothing here asserts on them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The scenarios `--quick` runs, by the name in each report table's header.
const SCENARIOS: &[&str] = &["live-1", "live-10", "throughput-10", "idle-200", "resume"];

/// Runs `bench` with `args`; its report, after it succeeded within four minutes.
fn bench(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bench");
    // Read both pipes while it runs, so a long report cannot fill a pipe and stall it.
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bench") {
            break status;
        }
        if Instant::now() > deadline {
            // Ctrl-C makes bench kill the servers it started before it exits.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            std::thread::sleep(Duration::from_secs(5));
            let _ = child.kill();
            panic!("bench {args:?} did not finish within 240 s:\n{}", stderr.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = stdout.join().expect("stdout reader");
    let log = stderr.join().expect("stderr reader");
    println!("{report}");
    assert!(status.success(), "bench {args:?} failed ({status}):\n{report}\n{log}");
    report
}

/// Every scenario has its table, and nothing was lost or duplicated on either target.
fn assert_clean(report: &str, scenarios: &[&str], measured: &str) {
    for scenario in scenarios {
        assert!(report.contains(&format!("== {scenario} ==")), "no {scenario} table in the report");
        for target in [measured, "baseline"] {
            let prefix = format!("integrity {scenario} {target}: ");
            let line = report
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no integrity line for {scenario} on the {target}"));
            assert!(line.contains("lost 0,") && line.contains("duplicated 0,"), "{line}");
        }
    }
}

#[test]
fn quick_run_reports_every_scenario_with_nothing_lost_or_duplicated() {
    let report = bench(&["--quick"]);
    // The relay's own numbers: wrangler's dev server without the DevTools inspector, which
    // costs more CPU per message than the relay and which production does not have (the
    // benchmark checks the runtime's command line).
    assert!(report.contains("with the inspector off"), "the relay ran with the inspector:\n{report}");
    assert_clean(&report, SCENARIOS, "relay");
}

/// The platform's floor speaks the routes and frames the load uses: conversations start, both
/// sides connect, messages are stored once and delivered once, a reconnect replays.
#[test]
fn the_floor_carries_the_same_load_with_nothing_lost_or_duplicated() {
    let report = bench(&["--quick", "--floor", "--only", "live-1"]);
    assert_clean(&report, &["live-1"], "floor");
    let report = bench(&["--quick", "--floor", "--only", "resume"]);
    assert_clean(&report, &["resume"], "floor");
}
