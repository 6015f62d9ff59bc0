// The files docker-compose.yaml mounts, and the monitoring package around them:
//  - `docker-compose config` resolves; every bind-mounted file or folder of the repo exists;
//  - each passes its own checker: `tailgate validate` (tailgate config), `promtool check
//    config` (the Prometheus config, with its rule_files mapped through the compose mounts),
//    `promtool check rules` + `promtool test rules`, `amtool check-config` and amtool's
//    routing for each severity;
//  - Alertmanager itself (Debian's prometheus-alertmanager, on a free port) inhibits the
//    per-service alerts and the same instance's gateway alerts while TailgateDown fires;
//  - files without an offline checker (Grafana provisioning and dashboards, Loki, promtail)
//    are parsed and the keys that wire the stack together asserted against compose;
//  - every alert's runbook_url anchor is a heading of docs/OPERATIONS.md;
//  - the demo service (deploy/compose/demo.py) sends traces tailgate accepts and counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const require = createRequire(import.meta.url);
const { freePorts } = require('../interop/lib/ports.js');
const { BIN, httpGet, waitFor } = require('../interop/lib/gateway.js');
const { defaultListenerEnv } = require('../interop/lib/default_env.js');

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, ...opts });
const readYaml = (rel) => YAML.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));

function compose() {
  const r = run('docker-compose', ['-f', 'docker-compose.yaml', 'config']);
  assert.equal(r.status, 0, r.stderr);
  return YAML.parse(r.stdout);
}
// [{service, source (repo-relative), target}] for bind mounts inside the repo
function mounts(c) {
  const out = [];
  for (const [name, svc] of Object.entries(c.services)) {
    for (const v of svc.volumes || []) {
      const source = typeof v === 'string' ? v.split(':')[0] : v.source;
      const target = typeof v === 'string' ? v.split(':')[1] : v.target;
      if (!source || !path.resolve(ROOT, source).startsWith(`${ROOT}/`)) continue;
      out.push({ service: name, source: path.relative(ROOT, path.resolve(ROOT, source)), target });
    }
  }
  return out;
}

test('docker-compose config resolves and every mounted file exists', () => {
  const c = compose();
  for (const s of ['tailgate', 'demo', 'jaeger', 'prometheus', 'alertmanager', 'grafana', 'loki', 'promtail']) {
    assert.ok(c.services[s], `service ${s}`);
  }
  const m = mounts(c);
  assert.ok(m.length >= 9, JSON.stringify(m));
  for (const { source } of m) assert.ok(fs.existsSync(path.join(ROOT, source)), `${source} exists`);
  assert.ok(c.services.prometheus.command.includes('--enable-feature=exemplar-storage'));
  assert.equal(c.services.jaeger.environment.METRICS_STORAGE_TYPE, 'prometheus');
});

