// Every kustomization under deploy/kubernetes/ (any folder with a kustomization.yaml):
// rendered with kustomize semantics by Debian's kubectl (kubernetes-client, `kubectl
// kustomize`; scripts/install-deps.sh unpacks it into build-tools/), each object validated
// against the Kubernetes OpenAPI schemas compiled in the npm package kubernetes-models
// (types, required fields, enums), and then checked against tailgate itself:
//  - each workload's tailgate config (the ConfigMap key its --config names) passes
//    `tailgate validate`, with the container's environment (Secret values stand in);
//  - startup/liveness probes GET /health/live and readiness probes GET /health/ready on the
//    container port of the config's health_check endpoint;
//  - prometheus.io/scrape|port|path annotations point at the config's telemetry metrics
//    address; app.kubernetes.io/name and /instance label every object and pod;
//  - every receiver (and remote-sampling, metrics) port of the config is a container port
//    with the right protocol (UDP for Thrift compact/binary) and a port of a Service that
//    selects the pods;
//  - non-root, read-only root filesystem, no privilege escalation, requests and limits;
//  - a config with pseudonymisation reads its key_env from a Secret;
//  - Services, PodDisruptionBudgets and HorizontalPodAutoscalers select or target a
//    workload of the same render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const KROOT = path.join(ROOT, 'deploy', 'kubernetes');
const BIN = process.env.TAILGATE_BIN ? path.resolve(process.env.TAILGATE_BIN) : path.join(ROOT, 'build', 'tailgate');
const KUBECTL = process.env.TG_KUBECTL || path.join(ROOT, 'build-tools', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const SECRET_STANDIN = 'stand-in-secret-value-0123456789abcdef-0123456789';

function kustomizations(dir) {
  const out = [];
  if (fs.existsSync(path.join(dir, 'kustomization.yaml'))) out.push(dir);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...kustomizations(path.join(dir, e.name)));
  }
  return out;
}

function render(dir) {
  const r = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
}

async function modelFor(apiVersion, kind) {
  const mod = await import(`kubernetes-models/${apiVersion}`);
  assert.ok(mod[kind], `kubernetes-models has ${apiVersion} ${kind}`);
  return mod[kind];
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const portOf = (endpoint) => Number(String(endpoint).split(':').pop());
const subset = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels?.[k] === v);

// ${env:NAME:-default} and ${env:NAME} the way tailgate expands them
function expand(text, env) {
  return text.replace(/\$\{env:(\w+)(?::-([^}]*))?\}/g, (m, name, def) => env[name] ?? def ?? '');
}

function containerEnv(c) {
  const env = {};
  for (const e of c.env || []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = SECRET_STANDIN;
  }
  return env;
}

// The config a tailgate container runs: the ConfigMap key behind its --config path.
function configOf(objects, pod, c) {
  const args = [...(c.command || []), ...(c.args || [])];
  const i = args.indexOf('--config');
  assert.ok(i >= 0 && args[i + 1], `${c.name}: --config given`);
  const file = args[i + 1];
  const mount = (c.volumeMounts || []).find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  assert.ok(mount, `${c.name}: ${file} is on a volume mount`);
  const vol = pod.volumes.find((v) => v.name === mount.name);
  assert.ok(vol?.configMap, `${c.name}: ${file} comes from a ConfigMap`);
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap.name);
  assert.ok(cm, `ConfigMap ${vol.configMap.name} is in the render`);
  const key = file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
  assert.ok(cm.data?.[key], `ConfigMap ${cm.metadata.name} has key ${key}`);
  return cm.data[key];
}

function containerPort(c, ref) {
  const p = (c.ports || []).find((x) => x.name === ref || x.containerPort === ref);
  assert.ok(p, `${c.name}: port ${ref} declared`);
  return p;
}

// every listener of a tailgate config: [{what, port, protocol}]
function listeners(conf) {
  const out = [];
  for (const [rname, r] of Object.entries(conf.receivers || {})) {
    for (const [pname, p] of Object.entries(r?.protocols || {})) {
      if (!p?.endpoint) continue;
      const udp = /^thrift_(compact|binary)$/.test(pname) || /udp/i.test(pname);
      out.push({ what: `receiver ${rname}/${pname}`, port: portOf(p.endpoint), protocol: udp ? 'UDP' : 'TCP' });
    }
    if (r?.endpoint) out.push({ what: `receiver ${rname}`, port: portOf(r.endpoint), protocol: 'TCP' });
  }
  const jrs = conf.extensions?.jaegerremotesampling?.http?.endpoint;
  if (jrs) out.push({ what: 'jaegerremotesampling http', port: portOf(jrs), protocol: 'TCP' });
  const metrics = conf.service?.telemetry?.metrics?.address;
  if (metrics) out.push({ what: 'self-metrics', port: portOf(metrics), protocol: 'TCP' });
  return out;
}

