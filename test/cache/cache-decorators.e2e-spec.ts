import { Controller, Get, Injectable, Logger, Module, Scope, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  Cacheable,
  CacheableBatch,
  CacheEvict,
  cacheKey,
  CachePut,
  CacheService,
  RedisCacheModule,
} from '../../src/cache';
import { OwnRedis, scanKeys } from '../support/redis-server';
import { eventually } from '../support/timing';

interface Item {
  id: string;
  name: string;
}

/** Stands in for a repository: counts every read it serves. */
class FakeDb {
  rows = new Map<string, Item>();
  reads = 0;
}

const ROLE = 'test:role';
class AllowAll {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class ItemsService {
  constructor(readonly db: FakeDb) {}

  @Cacheable({ namespace: 'items', scope: 'public', key: (id: string) => [id], ttl: '1m', tags: (item: Item | null) => (item ? [`item:${item.id}`] : []) })
  @SetMetadata(ROLE, 'reader')
  @UseGuards(AllowAll)
  async get(id: string): Promise<Item | null> {
    this.db.reads++;
    return this.db.rows.get(id) ?? null;
  }

  @Cacheable({ namespace: 'my-items', scope: 'viewer', viewer: (viewerId: string) => viewerId, key: (_viewerId: string) => ['list'], ttl: '1m' })
  async mine(viewerId: string): Promise<string[]> {
    this.db.reads++;
    return [...this.db.rows.values()].filter((i) => i.name.startsWith(viewerId)).map((i) => i.id);
  }

  @Cacheable({ namespace: 'cond-items', scope: 'public', key: (id: string) => [id], condition: (id: string) => id !== 'never', unless: (r: string) => r === 'skip' })
  async conditional(id: string): Promise<string> {
    this.db.reads++;
    return id === 'skip-me' ? 'skip' : id;
  }

