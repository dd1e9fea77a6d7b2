import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withoutPreloads, workerOptionsWithoutPreloads } from '../../src/embedded/worker-preloads';

describe('The embedded database thread starts without the application\'s preloads', () => {
  it('drops -r/--require/--import/--loader in both spellings and keeps every other option', () => {
    expect(withoutPreloads(['-r', './otel.js', '--require=x', '--import', './otel.mjs', '--loader=l', '--enable-source-maps', '--conditions=dev'])).toEqual([
      '--enable-source-maps',
      '--conditions=dev',
    ]);
  });

  it('leaves execArgv and env unset (inherited) when nothing is preloaded', () => {
    expect(workerOptionsWithoutPreloads(['--enable-source-maps'], { NODE_OPTIONS: '--max-old-space-size=300' })).toEqual({});
  });

  it('strips preloads from NODE_OPTIONS, which a worker reads again', () => {
    const options = workerOptionsWithoutPreloads([], { PATH: '/bin', NODE_OPTIONS: '--require "./my otel.js" --max-old-space-size=300' });
    expect(options).toEqual({ env: { PATH: '/bin', NODE_OPTIONS: '--max-old-space-size=300' } });
  });

  it('in a real process started with -r and NODE_OPTIONS=--require, the preload runs in the main thread only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdl-preload-'));
    writeFileSync(join(dir, 'preload.js'), `console.log('preload in', require('node:worker_threads').isMainThread ? 'main' : 'worker');`);
    const script = `
      const { Worker } = require('node:worker_threads');
      const { workerOptionsWithoutPreloads } = require(${JSON.stringify(require.resolve('../../src/embedded/worker-preloads'))});
      new Worker("console.log('worker ran')", { eval: true, ...workerOptionsWithoutPreloads() });`;
    const run = (env: NodeJS.ProcessEnv, args: string[]) =>
      execFileSync(process.execPath, [...args, '-r', '@swc/register', '-e', script], { cwd: process.cwd(), env: { ...process.env, ...env } }).toString();
    const withArg = run({ NODE_OPTIONS: '' }, ['-r', join(dir, 'preload.js')]);
    expect(withArg.trim().split('\n').sort()).toEqual(['preload in main', 'worker ran']);
    const withEnv = run({ NODE_OPTIONS: `--require ${join(dir, 'preload.js')}` }, []);
    expect(withEnv.trim().split('\n').sort()).toEqual(['preload in main', 'worker ran']);
  });
});

describe('Without @opentelemetry/api installed', () => {
  it('the library loads and reports nothing', () => {
    jest.isolateModules(() => {
      jest.doMock('@opentelemetry/api', () => {
        throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
      });
      const { openTelemetry } = require('../../src/observability/otel-api');
      expect(openTelemetry()).toBeUndefined();
      expect(require('../../src').currentTenantId()).toBeUndefined();
    });
  });
});
