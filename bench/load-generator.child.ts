import autocannon from 'autocannon';
import type { LoadResult, LoadRun } from './load-generator';

// The other half of load-generator.ts: runs one autocannon run per message from the bench.
process.on('message', (run: LoadRun) => {
  let next = 0;
  autocannon({
    url: run.url,
    connections: run.connections,
    duration: run.seconds,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, ...run.requests[next++ % run.requests.length] }) }],
  }).then(
    (result) => {
      const reply: LoadResult = {
        total: result.requests.total,
        seconds: result.duration,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
      };
      process.send!({ result: reply });
    },
    (error: Error) => process.send!({ error: error.message }),
  );
});
process.on('disconnect', () => process.exit(0));
