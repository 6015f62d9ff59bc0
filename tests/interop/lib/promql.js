'use strict';
// PromQL and Grafana helpers for the monitoring tests: template variables substituted the
// way Grafana does for a Prometheus datasource, the metric names an expression reads, an
// alert expression split into the quantities it compares, and a real Prometheus (Debian's
// `prometheus`) started on a free loopback port.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { freePorts } = require('./ports');

// ---- Grafana template variables ------------------------------------------------------
// Grafana escapes a variable's values for a Prometheus regex matcher when the variable is
// multi-value or has "All"; several values become (a|b); "All" with an allValue is that
// allValue verbatim (public/app/plugins/datasource/prometheus: prometheusRegularEscape /
// prometheusSpecialRegexEscape and interpolateQueryExpr).
function regexEscape(v) {
  return String(v).replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

// A single-value variable: backslashes and single quotes escaped only.
function regularEscape(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}

// Grafana's interval rules: $__interval = range / maxDataPoints, at least the datasource's
// timeInterval (its scrape interval), rounded to whole seconds here (Grafana rounds to a
// "nice" interval; at the test's sizes it is the minimum either way); $__rate_interval =
// max($__interval + scrape interval, 4 x scrape interval).
function grafanaIntervals({ rangeMs, maxDataPoints = 1000, scrapeSeconds }) {
  const intervalS = Math.max(Math.ceil(rangeMs / maxDataPoints / 1000), scrapeSeconds);
  const rateS = Math.max(intervalS + scrapeSeconds, 4 * scrapeSeconds);
  const rangeS = Math.max(1, Math.round(rangeMs / 1000));
  return {
    __interval: `${intervalS}s`, __interval_ms: String(intervalS * 1000),
    __rate_interval: `${rateS}s`, __range: `${rangeS}s`, __range_s: String(rangeS),
    __range_ms: String(rangeS * 1000),
  };
}

// Substitutes $var, ${var}, ${var:format}, [[var]] and [[var:format]]. `vars` maps a name to
// {values: [...], all: bool, allValue, multi/includeAll} (a dashboard variable) or to a
// string (a built-in such as __rate_interval). Unknown names stay as written, so a caller
// can assert that nothing is left.
function substitute(expr, vars) {
  return expr.replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g, (m, a, fa, b, fb, c) => {
    const name = a || b || c;
    const fmt = fa || fb;
    if (!(name in vars)) return m;
    const v = vars[name];
    if (typeof v === 'string') return v;
    if (v.all && v.allValue !== undefined && v.allValue !== null) return v.allValue;
    const escape = fmt === 'raw' ? (x) => x : (v.multi || v.includeAll ? regexEscape : regularEscape);
    const vals = v.values.map(escape);
    return vals.length === 1 ? vals[0] : `(${vals.join('|')})`;
  });
}

// ---- what an expression reads ----------------------------------------------------------
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or',
  'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);

// The metric names an expression selects (not functions, keywords, labels or durations).
function metricNames(expr) {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');                       // label matchers
  s = s.replace(/\[[^\]]*\]/g, ' ');                      // ranges and subqueries
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set();
  const re = /(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(\s*\()?/g;
  let m;
  while ((m = re.exec(s))) {
    if (m[2]) continue;                                   // a function call
    if (KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}

// Splits an alert expression at its top-level `and`/`or`/`unless`, then each part at its
// first top-level comparison, and returns the left sides: the quantities the alert
// compares with its thresholds. Each must return data on a healthy tailgate, even though
// the alert itself (rightly) returns nothing.
function comparedQuantities(expr) {
  const parts = [];
  let depth = 0; let start = 0; let cut = -1; let q = null;
  const flush = (end) => {
    parts.push(expr.slice(start, cut >= 0 ? cut : end).trim());
    cut = -1;
  };
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (q) { if (ch === '\\') i++; else if (ch === q) q = null; continue; }
    if (ch === '"' || ch === "'" || ch === '`') { q = ch; continue; }
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    if (depth !== 0) continue;
    const rest = expr.slice(i);
    const kw = /^\s(and|or|unless)\s/.exec(rest);
    if (kw) { flush(i); start = i + kw[0].length; i = start - 1; continue; }
    if (cut < 0 && /^(==|!=|>=|<=|>|<)/.test(rest) && !/^=~/.test(rest)) cut = i;
  }
  flush(expr.length);
  return parts.filter(Boolean);
}

// ---- a real Prometheus -------------------------------------------------------------------
function promGet(port, urlPath, params) {
  const qs = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `${urlPath}${qs ? `?${qs}` : ''}`, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try { resolve({ status: res.statusCode, json: JSON.parse(text) }); } catch { resolve({ status: res.statusCode, text }); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// Starts `prometheus` with the given scrape jobs ({job: 'host:port'}), rule files and
// intervals; returns {port, query, queryRange, api, stop}. Throws if it exits early.
async function startPrometheus({ jobs, ruleFiles = [], scrapeSeconds = 1, bin = 'prometheus', extraArgs = [] }) {
  const [port] = await freePorts(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-prom-'));
  const cfg = [
    'global:',
    `  scrape_interval: ${scrapeSeconds}s`,
    `  scrape_timeout: ${scrapeSeconds}s`,
    `  evaluation_interval: ${scrapeSeconds}s`,
    'rule_files:',
    ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
    'scrape_configs:',
    ...Object.entries(jobs).flatMap(([job, target]) => [
      `  - job_name: ${JSON.stringify(job)}`,
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
    ]),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `${cfg}\n`);
  const proc = spawn(bin, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (c) => { log = (log + c).slice(-8000); });
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r(code ?? sig)));
  const api = async (p, params) => {
    const r = await promGet(port, p, params);
    if (!r.json || r.json.status !== 'success') {
      const e = new Error(`prometheus ${p} ${JSON.stringify(params)}: ${r.status} ${r.text || JSON.stringify(r.json)}`);
      throw e;
    }
    return r.json.data;
  };
  const stop = async () => {
    try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(t);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return {
    port, proc, exited, log: () => log, api, stop,
    query: (q, time) => api('/api/v1/query', time ? { query: q, time: String(time) } : { query: q }),
    queryRange: (q, start, end, step) => api('/api/v1/query_range', { query: q, start: String(start), end: String(end), step: String(step) }),
  };
}

module.exports = { regexEscape, regularEscape, grafanaIntervals, substitute, metricNames, comparedQuantities, startPrometheus, promGet };
