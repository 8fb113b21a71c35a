//! A mail provider's HTTP send API, as the relay's second sender talks to it: records what
//! it is asked to send, and fails the first N requests (a provider having a bad minute).

use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct MailApi {
    pub url: String,
    pub key: String,
    received: Arc<Mutex<Vec<(Option<String>, Value)>>>,
}

impl MailApi {
    /// Answers 503 to the first `failures` sends, then 202.
    pub async fn start(failures: usize) -> MailApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the mail API");
        let url = format!("http://127.0.0.1:{}/v1/send", listener.local_addr().unwrap().port());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            let mut seen = 0usize;
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                // Headers, then as much body as Content-Length says.
                let body = loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&request[..end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let auth = head.lines().find_map(|l| l.strip_prefix("Authorization: ").or_else(|| l.strip_prefix("authorization: ")).map(str::to_owned));
                        break Some((auth, request[end + 4..end + 4 + length].to_vec()));
                    }
                };
                let Some((auth, body)) = body else { continue };
                seen += 1;
                let status = if seen <= failures { "503 Service Unavailable" } else { "202 Accepted" };
                if seen > failures {
                    log.lock().unwrap().push((auth, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                }
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        MailApi { url, key: "test-mail-api-key".into(), received }
    }

    /// What it accepted: (Authorization header, JSON body).
    pub fn sent(&self) -> Vec<(Option<String>, Value)> {
        self.received.lock().unwrap().clone()
    }
}
