#!/usr/bin/env node
// `wrangler dev` with its inspector off, for the benchmarks.
//
// The `wrangler dev` command always attaches a DevTools inspector to workerd and enables its
// Network domain, so the runtime reports every request and subrequest to wrangler's proxy
// process. Measured on this relay: about 0.5 ms of the runtime's CPU and 0.8 ms of the proxy's
// per chat message, more than the relay's own work. Production has no inspector, so the load
// benchmark runs the same dev server through wrangler's own API (`unstable_startWorker`, the
// code behind `wrangler dev`) with `inspector: false`. Same workerd, same config, same storage.
//
// Takes the `wrangler dev` flags the harness passes:
//   --ip IP --port PORT --persist-to DIR --var NAME:VALUE… --log-level LEVEL [--config FILE]
// and ignores --inspector-port and --show-interactive-dev-session (there is no inspector).

import { unstable_startWorker } from "wrangler";

const args = process.argv.slice(2);
const options = { ip: "127.0.0.1", port: 8787, persist: ".wrangler/state", logLevel: "info", vars: {}, config: "wrangler.toml" };
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split(/=(.*)/s);
  const value = () => inline ?? args[++i];
  switch (flag) {
    case "--ip": options.ip = value(); break;
    case "--port": options.port = Number(value()); break;
    case "--persist-to": options.persist = value(); break;
    case "--log-level": options.logLevel = value(); break;
    case "--config": options.config = value(); break;
    case "--var": {
      const pair = value();
      const colon = pair.indexOf(":");
      if (colon < 1) fail(`--var takes NAME:VALUE, not ${JSON.stringify(pair)}`);
      options.vars[pair.slice(0, colon)] = { type: "plain_text", value: pair.slice(colon + 1) };
      break;
    }
    case "--inspector-port": value(); break;
    case "--show-interactive-dev-session": if (inline === undefined) i++; break;
    default: fail(`unknown flag ${args[i]}`);
  }
}

function fail(message) {
  console.error(`wrangler-dev-without-inspector: ${message}`);
  process.exit(2);
}

const worker = await unstable_startWorker({
  config: options.config,
  bindings: options.vars,
  dev: {
    inspector: false,
    server: { hostname: options.ip, port: options.port },
    persist: options.persist,
    logLevel: options.logLevel,
    watch: false,
    liveReload: false,
  },
});
// wrangler logs "Ready on …" itself; the process then serves until it is killed.
await worker.ready;
