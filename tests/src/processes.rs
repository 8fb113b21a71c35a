//! Child processes (wrangler and its workerd, chromedriver and its Chromium) run in their own
//! process groups, and every group is killed when the test binary exits, so no server
//! outlives the tests.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

extern "C" fn kill_groups() {
    if let Ok(groups) = GROUPS.lock() {
        for &group in groups.iter() {
            // SAFETY: kill(2) with a negative pid signals a process group we created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    }
}

/// Starts `command` as the leader of a new process group, killed at exit.
pub fn spawn_group(command: &mut Command) -> i32 {
    command.process_group(0);
    let child = command.spawn().unwrap_or_else(|e| panic!("could not start {:?}: {e}", command.get_program()));
    let group = child.id() as i32;
    kill_at_exit(group);
    group
}

/// Registers a process group to kill when the test binary exits.
pub fn kill_at_exit(group: i32) {
    let mut groups = GROUPS.lock().expect("process list");
    if groups.is_empty() {
        // SAFETY: registers a plain extern "C" function; libtest ends with exit(), which runs it.
        unsafe { libc::atexit(kill_groups) };
    }
    groups.push(group);
}


/// Kills one group now (a test that restarts the relay).
pub fn kill_group(group: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group we created.
    unsafe { libc::kill(-group, libc::SIGKILL) };
}