  @Cacheable({ namespace: 'odd-values', scope: 'public', key: (kind: string) => [kind], ttl: '1m' })
  async odd(kind: string): Promise<unknown> {
    this.db.reads++;
    class UserDto {
      name = 'alice';
      passwordHash = '$argon2id$secret';
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const values: Record<string, unknown> = { date: { at: new Date(0) }, instance: new UserDto(), bigint: { n: 10n }, bytes: { data: new Uint8Array([1]) }, cycle: cyclic };
    return values[kind];
  }

  @CacheEvict({ keys: (_r: Item | undefined, id: string) => [cacheKey('items', id)] })
  async rename(id: string, name: string): Promise<Item> {
    const item = { id, name };
    this.db.rows.set(id, item);
    return item;
  }

  @CacheEvict({ tags: (_r: void | undefined, id: string) => [`item:${id}`], beforeInvocation: true })
  async failingWrite(id: string): Promise<void> {
    this.db.rows.set(id, { id, name: 'half-written' });
    throw new Error('write failed after changing the row');
  }

  @CachePut({ namespace: 'items', scope: 'public', key: (item: Item) => [item.id], ttl: '1m', unless: (item: Item) => item.name === 'draft' })
  async create(id: string, name: string): Promise<Item> {
    const item = { id, name };
    this.db.rows.set(id, item);
    return item;
  }

  @CacheableBatch({ namespace: 'batch-items', scope: 'public', key: (id: string) => [id], ttl: '1m', tags: (_item: Item | null, id: string) => [`item:${id}`] })
  async many(ids: readonly string[]): Promise<(Item | null)[]> {
    this.db.reads += ids.length;
    return ids.map((id) => this.db.rows.get(id) ?? null);
  }

  @CacheableBatch({ namespace: 'batch-by-id', scope: 'public', key: (id: string) => [id], ttl: '1m', argTags: (id: string) => [`item:${id}`] })
  async manyById(ids: readonly string[]): Promise<(Item | null)[]> {
    return this.many(ids);
  }
}


describe('cache decorators in a Nest application', () => {
  let redis: OwnRedis;
  let service: ItemsService;
  let cache: CacheService;
  let db: FakeDb;
  let close: () => Promise<void>;
  const warnings: string[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    const moduleRef = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ prefix: 'deco', redis: { url: redis.url } })],
      providers: [ItemsService, { provide: FakeDb, useValue: new FakeDb() }],
    }).compile();
    await moduleRef.init();
    service = moduleRef.get(ItemsService);
    cache = moduleRef.get(CacheService);
    db = moduleRef.get(FakeDb);
    close = () => moduleRef.close();
  });
  afterAll(async () => {
    await close();
    await redis.stop();
    jest.restoreAllMocks();
  });
  beforeEach(() => {
    db.rows.clear();
    db.reads = 0;
  });

  it('caches a read by its arguments: the second call does not reach the database', async () => {
    db.rows.set('1', { id: '1', name: 'one' });
    expect(await service.get('1')).toEqual({ id: '1', name: 'one' });
    expect(await service.get('1')).toEqual({ id: '1', name: 'one' });
    expect(db.reads).toBe(1);
    expect(await service.get('2')).toBeNull();
    expect(db.reads).toBe(2);
  });

  it('evicts after a write, so the next read is fresh', async () => {
    await service.rename('a', 'before');
    expect(await service.get('a')).toMatchObject({ name: 'before' });
    await service.rename('a', 'after');
    expect(await service.get('a')).toMatchObject({ name: 'after' });
    expect(db.reads).toBe(2);
  });

  it('evicts before invocation even when the method throws', async () => {
    db.rows.set('b', { id: 'b', name: 'original' });
    expect(await service.get('b')).toMatchObject({ name: 'original' });
    await expect(service.failingWrite('b')).rejects.toThrow('write failed');
    expect(await service.get('b')).toMatchObject({ name: 'half-written' });
  });

  it('a put whose result is not cached (unless) still removes what the key held', async () => {
    await service.create('d', 'published');
    expect(await service.get('d')).toEqual({ id: 'd', name: 'published' });
    await service.create('d', 'draft');
    const reads = db.reads;
    expect(await service.get('d')).toEqual({ id: 'd', name: 'draft' });
    expect(db.reads).toBe(reads + 1);
  });

  it('puts the result of a write, so the next read is a hit', async () => {
    await service.create('c', 'created');
    expect(await service.get('c')).toEqual({ id: 'c', name: 'created' });
    expect(db.reads).toBe(0);
  });

  it('keys viewer-scoped entries by the viewer: one viewer never gets another’s answer', async () => {
    db.rows.set('x1', { id: 'x1', name: 'alice-1' });
    db.rows.set('x2', { id: 'x2', name: 'bob-1' });
    expect(await service.mine('alice')).toEqual(['x1']);
    expect(await service.mine('bob')).toEqual(['x2']);
    expect(await service.mine('alice')).toEqual(['x1']);
    expect(db.reads).toBe(2);
    await expect(service.mine('')).rejects.toThrow(/without a viewer id/);
    // Callers typed `any` (a request's user) can hand over an object: never one key for every such viewer.
    const reads = db.reads;
    await expect(service.mine({ id: 'alice' } as unknown as string)).rejects.toThrow(/must be a string or a number, not object/);
    await expect(service.mine({ id: 'bob' } as unknown as string)).rejects.toThrow(/must be a string or a number/);
    expect(db.reads).toBe(reads);
  });

  it('honours condition and unless', async () => {
    await service.conditional('never');
    await service.conditional('never');
    await service.conditional('skip-me');
    await service.conditional('skip-me');
    await service.conditional('ok');
    await service.conditional('ok');
    expect(db.reads).toBe(5);
  });

  it('loads only the ids a batch is missing, and stores each under its own key', async () => {
    ['p', 'q', 'r', 's'].forEach((id) => db.rows.set(id, { id, name: id }));
    expect(await service.many(['p', 'q'])).toEqual([{ id: 'p', name: 'p' }, { id: 'q', name: 'q' }]);
    expect(db.reads).toBe(2);
    expect(await service.many(['p', 'q', 'r', 's'])).toEqual(['p', 'q', 'r', 's'].map((id) => ({ id, name: id })));
    expect(db.reads).toBe(4);
    expect(await cache.get(cacheKey('batch-items', 's'))).toEqual({ id: 's', name: 's' });
    // Each item carries the tags of its own id: invalidating one reaches that item's entry, and only it.
    db.rows.set('q', { id: 'q', name: 'renamed' });
    await cache.invalidateTags(['item:q']);
    expect(await service.many(['p', 'q'])).toEqual([{ id: 'p', name: 'p' }, { id: 'q', name: 'renamed' }]);
    expect(db.reads).toBe(5);
  });

  it('concurrent batch calls that miss the same ids reach the database once per id', async () => {
    ['v', 'w', 'x'].forEach((id) => db.rows.set(id, { id, name: id }));
    const results = await Promise.all([service.many(['v', 'w']), service.many(['w', 'x']), service.many(['x', 'v', 'w'])]);
    expect(results.map((items) => items.map((item) => item?.name))).toEqual([['v', 'w'], ['w', 'x'], ['x', 'v', 'w']]);
    expect(db.reads).toBe(3);
  });

  it('gives a batch item the tags of its id before the load (argTags), so they are stamped before it', async () => {
    ['t', 'u'].forEach((id) => db.rows.set(id, { id, name: id }));
    const getMany = jest.spyOn(cache, 'getMany');
    try {
      expect(await service.manyById(['t', 'u'])).toEqual([{ id: 't', name: 't' }, { id: 'u', name: 'u' }]);
      const [, , , items] = getMany.mock.calls[0];
      expect([items?.tagsBefore?.(0), items?.tagsBefore?.(1), items?.tags]).toEqual([['item:t'], ['item:u'], undefined]);
    } finally {
      getMany.mockRestore();
    }
    db.rows.set('u', { id: 'u', name: 'renamed' });
    await cache.invalidateTags(['item:u']);
    const reads = db.reads;
    expect(await service.manyById(['t', 'u'])).toEqual([{ id: 't', name: 't' }, { id: 'u', name: 'renamed' }]);
    expect(db.reads - reads).toBe(1);
  });

  it('keeps the method’s name and metadata (route, guards) on the wrapper', () => {
    const reflector = new Reflector();
    expect(service.get).not.toBe(ItemsService.prototype.get);
    expect(service.get.name).toBe('get');
    expect(reflector.get(ROLE, service.get)).toBe('reader');
    expect(Reflect.getMetadata('__guards__', service.get)).toEqual([AllowAll]);
  });

  it('does not cache a value that would come back from Redis as another value, and still answers the call', async () => {
    // A miss or an L1 hit would hand back the loader's object, a read from Redis JSON.parse of it: a Date as a
    // string, a class instance as a plain object (with the fields class-transformer would have hidden).
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const plain = redis.client();
    for (const kind of ['date', 'instance', 'bigint', 'bytes', 'cycle']) {
      const reads = db.reads;
      const first = await service.odd(kind);
      const second = await service.odd(kind);
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      expect(db.reads).toBe(reads + 2);
      expect(await scanKeys(plain, `*:odd-values:*`)).toEqual([]);
    }
    await plain.quit();
    expect(cache.metrics.refusals.get('odd-values|date')).toBe(2);
    expect(cache.metrics.refusals.get('odd-values|class')).toBe(2);
    expect(errors.mock.calls.some(([m]) => /Not cached: a odd-values value holds Date at value\.at/.test(String(m)))).toBe(true);
    expect(errors.mock.calls.some(([m]) => /secret/.test(String(m)))).toBe(false);
    errors.mockRestore();
  });
});

