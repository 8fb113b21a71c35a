//! An HTTP endpoint outside the product that the relay calls (a mail provider's API, a
//! customer's webhook receiver): records every request, and fails the first N (an endpoint
//! having a bad minute).

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    tried: Arc<Mutex<Vec<Received>>>,
}

impl Endpoint {
    /// Listens on a free loopback port at `path`; answers 503 to the first `failures`
    /// requests, then `ok` (e.g. "202 Accepted"). Only the answered-ok requests are recorded.
    pub async fn start(path: &str, failures: usize, ok: &'static str) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the endpoint");
        let url = format!("http://127.0.0.1:{}{path}", listener.local_addr().unwrap().port());
        let (received, tried) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (log, tries) = (received.clone(), tried.clone());
        tokio::spawn(async move {
            let mut seen = 0usize;
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let Some(request) = read_request(&mut stream).await else { continue };
                seen += 1;
                tries.lock().unwrap().push(request.clone());
                let status = if seen <= failures { "503 Service Unavailable" } else { ok };
                if seen > failures {
                    log.lock().unwrap().push(request);
                }
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        Endpoint { url, received, tried }
    }

    /// What it accepted, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every request, refused or accepted, oldest first.
    pub fn tries(&self) -> Vec<Received> {
        self.tried.lock().unwrap().clone()
    }
}

/// Headers, then as much body as Content-Length says.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&request[..end]).to_string();
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())))
            .collect();
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
        if request.len() >= end + 4 + length {
            return Some(Received { headers, body: request[end + 4..end + 4 + length].to_vec() });
        }
    }
}
