//! What /proc says about the processes the harness started: which process is below which,
//! their command lines, the ports they listen on. The benchmarks read memory and CPU from the
//! same place.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Parent of each live process, from /proc/PID/stat (the field after the parenthesised name,
/// which may itself contain spaces or parentheses).
fn parents() -> HashMap<i32, i32> {
    let mut parents = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return parents };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        if let Some(ppid) = after_name.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parents.insert(pid, ppid);
        }
    }
    parents
}

/// Every process below `root`, at any depth.
pub fn descendants(root: i32) -> Vec<i32> {
    let parents = parents();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, &ppid) in &parents {
            if ppid == parent {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// TCP ports a process listens on (IPv4), from its socket inodes and /proc/net/tcp.
pub fn listening_ports(pid: i32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|link| link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address is field 1 (hex ip:port), state field 3 (0A = listen), inode field 9.
            let listening = f.get(3) == Some(&"0A") && inodes.iter().any(|i| Some(&i.as_str()) == f.get(9));
            listening.then(|| u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()).flatten()
        })
        .collect()
}

/// Below a `wrangler dev` serving on `public_port`, the workerd that runs the Worker and its
/// objects: not wrangler's dev proxy, which is the workerd listening on the public port.
pub fn runtime_pid(wrangler: i32, public_port: u16) -> Option<i32> {
    let proxy_flag = format!("--socket-addr=entry=127.0.0.1:{public_port}");
    descendants(wrangler).into_iter().find(|&pid| comm(pid).starts_with("workerd") && !cmdline(pid).contains(&proxy_flag))
}

/// The port of `runtime` (a workerd) that serves the Worker: the one where `GET ready` (a path,
/// `/embed.js` for the relay) answers 200.
pub fn runtime_port(runtime: i32, ready: &str) -> Option<u16> {
    listening_ports(runtime).into_iter().find(|&port| {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET {ready} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut status = [0u8; 12];
        stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut status).is_ok() && status.ends_with(b" 200")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(!comm(me).is_empty());
        assert!(!cmdline(me).is_empty());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(listening_ports(me).contains(&listener.local_addr().unwrap().port()));
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        assert!(descendants(me).contains(&(child.id() as i32)));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
