//! The relay as its clients meet it: the real Worker and Durable Objects under `wrangler dev`
//! (workerd, SQLite storage), spoken to over real HTTP and WebSockets.

use agent::Connection;
use e2e::chat::*;
use e2e::{relay, TOKEN_SECRET};
use protocol::http::ErrorBody;
use protocol::limits::{HISTORY_PAGE, MAX_BODY_CHARS, MAX_FRAME_BYTES};
use protocol::token::{self, VisitorGrant};
use protocol::{Author, ConversationId, ErrorCode, Seq, ServerFrame, SiteId};

#[tokio::test]
async fn messages_are_acknowledged_in_order_and_delivered_live_both_ways() {
    let started = start().await;
    let (mut visitor, history) = visitor_connection(&started, 0).await;
    assert!(history.is_empty());
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;

    for (n, body) in ["first", "second", "third"].into_iter().enumerate() {
        let seq = visitor.post(&id(&format!("v{n}")), body).await.unwrap();
        assert_eq!(seq, n as Seq + 1);
        let message = expect_message(&mut agent).await;
        assert_eq!((message.seq, message.body.as_str(), &message.author), (seq, body, &Author::Visitor));
    }

    let seq = agent.post(&id("a1"), "  Hello, how can I help?\n").await.unwrap();
    assert_eq!(seq, 4);
    let reply = expect_message(&mut visitor).await;
    assert_eq!(reply.body, "Hello, how can I help?", "bodies are stored trimmed");
    assert!(matches!(&reply.author, Author::Agent { name, .. } if name.as_str() == "Ana"));
    assert_eq!(reply.seq, 4);
}

#[tokio::test]
async fn a_resent_client_id_gets_the_same_ack_and_is_stored_once() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;

    visitor.send_text(r#"{"type":"send","client_id":"dup","body":"once"}"#).await.unwrap();
    let ServerFrame::Ack { seq, sent_at, .. } = visitor.next().await.unwrap() else { panic!("ack") };
    // The same id again, even from a new connection and with another body: same ack.
    let (mut again, _) = visitor_connection(&started, seq).await;
    again.send_text(r#"{"type":"send","client_id":"dup","body":"twice?"}"#).await.unwrap();
    assert_eq!(again.next().await.unwrap(), ServerFrame::Ack { client_id: id("dup"), seq, sent_at });

    // The agent saw it once: the next thing it sees is the next message.
    assert_eq!(expect_message(&mut agent).await.body, "once");
    visitor.post(&id("next"), "next").await.unwrap();
    assert_eq!(expect_message(&mut agent).await.body, "next");

    let (_, history) = visitor_connection(&started, 0).await;
    let bodies: Vec<_> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["once", "next"]);
}

#[tokio::test]
async fn client_ids_are_unique_per_author_not_across_authors() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let (mut agent, _) = agent_connection("Ana", &started.conversation_id).await;
    assert_eq!(visitor.post(&id("same"), "from the visitor").await.unwrap(), 1);
    assert_eq!(agent.post(&id("same"), "from the agent").await.unwrap(), 2);
}

#[tokio::test]
async fn reconnecting_after_a_seq_replays_exactly_what_was_missed() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    for n in 1..=5 {
        visitor.post(&id(&format!("m{n}")), &format!("message {n}")).await.unwrap();
    }

    let (_, missed) = visitor_connection(&started, 2).await;
    let seqs: Vec<Seq> = missed.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(missed[0].body, "message 3");
    assert_eq!(missed[0].client_id, id("m3"));

    // Caught up: no replay at all; the next frame is the answer to what we send.
    let (mut current, missed) = visitor_connection(&started, 5).await;
    assert!(missed.is_empty());
    current.send_text(r#"{"type":"send","client_id":"m6","body":"six"}"#).await.unwrap();
    assert!(matches!(current.next().await.unwrap(), ServerFrame::Ack { seq: 6, .. }));
}

