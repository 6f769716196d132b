import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import { watchShards } from './redis-clients';

/** Just what watchShards reads of an ioredis Cluster: its slot table, its status and its node events. */
class FakeCluster extends EventEmitter {
  status = 'ready';
  slots: string[][] = [];

  /** Slots 0–2, each `[master, ...replicas]`, then a refresh. */
  refresh(...slots: string[][]): void {
    this.slots = slots;
    this.emit('refresh');
  }

  /** A node connection, as ioredis announces it; returns a function that closes it. */
  connect(key: string): () => void {
    const [host, port] = key.split(':');
    const node = Object.assign(new EventEmitter(), { options: { host, port: Number(port) } });
    this.emit('+node', node);
    return () => node.emit('close');
  }
}

describe('watchShards', () => {
  let cluster: FakeCluster;
  let calls: (number | undefined)[];

  beforeEach(() => {
    cluster = new FakeCluster();
    calls = [];
    watchShards(cluster as unknown as Cluster, (at) => calls.push(at));
    cluster.refresh(['m1:1', 'r1:1'], ['m2:2', 'r2:2'], ['m3:3', 'r3:3']);
  });

  it('reports a slot taken over by its replica, with the time the old master connection closed', () => {
    const closeM2 = cluster.connect('m2:2');
    const before = performance.now();
    closeM2();
    cluster.refresh(['m1:1', 'r1:1'], ['m2:2', 'r2:2'], ['m3:3', 'r3:3']);
    expect(calls).toEqual([]);
    cluster.refresh(['m1:1', 'r1:1'], ['r2:2'], ['m3:3', 'r3:3']);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThanOrEqual(before);
    // Reported once: the next refresh with the same table says nothing.
    cluster.refresh(['m1:1', 'r1:1'], ['r2:2'], ['m3:3', 'r3:3']);
    expect(calls).toHaveLength(1);
  });

  it('reports a slot whose old master left the cluster, without a time if no master connection closed', () => {
    cluster.refresh(['m1:1', 'r1:1'], ['x:9'], ['m3:3', 'r3:3']);
    expect(calls).toEqual([undefined]);
  });

  it('does not report slots that migrate between masters that stay (resharding)', () => {
    cluster.refresh(['m1:1', 'r1:1'], ['m3:3', 'r3:3'], ['m3:3', 'r3:3']);
    expect(calls).toEqual([]);
  });

  it('takes no time from replica connections, nor from closes while the whole client is down', () => {
    const closeReplica = cluster.connect('r2:2');
    const closeM2 = cluster.connect('m2:2');
    closeReplica();
    cluster.status = 'reconnecting';
    closeM2();
    cluster.status = 'ready';
    cluster.refresh(['m1:1', 'r1:1'], ['r2:2'], ['m3:3', 'r3:3']);
    expect(calls).toEqual([undefined]);
  });
});
