//! Inbound email: quote stripping, reply addresses and the signature check take any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::email_reply::new_text;
use protocol::token::{reply_address, verify_bytes};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let kept = new_text(text);
        assert!(kept.len() <= text.len());
        let _ = reply_address::conversation_of(b"secret", text);
        let _ = verify_bytes(b"secret", data, text);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = protocol::frames::explain_checked_field(&value);
        }
    }
});