describe('cache decorators: mistakes stop the boot with a clear message', () => {
  const boot = async (providers: unknown[], controllers: unknown[] = []) => {
    @Module({ providers: providers as never[], controllers: controllers as never[] })
    class FixtureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ prefix: 'deco', redis: null }), FixtureModule],
    }).compile();
    try {
      await moduleRef.init();
    } finally {
      await moduleRef.close();
    }
  };

  it('refuses decorators on request-scoped and transient providers: their own instances would skip evictions', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class RequestScopedService {
      @CacheEvict({ namespace: 'rs' })
      async write(): Promise<void> {}
    }
    await expect(boot([RequestScopedService])).rejects.toThrow(/RequestScopedService.write: cache decorators need a singleton provider, and RequestScopedService is request-scoped/);
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {}
    @Injectable()
    class ImplicitlyScoped {
      constructor(readonly perRequest: PerRequest) {}
      @Cacheable({ namespace: 'implicit', scope: 'public', key: () => [] })
      async value(): Promise<number> {
        return 1;
      }
    }
    await expect(boot([PerRequest, ImplicitlyScoped])).rejects.toThrow(/ImplicitlyScoped is request-scoped \(itself, or through a provider it injects\)/);
    @Injectable({ scope: Scope.TRANSIENT })
    class TransientService {
      @Cacheable({ namespace: 'tr', scope: 'public', key: () => [] })
      async value(): Promise<number> {
        return 1;
      }
    }
    await expect(boot([TransientService])).rejects.toThrow(/TransientService is transient/);
  });

  it('refuses a lease on a batch: it would be a lease per id, and a batch coordinates its loads within one instance', async () => {
    @Injectable()
    class LeasedBatch {
      @CacheableBatch({ namespace: 'leased', scope: 'public', key: (id: string) => [id], lease: true } as never)
      async many(ids: readonly string[]): Promise<string[]> {
        return [...ids];
      }
    }
    await expect(boot([LeasedBatch])).rejects.toThrow(/LeasedBatch.many: @CacheableBatch does not take lease/);
  });

  it('refuses one namespace read by two classes: each would answer the other\'s calls', async () => {
    abstract class BaseRepo {
      @Cacheable({ namespace: 'base', scope: 'public', key: (id: string) => [id] })
      async find(id: string): Promise<string> {
        return `${this.constructor.name}:${id}`;
      }
    }
    @Injectable()
    class RepoA extends BaseRepo {}
    @Injectable()
    class RepoB extends BaseRepo {}
    await expect(boot([RepoA, RepoB])).rejects.toThrow(/RepoB.find: cache namespace "base" is already used by RepoA.find/);
    // One class may read and put one namespace through several methods.
    @Injectable()
    class OneOwner {
      @Cacheable({ namespace: 'owned', scope: 'public', key: (id: string) => [id] })
      async get(id: string): Promise<string> {
        return id;
      }
      @CachePut({ namespace: 'owned', scope: 'public', key: (value: string) => [value] })
      async put(id: string): Promise<string> {
        return id;
      }
    }
    await expect(boot([OneOwner])).resolves.toBeUndefined();
  });

  it('refuses two storing decorators on one method when the class is defined', () => {
    expect(() => {
      class Twice {
        @Cacheable({ namespace: 'twice-a', scope: 'public', key: () => [] })
        @Cacheable({ namespace: 'twice-b', scope: 'public', key: () => [] })
        async value(): Promise<number> {
          return 1;
        }
      }
      return Twice;
    }).toThrow(/Twice.value: @Cacheable on a method that already has @Cacheable, @CachePut or @CacheableBatch/);
  });

  it('refuses a decorated method that is not async', async () => {
    @Injectable()
    class SyncService {
      // @ts-expect-error -- the decorator only accepts methods returning a Promise
      @Cacheable({ namespace: 'sync', scope: 'public', key: () => [] })
      value(): number {
        return 1;
      }
    }
    await expect(boot([SyncService])).rejects.toThrow('SyncService.value: cache decorators need an async method');
  });

  it('refuses a decorated method that returns a promise without being async', async () => {
    @Injectable()
    class PromiseService {
      @Cacheable({ namespace: 'sync', scope: 'public', key: () => [] })
      value(): Promise<number> {
        return Promise.resolve(1);
      }
    }
    await expect(boot([PromiseService])).rejects.toThrow(/declare it "async"/);
  });

  it('refuses decorators on controller handlers (routes are bound before wrapping)', async () => {
    @Controller('x')
    class XController {
      @Get()
      @Cacheable({ namespace: 'ctl', scope: 'public', key: () => [] })
      async get(): Promise<number> {
        return 1;
      }
    }
    await expect(boot([], [XController])).rejects.toThrow(/XController.get: cache decorators belong on service methods/);
  });

  it('refuses a viewer-scoped policy without a viewer (the types refuse it too)', async () => {
    @Injectable()
    class NoViewerService {
      // @ts-expect-error -- scope 'viewer' requires viewer
      @Cacheable({ namespace: 'v', scope: 'viewer', key: () => [] })
      async value(): Promise<number> {
        return 1;
      }
    }
    await expect(boot([NoViewerService])).rejects.toThrow(/scope 'viewer' needs viewer/);
  });

  it('checks key functions against the method signature at compile time', () => {
    @Injectable()
    class Typed {
      // @ts-expect-error -- key takes a number, the method takes a string
      @Cacheable({ namespace: 't', scope: 'public', key: (id: number) => [id] })
      async value(id: string): Promise<string> {
        return id;
      }
    }
    expect(Typed).toBeDefined();
  });
});

