import type { WorkerOptions } from 'node:worker_threads';

/** Options that load code into every thread before its own: the application's instrumentation. */
const PRELOAD = /^(?:-r|--require|--import|--loader|--experimental-loader)$/;
const PRELOAD_WITH_VALUE = /^(?:--require|--import|--loader|--experimental-loader)=/;

/** `args` without its preload options (`-r x`, `--require=x`, `--import x`, `--loader x`, …). */
export function withoutPreloads(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (PRELOAD.test(args[i])) i++;
    else if (!PRELOAD_WITH_VALUE.test(args[i])) kept.push(args[i]);
  }
  return kept;
}

/** NODE_OPTIONS split as Node splits it: on spaces, with double quotes grouping. */
function splitNodeOptions(value: string): string[] {
  return [...value.matchAll(/"((?:\\.|[^"\\])*)"|(\S+)/g)].map((match) => match[1]?.replace(/\\(.)/g, '$1') ?? match[2]);
}

const quote = (arg: string) => (/[\s"]/.test(arg) ? `"${arg.replace(/(["\\])/g, '\\$1')}"` : arg);

/**
 * The embedded database's thread starts without the preloads of the application's process. A
 * worker inherits the parent's Node options and re-reads NODE_OPTIONS, so the `-r ./otel.js` that
 * starts the application's tracing would start a second tracer (and instrument a second `pg`)
 * inside the database's thread. Other options are kept. When nothing is preloaded the worker
 * inherits as usual: an explicit `execArgv` is refused if it holds V8 flags such as
 * `--max-old-space-size` (which are the process's and apply to the thread anyway).
 */
export function workerOptionsWithoutPreloads(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): Pick<WorkerOptions, 'execArgv' | 'env'> {
  const options: Pick<WorkerOptions, 'execArgv' | 'env'> = {};
  const kept = withoutPreloads(execArgv);
  if (kept.length !== execArgv.length) options.execArgv = kept;
  const nodeOptions = env.NODE_OPTIONS ? splitNodeOptions(env.NODE_OPTIONS) : [];
  const keptNodeOptions = withoutPreloads(nodeOptions);
  if (keptNodeOptions.length !== nodeOptions.length) options.env = { ...env, NODE_OPTIONS: keptNodeOptions.map(quote).join(' ') };
  return options;
}