test('each mounted file passes its own checker', () => {
  const m = mounts(compose());
  const src = (target) => m.find((x) => x.target === target)?.source;
  // tailgate
  // with the environment compose gives the container (a variable set empty is not unset)
  const composeEnv = compose().services.tailgate.environment || {};
  const v = run(BIN, ['validate', src('/etc/tailgate/tailgate.yaml')], { env: { PATH: process.env.PATH, ...composeEnv } });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  // Prometheus: rule_files through the mounts, then promtool check config
  const prom = readYaml(src('/etc/prometheus/prometheus.yml'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-files-'));
  prom.rule_files = prom.rule_files.map((f) => {
    const mt = m.find((x) => x.service === 'prometheus' && f.startsWith(`${x.target}/`));
    assert.ok(mt, `rule file ${f} is mounted`);
    return path.join(ROOT, mt.source, f.slice(mt.target.length + 1));
  });
  fs.writeFileSync(path.join(tmp, 'prometheus.yml'), YAML.stringify(prom));
  const pc = run('promtool', ['check', 'config', path.join(tmp, 'prometheus.yml')]);
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.equal(pc.status, 0, pc.stdout + pc.stderr);
  assert.match(pc.stdout, /SUCCESS: 12 rules found/);
  assert.match(pc.stdout, /SUCCESS: 8 rules found/);
  assert.deepEqual(prom.scrape_configs.map((s) => s.job_name).sort(), ['tailgate', 'tailgate-spanmetrics'],
    'the alert rules expect job="tailgate"');
  assert.deepEqual(prom.alerting.alertmanagers[0].static_configs[0].targets, ['alertmanager:9093']);
  // rules
  const rulesDir = src('/etc/prometheus/rules');
  const files = fs.readdirSync(path.join(ROOT, rulesDir)).filter((f) => f.endsWith('.yml')).map((f) => path.join(rulesDir, f));
  const cr = run('promtool', ['check', 'rules', ...files]);
  assert.equal(cr.status, 0, cr.stdout + cr.stderr);
  const tr = run('promtool', ['test', 'rules', 'monitoring/prometheus/tests/tailgate-alerts.test.yml']);
  assert.equal(tr.status, 0, tr.stdout + tr.stderr);
  // Alertmanager
  const amFile = src('/etc/alertmanager/alertmanager.yml');
  const ac = run('amtool', ['check-config', amFile]);
  assert.equal(ac.status, 0, ac.stdout + ac.stderr);
  for (const [labels, receiver] of [[['severity=critical', 'alertname=TailgateDown'], 'oncall-pager'],
    [['severity=warning', 'alertname=TailgateExporterQueueHigh'], 'team-tickets'], [['alertname=Other'], 'team-tickets']]) {
    const rt = run('amtool', ['config', 'routes', 'test', `--config.file=${amFile}`, ...labels]);
    assert.equal(rt.stdout.trim(), receiver, `${labels} -> ${receiver}: ${rt.stderr}`);
  }
});

test('every alert has summary, description, severity and a runbook in docs/OPERATIONS.md', () => {
  const ops = fs.readFileSync(path.join(ROOT, 'docs', 'OPERATIONS.md'), 'utf8');
  // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens
  const anchors = new Set(ops.split('\n').filter((l) => /^#+ /.test(l))
    .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
  const groups = readYaml('monitoring/prometheus/rules/tailgate-alerts.yml').groups;
  const alerts = groups.flatMap((g) => g.rules);
  assert.equal(alerts.length, 12);
  for (const a of alerts) {
    assert.ok(a.annotations.summary && a.annotations.description, a.alert);
    assert.ok(['critical', 'warning'].includes(a.labels.severity), `${a.alert} severity`);
    assert.ok(['gateway', 'service'].includes(a.labels.scope), `${a.alert} scope`);
    const anchor = a.annotations.runbook_url.split('#')[1];
    assert.match(a.annotations.runbook_url, /\/docs\/OPERATIONS\.md#/);
    assert.equal(anchor, a.alert.toLowerCase(), `${a.alert}: anchor named after the alert`);
    assert.ok(anchors.has(anchor), `${a.alert}: docs/OPERATIONS.md has a heading for #${anchor}`);
  }
});

test('Alertmanager inhibits per-service and same-instance alerts while TailgateDown fires', { timeout: 30000 }, async (t) => {
  const [port, cport] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-am-'));
  const am = spawn('prometheus-alertmanager', [`--config.file=${path.join(ROOT, 'monitoring/alertmanager/alertmanager.yml')}`,
    `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, `--cluster.listen-address=`, '--log.level=warn'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  am.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((r) => am.on('exit', r));
  t.after(async () => { try { process.kill(am.pid, 'SIGTERM'); } catch { /* gone */ } await exited; fs.rmSync(dir, { recursive: true, force: true }); });
  void cport;
  await waitFor(async () => (await httpGet(port, '/-/ready', 500)).status === 200, { timeoutMs: 10000, what: `alertmanager ready ${log}` });
  const alert = (labels) => ({ labels, annotations: { summary: 's' }, startsAt: new Date().toISOString() });
  const alerts = [
    alert({ alertname: 'TailgateDown', severity: 'critical', scope: 'gateway', instance: 'tg-a:8888', job: 'tailgate' }),
    alert({ alertname: 'TailgateServiceHighErrorRatio', severity: 'warning', scope: 'service', service_name: 'checkout' }),
    alert({ alertname: 'TailgateExporterQueueHigh', severity: 'warning', scope: 'gateway', instance: 'tg-a:8888', exporter: 'jaeger' }),
    alert({ alertname: 'TailgateExporterQueueHigh', severity: 'warning', scope: 'gateway', instance: 'tg-b:8888', exporter: 'jaeger' }),
  ];
  const body = JSON.stringify(alerts);
  const post = await fetch(`http://127.0.0.1:${port}/api/v2/alerts`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal(post.status, 200, await post.text());
  const state = await waitFor(async () => {
    const got = await (await fetch(`http://127.0.0.1:${port}/api/v2/alerts`)).json();
    return got.length === 4 ? got : null;
  }, { timeoutMs: 10000, what: 'four alerts in Alertmanager' });
  const inhibited = Object.fromEntries(state.map((a) => [`${a.labels.alertname}/${a.labels.instance || a.labels.service_name}`,
    a.status.inhibitedBy.length > 0]));
  assert.deepEqual(inhibited, {
    'TailgateDown/tg-a:8888': false,
    'TailgateServiceHighErrorRatio/checkout': true,
    'TailgateExporterQueueHigh/tg-a:8888': true,
    'TailgateExporterQueueHigh/tg-b:8888': false,
  });
});

test('Grafana provisioning, dashboards, Loki and promtail wire the stack together', () => {
  const c = compose();
  const m = mounts(c);
  const gsrc = (target) => m.find((x) => x.service === 'grafana' && x.target === target)?.source;
  const prov = gsrc('/etc/grafana/provisioning');
  const dashDir = gsrc('/var/lib/grafana/dashboards');
  assert.ok(prov && dashDir, 'grafana mounts provisioning and dashboards');
  const ds = readYaml(path.join(prov, 'datasources', 'tailgate.yml'));
  assert.equal(ds.apiVersion, 1);
  const byUid = Object.fromEntries(ds.datasources.map((d) => [d.uid, d]));
  assert.deepEqual(Object.keys(byUid).sort(), ['jaeger', 'loki', 'prometheus']);
  const expectTypes = { prometheus: 'prometheus', jaeger: 'jaeger', loki: 'loki' };
  const servicePorts = { prometheus: 9090, jaeger: 16686, loki: 3100 };
  for (const [uid, d] of Object.entries(byUid)) {
    assert.equal(d.type, expectTypes[uid]);
    const u = new URL(d.url);
    assert.ok(c.services[u.hostname], `${uid} points at compose service ${u.hostname}`);
    assert.equal(Number(u.port), servicePorts[uid], `${uid} port`);
  }
  assert.equal(byUid.prometheus.jsonData.exemplarTraceIdDestinations[0].name, 'trace_id');
  assert.equal(byUid.prometheus.jsonData.exemplarTraceIdDestinations[0].datasourceUid, 'jaeger');
  assert.equal(byUid.loki.jsonData.derivedFields[0].datasourceUid, 'jaeger');
  assert.equal(new RegExp(byUid.loki.jsonData.derivedFields[0].matcherRegex)
    .exec('{"level":"info","correlation_id":"0af7651916cd43dd8448eb211c80319c"}')[1], '0af7651916cd43dd8448eb211c80319c');
  const providers = readYaml(path.join(prov, 'dashboards', 'tailgate.yml'));
  assert.equal(providers.apiVersion, 1);
  assert.equal(providers.providers[0].type, 'file');
  assert.equal(providers.providers[0].options.path, '/var/lib/grafana/dashboards', 'the provider reads the mounted dashboards');
  // dashboards: what Grafana's file provisioning needs
  const uids = new Set();
  const files = fs.readdirSync(path.join(ROOT, dashDir)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 2);
  for (const f of files) {
    const d = JSON.parse(fs.readFileSync(path.join(ROOT, dashDir, f), 'utf8'));
    assert.ok(typeof d.uid === 'string' && d.uid.length > 0 && d.uid.length <= 40 && !uids.has(d.uid), `${f}: unique uid`);
    uids.add(d.uid);
    assert.ok(d.title, `${f}: title`);
    assert.ok(Number.isInteger(d.schemaVersion) && d.schemaVersion >= 36, `${f}: schemaVersion`);
    assert.equal(d.id ?? null, null, `${f}: no database id (provisioned dashboards get their own)`);
    const ids = new Set();
    for (const p of d.panels) {
      assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `${f} ${p.title}: unique panel id`);
      ids.add(p.id);
      assert.ok(p.type && p.title && p.gridPos, `${f} ${p.title}: type, title, gridPos`);
      if (p.type === 'row') continue;
      assert.ok(byUid[p.datasource?.uid], `${f} ${p.title}: datasource is provisioned`);
      assert.ok(p.targets.length > 0, `${f} ${p.title}: targets`);
      const refs = new Set();
      for (const tg of p.targets) {
        assert.ok(tg.expr && tg.refId && !refs.has(tg.refId), `${f} ${p.title}: expr and unique refId`);
        refs.add(tg.refId);
        assert.ok(byUid[tg.datasource?.uid], `${f} ${p.title}: target datasource`);
      }
    }
    for (const v of d.templating.list) assert.ok(byUid[v.datasource?.uid], `${f}: variable ${v.name} datasource`);
    const names = d.templating.list.map((v) => v.name);
    if (d.uid === 'tailgate-red') assert.deepEqual(names, ['instance', 'service', 'operation']);
  }
  // Loki and promtail
  const loki = readYaml(m.find((x) => x.service === 'loki').source);
  assert.equal(loki.auth_enabled, false);
  assert.equal(loki.server.http_listen_port, servicePorts.loki);
  assert.ok(loki.schema_config.configs.length > 0);
  const pt = readYaml(m.find((x) => x.service === 'promtail' && x.source.endsWith('.yml')).source);
  const push = new URL(pt.clients[0].url);
  assert.equal(push.hostname, 'loki');
  assert.equal(Number(push.port), loki.server.http_listen_port);
  assert.equal(push.pathname, '/loki/api/v1/push');
  const filter = pt.scrape_configs[0].docker_sd_configs[0].filters[0];
  assert.equal(filter.name, 'label');
  const [k, val] = filter.values[0].split('=');
  assert.equal(c.services.tailgate.labels[k], val, 'promtail ships the tailgate container');
  assert.ok(m.some((x) => x.service === 'promtail') && c.services.promtail.volumes.some((v) => (v.source || v).includes('docker.sock')));
  const json = pt.scrape_configs[0].pipeline_stages.find((s) => s.json).json.expressions;
  assert.deepEqual(Object.values(json).sort(), ['component', 'level', 'timestamp'], 'keys of tailgate\'s JSON log lines');
});

test('the demo service sends traces tailgate accepts and counts', { timeout: 30000 }, async (t) => {
  const { ports, env } = await defaultListenerEnv();
  env.TAILGATE_JAEGER_ENDPOINT = '127.0.0.1:9'; // nothing there: the exporter fails, the spans still count
  env.TAILGATE_PSEUDONYM_KEY = 'demo-test-key-0123456789abcdef0123456789';
  const gw = spawn(BIN, ['--config', path.join(ROOT, 'deploy/compose/tailgate.yaml')], { env, stdio: 'ignore' });
  const exited = new Promise((r) => gw.on('exit', r));
  t.after(async () => { try { process.kill(gw.pid, 'SIGKILL'); } catch { /* gone */ } await exited; });
  await waitFor(async () => (await httpGet(ports.health, '/health/live', 500)).status === 200, { timeoutMs: 10000, what: 'tailgate live' });
  const demo = spawnSync('/usr/bin/python3', [path.join(ROOT, 'deploy/compose/demo.py')], {
    encoding: 'utf8', timeout: 20000,
    env: { ...process.env, DEMO_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}/v1/traces`, DEMO_TRACES: '20', DEMO_INTERVAL: '0', DEMO_SEED: '7' },
  });
  assert.equal(demo.status, 0, demo.stderr);
  const lines = demo.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 20);
  assert.ok(lines.every((l) => !l.send_error), demo.stdout);
  const errors = lines.filter((l) => l.error).length;
  const body = await waitFor(async () => {
    const b = (await httpGet(ports.prometheus, '/metrics', 1000)).body.toString();
    const sum = b.split('\n').filter((l) => l.startsWith('traces_span_metrics_calls_total{'))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    return sum === 60 ? b : null;
  }, { timeoutMs: 10000, what: '60 spans (3 per trace) counted' });
  for (const svc of ['frontend', 'checkout', 'payments']) assert.match(body, new RegExp(`service_name="${svc}"`));
  const errLines = body.split('\n').filter((l) => l.startsWith('traces_span_metrics_calls_total{') && l.includes('STATUS_CODE_ERROR'));
  assert.equal(errLines.reduce((a, l) => a + Number(l.split(' ').pop()), 0), 3 * errors, 'error spans: 3 per failed trace');
});
