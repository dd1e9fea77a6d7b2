import { isShare } from '../config/database-config';
import { DatabaseUnavailableError, TenantThrottledError } from '../tenancy/tenancy.errors';

/** How the pool's connections are shared between tenants. */
export interface FairnessSettings {
  /** Connections to share: the pool's size. */
  permits: number;
  /** The share of the pool one tenant may hold while others are active, above 0 and at most 1. */
  share: number;
  /** A tenant's own share, where it differs (a paying tier); undefined: {@link share}. */
  shareOf?: (tenantId: string) => number | undefined;
  /** The most transactions one tenant may have waiting; one more is refused at once. */
  maxWaiting: number;
  /** The longest a transaction waits for its turn, in milliseconds. */
  maxWaitMs: number;
  /** Milliseconds from a monotonic clock; tests give their own. Default: `performance.now`. */
  clock?: () => number;
}

/** What a scheduler reports, for metrics: a tenant's transactions waiting and connections held. */
export interface FairnessObserver {
  waiting(key: string, delta: 1 | -1): void;
  holding(key: string, delta: 1 | -1): void;
  waited(key: string, seconds: number): void;
  refused(key: string, reason: 'queue_full' | 'wait_timeout'): void;
}

/** A connection's worth of the pool, held by one transaction until it releases it. */
export interface Admission {
  release(): void;
}

/**
 * How far one tenant's connection time may run ahead of, or fall behind, the clock of the tenant
 * served last, in milliseconds of connection time (divided by its share). Without a bound, one
 * transaction that held its connection for seconds (a slow report, or any query on a starved CPU)
 * would put its tenant behind every other for as long, its queue filling meanwhile; and a tenant
 * active for long with little use would bank credit for a burst that shuts out the rest.
 */
const MAX_LEAD_MS = 100;

/** The key of the system path, which takes its turns like any tenant. */
export const SYSTEM_KEY = 'system';

interface Waiter {
  grant(admission: Admission): void;
  /** Takes it out of its tenant's queue and rejects it with `error`. */
  refuse(error: Error): void;
  since: number;
}

interface TenantState {
  key: string;
  share: number;
  held: number;
  waiting: Waiter[];
  /** When it was last given a connection, in grants: the oldest goes first among equals. */
  lastServed: number;
  /** The connection time it has had, in ms, divided by its share (start-time fair queuing). */
  virtualTime: number;
}

/**
 * Hands the pool's connections out to transactions so that tenants share them (fair queuing):
 *
 * - A tenant alone (no other tenant has a transaction holding or waiting for a connection) takes any
 *   free connection at once: it may use the whole pool.
 * - While another tenant is active, a tenant holds at most its share of the pool (`share ×
 *   permits`, at least one): past it, its transactions wait even when a connection is free, which
 *   is kept for the others. A long query cannot be interrupted to give its connection back, so the
 *   share is what a newcomer finds free, instead of waiting behind a pool full of long queries.
 *   Where an equal part of the pool among the active tenants is more than the share, that is the
 *   cap: tenants that all queue use the whole pool between them.
 * - Each freed connection goes to the waiting tenant that has had the least connection time for its
 *   share (start-time fair queuing: a tenant's clock advances by each hold divided by its share, and
 *   one that becomes active starts at the clock of the last served, so idling earns no credit). A
 *   tenant whose queries take 40 ms and one whose take 1 ms get equal time, not equal turns: the
 *   second runs about 40 transactions in the time of one of the first's.
 * - A tenant may have at most `maxWaiting` transactions waiting: one more is refused at once
 *   ({@link TenantThrottledError}, 429), and one that waits `maxWaitMs` is refused then
 *   ({@link DatabaseUnavailableError}, 503); both before any statement ran, so nothing was written.
 *
 * Synchronous bookkeeping only: a transaction that finds a connection free pays a map lookup.
 */
