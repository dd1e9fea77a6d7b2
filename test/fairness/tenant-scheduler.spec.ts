import { DatabaseUnavailableError, TenantThrottledError } from '../../src';
import { type Admission, type FairnessSettings, SYSTEM_KEY, TenantScheduler } from '../../src/fairness/tenant-scheduler';

/**
 * The scheduler's turn taking, step by step: which waiting transaction each freed connection goes
 * to. (Through the module and a real server: tenant-fairness.spec.ts.)
 */
describe(TenantScheduler.name, () => {
  const settings = (overrides: Partial<FairnessSettings> = {}): FairnessSettings => ({
    permits: 4,
    share: 0.5,
    maxWaiting: 100,
    maxWaitMs: 60_000,
    ...overrides,
  });

  /**
   * Each test's scheduler, closed when the test ends. A test leaves transactions waiting (it checks
   * who would be served next, not that everyone is): their timers must not outlive it. Refused by
   * close(), or past maxWaitMs, each such wait rejects; the catch added here handles that, or it
   * would surface as an unhandled rejection up to a minute later, in whatever test file this Jest
   * worker runs then (how CI failed twice).
   */
  const created: TenantScheduler[] = [];
  function newScheduler(fairness: FairnessSettings): TenantScheduler {
    const scheduler = new TenantScheduler(fairness);
    const admit = scheduler.admit.bind(scheduler);
    scheduler.admit = (key) => {
      const admission = admit(key);
      if (admission instanceof Promise) admission.catch(() => undefined);
      return admission;
    };
    created.push(scheduler);
    return scheduler;
  }
  afterEach(() => {
    for (const scheduler of created.splice(0)) void scheduler.close();
  });

  /** Admissions as they are granted, in order, with their tenant. */
  function harness(scheduler: TenantScheduler) {
    const granted: { key: string; admission: Admission }[] = [];
    const admit = (key: string) => {
      const admitted = (async () => {
        const admission = await scheduler.admit(key);
        granted.push({ key, admission });
        return admission;
      })();
      admitted.catch(() => undefined); // as in newScheduler: a wait the test left behind
      return admitted;
    };
    const held = (key: string) => granted.filter((entry) => entry.key === key && !released.has(entry.admission)).length;
    const released = new Set<Admission>();
    const release = async (key: string) => {
      const entry = granted.find((candidate) => candidate.key === key && !released.has(candidate.admission))!;
      released.add(entry.admission);
      entry.admission.release();
      await flush();
    };
    return { granted, admit, held, release };
  }
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it('a tenant alone takes the whole pool, at once', async () => {
    const scheduler = newScheduler(settings());
    const { admit, held } = harness(scheduler);
    for (let i = 0; i < 4; i++) expect(scheduler.admit('a')).not.toBeInstanceOf(Promise);
    // (the four above are held without the harness; one more has to wait)
    void admit('a');
    await flush();
    expect(held('a')).toBe(0);
    expect(scheduler.waitingCount).toBe(1);
  });

  it('a freed connection goes to a waiting tenant that holds none, not to the busy one queued before it', async () => {
    const scheduler = newScheduler(settings({ permits: 2 }));
    const { admit, release, granted, held } = harness(scheduler);
    await admit('busy');
    await admit('busy');
    for (let i = 0; i < 5; i++) void admit('busy');
    void admit('quiet');
    await flush();
    await release('busy');
    expect(granted.map((entry) => entry.key)).toEqual(['busy', 'busy', 'quiet']);
    expect(held('quiet')).toBe(1);
  });

  it('tenants that both queue converge on their shares of the pool', async () => {
    const scheduler = newScheduler(settings({ permits: 4 }));
    const { admit, release, held } = harness(scheduler);
    for (let i = 0; i < 4; i++) await admit('a');
    for (let i = 0; i < 4; i++) void admit('a');
    for (let i = 0; i < 4; i++) void admit('b');
    await flush();
    await release('a');
    await release('a');
    expect([held('a'), held('b')]).toEqual([2, 2]);
  });

  it('turns go by connection time: a tenant of 1 ms transactions gets ten turns for each of a neighbour\'s 10 ms ones', async () => {
    let now = 0;
    const scheduler = newScheduler(settings({ permits: 1, clock: () => now }));
    const { admit, release, granted } = harness(scheduler);
    const holdMs = { slow: 10, fast: 1 };
    await admit('slow');
    for (let i = 0; i < 40; i++) void admit('slow');
    for (let i = 0; i < 40; i++) void admit('fast');
    await flush();
    for (let turn = 0; turn < 44; turn++) {
      const holder = granted[granted.length - 1].key as 'slow' | 'fast';
      now += holdMs[holder];
      await release(holder);
    }
    const turns = granted.map((entry) => entry.key);
    const slow = turns.filter((key) => key === 'slow').length;
    const fast = turns.filter((key) => key === 'fast').length;
    expect(fast / slow).toBeGreaterThanOrEqual(8);
    expect(fast / slow).toBeLessThanOrEqual(12);
  });

  it('while others are active, a tenant past its share (and its equal part) waits with connections free', async () => {
    const scheduler = newScheduler(settings({ permits: 4, share: 0.25 }));
    const { admit, held } = harness(scheduler);
    await admit('light');
    await admit('other');
    await admit('heavy');
    void admit('heavy');
    await flush();
    expect([held('light'), held('other'), held('heavy')]).toEqual([1, 1, 1]);
    expect(scheduler.waitingCount).toBe(1);
  });

  it('tenants that all queue use the whole pool between them (an equal part each, past their share)', async () => {
    const scheduler = newScheduler(settings({ permits: 4, share: 0.25 }));
    const { admit, held } = harness(scheduler);
    await admit('a');
    await admit('b');
    for (let i = 0; i < 3; i++) void admit('a');
    for (let i = 0; i < 3; i++) void admit('b');
    await flush();
    expect(held('a') + held('b')).toBe(4);
    expect([held('a'), held('b')]).toEqual([2, 2]);
  });

  it('a tenant given a bigger share (a paying tier) holds more of the pool while both queue', async () => {
    const scheduler = newScheduler(settings({ permits: 4, shareOf: (tenant) => (tenant === 'gold' ? 0.75 : 0.25) }));
    const { admit, release, held } = harness(scheduler);
    for (let i = 0; i < 4; i++) await admit('basic');
    for (let i = 0; i < 4; i++) void admit('basic');
    for (let i = 0; i < 4; i++) void admit('gold');
    await flush();
    for (let i = 0; i < 3; i++) await release('basic');
    expect([held('basic'), held('gold')]).toEqual([1, 3]);
  });

  it('the system path takes its turn like a tenant', async () => {
    const scheduler = newScheduler(settings({ permits: 1 }));
    const { admit, release, granted } = harness(scheduler);
    await admit('busy');
    for (let i = 0; i < 10; i++) void admit('busy');
    void admit(SYSTEM_KEY);
    await flush();
    await release('busy');
    expect(granted.map((entry) => entry.key)).toEqual(['busy', SYSTEM_KEY]);
  });

  it("refuses a tenant's transaction at once when its queue is full, and only that tenant's", async () => {
    const scheduler = newScheduler(settings({ permits: 1, maxWaiting: 2 }));
    const { admit } = harness(scheduler);
    await admit('busy');
    void admit('busy');
    void admit('busy');
    let refused: unknown;
    try {
      scheduler.admit('busy');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(TenantThrottledError);
    expect((refused as TenantThrottledError).message).toMatch(/already has 2 transactions waiting/);
    expect((refused as TenantThrottledError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(scheduler.admit('quiet')).toBeInstanceOf(Promise);
    expect(scheduler.waitingCount).toBe(3);
  });

  it('refuses a transaction that waited past the bound (503 with Retry-After), and forgets it', async () => {
    const scheduler = newScheduler(settings({ permits: 1, maxWaitMs: 20 }));
    const { admit } = harness(scheduler);
    await admit('busy');
    await expect(admit('quiet')).rejects.toEqual(expect.objectContaining({ constructor: DatabaseUnavailableError, retryAfterSeconds: expect.any(Number) }));
    expect(scheduler.waitingCount).toBe(0);
  });

  it('on close, refuses every waiting transaction at once and every later one, and waits for the held connections', async () => {
    const scheduler = newScheduler(settings({ permits: 1 }));
    const { admit } = harness(scheduler);
    const held = await admit('busy');
    const waiting = [admit('busy'), admit('quiet'), admit('quiet')];
    expect(scheduler.waitingCount).toBe(3);
    let closed = false;
    const closing = scheduler.close().then(() => (closed = true));
    for (const refused of waiting) await expect(refused).rejects.toThrow('database unavailable: the application is shutting down');
    expect(scheduler.waitingCount).toBe(0);
    expect(() => scheduler.admit('quiet')).toThrow('database unavailable: the application is shutting down');
    await Promise.resolve();
    expect(closed).toBe(false); // it waits for the held connection
    held.release();
    await closing;
  });

  it('on close, waits no longer than the wait bound for a connection that is not given back', async () => {
    const scheduler = newScheduler(settings({ permits: 1, maxWaitMs: 20 }));
    await scheduler.admit('busy');
    await expect(scheduler.close()).resolves.toBeUndefined();
  });

  it('refuses a share outside (0, 1] given for a tenant, naming it', () => {
    const scheduler = newScheduler(settings({ shareOf: () => 2 }));
    expect(() => scheduler.admit('t1')).toThrow('the share given for tenant t1 must be a number above 0 and at most 1, got 2');
  });
});