#[tokio::test]
async fn a_long_history_is_replayed_whole_in_pages() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let total = HISTORY_PAGE as Seq + 25;
    for n in 1..=total {
        visitor.send_text(format!(r#"{{"type":"send","client_id":"m{n}","body":"{n}"}}"#)).await.unwrap();
    }
    for n in 1..=total {
        assert!(matches!(visitor.next().await.unwrap(), ServerFrame::Ack { seq, .. } if seq == n));
    }

    let mut connection = relay().visitor().connect(&started.token, 0).await.unwrap();
    assert!(matches!(connection.next().await.unwrap(), ServerFrame::Welcome { last_seq, .. } if last_seq == total));
    let ServerFrame::History { messages: first } = connection.next().await.unwrap() else { panic!("page 1") };
    let ServerFrame::History { messages: second } = connection.next().await.unwrap() else { panic!("page 2") };
    assert_eq!(first.len(), HISTORY_PAGE);
    let seqs: Vec<Seq> = first.iter().chain(&second).map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
}

#[tokio::test]
async fn two_visitor_tabs_see_each_others_messages() {
    let started = start().await;
    let (mut tab_one, _) = visitor_connection(&started, 0).await;
    let (mut tab_two, _) = visitor_connection(&started, 0).await;
    let seq = tab_one.post(&id("t1"), "from tab one").await.unwrap();
    let echoed = expect_message(&mut tab_two).await;
    assert_eq!((echoed.seq, echoed.client_id, echoed.author), (seq, id("t1"), Author::Visitor));
}

#[tokio::test]
async fn bad_frames_get_typed_errors_store_nothing_and_keep_the_connection() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    let too_long = format!(r#"{{"type":"send","client_id":"long","body":"{}"}}"#, "x".repeat(MAX_BODY_CHARS + 1));
    let too_big = format!(r#"{{"type":"send","client_id":"big","body":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    let cases: Vec<(String, ErrorCode, Option<&str>)> = vec![
        ("this is not json".into(), ErrorCode::MalformedFrame, None),
        (r#"{"no":"type"}"#.into(), ErrorCode::MalformedFrame, None),
        (r#"{"type":"shout","body":"hi"}"#.into(), ErrorCode::UnknownFrameType, None),
        (r#"{"type":"send","client_id":"nobody"}"#.into(), ErrorCode::MalformedFrame, Some("nobody")),
        (r#"{"type":"send","client_id":"empty","body":"   "}"#.into(), ErrorCode::EmptyBody, Some("empty")),
        (too_long, ErrorCode::BodyTooLong, Some("long")),
        (too_big, ErrorCode::FrameTooLarge, None),
        (r#"{"type":"send","client_id":"not valid!","body":"x"}"#.into(), ErrorCode::InvalidClientId, None),
    ];
    for (frame, code, client_id) in cases {
        visitor.send_text(frame.clone()).await.unwrap();
        let refused = expect_error(&mut visitor).await;
        assert_eq!(refused, (code, client_id.map(id)), "for {}", &frame[..frame.len().min(60)]);
    }
    visitor.send_binary(vec![1, 2, 3]).await.unwrap();
    assert_eq!(expect_error(&mut visitor).await.0, ErrorCode::MalformedFrame);

    // Still open, and nothing of the above was stored: the first real message is seq 1.
    assert_eq!(visitor.post(&id("ok"), "finally").await.unwrap(), 1);
    let (_, history) = visitor_connection(&started, 0).await;
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let started = start().await;
    let (mut visitor, _) = visitor_connection(&started, 0).await;
    visitor.send_text(protocol::ClientFrame::PING_TEXT).await.unwrap();
    assert_eq!(visitor.next().await.unwrap(), ServerFrame::Pong);
}

#[tokio::test]
async fn sockets_decline_the_compression_browsers_offer() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    // What Chromium sends on every WebSocket. Compression state would cost the relay about
    // 200 KiB per open socket (see `reply::websocket` in the relay), so it answers without it.
    let started = start().await;
    let ws = relay().ws_origin();
    for path in [protocol::http::visitor_connect_path(&started.token, 0), protocol::http::availability_path(&demo_site())] {
        let mut request = format!("{ws}{path}").into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits".parse().unwrap());
        let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.status(), 101, "{path}");
        assert_eq!(response.headers().get("Sec-WebSocket-Extensions"), None, "{path} accepted compression");
        // And the socket works uncompressed: its first frame reads as plain text.
        let first = socket.next().await.unwrap().unwrap();
        assert!(first.is_text(), "{path}: {first:?}");
    }
}

#[tokio::test]
async fn forged_tampered_expired_and_missing_tokens_open_nothing() {
    let started = start().await;
    let visitor = relay().visitor();
    let other = start().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let grant = VisitorGrant { site: demo_site(), conversation: started.conversation_id.clone() };

    let tampered = started.token.replace(started.conversation_id.as_str(), other.conversation_id.as_str());
    let forged = token::sign(b"not the relay's secret", &grant, now + 3600);
    let expired = token::sign(TOKEN_SECRET.as_bytes(), &grant, now - 1);
    for bad in ["", "garbage", tampered.as_str(), forged.as_str(), expired.as_str()] {
        expect_refused_connection(visitor.connect(bad, 0).await, ErrorCode::InvalidToken).await;
    }

    // A token signed for a site the relay does not serve opens nothing either.
    let foreign = VisitorGrant { site: SiteId::parse("elsewhere").unwrap(), conversation: started.conversation_id.clone() };
    let foreign = token::sign(TOKEN_SECRET.as_bytes(), &foreign, now + 3600);
    expect_refused_connection(visitor.connect(&foreign, 0).await, ErrorCode::UnknownSite).await;

    // A valid token still opens its own conversation, and only that one.
    let (_, _) = visitor_connection(&started, 0).await;
    let (_, _) = visitor_connection(&other, 0).await;
}

#[tokio::test]
async fn connection_parameters_are_checked() {
    let started = start().await;
    let ws = relay().ws_origin();
    let token = &started.token;
    let unsupported = format!("{ws}/api/connect?token={token}&after_seq=0&v=99");
    expect_refused_connection(Connection::open(&unsupported, None).await, ErrorCode::UnsupportedVersion).await;
    let bad_seq = format!("{ws}/api/connect?token={token}&after_seq=-1&v=1");
    expect_refused_connection(Connection::open(&bad_seq, None).await, ErrorCode::InvalidParameter).await;

    // Plain HTTP to a WebSocket route: a JSON error, not a hang.
    let response = reqwest::get(format!("{}/api/connect?token={token}&v=1", relay().origin)).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, ErrorCode::InvalidParameter);
}

#[tokio::test]
async fn http_errors_are_typed_json() {
    let origin = &relay().origin;
    let http = reqwest::Client::new();
    let cases = [
        (http.post(format!("{origin}/api/sites/nowhere/conversations")), 404, ErrorCode::UnknownSite),
        (http.post(format!("{origin}/api/sites/not.valid/conversations")), 400, ErrorCode::InvalidId),
        (http.get(format!("{origin}/api/sites/demo/conversations")), 405, ErrorCode::MethodNotAllowed),
        (http.get(format!("{origin}/api/nothing-here")), 404, ErrorCode::NotFound),
        (http.get(format!("{origin}/api/agent/sites/demo/conversations")), 401, ErrorCode::Unauthorized),
        (
            http.get(format!("{origin}/api/agent/sites/demo/conversations")).bearer_auth("wrong key"),
            401,
            ErrorCode::Unauthorized,
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: ErrorBody = response.json().await.expect("a JSON error body");
        assert_eq!(body.error.code, code);
    }
}

/// An HTTP/1.1 request whose body comes in chunks with no length declared, as a client that
/// streams does; the status line of the answer. The relay may answer (and close) before the
/// whole body is sent.
async fn post_chunked(path: &str, chunks: usize, chunk: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = relay().origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let mut sent = stream.write_all(head.as_bytes()).await;
    for _ in 0..chunks {
        if sent.is_err() {
            break;
        }
        sent = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await;
        sent = sent.and(stream.write_all(chunk).await);
        sent = sent.and(stream.write_all(b"\r\n").await);
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn oversized_request_bodies_are_refused_unread_and_store_nothing() {
    let relay = relay();
    let site = e2e::fresh_site();
    let path = protocol::http::start_conversation_path(&site);
    let huge = format!(r#"{{"contact":{{"name":"{}"}}}}"#, "x".repeat(MAX_FRAME_BYTES * 50));

    // Declared too long: refused with its code before the body is read.
    let response = reqwest::Client::new().post(format!("{}{path}", relay.origin)).body(huge).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.json::<ErrorBody>().await.unwrap().error.code, ErrorCode::FrameTooLarge);
    // Streamed with no length: read only as far as the limit.
    let status = post_chunked(&path, 256, &[b' '; 16 * 1024]).await;
    assert!(status.contains(" 413 "), "refused: {status}");
    // An agent's message over HTTP, the same.
    let agent = relay.agent("Ana").await;
    let started = relay.visitor().start(&site).await.unwrap();
    let message_path = format!("{}{}", relay.origin, protocol::http::agent_messages_path(&started.conversation_id));
    let body = format!(r#"{{"type":"send","client_id":"big","body":"{}"}}"#, "y".repeat(MAX_FRAME_BYTES));
    let response = reqwest::Client::new().post(message_path).bearer_auth(agent.session()).body(body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // Nothing came of them, and the relay goes on as before.
    let inbox = agent.conversations(&site).await.unwrap();
    assert_eq!(inbox.conversations.len(), 1, "only the conversation started properly");
    assert_eq!(inbox.conversations[0].last_seq, 0);
    assert!(relay.visitor().start(&site).await.is_ok());
}

#[tokio::test]
async fn agents_need_a_session_and_a_real_conversation() {
    let started = start().await;
    let ws = relay().ws_origin();
    let path = format!("/api/agent/conversations/{}/connect?after_seq=0&v=1", started.conversation_id);
    expect_refused_connection(Connection::open(&format!("{ws}{path}"), None).await, ErrorCode::Unauthorized).await;
    expect_refused_connection(Connection::open(&format!("{ws}{path}"), Some("wrong")).await, ErrorCode::Unauthorized)
        .await;

    let agent = relay().agent("Ana").await;
    let nobody = ConversationId::parse(&"ab".repeat(32)).unwrap();
    expect_refused_connection(agent.join(&nobody, 0).await, ErrorCode::UnknownConversation).await;
    let bad_id = format!("{ws}/api/agent/conversations/not-an-id/connect?v=1");
    expect_refused_connection(Connection::open(&bad_id, Some(agent.session())).await, ErrorCode::InvalidId).await;
}

#[tokio::test]
async fn agents_list_the_sites_conversations_most_recent_first() {
    let first = start().await;
    let second = start().await;
    let list = relay().agent("Ana").await.conversations(&demo_site()).await.unwrap();
    let ids: Vec<_> = list.conversations.iter().map(|c| c.conversation_id.clone()).collect();
    let (a, b) = (ids.iter().position(|i| *i == first.conversation_id), ids.iter().position(|i| *i == second.conversation_id));
    assert!(a.is_some() && b.is_some(), "both listed");
    assert!(list.conversations.windows(2).all(|w| w[0].updated_at >= w[1].updated_at), "most recently active first");
}

#[tokio::test]
async fn cross_origin_pages_can_start_conversations() {
    let response = reqwest::Client::new()
        .post(format!("{}/api/sites/demo/conversations", relay().origin))
        .header("Origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}
