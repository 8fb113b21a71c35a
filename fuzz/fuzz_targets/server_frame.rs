//! What the widget decodes from the relay: any text is a frame or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::ServerFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(frame) = ServerFrame::decode(text) {
            assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
        }
    }
});