const dirs = kustomizations(KROOT);

test('kubectl kustomize is Debian\'s and there is something to render', () => {
  assert.ok(fs.existsSync(KUBECTL), `${KUBECTL} (scripts/install-deps.sh --test unpacks Debian's kubernetes-client)`);
  assert.ok(dirs.includes(path.join(KROOT, 'base')), 'deploy/kubernetes/base is a kustomization');
});

// Every check of one rendered kustomization; throws an AssertionError on the first failure.
async function checkObjects(objects) {
    assert.ok(objects.length > 0);
    for (const o of objects) {
      const Model = await modelFor(o.apiVersion, o.kind);
      assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata?.name}`);
      assert.ok(o.metadata.labels?.['app.kubernetes.io/name'], `${o.kind}/${o.metadata.name}: app.kubernetes.io/name`);
      assert.ok(o.metadata.labels?.['app.kubernetes.io/instance'], `${o.kind}/${o.metadata.name}: app.kubernetes.io/instance`);
    }
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    assert.ok(workloads.length > 0, 'at least one workload');
    for (const w of workloads) {
      const name = `${w.kind}/${w.metadata.name}`;
      const podLabels = w.spec.template.metadata.labels;
      assert.ok(subset(w.spec.selector.matchLabels, podLabels), `${name}: selector matches its pods`);
      assert.ok(podLabels['app.kubernetes.io/name'] && podLabels['app.kubernetes.io/instance'], `${name}: pod labels`);
      const pod = w.spec.template.spec;
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
      const tgs = pod.containers.filter((c) => [...(c.args || []), ...(c.command || [])].includes('--config'));
      assert.ok(tgs.length > 0, `${name}: runs tailgate`);
      for (const c of tgs) {
        const cname = `${name} ${c.name}`;
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${cname}: read-only root`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${cname}: no privilege escalation`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${cname}: capabilities dropped`);
        for (const k of ['requests', 'limits']) {
          assert.ok(c.resources?.[k]?.cpu && c.resources?.[k]?.memory, `${cname}: resources.${k} cpu and memory`);
        }
        const env = containerEnv(c);
        const text = expand(configOf(objects, pod, c), env);
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-k8s-'));
        const file = path.join(tmp, 'tailgate.yaml');
        fs.writeFileSync(file, text);
        const v = spawnSync(BIN, ['validate', file], { encoding: 'utf8', env: { ...process.env, ...env } });
        fs.rmSync(tmp, { recursive: true, force: true });
        assert.equal(v.status, 0, `${cname}: tailgate validate: ${v.stdout}${v.stderr}`);
        const conf = YAML.parse(text);
        // probes on the health_check endpoint
        const healthPort = portOf(conf.extensions?.health_check?.endpoint ?? '0.0.0.0:13133');
        assert.ok(conf.service.extensions.includes('health_check'), `${cname}: health_check enabled`);
        for (const [probe, want] of [['startupProbe', '/health/live'], ['livenessProbe', '/health/live'], ['readinessProbe', '/health/ready']]) {
          const p = c[probe];
          assert.ok(p?.httpGet, `${cname}: ${probe} over HTTP`);
          assert.equal(p.httpGet.path, want, `${cname}: ${probe} path`);
          assert.equal(containerPort(c, p.httpGet.port).containerPort, healthPort, `${cname}: ${probe} on the health_check port`);
        }
        // scrape annotations on the self-metrics address
        const ann = w.spec.template.metadata.annotations || {};
        assert.equal(ann['prometheus.io/scrape'], 'true', `${name}: prometheus.io/scrape`);
        assert.equal(Number(ann['prometheus.io/port']), portOf(conf.service.telemetry.metrics.address), `${name}: prometheus.io/port`);
        assert.equal(ann['prometheus.io/path'], '/metrics', `${name}: prometheus.io/path`);
        // pseudonymisation key from a Secret
        const keyEnv = conf.processors && Object.values(conf.processors).map((p) => p?.pseudonymize?.key_env).find(Boolean);
        if (keyEnv) {
          const e = (c.env || []).find((x) => x.name === keyEnv);
          assert.ok(e?.valueFrom?.secretKeyRef?.name && e.valueFrom.secretKeyRef.key, `${cname}: ${keyEnv} from a Secret`);
        }
        // every listener: a container port and a Service port selecting these pods
        const services = objects.filter((o) => o.kind === 'Service' && subset(o.spec.selector, podLabels) && o.spec.selector);
        for (const l of listeners(conf)) {
          const cp = (c.ports || []).find((p) => p.containerPort === l.port);
          assert.ok(cp, `${cname}: ${l.what} port ${l.port} declared`);
          assert.equal(cp.protocol || 'TCP', l.protocol, `${cname}: ${l.what} protocol`);
          const exposed = services.some((s) => s.spec.ports.some((sp) =>
            (sp.protocol || 'TCP') === l.protocol &&
            (sp.targetPort === cp.name || sp.targetPort === l.port || (sp.targetPort === undefined && sp.port === l.port))));
          assert.ok(exposed, `${cname}: ${l.what} (${l.port}/${l.protocol}) exposed by a Service`);
        }
      }
    }
    for (const s of objects.filter((o) => o.kind === 'Service' && o.spec.selector)) {
      assert.ok(workloads.some((w) => subset(s.spec.selector, w.spec.template.metadata.labels)), `Service/${s.metadata.name} selects a workload`);
    }
    for (const p of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      assert.ok(p.spec.selector?.matchLabels, `PodDisruptionBudget/${p.metadata.name} has a selector`);
      assert.ok(workloads.some((w) => subset(p.spec.selector.matchLabels, w.spec.template.metadata.labels)), `PodDisruptionBudget/${p.metadata.name} selects a workload`);
    }
    for (const h of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
      const ref = h.spec.scaleTargetRef;
      assert.ok(workloads.some((w) => w.kind === ref.kind && w.metadata.name === ref.name), `HorizontalPodAutoscaler/${h.metadata.name} targets ${ref.kind}/${ref.name} of this render`);
    }
}

