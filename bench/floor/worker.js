// The platform's floor: what the load benchmark measures a relay against, besides the
// machine's own limit (the baseline). The least a relay built like ours can do: one Durable
// Object per conversation, its messages in SQLite, its sockets on the hibernation API, in
// plain JavaScript (no wasm, no serde). It speaks only what the load uses: start a
// conversation, connect as visitor or agent (welcome, replay after `after_seq`), `send`
// (stored once per client id, acknowledged, passed to the other sockets) and `ping`. No
// tokens, accounts, inbox, read marks, typing, limits or email: whatever the relay spends
// above this, it spends on those and on its own code.
import { DurableObject } from "cloudflare:workers";

const HISTORY_PAGE = 200;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ready") return new Response("ready");
    if (request.method === "POST" && /^\/api\/sites\/[^/]+\/conversations$/.test(url.pathname)) {
      // The token is the conversation's id: the floor checks nothing.
      const id = env.CONVERSATIONS.newUniqueId().toString();
      return Response.json({ conversation_id: id, token: id }, { status: 201 });
    }
    const agent = /^\/api\/agent\/conversations\/([0-9a-f]{64})\/connect$/.exec(url.pathname);
    const id = agent ? agent[1] : url.pathname === "/api/connect" ? url.searchParams.get("token") : null;
    if (!id || request.headers.get("upgrade") !== "websocket") return new Response("not found", { status: 404 });
    const stub = env.CONVERSATIONS.get(env.CONVERSATIONS.idFromString(id));
    const role = agent ? "agent" : "visitor";
    return stub.fetch(`https://conversation/connect?role=${role}&after_seq=${Number(url.searchParams.get("after_seq")) || 0}`, request);
  },
};

export class Conversation extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, author TEXT NOT NULL,
      client_id TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL, UNIQUE (author, client_id))`);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  async fetch(request) {
    const url = new URL(request.url);
    const role = url.searchParams.get("role");
    const after = Number(url.searchParams.get("after_seq"));
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, [role]);
    const last = this.sql.exec("SELECT COALESCE(MAX(seq), 0) AS last FROM messages").one().last;
    server.send(JSON.stringify({
      type: "welcome", v: 1, conversation_id: this.ctx.id.toString(), role, last_seq: last,
      status: "open", read: { visitor: 0, agent: 0 }, contact: {},
    }));
    let page = [];
    for (const row of this.sql.exec("SELECT * FROM messages WHERE seq > ? ORDER BY seq", after)) {
      page.push(message(row));
      if (page.length === HISTORY_PAGE) {
        server.send(JSON.stringify({ type: "history", messages: page }));
        page = [];
      }
    }
    if (page.length) server.send(JSON.stringify({ type: "history", messages: page }));
    return new Response(null, { status: 101, webSocket: client, headers: { "sec-websocket-extensions": "none" } });
  }

  webSocketMessage(ws, text) {
    const frame = JSON.parse(text);
    if (frame.type !== "send") return;
    const author = this.ctx.getTags(ws)[0] === "agent" ? "agent" : "visitor";
    const now = Date.now();
    const stored = this.sql.exec(
      `INSERT INTO messages (author, client_id, body, sent_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (author, client_id) DO NOTHING RETURNING *`,
      author, frame.client_id, frame.body, now).toArray()[0];
    const row = stored ?? this.sql.exec("SELECT * FROM messages WHERE author = ? AND client_id = ?", author, frame.client_id).one();
    ws.send(JSON.stringify({ type: "ack", client_id: row.client_id, seq: row.seq, sent_at: row.sent_at }));
    if (!stored) return;
    const forward = JSON.stringify({ type: "message", message: message(row) });
    for (const peer of this.ctx.getWebSockets()) if (peer !== ws) peer.send(forward);
  }
}

function message(row) {
  const author = row.author === "agent" ? { role: "agent", name: "Bench" } : { role: "visitor" };
  return { seq: row.seq, client_id: row.client_id, author, body: row.body, sent_at: row.sent_at };
}
