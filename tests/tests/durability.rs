//! Crash durability: traffic, then workerd and wrangler are SIGKILLed and restarted on the
//! same persist directory, twenty times. Every acknowledged message is there exactly once and
//! in order; a client that saw an ack never loses that message; unacknowledged ones, resent
//! with their client ids (as the widget's outbox does), are stored once; and no agent message
//! is ever emailed twice.
//!
//! The longer mode, as a benchmark: `DURABILITY_ROUNDS=200 cargo test --release -p e2e --test durability`.

use agent::Connection;
use e2e::chat::catch_up;
use e2e::{fresh_site, Relay};
use protocol::site::WidgetSettings;
use protocol::{ClientMsgId, Contact, Email, Seq, ServerFrame};
use std::collections::BTreeMap;
use std::time::Duration;

/// Crashes per run: 20 in the test suite, more with `DURABILITY_ROUNDS`.
fn rounds() -> usize {
    std::env::var("DURABILITY_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}
const VISITOR_BURST: usize = 5;

/// Sends a burst without waiting, then collects what was acknowledged before the crash.
async fn burst(connection: &mut Connection, prefix: &str, round: usize, count: usize, acked: &mut BTreeMap<String, Seq>) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|n| format!("{prefix}{round}-{n}")).collect();
    for id in &ids {
        let frame = format!(r#"{{"type":"send","client_id":"{id}","body":"{id}"}}"#);
        if connection.send_text(frame).await.is_err() {
            break;
        }
    }
    // Take whatever acks arrive quickly; the crash comes next regardless.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
    while let Ok(Ok(frame)) = tokio::time::timeout_at(deadline, connection.next()).await {
        if let ServerFrame::Ack { client_id, seq, .. } = frame {
            acked.insert(client_id.to_string(), seq);
        }
    }
    ids
}

#[tokio::test]
async fn crashes_lose_no_acknowledged_message_and_double_nothing() {
    let mut relay = Relay::start("durability");
    let site = fresh_site();
    let settings = WidgetSettings { email_delay_seconds: 1, ..WidgetSettings::default() };
    relay.agent("Admin").await.put_settings(&site, &settings).await.unwrap();
    let contact = Contact { email: Some(Email::parse("durable@example.com").unwrap()), name: None };
    let started = relay.visitor().start_with(&site, contact).await.unwrap();

    let mut acked: BTreeMap<String, Seq> = BTreeMap::new();
    let mut written: Vec<String> = Vec::new();
    for round in 0..rounds() {
        let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
        catch_up(&mut visitor, 0).await;
        let mut agent = relay.agent("Ana").await.join(&started.conversation_id, u64::MAX).await.unwrap();
        written.extend(burst(&mut visitor, "v", round, VISITOR_BURST, &mut acked).await);
        written.extend(burst(&mut agent, "a", round, 2, &mut acked).await);
        relay = relay.restart(); // SIGKILL, then the same storage
    }

    // After the last crash: every acknowledged message is stored, once, at its acked seq.
    let (_, history) = catch_up(&mut relay.visitor().connect(&started.token, 0).await.unwrap(), 0).await;
    let seqs: Vec<Seq> = history.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {seqs:?}");
    let stored: BTreeMap<String, Seq> = history.iter().map(|m| (m.client_id.to_string(), m.seq)).collect();
    assert_eq!(stored.len(), history.len(), "no client id stored twice");
    for (client_id, seq) in &acked {
        assert_eq!(stored.get(client_id), Some(seq), "acknowledged {client_id} lost or moved");
    }

    // The outbox resends everything unacknowledged with the same ids: stored once each.
    let mut visitor = relay.visitor().connect(&started.token, 0).await.unwrap();
    catch_up(&mut visitor, 0).await;
    let mut agent = relay.agent("Ana").await.join(&started.conversation_id, u64::MAX).await.unwrap();
    for id in &written {
        let connection = if id.starts_with('v') { &mut visitor } else { &mut agent };
        connection.post(&ClientMsgId::parse(id).unwrap(), id).await.unwrap();
    }
    let (_, history) = catch_up(&mut relay.visitor().connect(&started.token, 0).await.unwrap(), 0).await;
    assert_eq!(history.len(), written.len(), "every message exactly once");

    // Emails: the last batch goes out, and no agent message is ever in two emails.
    relay.wait_for_emails(&started.conversation_id, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let emails = relay.emails_about(&started.conversation_id);
    assert!(!emails.is_empty());
    for id in written.iter().filter(|id| id.starts_with('a')) {
        let mailed = emails.iter().filter(|e| e.text.contains(&format!("Ana: {id}\n"))).count();
        assert!(mailed <= 1, "{id} mailed {mailed} times");
    }
    let last = written.iter().rev().find(|id| id.starts_with('a')).unwrap();
    assert!(emails.iter().any(|e| e.text.contains(&format!("Ana: {last}\n"))), "the last batch was mailed");
}
