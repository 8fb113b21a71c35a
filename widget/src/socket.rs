//! A WebSocket speaking `protocol` frames, with its callbacks kept alive as long as it is.

use protocol::json_tree::ToJson;
use protocol::{ClientFrame, ServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

pub struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url`; every decoded frame goes to `on_frame`, the close (for any reason) to
    /// `on_close` — unless the socket was closed by [`Socket::shut`].
    pub fn open(url: &str, on_frame: impl FnMut(ServerFrame) + 'static, on_close: impl FnMut() + 'static) -> Option<Socket> {
        // One copy of the socket's code for every caller, not one per pair of callbacks.
        Self::open_boxed(url, Box::new(on_frame), Box::new(on_close))
    }

    fn open_boxed(url: &str, mut on_frame: Box<dyn FnMut(ServerFrame)>, mut on_close: Box<dyn FnMut()>) -> Option<Socket> {
        let ws = WebSocket::new(url).ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(frame) = event.data().as_string().and_then(|text| crate::json::parse::<ServerFrame>(&text)) {
                on_frame(frame);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| on_close());
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Some(Socket { ws, _on_message: on_message, _on_close: on_close })
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    pub fn send(&self, frame: &ClientFrame) {
        if self.is_open() {
            let _ = self.ws.send_with_str(&frame.to_json());
        }
    }

    pub fn send_text(&self, text: &str) {
        if self.is_open() {
            let _ = self.ws.send_with_str(text);
        }
    }

    /// Closes without calling `on_close`: the widget chose to.
    pub fn shut(self) {
        self.ws.set_onclose(None);
        self.ws.set_onmessage(None);
        let _ = self.ws.close();
    }

}

/// `http(s)://host` → `ws(s)://host`.
pub fn ws_origin(http_origin: &str) -> String {
    match http_origin.strip_prefix("http") {
        Some(rest) => format!("ws{rest}"),
        None => http_origin.to_owned(),
    }
}
