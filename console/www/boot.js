// Starts the console. A file, not an inline script: the console's CSP allows scripts from
// this origin only.
import init from "/console/console.js";

await init({ module_or_path: "/console/console_bg.wasm" });