export class TenantScheduler {
  private free: number;
  private readonly tenants = new Map<string, TenantState>();
  /** Tenants with transactions waiting. */
  private readonly queued = new Set<TenantState>();
  private grants = 0;
  /** The virtual time of the tenant served last: where a tenant that becomes active starts. */
  private virtualNow = 0;
  /** How long a connection is held, smoothed: the base of a refused request's Retry-After. */
  private holdMs = 50;
  private closed = false;
  /** Resolves close() once the last held connection is given back. */
  private drained?: () => void;

  private readonly now: () => number;

  constructor(
    private readonly settings: FairnessSettings,
    private readonly observer?: FairnessObserver,
  ) {
    this.free = settings.permits;
    this.now = settings.clock ?? (() => performance.now());
  }

  /** A connection's turn for `key` (a tenant id, or {@link SYSTEM_KEY}): at once when one is free. */
  admit(key: string): Admission | Promise<Admission> {
    if (this.closed) throw shuttingDown();
    const tenant = this.stateOf(key);
    if (this.free > 0 && this.mayTake(tenant)) return this.grant(tenant);
    if (tenant.waiting.length >= this.settings.maxWaiting) {
      this.forget(tenant);
      this.observer?.refused(key, 'queue_full');
      throw new TenantThrottledError(
        `this tenant already has ${tenant.waiting.length} transactions waiting for a database connection (the most it may have)`,
        this.retryAfterSeconds(tenant),
      );
    }
    return this.enqueue(tenant);
  }

