import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

/**
 * The documentation is tested (docs/testing.md, "Documentation is tested"):
 * - README is a front door (at most 300 lines) that shows `npm test`; every page of docs/ starts with
 *   its title and a line saying who it is for;
 * - every relative link leads to a file that exists, to a heading that exists, and, from a page the
 *   package ships, to a file the package ships too (so links work on GitHub and in the tarball);
 * - a section that code, messages or tests name (`docs/citus.md, "What the operator configures on the
 *   cluster"`) is a heading of that page;
 * - every TypeScript block compiles against the package's own types, unless its fence says
 *   `illustrative` (a fragment);
 * - every shell block either says `illustrative` or names the file that runs its commands
 *   (`verified-by=.ci/run`), where each of its commands must occur.
 *
 * The Markdown is read by a line scanner (no parser dependency): fenced blocks (``` or ~~~, at any
 * indentation, as inside list items), ATX headings, inline links, reference definitions and
 * `href`s, with inline code spans left out.
 */
const ROOT = resolve(__dirname, '../..');
const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .sort()
  .map((file) => `docs/${file}`);
const PAGES = ['README.md', 'SECURITY.md', 'CHANGELOG.md', 'src/README.md', ...DOCS].filter((path) => existsSync(join(ROOT, path)));
const SHIPPED: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files;
const TS_LANGUAGES = new Set(['ts', 'typescript']);
const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);
/** Where code, messages and tests may name a section of the docs. */
const CODE_FOLDERS = ['src', 'test', 'scripts', 'example', 'bench', '.ci', 'sql', 'migrations'];

interface Block {
  page: string;
  line: number;
  language: string;
  markers: string[];
  code: string;
}

interface ProseLine {
  line: number;
  text: string;
}

interface Page {
  path: string;
  /** The lines outside fenced blocks, with their line numbers. */
  prose: ProseLine[];
  blocks: Block[];
}

/** Splits a page into prose and fenced blocks; a fence may be indented (inside a list item). */
function readPage(path: string): Page {
  const lines = readFileSync(join(ROOT, path), 'utf8').split(/\r?\n/);
  const page: Page = { path, prose: [], blocks: [] };
  let open: { block: Block; fence: string; indent: number } | undefined;
  lines.forEach((text, index) => {
    if (open) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(text);
      if (close && close[1][0] === open.fence[0] && close[1].length >= open.fence.length) {
        page.blocks.push(open.block);
        open = undefined;
      } else {
        // As CommonMark does: the fence's indentation is taken off each line of the block.
        open.block.code += `${text.replace(new RegExp(`^ {0,${open.indent}}`), '')}\n`;
      }
      return;
    }
    const fence = /^( *)(`{3,}|~{3,})\s*([^\s`]*)\s*([^`]*)$/.exec(text);
    if (fence) {
      const [, indent, marks, language, info] = fence;
      open = {
        fence: marks,
        indent: indent.length,
        block: { page: path, line: index + 1, language: language.toLowerCase(), markers: info.split(/\s+/).filter(Boolean), code: '' },
      };
    } else {
      page.prose.push({ line: index + 1, text });
    }
  });
  if (open) page.blocks.push(open.block); // an unclosed fence runs to the end of the page
  return page;
}

const pages = new Map(PAGES.map((path) => [path, readPage(path)]));
const pageAt = (path: string): Page => pages.get(path) ?? readPage(path);

/** A heading's text as GitHub renders it: closing hashes, links' targets and inline HTML left out. */
function headingText(raw: string): string {
  return raw
    .replace(/\s+#+\s*$/, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim();
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (but '-' and '_'), each space a '-'. */
function slug(text: string): string {
  return headingText(text)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

function headingsOf(page: Page): string[] {
  return page.prose.map(({ text }) => /^ {0,3}#{1,6}\s+(.*)$/.exec(text)?.[1]).filter((heading): heading is string => heading !== undefined);
}

/** The anchors of a page: one per heading (repeats numbered -1, -2, … as GitHub does), and any `<a id>`/`<a name>`. */
function anchorsOf(page: Page): Set<string> {
  const anchors = new Set<string>();
  for (const heading of headingsOf(page)) {
    const base = slug(heading);
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  for (const { text } of page.prose) for (const [, id] of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id);
  return anchors;
}

/** The link targets of a prose line, code spans left out: inline links and images, reference definitions, hrefs. */
function targetsOf(text: string): string[] {
  const prose = text.replace(/(`+)[^`]*?\1/g, '');
  return [
    ...[...prose.matchAll(/\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/g)].map((m) => m[1]),
    ...[...prose.matchAll(/\shref="([^"]+)"/g)].map((m) => m[1]),
  ];
}

/** package.json "files": an entry is a path or a glob; a directory brings everything under it. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  const pattern = glob.replace(/^\.?\//, '').replace(/\/$/, '');
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}(?:/.*)?$`);
}

const SHIPPED_PATTERNS = SHIPPED.map(globToRegExp);
const shipped = (path: string) => SHIPPED_PATTERNS.some((pattern) => pattern.test(path));

/** Commands as a shell reads them: a line ending in a backslash continues on the next, whitespace normalised. */
function commandsOf(text: string): string[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#\s.*$/, '').replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

function filesUnder(folder: string): string[] {
  const path = join(ROOT, folder);
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [folder];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    const child = `${folder}/${entry.name}`;
    if (entry.isDirectory()) return filesUnder(child);
    return /\.(ts|js|mjs|cjs|sh|sql|json)$/.test(entry.name) || !entry.name.includes('.') ? [child] : [];
  });
}

