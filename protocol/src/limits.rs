//! Limits the relay enforces and clients respect before sending.

/// Longest message body, counted in Unicode scalar values (what a person sees as characters,
/// near enough), after trimming.
pub const MAX_BODY_CHARS: usize = 4_000;

/// Largest incoming WebSocket frame, in bytes. Checked before any JSON parsing, so a huge
/// frame costs nothing to refuse. Generous enough for a maximal body of 4-byte characters.
pub const MAX_FRAME_BYTES: usize = 20 * 1024;

/// Longest client-generated message id.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Longest site id.
pub const MAX_SITE_ID_LEN: usize = 64;

/// Longest agent display name.
pub const MAX_AGENT_NAME_CHARS: usize = 64;

/// Most messages the relay puts in one `history` frame; a longer replay comes as several.
pub const HISTORY_PAGE: usize = 200;
