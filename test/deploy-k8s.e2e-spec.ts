import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { parseAllDocuments } from 'yaml';
import { AppConfig, configNamespaces, HealthConfig, MetricsConfig, StorageConfig } from '../src/config';
import { MetricsEndpoint } from '../src/metrics/metrics.endpoint';
import { bootTestApp, TestApp } from './support/test-app';

const K8S = resolve(__dirname, '../deploy/k8s');
const DASHBOARD = resolve(__dirname, '../deploy/grafana/cards-api.dashboard.json');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML */
interface Manifest {
  file: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: any;
}

function manifests(): Manifest[] {
  return readdirSync(K8S)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((doc) => {
        expect(doc.errors).toEqual([]);
        return { file, ...doc.toJS() } as Manifest;
      }),
    );
}

/** Runs every configuration namespace of the app against exactly this environment (nothing inherited). */
function loadConfig(env: Record<string, string>) {
  const saved = process.env;
  process.env = { ...env };
  try {
    return Object.fromEntries(
      configNamespaces.map((factory) => [
        String(factory.KEY).replace(/^CONFIGURATION\((.*)\)$/, '$1'),
        factory(),
      ]),
    );
  } finally {
    process.env = saved;
  }
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('Kubernetes manifests', () => {
  jest.setTimeout(30_000);
  const all = manifests();
  const one = (kind: string) => {
    const found = all.filter((m) => m.kind === kind);
    expect(found).toHaveLength(1);
    return found[0];
  };
  const deployment = one('Deployment');
  const configMap = one('ConfigMap');
  const secret = one('Secret');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const env: Record<string, string> = { ...configMap.data, ...secret.stringData };
  const config = loadConfig(env) as { app: AppConfig; metrics: MetricsConfig; health: HealthConfig; storage: StorageConfig };
  const containerPort = (name: string) =>
    container.ports.find((p: { name: string }) => p.name === name)?.containerPort as number;
  let t: TestApp;

  beforeAll(async () => {
    delete process.env.REDIS_URL;
    t = await bootTestApp({ METRICS_PORT: '0', HOST: '127.0.0.1' });
  });
  afterAll(async () => {
    await t.close();
    delete process.env.METRICS_PORT;
  });

  it('ship every object the issue asks for, and kustomize applies all of them but the Secret example', () => {
    for (const kind of [
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ConfigMap',
      'Secret',
    ]) {
      expect(all.some((m) => m.kind === kind)).toBe(true);
    }
    const kustomization = all.find((m) => m.kind === 'Kustomization')!;
    const applied = all.filter((m) => !['Kustomization', 'Secret'].includes(m.kind)).map((m) => m.file);
    expect([...kustomization.resources].sort()).toEqual([...new Set(applied)].sort());
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });

  it('the ConfigMap and the example Secret pass the app validation, in production mode', () => {
    expect(env.NODE_ENV).toBe('production');
    expect(config.app.production).toBe(true);
    expect(config.metrics.exposure).toBe('own-port');
    // The CDN in front serves the uploads volume, never the pods (pvc.yaml).
    expect(config.storage.serveLocal).toBe(false);
    const envFrom = container.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(envFrom).toEqual([configMap.metadata.name, secret.metadata.name]);
    // The example holds placeholders, never a value that looks real.
    for (const value of Object.values(secret.stringData as Record<string, string>)) {
      expect(value).toContain('CHANGE-ME');
    }
  });

  it('ports match the configuration: http = PORT, metrics = METRICS_PORT and the scrape annotations', () => {
    expect(containerPort('http')).toBe(config.app.port);
    expect(containerPort('metrics')).toBe(config.metrics.port);
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(config.metrics.port),
      'prometheus.io/path': '/metrics',
    });
  });

  it('probes point at the app routes on the http port: live for startup and liveness, ready for readiness', async () => {
    const probes = {
      startupProbe: '/health/live',
      livenessProbe: '/health/live',
      readinessProbe: '/health/ready',
    };
    for (const [probe, path] of Object.entries(probes)) {
      const spec = container[probe];
      expect(spec.httpGet).toEqual({ path, port: 'http' });
      expect(spec.timeoutSeconds).toBe(1);
      const res = await t.http.get(spec.httpGet.path);
      expect(res.status).toBe(200);
    }
    // The scrape path answers on the metrics listener, and only there.
    const metricsPort = t.app.get(MetricsEndpoint).port;
    await request(`http://127.0.0.1:${metricsPort}`)
      .get(pod.metadata.annotations['prometheus.io/path'])
      .expect(200);
    await t.http.get('/metrics').expect(404);
  });

  it('the grace period outlasts the drain and the close; non-root, read-only root, writable mounts where written', () => {
    // Drain, then at most SHUTDOWN_CLOSE_MS for requests in flight, then a few seconds for Redis and PostgreSQL.
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      config.health.drainMs + config.health.closeMs + 5_000,
    );
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
    expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    const mounts = container.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/tmp', env.STORAGE_LOCAL_DIR]));
    const claim = pod.spec.volumes.find((v: any) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
    expect(one('PersistentVolumeClaim')).toMatchObject({
      metadata: { name: claim },
      spec: { accessModes: ['ReadWriteMany'] },
    });
  });

  it('the Service, the autoscaler and the disruption budget all target the Deployment pods', () => {
    const labels = pod.metadata.labels as Record<string, string>;
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
    const service = one('Service');
    expect(matches(service.spec.selector, labels)).toBe(true);
    expect(service.spec.ports).toEqual([expect.objectContaining({ targetPort: 'http' })]);
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    // Every replica the HPA may start must get its connections from a default PostgreSQL (max_connections 100,
    // 3 kept for superusers): each holds DB_POOL_SIZE plus one for the readiness probe.
    expect(hpa.spec.maxReplicas * (Number(env.DB_POOL_SIZE) + 1)).toBeLessThanOrEqual(97);
    const pdb = one('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('the Grafana dashboard queries only metrics the app exports', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(
      exprs
        .flatMap((expr) => expr.match(/\b(?:cache|http|redis)_[a-z0-9_]+/g) ?? [])
        .map((name) => name.replace(/_(bucket|sum|count)$/, '')),
    );
    const metricsPort = t.app.get(MetricsEndpoint).port;
    const text = (await request(`http://127.0.0.1:${metricsPort}`).get('/metrics').expect(200)).text;
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    // The list, all on the dashboard.
    for (const name of [
      'cache_gets_total',
      'http_request_duration_seconds',
      'cache_redis_up',
      'cache_breaker_state',
      'redis_memory_used_bytes',
    ]) {
      expect(used).toContain(name);
    }
    // Request panels leave out probes and scrapes: a pod that is not ready answers its readiness probe 503,
    // which is not an error any client saw.
    const requestSelectors = exprs.flatMap((expr) => [...expr.matchAll(/http_request_duration_seconds_\w+(\{[^}]*\})?/g)]);
    expect(requestSelectors.length).toBeGreaterThan(5);
    expect(requestSelectors.filter((m) => !m[1]?.includes('route!~"/health.*|/metrics"')).map((m) => m[0])).toEqual([]);
  });
});
