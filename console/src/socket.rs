//! A WebSocket speaking `protocol` frames, with its callbacks kept alive as long as it is.

use protocol::{ClientFrame, ServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Socket {
    /// Opens `url`. `on_open` runs once connected, every decoded frame goes to `on_frame`, and
    /// the close (for any reason, failure to connect included) to `on_close`, unless the
    /// socket was closed by [`Socket::shut`].
    pub fn open(
        url: &str,
        mut on_open: impl FnMut() + 'static,
        mut on_frame: impl FnMut(ServerFrame) + 'static,
        mut on_close: impl FnMut() + 'static,
    ) -> Option<Socket> {
        let ws = WebSocket::new(url).ok()?;
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_event: Event| on_open());
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(frame) = event.data().as_string().and_then(|text| ServerFrame::decode(&text).ok()) {
                on_frame(frame);
            }
        });
        // Once, whichever says it first: a connection the page's CSP refuses ends with an
        // `error` and no `close` in Chromium. The handlers go first: `on_close` may drop this
        // socket and its closures, and the `close` that follows an `error` must find none.
        let end: std::rc::Rc<std::cell::RefCell<dyn FnMut()>> = {
            let ws = ws.clone();
            std::rc::Rc::new(std::cell::RefCell::new(move || {
                if ws.onclose().is_none() {
                    return;
                }
                ws.set_onclose(None);
                ws.set_onerror(None);
                ws.set_onmessage(None);
                ws.set_onopen(None);
                on_close();
            }))
        };
        let on_error = {
            let (end, ws) = (end.clone(), ws.clone());
            Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
                if ws.ready_state() == WebSocket::CLOSED {
                    (end.borrow_mut())();
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| (end.borrow_mut())());
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close, _on_error: on_error })
    }

    /// Sends when open; says whether it could.
    pub fn send(&self, frame: &ClientFrame) -> bool {
        self.send_text(&frame.encode())
    }

    pub fn send_text(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }

    /// Closes without calling `on_close`: the console chose to. A socket still connecting
    /// is closed once open (closing it earlier makes the browser log an error).
    pub fn shut(self) {
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        self.ws.set_onmessage(None);
        if self.ws.ready_state() == WebSocket::CONNECTING {
            let ws = self.ws.clone();
            let close_when_open = Closure::once_into_js(move || {
                let _ = ws.close();
            });
            self.ws.set_onopen(Some(close_when_open.unchecked_ref()));
        } else {
            self.ws.set_onopen(None);
            let _ = self.ws.close();
        }
    }
}
