//! Any bytes a client can send: decoding answers a frame or a typed error, never panics, and
//! what it accepts re-encodes to something it accepts again, unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = ClientFrame::client_id_hint(text);
    if let Ok(frame) = ClientFrame::decode(text) {
        let again = ClientFrame::decode(&frame.encode()).expect("an accepted frame re-encodes to an accepted frame");
        assert_eq!(again, frame);
    }
});
