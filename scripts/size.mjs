// Weight report: raw, gzip and brotli bytes of what a visitor downloads, against the budgets.
//   node scripts/size.mjs          a table          (scripts/build --release first: debug
//   node scripts/size.mjs --json   for the tests     builds are not what visitors get)
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const KB = 1024;
// Budgets, in gzip bytes: the loader runs on every page view; the rest loads at first open.
const budgets = { loader: 1.5 * KB, firstOpen: 100 * KB };
const files = [
  ['loader', 'dist/site/embed.js', 'page load'],
  ['widget.js', 'dist/site/widget/widget.js', 'first open'],
  ['widget_bg.wasm', 'dist/site/widget/widget_bg.wasm', 'first open'],
  ['style.css', 'dist/site/widget/style.css', 'first open'],
];
const profile = existsSync('dist/build-profile') ? readFileSync('dist/build-profile', 'utf8').trim() : 'unknown';

const rows = files.map(([name, path, when]) => {
  const bytes = readFileSync(path);
  return {
    name, path, when,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
});
const loader = rows[0];
const firstOpen = rows.reduce((sum, r) => ({ raw: sum.raw + r.raw, gzip: sum.gzip + r.gzip, brotli: sum.brotli + r.brotli }),
  { raw: 0, gzip: 0, brotli: 0 });
const report = {
  profile, rows, firstOpen,
  budgets,
  loaderWithinBudget: loader.gzip <= budgets.loader,
  firstOpenWithinBudget: firstOpen.gzip <= budgets.firstOpen,
};

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report));
} else {
  const pad = (s, n) => String(s).padStart(n);
  console.log(`widget weight (${profile} build)`);
  console.log(`${'file'.padEnd(16)}${pad('raw', 10)}${pad('gzip', 10)}${pad('brotli', 10)}  loaded at`);
  for (const r of rows) console.log(`${r.name.padEnd(16)}${pad(r.raw, 10)}${pad(r.gzip, 10)}${pad(r.brotli, 10)}  ${r.when}`);
  console.log(`${'first open'.padEnd(16)}${pad(firstOpen.raw, 10)}${pad(firstOpen.gzip, 10)}${pad(firstOpen.brotli, 10)}  loader + widget`);
  const verdict = (ok) => (ok ? 'within budget' : 'OVER BUDGET');
  console.log(`budget: loader ≤ ${budgets.loader} B gzip: ${loader.gzip} B, ${verdict(report.loaderWithinBudget)}`);
  console.log(`budget: first open ≤ ${budgets.firstOpen} B gzip: ${firstOpen.gzip} B, ${verdict(report.firstOpenWithinBudget)}`);
  if (profile !== 'release') console.log('note: not a release build; run scripts/build --release for the numbers visitors get');
}
