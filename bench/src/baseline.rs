//! The baseline: a minimal tokio WebSocket server that speaks the relay's routes and frames
//! (start a conversation, connect as visitor or agent, welcome, replay, ack, forward to the
//! other sockets) with everything in one process's memory: no Worker, no Durable Object, no
//! SQLite. The same load code drives it and the relay, so the ratio between the two is what
//! the relay's architecture costs over the machine's own limit.
//!
//! It runs in a child process (`bench --serve-baseline`) so its memory can be read apart from
//! the load generator's, as workerd's is. Tokens are not signed: the token is the
//! conversation id.

use futures_util::{SinkExt, StreamExt};
use protocol::http::{query, ConversationStarted};
use protocol::limits::HISTORY_PAGE;
use protocol::{
    AgentName, Author, ClientFrame, Contact, ConversationId, ErrorCode, Message, ProtocolError, ReadMarks, Seq,
    ServerFrame, Status, PROTOCOL_VERSION,
};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The line the server prints once it listens; the parent reads the address after it.
pub const READY_PREFIX: &str = "baseline listening on ";

/// One conversation: its messages (replayed on connect), the client ids already stored, and
/// the sockets to forward to.
#[derive(Default)]
struct Room {
    messages: Vec<Message>,
    known: HashMap<(String, String), (Seq, u64)>,
    peers: Vec<(u64, mpsc::UnboundedSender<String>)>,
}

#[derive(Default)]
struct Server {
    rooms: Mutex<HashMap<String, Arc<Mutex<Room>>>>,
    next_id: AtomicU64,
}

/// Serves until killed. Prints [`READY_PREFIX`] and the address on stdout once listening.
pub fn serve() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        println!("{READY_PREFIX}{addr}");
        std::io::stdout().flush().ok();
        let server = Arc::new(Server::default());
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(handle(server.clone(), stream));
        }
    });
}

async fn handle(server: Arc<Server>, stream: TcpStream) {
    let mut first = [0u8; 4];
    loop {
        match stream.peek(&mut first).await {
            Ok(n) if n >= 4 => break,
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::task::yield_now().await,
        }
    }
    if &first == b"GET " {
        websocket(server, stream).await;
    } else {
        http(server, stream).await;
    }
}

/// Plain HTTP/1.1 with keep-alive: every request starts a conversation (the only non-WebSocket
/// route the load uses).
async fn http(server: Arc<Server>, mut stream: TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + body_len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + body_len);

        let n = server.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let conversation_id = ConversationId::parse(&format!("{n:064x}")).expect("64 hex digits");
        server.rooms.lock().unwrap().insert(conversation_id.to_string(), Arc::default());
        let body = serde_json::to_string(&ConversationStarted { token: conversation_id.to_string(), conversation_id })
            .expect("serialises");
        let response = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The name every agent of the baseline writes as.
pub const AGENT_NAME: &str = "Bench";

/// Who connects, from the path: `/api/connect?token=ID&after_seq=N` or
/// `/api/agent/conversations/ID/connect?after_seq=N` (every agent is [`AGENT_NAME`]: the
/// baseline checks no session).
fn parse_connect(uri: &str) -> Option<(String, Author, Seq)> {
    let (path, query_string) = uri.split_once('?')?;
    let param = |name: &str| {
        query_string.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_owned()))
    };
    let after_seq = param(query::AFTER_SEQ).and_then(|s| s.parse().ok()).unwrap_or(0);
    if path == "/api/connect" {
        return Some((param(query::TOKEN)?, Author::Visitor, after_seq));
    }
    let id = path.strip_prefix("/api/agent/conversations/")?.strip_suffix("/connect")?;
    let name = AgentName::parse(AGENT_NAME).ok()?;
    Some((id.to_owned(), Author::Agent { name, id: None }, after_seq))
}

