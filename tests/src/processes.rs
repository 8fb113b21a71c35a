//! Child processes (wrangler and its workerd, chromedriver and its Chromium) run in their own
//! process groups, and every group is stopped when the test binary exits, so no server
//! outlives the tests.
//!
//! They also leave nothing on disk: each test binary gives its children a temporary directory
//! of its own (`target/e2e/tmp/<pid>`, removed at exit), and asks them to stop before killing
//! them, so wrangler removes its bundles from `.wrangler/tmp`. Chromium's profiles and
//! miniflare's scratch files would otherwise pile up in /tmp, run after run, until the disk
//! is full.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// How long the children have to tidy up after SIGTERM before they are killed.
const GRACE: Duration = Duration::from_secs(2);

extern "C" fn stop_groups() {
    let groups = match GROUPS.lock() {
        Ok(groups) => groups.clone(),
        Err(_) => return,
    };
    stop(&groups);
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Asks the groups to stop (SIGTERM), gives them [`GRACE`] to tidy up, then kills them.
fn stop(groups: &[i32]) {
    for &group in groups {
        signal(group, libc::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while groups.iter().any(|&group| alive(group)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &group in groups {
        signal(group, libc::SIGKILL);
    }
}

/// Stops one group now, letting it tidy up first (a benchmark scenario that is over).
pub fn stop_group(group: i32) {
    stop(&[group]);
}

fn signal(group: i32, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group we created.
    unsafe { libc::kill(-group, signal) };
}

/// Whether a group we started still has a process.
pub(crate) fn alive(group: i32) -> bool {
    // SAFETY: the leader is our child: reaping it (if it has exited) keeps a zombie from
    // counting as alive; signal 0 then only checks that the group still has a process.
    unsafe {
        libc::waitpid(group, std::ptr::null_mut(), libc::WNOHANG);
        libc::kill(-group, 0) == 0
    }
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// This test binary's temporary directory for its children. Directories left by binaries
/// that did not get to remove theirs (killed outright) are removed on the way.
fn scratch_dir() -> &'static PathBuf {
    SCRATCH.get_or_init(|| {
        let root = crate::artifacts_dir().join("tmp");
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let owner_gone = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()).is_some_and(|pid| {
                    !std::path::Path::new(&format!("/proc/{pid}")).exists()
                });
                if owner_gone {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = root.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("create the children's temporary directory");
        dir
    })
}

/// Starts `command` as the leader of a new process group, stopped at exit.
// Nothing waits for the child: its group is killed when the test binary exits, which reaps it.
#[allow(clippy::zombie_processes)]
pub fn spawn_group(command: &mut Command) -> i32 {
    command.process_group(0).env("TMPDIR", scratch_dir());
    let child = command.spawn().unwrap_or_else(|e| panic!("could not start {:?}: {e}", command.get_program()));
    let group = child.id() as i32;
    kill_at_exit(group);
    group
}

/// Registers a process group to stop when the test binary exits.
pub fn kill_at_exit(group: i32) {
    let mut groups = GROUPS.lock().expect("process list");
    if groups.is_empty() {
        // SAFETY: registers a plain extern "C" function; libtest ends with exit(), which runs it.
        unsafe { libc::atexit(stop_groups) };
    }
    groups.push(group);
}

/// Kills one group now, with no time to tidy up (a test that crashes the relay).
pub fn kill_group(group: i32) {
    signal(group, libc::SIGKILL);
}