  private enqueue(tenant: TenantState): Promise<Admission> {
    const { key } = tenant;
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = {
        since: this.now(),
        grant: (admission) => (clearTimeout(timer), resolve(admission)),
        refuse: (error) => {
          clearTimeout(timer);
          const index = tenant.waiting.indexOf(waiter);
          if (index >= 0) tenant.waiting.splice(index, 1);
          this.observer?.waiting(key, -1);
          if (tenant.waiting.length === 0) this.queued.delete(tenant);
          this.forget(tenant);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.observer?.refused(key, 'wait_timeout');
        // The words of pg-pool's own timeout (database-unavailable.ts): one answer for one condition.
        waiter.refuse(new DatabaseUnavailableError('no pooled connection became free in time', undefined, this.retryAfterSeconds(tenant)));
      }, this.settings.maxWaitMs);
      // A transaction waiting for its turn must not keep a process alive that is shutting down.
      timer.unref?.();
      tenant.waiting.push(waiter);
      this.queued.add(tenant);
      this.observer?.waiting(key, 1);
    });
  }

  /**
   * Refuses every transaction still waiting, and every later one, at once: the pool is about to
   * close. Then waits, at most `maxWaitMs`, for the transactions holding a connection to end, so
   * that they commit instead of losing their connection when the pool closes under them. Called by
   * Nest before the application shuts down (before TypeORM ends the pool): nothing is left waiting,
   * nor its timer running, once the application is gone.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const tenant of [...this.queued]) for (const waiter of [...tenant.waiting]) waiter.refuse(shuttingDown());
    if (this.free === this.settings.permits) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.settings.maxWaitMs);
      timer.unref?.();
      this.drained = () => (clearTimeout(timer), resolve());
    });
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Transactions waiting, all tenants together. */
  get waitingCount(): number {
    let count = 0;
    for (const tenant of this.queued) count += tenant.waiting.length;
    return count;
  }

  private grant(tenant: TenantState): Admission {
    this.free -= 1;
    tenant.held += 1;
    tenant.lastServed = ++this.grants;
    tenant.virtualTime = Math.max(tenant.virtualTime, this.virtualNow - MAX_LEAD_MS / tenant.share);
    this.virtualNow = Math.max(this.virtualNow, tenant.virtualTime);
    this.observer?.holding(tenant.key, 1);
    const granted = this.now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const heldMs = this.now() - granted;
        this.holdMs += (heldMs - this.holdMs) / 16;
        tenant.virtualTime = Math.min(tenant.virtualTime + heldMs / tenant.share, this.virtualNow + MAX_LEAD_MS / tenant.share);
        tenant.held -= 1;
        this.free += 1;
        this.observer?.holding(tenant.key, -1);
        this.forget(tenant);
        this.dispatch();
        if (this.free === this.settings.permits) this.drained?.();
      },
    };
  }

  /** Whether `tenant` may take another connection: it is alone, or holds less than its cap. */
  private mayTake(tenant: TenantState): boolean {
    return this.tenants.size === 1 || tenant.held < this.capOf(tenant);
  }

  /**
   * How many connections `tenant` may hold while others are active: its share of the pool, or an
   * equal part of it among the active tenants where that is more, so that tenants that all queue
   * use the whole pool between them (two busy tenants: half each).
   */
  private capOf(tenant: TenantState): number {
    return Math.max(this.shareCap(tenant), Math.floor(this.settings.permits / this.tenants.size));
  }

  /** Its share of the pool, in connections: at least one. */
  private shareCap(tenant: TenantState): number {
    return Math.max(1, Math.floor(tenant.share * this.settings.permits));
  }

  /**
   * Gives the free connections to the waiting tenants within their cap, in turn. A tenant's cap only
   * grows when a connection is released or another tenant is forgotten, and both call this: no
   * tenant that may take a connection waits while one is free.
   */
  private dispatch(): void {
    while (this.free > 0 && this.queued.size > 0) {
      let next: TenantState | undefined;
      for (const tenant of this.queued) {
        if (this.mayTake(tenant) && (next === undefined || before(tenant, next))) next = tenant;
      }
      // Only tenants past their cap wait, and another tenant is active: the free ones are its.
      if (next === undefined) return;
      const waiter = next.waiting.shift()!;
      if (next.waiting.length === 0) this.queued.delete(next);
      this.observer?.waiting(next.key, -1);
      this.observer?.waited(next.key, (this.now() - waiter.since) / 1000);
      waiter.grant(this.grant(next));
    }
  }

  private stateOf(key: string): TenantState {
    let tenant = this.tenants.get(key);
    if (!tenant) {
      tenant = { key, share: this.shareOf(key), held: 0, waiting: [], lastServed: 0, virtualTime: this.virtualNow };
      this.tenants.set(key, tenant);
    }
    return tenant;
  }

  private shareOf(key: string): number {
    const own = key === SYSTEM_KEY ? undefined : this.settings.shareOf?.(key);
    return own === undefined ? this.settings.share : checkShare(own, `the share given for tenant ${key}`);
  }

  /**
   * A tenant that holds nothing and waits for nothing is forgotten: the map holds active tenants only.
   * One fewer active tenant may let another past its share take the free connections.
   */
  private forget(tenant: TenantState): void {
    if (tenant.held === 0 && tenant.waiting.length === 0 && this.tenants.delete(tenant.key)) this.dispatch();
  }

  /** Roughly when the tenant's queue will have moved on by one full round of its share. */
  private retryAfterSeconds(tenant: TenantState): number {
    return Math.max(1, Math.ceil((this.holdMs * (tenant.waiting.length + 1)) / this.shareCap(tenant) / 1000));
  }
}

/**
 * Whether `a` goes before `b` among the tenants that may take a connection: the less connection
 * time for its share; among equals (tenants that just became active start level) the one holding
 * less of its share, then the one served longest ago.
 */
function before(a: TenantState, b: TenantState): boolean {
  if (a.virtualTime !== b.virtualTime) return a.virtualTime < b.virtualTime;
  const aHolds = a.held / a.share;
  const bHolds = b.held / b.share;
  return aHolds !== bHolds ? aHolds < bHolds : a.lastServed < b.lastServed;
}

function shuttingDown(): DatabaseUnavailableError {
  return new DatabaseUnavailableError('the application is shutting down');
}

/** `share` when it is a share of the pool; otherwise an error naming `what`. */
export function checkShare(share: number, what: string): number {
  if (!isShare(share)) throw new RangeError(`${what} must be a number above 0 and at most 1, got ${String(share)}`);
  return share;
}
