//! Settings an admin submits: decoding and validation never panic, and valid settings stay
//! valid when stored and read back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::site::WidgetSettings;

fuzz_target!(|data: &[u8]| {
    let Ok(settings) = serde_json::from_slice::<WidgetSettings>(data) else { return };
    if let Ok(valid) = settings.validated() {
        let stored = serde_json::to_string(&valid).unwrap();
        let read: WidgetSettings = serde_json::from_str(&stored).unwrap();
        assert_eq!(read.clone().validated().unwrap(), read);
    }
});
