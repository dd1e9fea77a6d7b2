import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * src/README.md lists the rooms of `src/` from the top down; a room may import only rooms below it.
 * Checked here against every relative import of every source file (type-only ones too: a type is a
 * dependency of the design even where it is erased at run time).
 */
const SRC = resolve(__dirname, '../../src');
const MAX_FILES = 12;
const MAX_LINES = 800;
/** What an oversized room's index.ts must say, followed by the reason. */
const SIZE_REASON = 'Why this room is larger than the others:';

interface SourceFile {
  path: string;
  room: string;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** The room of a path under src/ (its first folder), or undefined for src/index.ts and anything outside src/. */
function roomOf(path: string): string | undefined {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 && parts[0] !== '..' ? parts[0] : undefined;
}

function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles.map((imported) => imported.fileName).filter((name) => name.startsWith('.'));
}

/** Every edge between two rooms, as "from → to (file imports spec)". */
function roomImports(): { from: string; to: string; where: string }[] {
  return sourceFiles().flatMap((file) => {
    const from = roomOf(file);
    if (!from) return [];
    return importsOf(file).flatMap((spec) => {
      const to = roomOf(resolve(dirname(file), spec));
      return to && to !== from ? [{ from, to, where: `${relative(SRC, file)} imports '${spec}'` }] : [];
    });
  });
}

/** The rooms src/README.md lists, top first: its lines "- `name/`: …". */
function documentedRooms(): string[] {
  return [...readFileSync(join(SRC, 'README.md'), 'utf8').matchAll(/^- `([a-z-]+)\/`:/gm)].map((match) => match[1]);
}

/** The imports that go to a room at or above their own in `order` (top first). */
function upwardImports(order: string[]): string[] {
  return roomImports()
    .filter(({ from, to }) => order.indexOf(to) <= order.indexOf(from))
    .map(({ from, to, where }) => `${from} → ${to}: ${where}`);
}

const rooms = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());

describe('the rooms of src/', () => {
  it('src/README.md lists every room once, and no room that does not exist', () => {
    const listed = documentedRooms();
    expect([...listed].sort()).toEqual([...rooms].sort());
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('a room imports only rooms listed below it in src/README.md (so no two rooms import each other, directly or round about)', () => {
    expect(upwardImports(documentedRooms())).toEqual([]);
  });

  it(`no room holds more than ${MAX_FILES} files or ${MAX_LINES} lines without saying why in its index.ts`, () => {
    const unexplained = rooms.flatMap((room) => {
      const files = sourceFiles(join(SRC, room));
      const lines = files.reduce((sum, file) => sum + readFileSync(file, 'utf8').split('\n').length, 0);
      if (files.length <= MAX_FILES && lines <= MAX_LINES) return [];
      const index = files.find((file) => /[/\\]index\.ts$/.test(file));
      const reason = index && readFileSync(index, 'utf8').includes(SIZE_REASON);
      return reason ? [] : [`${room}/: ${files.length} files, ${lines} lines, and no "${SIZE_REASON}" in its index.ts`];
    });
    expect(unexplained).toEqual([]);
  });

  it('reports the imports that go up (negative control: the list turned upside down)', () => {
    expect(upwardImports([...documentedRooms()].reverse())).toContainEqual(expect.stringMatching(/^module → config: module\/database\.module\.ts imports/));
  });
});
