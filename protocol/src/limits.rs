//! Limits the relay enforces and clients respect before sending.

/// Longest message body, counted in Unicode scalar values (what a person sees as characters,
/// near enough), after trimming.
pub const MAX_BODY_CHARS: usize = 4_000;

/// Largest incoming WebSocket frame, in bytes. Checked before any JSON parsing, so a huge
/// frame costs nothing to refuse. Generous enough for a maximal body of 4-byte characters.
pub const MAX_FRAME_BYTES: usize = 20 * 1024;

/// Largest body of an HTTP request a visitor, an agent or a program sends (a start, a
/// message, a sign-in), in bytes; like a frame, refused before it is read in full.
pub const MAX_REQUEST_BYTES: usize = MAX_FRAME_BYTES;

/// Largest body of an admin's settings (canned responses are the bulk: 200 of up to 4,000
/// characters), in bytes.
pub const MAX_SETTINGS_BYTES: usize = 4 * 1024 * 1024;

/// Longest client-generated message id.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Longest site id.
pub const MAX_SITE_ID_LEN: usize = 64;

/// Longest agent display name.
pub const MAX_AGENT_NAME_CHARS: usize = 64;

/// Most messages the relay puts in one `history` frame; a longer replay comes as several.
pub const HISTORY_PAGE: usize = 200;

/// Longest link, in bytes.
pub const MAX_URL_LEN: usize = 2_048;

/// Longest button label (quick reply, suggested reply, link).
pub const MAX_LABEL_CHARS: usize = 60;

/// Longest article summary on a card.
pub const MAX_SUMMARY_CHARS: usize = 300;

/// Most suggested replies under one message.
pub const MAX_SUGGESTIONS: usize = 6;

/// Longest visitor name.
pub const MAX_NAME_CHARS: usize = 80;

/// Longest greeting, fallback or other site text shown in the widget.
pub const MAX_SITE_TEXT_CHARS: usize = 500;

/// Most quick replies at one level, and how deep flows of quick replies may nest.
pub const MAX_QUICK_REPLIES: usize = 8;
pub const MAX_FLOW_DEPTH: usize = 3;