for (const dir of dirs) {
  const rel = path.relative(ROOT, dir);
  test(`${rel}: renders, validates against the Kubernetes schemas, matches tailgate`, async () => {
    await checkObjects(render(dir));
  });
}

test('base: the objects the issue lists', () => {
  const objects = render(path.join(KROOT, 'base'));
  const kinds = objects.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  const svc = objects.find((o) => o.kind === 'Service');
  assert.deepEqual(svc.spec.ports.map((p) => `${p.port}/${p.protocol}`).sort(),
    ['13133/TCP', '14250/TCP', '14268/TCP', '4317/TCP', '4318/TCP', '5778/TCP', '6831/UDP', '6832/UDP', '8888/TCP', '8889/TCP']
      .filter((p) => p !== '13133/TCP').sort());
  const dep = objects.find((o) => o.kind === 'Deployment');
  assert.match(dep.spec.template.spec.volumes.find((v) => v.configMap).configMap.name, /^tailgate-config-[a-z0-9]+$/, 'hash-suffixed ConfigMap');
});

test('the checks catch broken manifests', async () => {
  const base = render(path.join(KROOT, 'base'));
  const mutate = (fn) => { const o = structuredClone(base); fn(o); return o; };
  const dep = (o) => o.find((x) => x.kind === 'Deployment');
  const c0 = (o) => dep(o).spec.template.spec.containers[0];
  const cases = [
    [(o) => { c0(o).ports[0].containerPort = '4317'; }, /containerPort must be integer/],
    [(o) => { c0(o).readinessProbe.httpGet.port = 'metrics'; }, /readinessProbe on the health_check port/],
    [(o) => { c0(o).livenessProbe.httpGet.path = '/health/ready'; }, /livenessProbe path/],
    [(o) => { dep(o).spec.template.metadata.annotations['prometheus.io/port'] = '8889'; }, /prometheus\.io\/port/],
    [(o) => { o.find((x) => x.kind === 'Service').spec.ports = o.find((x) => x.kind === 'Service').spec.ports.filter((p) => p.port !== 6831); }, /thrift_compact \(6831\/UDP\) exposed by a Service/],
    [(o) => { c0(o).env = c0(o).env.filter((e) => e.name !== 'TAILGATE_PSEUDONYM_KEY'); }, /tailgate validate|from a Secret/],
    [(o) => { c0(o).securityContext.readOnlyRootFilesystem = false; }, /read-only root/],
    [(o) => { const cm = o.find((x) => x.kind === 'ConfigMap'); cm.data['tailgate.yaml'] = cm.data['tailgate.yaml'].replace('decision_wait: 10s', 'decision_wait: soon'); }, /tailgate validate/],
    [(o) => { o.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'other'; }, /targets Deployment\/other/],
    [(o) => { o.find((x) => x.kind === 'PodDisruptionBudget').spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'; }, /PodDisruptionBudget\/tailgate selects a workload/],
  ];
  await checkObjects(base);
  for (const [fn, re] of cases) await assert.rejects(checkObjects(mutate(fn)), re);
});
