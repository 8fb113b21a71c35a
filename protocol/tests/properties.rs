//! Properties of decoding and validation that must hold for any input a client can send.

use proptest::prelude::*;
use protocol::limits::{MAX_BODY_CHARS, MAX_FRAME_BYTES};
use protocol::{ClientFrame, ClientMsgId, ErrorCode, ServerFrame};

fn client_id() -> impl Strategy<Value = ClientMsgId> {
    "[A-Za-z0-9_-]{1,64}".prop_map(|s| ClientMsgId::parse(&s).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any text at all: a frame or a typed error, never a panic.
    #[test]
    fn decoding_anything_never_panics(text in any::<String>()) {
        let _ = ClientFrame::decode(&text);
        let _ = ServerFrame::decode(&text);
        let _ = ClientFrame::client_id_hint(&text);
    }

    /// JSON-shaped noise, which gets further into the decoder than random text.
    #[test]
    fn decoding_json_shaped_frames_never_panics(
        kind in prop::sample::select(vec!["send", "typing", "read", "set_contact", "end", "block", "set_status", "ping", "nope"]),
        field in "[a-z_]{1,12}",
        value in prop_oneof![Just("null".to_owned()), Just("[]".to_owned()), Just("{}".to_owned()), "-?[0-9]{1,20}", "\"[^\"\\\\]{0,40}\""],
    ) {
        let text = format!(r#"{{"type":"{kind}","{field}":{value},"client_id":"x","body":"y"}}"#);
        let _ = ClientFrame::decode(&text);
    }

    /// Every valid send survives the wire unchanged (but for trimming), and is accepted.
    #[test]
    fn valid_sends_round_trip(id in client_id(), body in "[^\\u{0}-\\u{1f}]{1,200}") {
        prop_assume!(!body.trim().is_empty());
        let frame = ClientFrame::Send { client_id: id.clone(), body: body.clone(), card: None, suggestions: vec![] };
        let decoded = ClientFrame::decode(&frame.encode()).unwrap();
        prop_assert_eq!(decoded, ClientFrame::Send { client_id: id, body: body.trim().to_owned(), card: None, suggestions: vec![] });
    }

    /// Over-long bodies are refused with their own code, whatever they contain.
    #[test]
    fn over_long_bodies_are_refused(extra in 1usize..50, c in any::<char>()) {
        prop_assume!(!c.is_whitespace() && !c.is_control());
        let body: String = std::iter::repeat_n(c, MAX_BODY_CHARS + extra).collect();
        let frame = ClientFrame::Send { client_id: ClientMsgId::parse("a").unwrap(), body, card: None, suggestions: vec![] }.encode();
        let code = ClientFrame::decode(&frame).unwrap_err().code;
        let expected = if frame.len() > MAX_FRAME_BYTES { ErrorCode::FrameTooLarge } else { ErrorCode::BodyTooLong };
        prop_assert_eq!(code, expected);
    }
}