describe('cache decorators with caching disabled on one instance (CACHE_ENABLED=false)', () => {
  let redis: OwnRedis;
  const db = new FakeDb();
  const closers: (() => Promise<void>)[] = [];
  const instance = async (enabled: boolean) => {
    const moduleRef = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ prefix: 'off', enabled, redis: { url: redis.url } })],
      providers: [ItemsService, { provide: FakeDb, useValue: db }],
    }).compile();
    await moduleRef.init();
    closers.push(() => moduleRef.close());
    return { service: moduleRef.get(ItemsService), cache: moduleRef.get(CacheService) };
  };

  beforeAll(async () => {
    redis = await OwnRedis.start();
  });
  afterAll(async () => {
    for (const close of closers) {
      await close();
    }
    await redis.stop();
  });

  it('reads nothing from the cache and keeps nothing, but its writes still reach the instances that cache', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const on = await instance(true);
    const off = await instance(false);
    db.rows.set('a', { id: 'a', name: 'before' });
    expect(await on.service.get('a')).toEqual({ id: 'a', name: 'before' });
    db.reads = 0;
    expect(await off.service.get('a')).toEqual({ id: 'a', name: 'before' });
    expect(await off.service.get('a')).toEqual({ id: 'a', name: 'before' });
    expect(db.reads).toBe(2);
    expect(await off.cache.getOrSet(cacheKey('items', 'a'), () => Promise.resolve('loaded'))).toBe('loaded');
    expect(await off.cache.get(cacheKey('items', 'a'))).toBeUndefined();
    expect(off.cache.status().l1Entries).toBe(0);

    // A write on the disabled instance: the caching one must not go on serving what it changed.
    await off.service.rename('a', 'after');
    await eventually(async () => (await on.service.get('a'))?.name === 'after');
    await off.service.create('a', 'put');
    await eventually(async () => (await on.service.get('a'))?.name === 'put');
    jest.restoreAllMocks();
  });
});

