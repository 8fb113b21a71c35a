//! Getting the visitor's attention while the panel is closed or the tab hidden: a hint in the
//! page title and an optional short chime. Both stop as soon as the messages are read.

use std::cell::RefCell;

thread_local! {
    /// While our hint shows: the host page's own title, and the title we set.
    static HINTED: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Shows `hint` before the page's title, or restores the title with `None`. A single-page
/// site may change its title meanwhile (the visitor moved on): that title is the page's then,
/// and is neither overwritten by an old one nor left with a stale hint.
pub fn title_hint(hint: Option<String>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    HINTED.with_borrow_mut(|hinted| {
        let current = document.title();
        let page_title = match hinted.take() {
            Some((original, shown)) if shown == current => original,
            _ => current.clone(),
        };
        match hint {
            Some(hint) => {
                let shown = format!("{hint} · {page_title}");
                document.set_title(&shown);
                *hinted = Some((page_title, shown));
            }
            None if page_title != current => document.set_title(&page_title),
            None => {}
        }
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
