// Release builds of the widget: put similar functions next to each other, so gzip finds their
// likeness within its 32 KiB window.
//   node scripts/order-functions.mjs IN.wasm OUT.wasm [wasm-opt feature flags...]
// The linker lays functions out in the order it meets them, so the many instances of one
// generic function (every signal's `set`, every view's `build`) end up far apart. Starting from
// the largest function, each next one is the remaining function whose byte trigrams overlap most
// with the last one's (Jaccard). The order is handed to wasm-opt as names it sorts by
// (`--reorder-functions-by-name`), which renumbers every call and table entry; the names are
// stripped again. What the wasm does is unchanged; about 3 KB of gzip less.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const [input, output, ...features] = process.argv.slice(2);
const wasm = fs.readFileSync(input);

function fail(why) {
  console.error(`order-functions: ${why}`);
  process.exit(1);
}

// LEB128, unsigned.
function readU32(at) {
  let value = 0, shift = 0, byte;
  do {
    byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}
function writeU32(value) {
  const bytes = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    bytes.push(byte);
  } while (value);
  return Buffer.from(bytes);
}

// Sections: [id, start of the section, start of its payload, end].
const sections = [];
for (let at = 8; at < wasm.length;) {
  const [size, payload] = readU32(at + 1);
  sections.push([wasm[at], at, payload, payload + size]);
  at = payload + size;
}

// Imported functions come first in the function index space.
let importedFunctions = 0;
for (const [id, , payload] of sections.filter(([id]) => id === 2)) {
  let [count, at] = readU32(payload);
  for (let i = 0; i < count; i++) {
    let length;
    [length, at] = readU32(at); at += length; // module
    [length, at] = readU32(at); at += length; // name
    const kind = wasm[at++];
    const limits = () => { const flags = wasm[at++]; [, at] = readU32(at); if (flags & 1) [, at] = readU32(at); };
    if (kind === 0) { [, at] = readU32(at); importedFunctions++; }
    else if (kind === 1) { at++; limits(); }
    else if (kind === 2) limits();
    else if (kind === 3) at += 2;
    else if (kind === 4) { at++; [, at] = readU32(at); }
    else fail(`import of unknown kind ${kind} (section ${id})`);
  }
}

const code = sections.find(([id]) => id === 10) || fail('no code section');
const bodies = [];
{
  let [count, at] = readU32(code[2]);
  for (let i = 0; i < count; i++) {
    let size;
    [size, at] = readU32(at);
    bodies.push(wasm.subarray(at, at + size));
    at += size;
  }
}

// Each body's set of byte trigrams, as sorted numbers, for a fast intersection.
const trigrams = bodies.map((body) => {
  const set = new Set();
  for (let i = 0; i + 2 < body.length; i++) set.add((body[i] << 16) | (body[i + 1] << 8) | body[i + 2]);
  return Int32Array.from(set).sort();
});
function shared(a, b) {
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { n++; i++; j++; } else if (a[i] < b[j]) i++; else j++;
  }
  return n;
}

// Greedy: from the largest function, always on to the most similar one left.
const left = new Set(bodies.keys());
let current = 0;
for (const i of left) if (bodies[i].length > bodies[current].length) current = i;
const order = [];
while (true) {
  order.push(current);
  left.delete(current);
  if (!left.size) break;
  let best = -1, bestScore = -1;
  for (const j of left) {
    const common = shared(trigrams[current], trigrams[j]);
    const union = trigrams[current].length + trigrams[j].length - common;
    const score = union ? common / union : 0;
    if (score > bestScore) { bestScore = score; best = j; }
  }
  current = best;
}

// A "name" custom section naming each function by its place in the order (names are listed
// by index); any other name section goes.
// Imports keep their order, ahead of every defined function.
const names = [writeU32(importedFunctions + order.length)];
for (let i = 0; i < importedFunctions; i++) {
  const name = Buffer.from(`a${String(i).padStart(6, '0')}`);
  names.push(writeU32(i), writeU32(name.length), name);
}
order.forEach((body, rank) => {
  const name = Buffer.from(`f${String(rank).padStart(6, '0')}`);
  names.push(writeU32(importedFunctions + body), writeU32(name.length), name);
});
const functionNames = Buffer.concat(names);
const payload = Buffer.concat([writeU32(4), Buffer.from('name'), Buffer.from([1]), writeU32(functionNames.length), functionNames]);
const parts = [wasm.subarray(0, 8)];
for (const [id, start, body, end] of sections) {
  if (id === 0) {
    const [length, at] = readU32(body);
    if (wasm.subarray(at, at + length).toString() === 'name') continue;
  }
  parts.push(wasm.subarray(start, end));
}
parts.push(Buffer.from([0]), writeU32(payload.length), payload);
const named = `${output}.named`;
fs.writeFileSync(named, Buffer.concat(parts));
execFileSync('wasm-opt', [...features, named, '--reorder-functions-by-name', '--strip-debug', '-o', output], { stdio: 'inherit' });
fs.rmSync(named);
