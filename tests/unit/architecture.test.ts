import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The module boundaries of src/ (see STYLE.md "Modules own their slice"), checked on the import
 * graph: every `import`, `import type`, `export … from`, `require()` and `import()` of every .ts file.
 */
const SRC = path.resolve(__dirname, '../../src');
const MODULES = path.join(SRC, 'modules');
const PLATFORM = path.join(SRC, 'platform');
const SERVICES = path.join(SRC, 'services');

interface Edge {
  from: string;
  specifier: string;
  line: number;
  /** The imported path without extension, or undefined for a package. */
  target?: string;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function edges(): Edge[] {
  return tsFiles(SRC).flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({
      from: file,
      specifier: f.fileName,
      line: text.slice(0, f.pos).split('\n').length,
      target: f.fileName.startsWith('.') ? path.resolve(path.dirname(file), f.fileName).replace(/(\/index)?(\.ts)?$/, '') : undefined,
    }));
  });
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + path.sep);
/** `src/modules/<name>/…` → name; files directly in src/modules (registry.ts) belong to no module. */
function moduleOf(p: string): string | undefined {
  if (!inside(p, MODULES)) return undefined;
  const parts = path.relative(MODULES, p).split(path.sep);
  return parts.length > 1 || fs.existsSync(path.join(MODULES, parts[0])) ? parts[0] : undefined;
}
/** A module is reached through its index only: `src/modules/<name>` (or `<name>/index`). */
const isModuleIndex = (target: string) => path.dirname(target) === MODULES && fs.existsSync(path.join(target, 'index.ts'));

const show = (e: Edge, why: string) => `${path.relative(SRC, e.from)}:${e.line} imports '${e.specifier}' (${why})`;

function violations(): string[] {
  const out: string[] = [];
  for (const e of edges()) {
    if (!e.target) continue;
    const from = moduleOf(e.from);
    const to = moduleOf(e.target);
    if (inside(e.from, PLATFORM) && (inside(e.target, MODULES) || e.target === SERVICES)) {
      out.push(show(e, 'platform must not depend on modules or the service bag'));
    } else if (inside(e.from, MODULES) && e.target === SERVICES) {
      out.push(show(e, 'a module must not depend on the whole service bag'));
    } else if (to !== undefined && to !== from && !isModuleIndex(e.target)) {
      out.push(show(e, `bypasses src/modules/${to}/index.ts`));
    }
  }
  return out;
}

describe('architecture', () => {
  it('finds the imports it checks', () => {
    const all = edges();
    expect(all.some((e) => e.from.endsWith(path.join('src', 'app.ts')) && e.target === path.join(SRC, 'platform', 'db'))).toBe(true);
    expect(all.some((e) => e.target && inside(e.target, MODULES))).toBe(true);
  });

  it('keeps platform free of modules, modules behind their index.ts, and the service bag out of modules', () => {
    // Each entry names the offending edge; an empty list is the only passing result.
    expect(violations()).toEqual([]);
  });
});
