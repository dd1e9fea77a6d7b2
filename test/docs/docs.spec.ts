import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { minimatch } from 'minimatch';
import * as ts from 'typescript';

/**
 * The documentation is tested (docs/testing.md, "Documentation is tested"):
 * - every relative link leads to a file that exists, to a heading that exists, and, from a page the
 *   package ships, to a file the package ships too (so links work on GitHub and in the tarball);
 * - every TypeScript block compiles against the package's own types, unless its fence says
 *   `illustrative` (a fragment);
 * - every shell block either says `illustrative` or names the file that runs its commands
 *   (`verified-by=.ci/run`), where each of its commands must occur.
 */
const ROOT = resolve(__dirname, '../..');
const PAGES = ['README.md', 'SECURITY.md', 'CHANGELOG.md', 'src/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const SHIPPED: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files;
const TS_LANGUAGES = new Set(['ts', 'typescript']);
const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console']);

interface Block {
  page: string;
  line: number;
  language: string;
  markers: string[];
  code: string;
}

interface Page {
  path: string;
  /** The text outside code blocks. */
  prose: string[];
  blocks: Block[];
}

function readPage(path: string): Page {
  const lines = readFileSync(join(ROOT, path), 'utf8').split('\n');
  const page: Page = { path, prose: [], blocks: [] };
  let open: Block | undefined;
  lines.forEach((text, index) => {
    const fence = /^```(\S*)\s*(.*)$/.exec(text);
    if (open) {
      if (/^```\s*$/.test(text)) {
        page.blocks.push(open);
        open = undefined;
      } else {
        open.code += `${text}\n`;
      }
    } else if (fence) {
      open = { page: path, line: index + 1, language: fence[1], markers: fence[2].split(/\s+/).filter(Boolean), code: '' };
    } else {
      page.prose.push(text);
    }
  });
  return page;
}

const pages = PAGES.map(readPage);

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchorsOf(page: Page): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of page.prose) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count ? `${base}-${count}` : base);
  }
  return anchors;
}

const shipped = (path: string) => SHIPPED.some((pattern) => path === pattern || path.startsWith(`${pattern}/`) || minimatch(path, pattern));

describe('the documentation', () => {
  it('README is a front door of at most 300 lines, and shows `npm test` as the way to run the tests', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    expect(readme).toMatch(/^npm test$/m);
  });

  it('every relative link leads to a file and a heading that exist, and from a shipped page to a shipped file', () => {
    const broken: string[] = [];
    for (const page of pages) {
      page.prose.forEach((line) => {
        for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/i.test(target)) continue;
          const [file, anchor] = target.split('#');
          const path = file ? relative(ROOT, resolve(dirname(join(ROOT, page.path)), file)) : page.path;
          if (!existsSync(join(ROOT, path))) {
            broken.push(`${page.path}: ${target} (no such file)`);
            continue;
          }
          if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(readPage(path)).has(anchor)) broken.push(`${page.path}: ${target} (no such heading)`);
          if (shipped(page.path) && !shipped(path)) broken.push(`${page.path}: ${target} (not in the package: package.json "files")`);
        }
      });
    }
    expect(broken).toEqual([]);
  });

  it('every shell block is illustrative or names the file that runs each of its commands', () => {
    const unverified: string[] = [];
    for (const block of pages.flatMap((page) => page.blocks).filter((b) => SHELL_LANGUAGES.has(b.language))) {
      if (block.markers.includes('illustrative')) continue;
      const by = block.markers.find((marker) => marker.startsWith('verified-by='))?.slice('verified-by='.length);
      if (!by || !existsSync(join(ROOT, by))) {
        unverified.push(`${block.page}:${block.line}: neither illustrative nor verified-by=<an existing file>`);
        continue;
      }
      const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();
      const runner = normalise(readFileSync(join(ROOT, by), 'utf8'));
      for (const command of block.code.split('\n').map((line) => normalise(line.replace(/\s#\s.*$/, ''))).filter((line) => line && !line.startsWith('#'))) {
        if (!runner.includes(command)) unverified.push(`${block.page}:${block.line}: "${command}" is not in ${by}`);
      }
    }
    expect(unverified).toEqual([]);
  });

  it('every TypeScript block that is not illustrative compiles against the package', () => {
    const blocks = pages.flatMap((page) => page.blocks).filter((b) => TS_LANGUAGES.has(b.language) && !b.markers.includes('illustrative'));
    const files = new Map(blocks.map((block, i) => [join(ROOT, '.docs-snippets', `snippet-${i}.ts`), { block, text: `${block.code}\nexport {};\n` }]));
    const { config } = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
    const compilerOptions: ts.CompilerOptions = {
      ...options,
      noEmit: true,
      // As a `nest new` application compiles (scripts/consumer-esm/tsconfig.json): entities declare
      // columns without initialisers.
      strictPropertyInitialization: false,
      baseUrl: ROOT,
      paths: { 'fdl-runtime-db': ['src/index.ts'], 'fdl-runtime-db/embedded': ['src/embedded/index.ts'] },
    };
    const host = ts.createCompilerHost(compilerOptions);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version, ...rest) =>
      files.has(name) ? ts.createSourceFile(name, files.get(name)!.text, version) : getSourceFile(name, version, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const program = ts.createProgram([...files.keys()], compilerOptions, host);
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file && files.has(diagnostic.file.fileName))
      .map((diagnostic) => {
        const { block } = files.get(diagnostic.file!.fileName)!;
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        return `${block.page}:${block.line + 1 + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
      });
    expect(errors).toEqual([]);
    expect(blocks.length).toBeGreaterThan(0);
  });
});
