// Weight report: raw, gzip and brotli bytes of what a visitor downloads, against the budgets,
// and of what an agent's browser loads for the console, against its ceiling.
//   node scripts/size.mjs          a table          (scripts/build --release first: debug
//   node scripts/size.mjs --json   for the tests     builds are not what visitors get)
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const KB = 1024;
// Budgets, in gzip bytes: the loader runs on every page view; the rest loads at first open.
const budgets = { loader: 1.5 * KB, firstOpen: 100 * KB };
// The agents' console has no budget of its own (a working tool, loaded once a day, not on
// customers' pages); its ceiling makes it grow only on purpose: 400.8 KB now (+4.1 KB on
// 2026-12-06: the protocol's widget-settings frame, which its serde decoder reads too, the
// list following a taken conversation, the high contrast outlines).
const ceilings = { console: 392 * KB };
const files = [
  ['loader', 'dist/site/embed.js', 'page load'],
  ['widget.js', 'dist/site/widget/widget.js', 'first open'],
  ['widget_bg.wasm', 'dist/site/widget/widget_bg.wasm', 'first open'],
  ['style.css', 'dist/site/widget/style.css', 'first open'],
];
const profile = existsSync('dist/build-profile') ? readFileSync('dist/build-profile', 'utf8').trim() : 'unknown';

const measure = ([name, path, when]) => {
  const bytes = readFileSync(path);
  return {
    name, path, when,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
};
const rows = files.map(measure);
// A visitor whose language is not English also fetches that language's words: the report
// counts the heaviest bundle, so its first open is the worst any visitor gets.
const locales = readdirSync('dist/site/widget/locales').sort()
  .map((file) => measure([`locale ${file.replace('.json', '')}`, `dist/site/widget/locales/${file}`, 'first open, not English']));
const heaviestLocale = locales.reduce((a, b) => (b.gzip > a.gzip ? b : a));
const sum = (list) => list.reduce((total, r) => ({ raw: total.raw + r.raw, gzip: total.gzip + r.gzip, brotli: total.brotli + r.brotli }),
  { raw: 0, gzip: 0, brotli: 0 });
const consoleRows = [
  ['console boot', 'dist/site/console/boot.js', 'sign-in page'],
  ['console.js', 'dist/site/console/console.js', 'sign-in page'],
  ['console_bg.wasm', 'dist/site/console/console_bg.wasm', 'sign-in page'],
  ['console css', 'dist/site/console/style.css', 'sign-in page'],
].map(measure);
const loader = rows[0];
const firstOpenEnglish = sum(rows);
const firstOpen = sum([...rows, heaviestLocale]);
const report = {
  profile, rows, heaviestLocale, firstOpenEnglish, firstOpen,
  consoleRows, console: sum(consoleRows),
  budgets, ceilings,
  consoleWithinCeiling: sum(consoleRows).gzip <= ceilings.console,
  loaderWithinBudget: loader.gzip <= budgets.loader,
  firstOpenWithinBudget: firstOpen.gzip <= budgets.firstOpen,
};

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report));
} else {
  const pad = (s, n) => String(s).padStart(n);
  console.log(`widget weight (${profile} build)`);
  console.log(`${'file'.padEnd(16)}${pad('raw', 10)}${pad('gzip', 10)}${pad('brotli', 10)}  loaded at`);
  const line = (name, r, when) => console.log(`${name.padEnd(16)}${pad(r.raw, 10)}${pad(r.gzip, 10)}${pad(r.brotli, 10)}  ${when}`);
  for (const r of [...rows, heaviestLocale]) line(r.name, r, r.when);
  line('first open', firstOpenEnglish, 'loader + widget, in English');
  line('first open', firstOpen, `loader + widget + the heaviest language (${heaviestLocale.name.replace('locale ', '')})`);
  const verdict = (ok) => (ok ? 'within budget' : 'OVER BUDGET');
  console.log(`budget: loader ≤ ${budgets.loader} B gzip: ${loader.gzip} B, ${verdict(report.loaderWithinBudget)}`);
  console.log(`budget: first open ≤ ${budgets.firstOpen} B gzip: ${firstOpen.gzip} B, ${verdict(report.firstOpenWithinBudget)}`);
  console.log('');
  console.log(`agents' console weight (${profile} build)`);
  for (const r of consoleRows) line(r.name, r, r.when);
  line('console', report.console, 'everything an agent loads');
  console.log(`ceiling: console ≤ ${ceilings.console} B gzip: ${report.console.gzip} B, ${report.consoleWithinCeiling ? 'not grown past it' : 'GROWN PAST IT'}`);
  if (profile !== 'release') console.log('note: not a release build; run scripts/build --release for the numbers visitors get');
}
