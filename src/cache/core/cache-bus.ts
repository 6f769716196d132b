import { dropConnection, isClusterClient, type RedisClient } from '../redis/redis-clients';
import type { CacheMetrics } from './cache-metrics';
import type { CallBudget, RedisTier, TagState } from './l2';
import type { RateLimitedLogger } from './rate-limited-logger';
import { TIMED_OUT, within } from './single-flight';

/** What travels on the bus: keys to drop, tag versions to learn. Never values. */
export interface BusMessage {
  /** origin instance */
  o: string;
  k?: string[];
  /** With the tag key's incarnation when known (older senders leave it out). */
  t?: [tag: string, v: number, h: number, i?: string][];
  /** Tags whose keys were deleted (Redis, out of memory, refused to bump them): what is known of them is void. */
  g?: string[];
}

export interface BusHandlers {
  keys(keys: string[]): void;
  tags(tags: [string, TagState][]): void;
  tagsRemoved(tags: string[]): void;
  /** The subscription was lost and is back: whatever was published meanwhile is unknown. */
  reconnected(): void;
}

/**
 * Redis pub/sub between instances. After an eviction reaches Redis, the keys (or new tag versions) are published
 * and every other instance drops its L1 copies. The bus subscribes again on every reconnect (ioredis' own
 * re-subscription is off: see `start`); since messages sent while disconnected are lost, a reconnect clears L1.
 */
export class CacheBus {
  private connected = false;
  private everConnected = false;
  private stopping = false;
  private heartbeat: NodeJS.Timeout | undefined;
  /** How every message this instance publishes starts (`publish` puts the origin first). */
  private readonly ownStart: string;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly publisher: RedisTier,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly handlers: BusHandlers,
    private readonly metrics: CacheMetrics,
    private readonly log: RateLimitedLogger,
    /** How often the subscription is checked with a PING, and how long its answer may take. */
    private readonly heartbeatMs: { every: number; within: number },
  ) {
    this.ownStart = `{"o":${JSON.stringify(instanceId)},`;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.channel) {
        this.receive(raw);
      }
    });
    this.subscriber.on('close', () => {
      if (this.connected && !this.stopping) {
        this.log.warn('Cache bus connection lost: L1 will be cleared when it is back');
      }
      this.connected = false;
    });
    this.subscriber.on('error', (error: Error) => this.log.warn(`Cache bus error: ${error.message}`));
    // The bus subscribes on every ready itself. ioredis' own re-subscription is a promise nobody catches: a
    // connection lost before its answer made it an unhandled rejection, which ends the process. It is turned off
    // here, on whatever client the bus was given (`createClient` may hand in its own, possibly ready already).
    if (!isClusterClient(this.subscriber)) {
      this.subscriber.options.autoResubscribe = false;
    }
    this.subscriber.on('ready', () => void this.subscribe());
    if (this.subscriber.status === 'ready') {
      void this.subscribe();
    }
    this.heartbeat = setInterval(() => void this.check(), this.heartbeatMs.every);
    this.heartbeat.unref();
  }

  /**
   * A subscription whose peer vanished without a word (a host gone, a NAT entry dropped) looks connected and
   * delivers nothing: this instance would keep trusting its L1 and tag versions while missing every invalidation,
   * for as long as TCP takes to notice (hours). A PING unanswered in time drops the connection; the reconnect
   * re-subscribes and clears L1, as after any other loss.
   */
  private async check(): Promise<void> {
    if (!this.connected || this.stopping) {
      return;
    }
    const answered = await within(this.subscriber.ping().then(() => true, () => false), this.heartbeatMs.within);
    if (answered !== true && this.connected && !this.stopping) {
      this.log.warn(`Cache bus: no answer to a PING within ${this.heartbeatMs.within} ms: reconnecting`);
      this.connected = false;
      dropConnection(this.subscriber);
    }
  }

  private async subscribe(): Promise<void> {
    // Bounded like the heartbeat's PING: a connection that goes silent right after `ready` would otherwise leave
    // the bus unsubscribed (and the heartbeat waits for a subscription) until TCP notices, hours later.
    const outcome = await within(
      this.subscriber.subscribe(this.channel).then(
        () => null,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
      this.heartbeatMs.within,
    );
    if (outcome === TIMED_OUT) {
      if (!this.stopping && this.subscriber.status === 'ready') {
        this.log.warn(`Cache bus: no answer to SUBSCRIBE within ${this.heartbeatMs.within} ms: reconnecting`);
        dropConnection(this.subscriber);
      }
      return;
    }
    if (outcome !== null) {
      this.log.warn(`Cache bus could not subscribe: ${outcome.message}`);
      // Refused (an ACL, say) rather than cut off: nothing else would try again.
      if (!this.stopping && this.subscriber.status === 'ready') {
        setTimeout(() => void this.subscribe(), this.heartbeatMs.every).unref();
      }
      return;
    }
    if (this.connected) {
      // A second SUBSCRIBE on the same connection (`start` found the client ready as its `ready` was due).
      return;
    }
    if (this.everConnected) {
      this.metrics.busReconnects++;
      this.handlers.reconnected();
    }
    this.everConnected = true;
    this.connected = true;
  }

  /** A deliberate shutdown: the close that follows is not an outage. */
  stop(): void {
    this.stopping = true;
    clearInterval(this.heartbeat);
  }

  /** Whether Redis took the message (false when it could not be reached: the caller may queue it again). */
  async publish(message: Omit<BusMessage, 'o'>, budget?: CallBudget): Promise<boolean> {
    const sent = await this.publisher.publish(this.channel, JSON.stringify({ o: this.instanceId, ...message }), budget);
    if (typeof sent === 'number') {
      this.metrics.busMessagesOut++;
      return true;
    }
    return false;
  }

  private receive(raw: string): void {
    // Redis delivers our own messages back to us: drop them before paying for a parse.
    if (raw.startsWith(this.ownStart)) {
      return;
    }
    let message: BusMessage;
    try {
      message = JSON.parse(raw) as BusMessage;
    } catch {
      this.log.warn('Cache bus: ignored a message that is not JSON');
      return;
    }
    if (message.o === this.instanceId) {
      return;
    }
    this.metrics.busMessagesIn++;
    if (message.k?.length) {
      this.handlers.keys(message.k);
    }
    if (message.t?.length) {
      this.handlers.tags(message.t.map(([tag, v, h, i]) => [tag, { v, h, i }]));
    }
    if (message.g?.length) {
      this.handlers.tagsRemoved(message.g);
    }
  }
}
