// Release builds (the widget, the console): give the wasm's imports, and its long exports,
// short names, in the wasm and in its glue.
//   node scripts/shorten-imports.mjs dist/site/widget/widget_bg.wasm dist/site/widget/widget.js
// wasm-bindgen names each import after what it calls plus a 16-digit hash
// (`__wbg_set_title_7c9f7c08b10ea16a`), and every name is written twice, in the wasm's import
// section and as a key of the glue's imports object: hashes that gzip cannot shrink. Each
// name becomes a short one in both places; the build fails if the glue does not have every
// name exactly once, so a changed glue can never load a wasm it does not match. Exports are
// named after the closure types they call (`wasm_bindgen_4c99…___convert__closures_____invoke___…`,
// a hundred characters and more): those become `z` and a letter, in the export section and in
// every `.name` the glue reads, and the build fails if the glue reads one under its old name.
import fs from 'node:fs';
import path from 'node:path';

const [wasmPath, gluePath] = process.argv.slice(2);
// wasm-bindgen's glue `NAME.js` imports into the wasm as the module `./NAME_bg.js`.
const MODULE = `./${path.basename(gluePath, '.js')}_bg.js`;
const SHORT_MODULE = 'w';
const wasm = fs.readFileSync(wasmPath);
let glue = fs.readFileSync(gluePath, 'utf8');

function fail(why) {
  console.error(`shorten-imports: ${why}`);
  process.exit(1);
}

// LEB128, unsigned.
function readU32(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return [value >>> 0, at];
}
function u32(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}
function name(text) {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u32(bytes.length), bytes]);
}

// 'a'..'z', then 'aa'.. : valid as JS keys without quotes.
function shortName(index) {
  let text = '';
  do {
    text = String.fromCharCode(97 + (index % 26)) + text;
    index = Math.floor(index / 26) - 1;
  } while (index >= 0);
  return text;
}

// Exports longer than this are renamed.
const LONG_EXPORT = 24;

// The export section (id 7), rewritten.
function shortenExports(start, end) {
  let [count, p] = readU32(wasm, start);
  const entries = [];
  let shortened = 0;
  for (let i = 0; i < count; i++) {
    const [length, f] = readU32(wasm, p);
    let field = wasm.toString('utf8', f, f + length);
    p = f + length;
    const [, next] = readU32(wasm, p + 1);
    const what = wasm.subarray(p, next);
    p = next;
    if (field.length > LONG_EXPORT) {
      const read = new RegExp(`\\.${field.replace(/\$/g, '\\$')}\\b`, 'g');
      // One the glue never reads is nobody's (a marker Leptos's code splitting leaves): it goes.
      if (!glue.match(read)) continue;
      const short = `z${shortName(shortened++)}`;
      glue = glue.replace(read, `.${short}`);
      if (new RegExp(`(?<![\\w$])${field.replace(/\$/g, '\\$')}(?![\\w$])`).test(glue)) {
        fail(`the glue names export ${field} otherwise than as .${field}`);
      }
      field = short;
    }
    entries.push(name(field), what);
  }
  if (p !== end) fail('the export section did not end where it said');
  exportsRenamed = shortened;
  return Buffer.concat([u32(entries.length / 2), ...entries]);
}

// The import section (id 2) and the export section (id 7), rewritten; every other section is
// copied as it is.
const parts = [wasm.subarray(0, 8)];
let at = 8, renamed = 0, exportsRenamed = 0;
while (at < wasm.length) {
  const id = wasm[at];
  const [size, start] = readU32(wasm, at + 1);
  const end = start + size;
  if (id === 7) {
    const body = shortenExports(start, end);
    parts.push(Buffer.from([7]), u32(body.length), body);
    at = end;
    continue;
  }
  if (id !== 2) {
    parts.push(wasm.subarray(at, end));
    at = end;
    continue;
  }
  let [count, p] = readU32(wasm, start);
  const entries = [u32(count)];
  for (let i = 0; i < count; i++) {
    const [moduleLength, m] = readU32(wasm, p);
    const module = wasm.toString('utf8', m, m + moduleLength);
    const [fieldLength, f] = readU32(wasm, m + moduleLength);
    const field = wasm.toString('utf8', f, f + fieldLength);
    p = f + fieldLength;
    // What is imported: only functions come from the glue (kind 0, a type index).
    const kind = wasm[p];
    if (module !== MODULE) fail(`an import from ${module}, not the glue`);
    if (kind !== 0) fail(`import ${field} is not a function`);
    const [, next] = readU32(wasm, p + 1);
    const short = shortName(renamed++);
    // The glue's imports object has each name once, as a key: `,name:` or `{name:`.
    const key = new RegExp(`([{,])${field.replace(/\$/g, '\\$')}:`, 'g');
    const found = glue.match(key)?.length ?? 0;
    if (found !== 1) fail(`the glue has import ${field} ${found} times, not once`);
    glue = glue.replace(key, `$1${short}:`);
    entries.push(name(SHORT_MODULE), name(short), wasm.subarray(p, next));
    p = next;
  }
  if (p !== end) fail('the import section did not end where it said');
  const body = Buffer.concat(entries);
  parts.push(Buffer.from([2]), u32(body.length), body);
  at = end;
}

const moduleKey = `"${MODULE}":{`;
if (glue.split(moduleKey).length !== 2) fail(`the glue has its imports object under ${MODULE} not once`);
glue = glue.replace(moduleKey, `${SHORT_MODULE}:{`);
fs.writeFileSync(wasmPath, Buffer.concat(parts));
fs.writeFileSync(gluePath, glue);
console.log(`shorten-imports: ${renamed} imports and ${exportsRenamed} exports renamed`);