fn author_key(author: &Author) -> String {
    match author {
        Author::Visitor => "visitor".to_owned(),
        Author::Agent { name, .. } => format!("agent:{name}"),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn websocket(server: Arc<Server>, stream: TcpStream) {
    let mut uri = String::new();
    // tungstenite's callback type: its error is an HTTP response, large or not.
    #[allow(clippy::result_large_err)]
    let remember_uri = |req: &Request, resp| {
        uri = req.uri().to_string();
        Ok(resp)
    };
    // Chat frames are small: 4 KiB buffers instead of tungstenite's 128 KiB read buffer, so
    // an idle socket costs what the machine needs, not what a default allocates.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let accepted = tokio_tungstenite::accept_hdr_async_with_config(stream, remember_uri, Some(config)).await;
    let Ok(ws) = accepted else { return };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(WsMessage::Text(text.into())).await.is_err() {
                break;
            }
        }
    });

    let Some((id, author, after_seq)) = parse_connect(&uri) else { return };
    let room = server.rooms.lock().unwrap().get(&id).cloned();
    let Some(room) = room else {
        let err = ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation");
        let _ = tx.send(ServerFrame::error(err, None).encode());
        drop(tx);
        let _ = writer.await;
        return;
    };
    let me = server.next_id.fetch_add(1, Ordering::Relaxed);
    {
        // Welcome and replay are queued under the lock, so no new message can overtake them.
        let mut room = room.lock().unwrap();
        let conversation_id = ConversationId::parse(&id).expect("ids come from us");
        let last_seq = room.messages.len() as Seq;
        let role = author.role();
        let welcome = ServerFrame::Welcome {
            v: PROTOCOL_VERSION,
            conversation_id,
            role,
            last_seq,
            status: Status::Open,
            read: ReadMarks::default(),
            contact: Contact::default(),
            assignee: None,
            muted: false,
        };
        let _ = tx.send(welcome.encode());
        for page in room.messages[(after_seq.min(last_seq)) as usize..].chunks(HISTORY_PAGE) {
            let _ = tx.send(ServerFrame::History { messages: page.to_vec() }.encode());
        }
        room.peers.push((me, tx.clone()));
    }

    while let Some(Ok(message)) = stream.next().await {
        let WsMessage::Text(text) = message else {
            if message.is_close() {
                break;
            }
            continue;
        };
        if text.as_str() == ClientFrame::PING_TEXT {
            let _ = tx.send(ServerFrame::PONG_TEXT.to_owned());
            continue;
        }
        match ClientFrame::decode(&text) {
            Err(err) => {
                let _ = tx.send(ServerFrame::error(err, ClientFrame::client_id_hint(&text)).encode());
            }
            Ok(ClientFrame::Ping) => {
                let _ = tx.send(ServerFrame::Pong.encode());
            }
            // Typing, read marks, contact, status: not part of the load.
            Ok(ClientFrame::Send { client_id, body, .. }) => {
                let mut room = room.lock().unwrap();
                let key = (author_key(&author), client_id.to_string());
                if let Some(&(seq, sent_at)) = room.known.get(&key) {
                    let _ = tx.send(ServerFrame::Ack { client_id, seq, sent_at }.encode());
                    continue;
                }
                let seq = room.messages.len() as Seq + 1;
                let sent_at = now_ms();
                room.known.insert(key, (seq, sent_at));
                let message = Message {
                    seq,
                    client_id: client_id.clone(),
                    author: author.clone(),
                    body,
                    card: None,
                    suggestions: Vec::new(),
                    sent_at,
                    note: false,
                    edited: false,
                    deleted: false,
                };
                let _ = tx.send(ServerFrame::Ack { client_id, seq, sent_at }.encode());
                let frame = ServerFrame::Message { message: message.clone() }.encode();
                for (peer, peer_tx) in &room.peers {
                    if *peer != me {
                        let _ = peer_tx.send(frame.clone());
                    }
                }
                room.messages.push(message);
            }
            Ok(_) => {}
        }
    }
    room.lock().unwrap().peers.retain(|(peer, _)| *peer != me);
    drop(tx);
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_connect_routes() {
        let (id, author, after) = parse_connect("/api/connect?token=abc&after_seq=4&v=1").unwrap();
        assert_eq!((id.as_str(), author, after), ("abc", Author::Visitor, 4));
        let (id, author, after) = parse_connect("/api/agent/conversations/ff/connect?after_seq=0&v=1").unwrap();
        assert_eq!((id.as_str(), author_key(&author), after), ("ff", "agent:Bench".to_owned(), 0));
        assert!(parse_connect("/nope").is_none());
    }
}
