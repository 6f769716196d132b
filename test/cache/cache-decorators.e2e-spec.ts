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
import { OwnRedis } from '../support/redis-server';

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

@Injectable({ scope: Scope.REQUEST })
class RequestScopedService {
  @Cacheable({ namespace: 'rs', scope: 'public', key: () => ['x'] })
  async value(): Promise<number> {
    return Math.random();
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
      providers: [ItemsService, RequestScopedService, { provide: FakeDb, useValue: new FakeDb() }],
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

  it('skips request-scoped providers with a warning', () => {
    expect(warnings.some((w) => /RequestScopedService is request-scoped/.test(w))).toBe(true);
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
