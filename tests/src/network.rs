//! The network between a visitor's browser and the relay, as a TCP proxy a test can cut and
//! restore: cutting drops every open connection (as a phone losing signal does) and refuses
//! new ones until restored. The outside edge of the system, so ours to fake.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Network {
    /// Point the widget here (`data-relay`) instead of at the relay.
    pub origin: String,
    up: Arc<AtomicBool>,
    /// Bumped on every cut; each proxied connection ends when it changes.
    cuts: watch::Sender<u64>,
}

impl Network {
    /// A proxy on a free loopback port in front of `relay_origin` (`http://127.0.0.1:PORT`).
    pub async fn start(relay_origin: &str) -> Network {
        let relay_addr = relay_origin.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the network proxy");
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting_up, accepting_cuts) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut browser_side, _)) = listener.accept().await else { return };
                if !accepting_up.load(Ordering::SeqCst) {
                    continue; // dropped at once: the connection fails
                }
                let relay_addr = relay_addr.clone();
                let mut cut = accepting_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut relay_side) = TcpStream::connect(&relay_addr).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut browser_side, &mut relay_side) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Network { origin, up, cuts }
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
