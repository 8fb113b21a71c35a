//! Getting the visitor's attention while the panel is closed or the tab hidden: a hint in the
//! page title and an optional short chime. Both stop as soon as the messages are read.

use std::cell::RefCell;

thread_local! {
    /// The host page's own title, while ours is shown.
    static ORIGINAL_TITLE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Shows `hint` before the page's title, or restores the title with `None`.
pub fn title_hint(hint: Option<String>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    ORIGINAL_TITLE.with_borrow_mut(|original| match (hint, original.as_ref()) {
        (Some(hint), None) => {
            let title = document.title();
            document.set_title(&format!("{hint} · {title}"));
            *original = Some(title);
        }
        (Some(hint), Some(title)) => document.set_title(&format!("{hint} · {title}")),
        (None, Some(title)) => {
            document.set_title(title);
            *original = None;
        }
        (None, None) => {}
    });
}

/// A soft two-tone chime, made by the browser (no sound file to download).
pub fn chime() {
    let Ok(context) = web_sys::AudioContext::new() else { return };
    let now = context.current_time();
    for (i, frequency) in [880.0f32, 1320.0].into_iter().enumerate() {
        let (Ok(tone), Ok(volume)) = (context.create_oscillator(), context.create_gain()) else { return };
        let start = now + i as f64 * 0.12;
        tone.frequency().set_value(frequency);
        let _ = volume.gain().set_value_at_time(0.08, start);
        let _ = volume.gain().exponential_ramp_to_value_at_time(0.0001, start + 0.25);
        let _ = tone.connect_with_audio_node(&volume);
        let _ = volume.connect_with_audio_node(&context.destination());
        let _ = tone.start_with_when(start);
        let _ = tone.stop_with_when(start + 0.3);
    }
}
