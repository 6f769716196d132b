import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

/**
 * docker-compose.yml and the Dockerfile, checked as files (no Docker engine needed). Each check returns the
 * problems it finds; the real files must have none, and every check is also run against a copy broken on purpose,
 * so a check that could never fail would show up here.
 */

const ROOT = join(__dirname, '..');

type Service = {
  image?: string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  networks?: string[] | Record<string, unknown>;
  ports?: unknown[];
  volumes?: (string | { target?: string })[];
};
type Compose = {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
};

const SECRETS = ['JWT_SECRET', 'BILLING_WEBHOOK_SECRET', 'GENERATOR_WEBHOOK_SECRET'];
/** `${NAME:?message}`: compose refuses to start when NAME is unset or empty. */
const required = (name: string): RegExp => new RegExp(`\\$\\{${name}:\\?[^}]+\\}`);
const onlyRequired = (name: string): RegExp => new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`);

function env(service: Service | undefined): Record<string, string> {
  const raw = service?.environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((entry) => [entry.split('=')[0], entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function words(value: string | string[] | undefined): string[] {
  if (value === undefined) {
    return [];
  }
  return Array.isArray(value) ? value.map(String) : value.split(/\s+/).filter(Boolean);
}

const networksOf = (s: Service | undefined): string[] =>
  Array.isArray(s?.networks) ? s.networks : Object.keys(s?.networks ?? {});

/** The value after `flag` in a command, in `--flag value` form. */
function flagValue(command: string[], flag: string): string | undefined {
  const i = command.indexOf(flag);
  return i >= 0 ? command[i + 1] : undefined;
}

/** Every variable name the config classes read: the UPPER_CASE properties of src/config/*.ts. */
function configVariables(): Set<string> {
  const dir = join(ROOT, 'src/config');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(
      /^ {2}([A-Z][A-Z0-9_]*)\??\s*[:=]/gm,
    )) {
      names.add(match[1]);
    }
  }
  return names;
}

const COMPOSE_CHECKS: Record<string, (c: Compose) => string[]> = {
  'redis runs a 7.x image': (c) =>
    /^redis:7(\.\d+)*(-[\w.]+)?$/.test(c.services.redis?.image ?? '') ? [] : ['redis image'],

  'redis requires the password from the environment, 512mb, allkeys-lru': (c) => {
    const command = words(c.services.redis?.command);
    return [
      ...(onlyRequired('REDIS_PASSWORD').test(flagValue(command, '--requirepass') ?? '')
        ? []
        : ['requirepass']),
      ...(flagValue(command, '--maxmemory') === '512mb' ? [] : ['maxmemory']),
      ...(flagValue(command, '--maxmemory-policy') === 'allkeys-lru' ? [] : ['maxmemory-policy']),
    ];
  },

  'postgres and redis publish no port': (c) =>
    ['postgres', 'redis'].filter((name) => (c.services[name]?.ports ?? []).length > 0),

  'only the app publishes a port': (c) =>
    Object.entries(c.services)
      .filter(([name, s]) => name !== 'app' && (s.ports ?? []).length > 0)
      .map(([name]) => name)
      .concat((c.services.app?.ports ?? []).length === 1 ? [] : ['app ports']),

  'postgres has a pg_isready healthcheck': (c) => {
    const h = c.services.postgres?.healthcheck;
    return !h?.disable && words(h?.test).join(' ').includes('pg_isready') ? [] : ['postgres healthcheck'];
  },

  'redis has an authenticated redis-cli healthcheck': (c) => {
    const h = c.services.redis?.healthcheck;
    const test = words(h?.test).join(' ');
    const authenticated =
      /(^|\s)(-a|--pass|--user)\s/.test(test) ||
      required('REDIS_PASSWORD').test(env(c.services.redis).REDISCLI_AUTH ?? '');
    return !h?.disable && /redis-cli\b.*\bping\b/.test(test) && authenticated ? [] : ['redis healthcheck'];
  },

  'the app waits for healthy postgres and redis': (c) => {
    const deps = c.services.app?.depends_on;
    const conditions: Record<string, { condition?: string }> = Array.isArray(deps) ? {} : (deps ?? {});
    return ['postgres', 'redis'].filter((name) => conditions[name]?.condition !== 'service_healthy');
  },

  'postgres and redis are only on internal networks; the app is on an internal and a public one': (c) => {
    const internal = (name: string): boolean => c.networks?.[name]?.internal === true;
    const problems = ['postgres', 'redis'].flatMap((name) => {
      const nets = networksOf(c.services[name]);
      // No networks listed means the default network, which reaches the outside.
      return nets.length === 0 || !nets.every(internal) ? [`${name} networks`] : [];
    });
    const app = networksOf(c.services.app);
    if (!app.some(internal) || !app.some((n) => !internal(n))) {
      problems.push('app networks');
    }
    const shared = ['postgres', 'redis'].every((name) =>
      networksOf(c.services[name]).some((n) => app.includes(n)),
    );
    return shared ? problems : [...problems, 'app shares no network with postgres and redis'];
  },

  'secrets are required references, never literals': (c) => {
    const app = env(c.services.app);
    return [
      ...SECRETS.filter((name) => !onlyRequired(name).test(app[name] ?? '')),
      ...(onlyRequired('POSTGRES_PASSWORD').test(env(c.services.postgres).POSTGRES_PASSWORD ?? '')
        ? []
        : ['POSTGRES_PASSWORD']),
      ...(required('POSTGRES_PASSWORD').test(app.DATABASE_URL ?? '') ? [] : ['DATABASE_URL password']),
      ...(required('REDIS_PASSWORD').test(app.REDIS_URL ?? '') ? [] : ['REDIS_URL password']),
    ];
  },

  'the app environment names only variables the config classes read': (c) => {
    const known = configVariables();
    return Object.keys(env(c.services.app)).filter((name) => !known.has(name));
  },

  'the app runs in production, migrates, reaches both services, stores uploads on a volume': (c) => {
    const app = env(c.services.app);
    const targets = (c.services.app?.volumes ?? []).map((v) =>
      typeof v === 'string' ? v.split(':')[1] : v.target,
    );
    return [
      ...(app.NODE_ENV === 'production' ? [] : ['NODE_ENV']),
      ...(app.DB_MIGRATE === 'true' ? [] : ['DB_MIGRATE']),
      ...(/^postgres(ql)?:\/\/.+@postgres:5432\//.test(app.DATABASE_URL ?? '') ? [] : ['DATABASE_URL host']),
      ...(/^redis:\/\/.*@redis:6379$/.test(app.REDIS_URL ?? '') ? [] : ['REDIS_URL host']),
      ...(app.STORAGE_LOCAL_DIR && targets.includes(app.STORAGE_LOCAL_DIR)
        ? []
        : ['STORAGE_LOCAL_DIR volume']),
    ];
  },
};

/** Dockerfile instructions, continuation lines joined, comments and the parser directive dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

function stages(text: string): { from: string; body: { op: string; args: string }[] }[] {
  const out: { from: string; body: { op: string; args: string }[] }[] = [];
  for (const i of instructions(text)) {
    if (i.op === 'FROM') {
      out.push({ from: i.args, body: [] });
    } else {
      out.at(-1)?.body.push(i);
    }
  }
  return out;
}

const DOCKERFILE_CHECKS: Record<string, (text: string) => string[]> = {
  'multi-stage': (t) => (stages(t).length >= 2 ? [] : ['fewer than 2 FROM']),

  'every stage is on Node 20 or newer': (t) =>
    stages(t)
      .map((s) => s.from)
      .filter((from) => {
        const major = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)/.exec(from)?.[1];
        return !major || Number(major) < 20;
      }),

  'installs with npm ci and ships production dependencies only': (t) => {
    const all = stages(t);
    const runs = all.flatMap((s) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args));
    const runtimeRuns = (all.at(-1)?.body ?? []).filter((i) => i.op === 'RUN').map((i) => i.args);
    return [
      ...(runs.some((r) => /\bnpm ci\b/.test(r)) ? [] : ['npm ci']),
      ...(runs.some((r) => /\bnpm prune\b.*--omit=dev/.test(r)) ||
      runtimeRuns.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))
        ? []
        : ['dev dependencies not dropped']),
    ];
  },

  'the runtime stage runs as a non-root user': (t) => {
    const user = (stages(t).at(-1)?.body ?? []).filter((i) => i.op === 'USER').at(-1)?.args;
    return user && !/^(root|0)(:|$)/.test(user) ? [] : [`USER ${user ?? 'missing'}`];
  },

  'the runtime stage sets NODE_ENV=production': (t) => {
    const envs = (stages(t).at(-1)?.body ?? []).filter((i) => i.op === 'ENV').map((i) => i.args);
    return envs.some((e) => /(^|\s)NODE_ENV[= ]"?production"?(\s|$)/.test(e)) ? [] : ['NODE_ENV'];
  },

  'the runtime stage exposes 3000 and starts dist/main.js as npm run start:prod does': (t) => {
    const body = stages(t).at(-1)?.body ?? [];
    const cmd = body.filter((i) => i.op === 'CMD').at(-1)?.args ?? '';
    // Same node flags (the young-generation size the load benchmark measured with) in the image and in npm.
    const startProd = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:prod'];
    const exec = (() => {
      try {
        return JSON.stringify(JSON.parse(cmd));
      } catch {
        return cmd;
      }
    })();
    return [
      ...(body.some((i) => i.op === 'EXPOSE' && /\b3000\b/.test(i.args)) ? [] : ['EXPOSE 3000']),
      ...(/dist\/main\.js"\]$/.test(exec) && exec === JSON.stringify(startProd.split(' ')) ? [] : [`CMD ${cmd} vs start:prod ${startProd}`]),
    ];
  },
};

/** Every .ts file under `dir`, unit specs left out (they are not compiled into dist). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/**
 * The packages compiled code loads, with the first file that loads each: the bare specifiers of `import … from`,
 * `import '…'`, `export … from`, `require()` and `import()`. Type-only imports are erased by the compiler, so
 * they do not count (`typeof import('…')` does, to err on the safe side).
 */
function importedPackages(source: { file: string; text: string }[]): Map<string, string> {
  const specifier =
    /(?:^|[\n;])\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g;
  const packages = new Map<string, string>();
  for (const { file, text } of source) {
    for (const match of text.matchAll(specifier)) {
      const name = match[1] ?? match[2];
      if (name.startsWith('.') || name.startsWith('node:') || builtinModules.includes(name.split('/')[0])) {
        continue;
      }
      const pkg = name.split('/').slice(0, name.startsWith('@') ? 2 : 1).join('/');
      if (!packages.has(pkg)) {
        packages.set(pkg, file);
      }
    }
  }
  return packages;
}

type PackageJson = { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };

/**
 * The image keeps `dependencies` only (`npm prune --omit=dev`): a package the compiled code loads that is a dev
 * dependency passes every test here and stops the container at boot with "Cannot find module".
 */
const shippedWithoutDependency = (pkg: PackageJson, imports: Map<string, string>): string[] =>
  [...imports]
    .filter(([name]) => !pkg.dependencies?.[name])
    .map(([name, file]) => `${name} (imported by ${file}) is ${pkg.devDependencies?.[name] ? 'a dev dependency' : 'not a dependency'}`);

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

const broken = (mutate: (c: Compose) => void): Compose => {
  const copy = structuredClone(compose);
  mutate(copy);
  return copy;
};
const replaced = (from: RegExp, to: string): string => {
  expect(dockerfile).toMatch(from);
  return dockerfile.replace(from, to);
};

describe('docker-compose.yml', () => {
  it.each(Object.keys(COMPOSE_CHECKS))('%s', (name) => {
    expect(COMPOSE_CHECKS[name](compose)).toEqual([]);
  });

  it('supplies, as required references, every secret a production boot refuses to default', () => {
    const secrets = new Set<string>();
    for (const file of readdirSync(join(ROOT, 'src/config')).filter((f) => f.endsWith('.config.ts'))) {
      for (const match of readFileSync(join(ROOT, 'src/config', file), 'utf8').matchAll(/refuseDefaultSecret\(\s*'([A-Z0-9_]+)'/g)) {
        secrets.add(match[1]);
      }
    }
    expect(secrets.size).toBeGreaterThanOrEqual(4);
    const app = env(compose.services.app);
    const missing = [...secrets].filter((name) => !/^\$\{[A-Z0-9_]+:\?/.test(app[name] ?? ''));
    expect(missing).toEqual([]);
  });

  it('reads config variable names from the config classes', () => {
    const names = configVariables();
    for (const name of [
      'DATABASE_URL',
      'JWT_SECRET',
      'REDIS_URL',
      'CDN_BASE_URL',
      'STORAGE_LOCAL_DIR',
      'NODE_ENV',
    ]) {
      expect(names).toContain(name);
    }
  });

  const MUTATIONS: [string, string, (c: Compose) => void][] = [
    ['redis 6', 'redis runs a 7.x image', (c) => (c.services.redis.image = 'redis:6.2-alpine')],
    ['redis latest', 'redis runs a 7.x image', (c) => (c.services.redis.image = 'redis:latest')],
    [
      'a literal Redis password',
      'redis requires the password from the environment, 512mb, allkeys-lru',
      (c) =>
        (c.services.redis.command =
          'redis-server --requirepass hunter2 --maxmemory 512mb --maxmemory-policy allkeys-lru'),
    ],
    [
      'no maxmemory',
      'redis requires the password from the environment, 512mb, allkeys-lru',
      (c) =>
        (c.services.redis.command = words(c.services.redis.command).map((w) => (w === '512mb' ? '1gb' : w))),
    ],
    [
      'another eviction policy',
      'redis requires the password from the environment, 512mb, allkeys-lru',
      (c) =>
        (c.services.redis.command = words(c.services.redis.command).map((w) =>
          w === 'allkeys-lru' ? 'noeviction' : w,
        )),
    ],
    [
      'a published Redis port',
      'postgres and redis publish no port',
      (c) => (c.services.redis.ports = ['6379:6379']),
    ],
    [
      'a published PostgreSQL port',
      'only the app publishes a port',
      (c) => (c.services.postgres.ports = ['5432:5432']),
    ],
    ['no app port', 'only the app publishes a port', (c) => delete c.services.app.ports],
    [
      'no postgres healthcheck',
      'postgres has a pg_isready healthcheck',
      (c) => delete c.services.postgres.healthcheck,
    ],
    [
      'an unauthenticated redis healthcheck',
      'redis has an authenticated redis-cli healthcheck',
      (c) => (c.services.redis.environment = {}),
    ],
    [
      'a disabled redis healthcheck',
      'redis has an authenticated redis-cli healthcheck',
      (c) => (c.services.redis.healthcheck = { disable: true }),
    ],
    [
      'depends_on without a condition',
      'the app waits for healthy postgres and redis',
      (c) => (c.services.app.depends_on = ['postgres', 'redis']),
    ],
    [
      'redis started, not healthy',
      'the app waits for healthy postgres and redis',
      (c) =>
        ((c.services.app.depends_on as Record<string, { condition: string }>).redis.condition =
          'service_started'),
    ],
    [
      'an internal network that is not internal',
      'postgres and redis are only on internal networks; the app is on an internal and a public one',
      (c) => (c.networks!.internal = {}),
    ],
    [
      'redis on the public network',
      'postgres and redis are only on internal networks; the app is on an internal and a public one',
      (c) => (c.services.redis.networks = ['internal', 'public']),
    ],
    [
      'postgres on the default network',
      'postgres and redis are only on internal networks; the app is on an internal and a public one',
      (c) => delete c.services.postgres.networks,
    ],
    [
      'the app only on the internal network',
      'postgres and redis are only on internal networks; the app is on an internal and a public one',
      (c) => (c.services.app.networks = ['internal']),
    ],
    [
      'a default for JWT_SECRET',
      'secrets are required references, never literals',
      (c) =>
        ((c.services.app.environment as Record<string, string>).JWT_SECRET =
          '${JWT_SECRET:-change-me-change-me-change-me-1234}'),
    ],
    [
      'a literal webhook secret',
      'secrets are required references, never literals',
      (c) => ((c.services.app.environment as Record<string, string>).BILLING_WEBHOOK_SECRET = 'x'.repeat(40)),
    ],
    [
      'an optional database password',
      'secrets are required references, never literals',
      (c) =>
        ((c.services.app.environment as Record<string, string>).DATABASE_URL =
          'postgres://cards:${POSTGRES_PASSWORD}@postgres:5432/cards'),
    ],
    [
      'a misspelt variable',
      'the app environment names only variables the config classes read',
      (c) => ((c.services.app.environment as Record<string, string>).JWT_SECERT = 'x'),
    ],
    [
      'uploads outside the volume',
      'the app runs in production, migrates, reaches both services, stores uploads on a volume',
      (c) => ((c.services.app.environment as Record<string, string>).STORAGE_LOCAL_DIR = '/app/uploads'),
    ],
    [
      'no migrations at boot',
      'the app runs in production, migrates, reaches both services, stores uploads on a volume',
      (c) => delete (c.services.app.environment as Record<string, string>).DB_MIGRATE,
    ],
  ];

  it.each(MUTATIONS)('catches %s', (_what, check, mutate) => {
    expect(COMPOSE_CHECKS[check](compose)).toEqual([]);
    expect(COMPOSE_CHECKS[check](broken(mutate))).not.toEqual([]);
  });
});

describe('Dockerfile', () => {
  it.each(Object.keys(DOCKERFILE_CHECKS))('%s', (name) => {
    expect(DOCKERFILE_CHECKS[name](dockerfile)).toEqual([]);
  });

  const MUTATIONS: [string, string, () => string][] = [
    ['a single stage', 'multi-stage', () => replaced(/FROM node:\S+ AS runtime\n/, '')],
    [
      'Node 18',
      'every stage is on Node 20 or newer',
      () => replaced(/FROM node:\S+ AS runtime/, 'FROM node:18-slim AS runtime'),
    ],
    [
      'a non-node base',
      'every stage is on Node 20 or newer',
      () => replaced(/FROM node:\S+ AS build/, 'FROM debian:bookworm AS build'),
    ],
    [
      'npm install',
      'installs with npm ci and ships production dependencies only',
      () => replaced(/npm ci\b/, 'npm install'),
    ],
    [
      'no prune',
      'installs with npm ci and ships production dependencies only',
      () => replaced(/ && npm prune --omit=dev/, ''),
    ],
    ['no USER', 'the runtime stage runs as a non-root user', () => replaced(/\nUSER node\n/, '\n')],
    [
      'USER root',
      'the runtime stage runs as a non-root user',
      () => replaced(/\nUSER node\n/, '\nUSER root\n'),
    ],
    [
      'no NODE_ENV',
      'the runtime stage sets NODE_ENV=production',
      () => replaced(/NODE_ENV=production/, 'NODE_ENV=development'),
    ],
    [
      'another port',
      'the runtime stage exposes 3000 and starts dist/main.js as npm run start:prod does',
      () => replaced(/EXPOSE 3000/, 'EXPOSE 8080'),
    ],
    [
      'a CMD without the node flags of start:prod',
      'the runtime stage exposes 3000 and starts dist/main.js as npm run start:prod does',
      () => replaced(/CMD \["node", "--max-semi-space-size=\d+", "dist\/main\.js"\]/, 'CMD ["node", "dist/main.js"]'),
    ],
  ];

  it.each(MUTATIONS)('catches %s', (_what, check, mutate) => {
    expect(DOCKERFILE_CHECKS[check](mutate())).not.toEqual([]);
  });
});

describe('production dependencies', () => {
  const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const source = sourceFiles(join(ROOT, 'src')).map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }));
  const imports = importedPackages(source);

  it('every package that src/ loads at run time is in dependencies, which the image keeps', () => {
    // Sanity: the scan finds the packages the service is built on, in each form it reads.
    expect([...imports.keys()]).toEqual(expect.arrayContaining(['@nestjs/core', 'ioredis', 'cluster-key-slot', '@electric-sql/pglite']));
    expect(shippedWithoutDependency(packageJson, imports)).toEqual([]);
  });

  it('catches a run-time import of a dev dependency, in every import form', () => {
    const dev: PackageJson = { ...packageJson, devDependencies: { ...packageJson.devDependencies, 'left-pad': '1.0.0' } };
    for (const line of [
      "import { leftPad } from 'left-pad';",
      "import {\n  leftPad,\n} from 'left-pad/dist';",
      "import 'left-pad';",
      "export * from 'left-pad';",
      "const pad = require('left-pad');",
      "const pad = await import('left-pad');",
    ]) {
      expect(shippedWithoutDependency(dev, importedPackages([{ file: 'src/x.ts', text: line }]))).toEqual([
        'left-pad (imported by src/x.ts) is a dev dependency',
      ]);
    }
    // Erased by the compiler: no run-time load.
    expect(importedPackages([{ file: 'src/x.ts', text: "import type { Pad } from 'left-pad';" }]).size).toBe(0);
  });

  // test/shutdown.e2e-spec.ts boots the built app under this preload, so the image's missing modules show there.
  it('the preload that runs the built app as the image would refuses dev dependencies, and only them', () => {
    const load = (pkg: string) =>
      spawnSync(process.execPath, ['--require', './test/support/production-modules.js', '-e', `require('${pkg}')`], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const dev = load('fast-check');
    expect(dev.status).not.toBe(0);
    expect(dev.stderr).toContain('production-modules: fast-check (required by [eval]) is a dev dependency');
    const shipped = load('ioredis');
    expect(shipped.stderr).toBe('');
    expect(shipped.status).toBe(0);
  });
});