describe('the documentation', () => {
  it('README is a front door of at most 300 lines, and shows `npm test` as the way to run the tests', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    const commands = pageAt('README.md')
      .blocks.filter((block) => SHELL_LANGUAGES.has(block.language))
      .flatMap((block) => commandsOf(block.code));
    expect(commands).toContain('npm test');
  });

  it('every page of docs/ starts with its title, then a line saying who it is for', () => {
    const untold = DOCS.filter((path) => {
      const [title, forWhom] = pageAt(path).prose.map(({ text }) => text.trim()).filter(Boolean);
      return !/^# \S/.test(title ?? '') || !/^For: \S/.test(forWhom ?? '');
    });
    expect(untold).toEqual([]);
  });

  it('every relative link leads to a file and a heading that exist, and from a shipped page to a shipped file', () => {
    const broken: string[] = [];
    for (const page of pages.values()) {
      for (const { line, text } of page.prose) {
        for (const target of targetsOf(text)) {
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
          const [file, anchor] = decodeURI(target).split('#');
          const path = file ? relative(ROOT, resolve(dirname(join(ROOT, page.path)), file)) : page.path;
          const where = `${page.path}:${line}: ${target}`;
          if (path.startsWith('..') || !existsSync(join(ROOT, path))) {
            broken.push(`${where} (no such file)`);
            continue;
          }
          if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(pageAt(path)).has(anchor)) broken.push(`${where} (no such heading in ${path})`);
          if (shipped(page.path) && !shipped(path)) broken.push(`${where} (not in the package: package.json "files")`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('every section that code, messages or tests name is a heading of the page they name', () => {
    const missing: string[] = [];
    for (const file of CODE_FOLDERS.flatMap(filesUnder)) {
      let text: string;
      try {
        text = readFileSync(join(ROOT, file), 'utf8');
      } catch {
        continue; // moved away while the folders were read
      }
      // `docs/citus.md, "How"`, `SECURITY.md ("Session state")`, `README "Install"`, `docs/citus.md#how`
      const references = /(?<![\w/.-])(README(?:\.md)?|SECURITY\.md|CHANGELOG\.md|docs\/[\w-]+\.md)(?:#([\w-]+)|,? ?\(?"([^"\n]+)")/g;
      for (const match of text.matchAll(references)) {
        const [, named, anchor, section] = match;
        const path = named === 'README' ? 'README.md' : named;
        const where = `${file}:${text.slice(0, match.index).split('\n').length}: ${match[0]}`;
        if (!existsSync(join(ROOT, path))) {
          missing.push(`${where} (no such page)`);
          continue;
        }
        const page = pageAt(path);
        const found = anchor
          ? anchorsOf(page).has(anchor)
          : headingsOf(page).some((heading) => headingText(heading).toLowerCase().startsWith(section.toLowerCase()));
        if (!found) missing.push(`${where} (no such heading in ${path})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every shell block is illustrative or names the file that runs each of its commands', () => {
    const unverified: string[] = [];
    for (const block of [...pages.values()].flatMap((page) => page.blocks).filter((b) => SHELL_LANGUAGES.has(b.language))) {
      if (block.markers.includes('illustrative')) continue;
      const by = block.markers.find((marker) => marker.startsWith('verified-by='))?.slice('verified-by='.length);
      if (!by || !existsSync(join(ROOT, by))) {
        unverified.push(`${block.page}:${block.line}: neither illustrative nor verified-by=<an existing file>`);
        continue;
      }
      const runner = commandsOf(readFileSync(join(ROOT, by), 'utf8')).join(' ');
      for (const command of commandsOf(block.code)) {
        if (!runner.includes(command)) unverified.push(`${block.page}:${block.line}: "${command}" is not in ${by}`);
      }
    }
    expect(unverified).toEqual([]);
  });

  it('every TypeScript block that is not illustrative compiles against the package', () => {
    const blocks = [...pages.values()].flatMap((page) => page.blocks).filter((b) => TS_LANGUAGES.has(b.language) && !b.markers.includes('illustrative'));
    // One program for every block: each is a module of its own (so their names do not collide).
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
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => files.get(name)?.text ?? readFile(name);
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
