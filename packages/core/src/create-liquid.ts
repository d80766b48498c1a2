import { readFileSync, realpathSync, statSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Liquid, Tag, type Context, type Emitter, type FS, type LiquidOptions, type TagToken, type Template, type TopLevelToken } from 'liquidjs';

/**
 * Bounds on one template: without them a `{% for i in (1..30000000) %}` holds the event loop
 * for seconds and a template doubling a string fills the heap. LiquidJS checks the first three;
 * the output bound is pulsebridge's (LiquidJS does not count what it writes).
 */
export interface TemplateLimits {
  /** Characters of template text one parse may read. */
  parseLimit: number;
  /** Milliseconds one render may take (checked between template nodes and loop iterations). */
  renderLimit: number;
  /** LiquidJS memory units (string lengths, array and range sizes) one render may allocate. */
  memoryLimit: number;
  /** Characters one render may write (each `{% capture %}` inside it too). */
  outputLimit: number;
}

/** The limits of each kind of template; every engine is built with one of them. */
export const TEMPLATE_LIMITS = {
  /** Written by responders in the API or the UI (run commands): at most 4,000 characters. */
  userText: { parseLimit: 8_000, renderLimit: 500, memoryLimit: 200_000, outputLimit: 32_000 },
  /** Written by operators in CONFIG_DIR (rules, Slack messages), rendered for every event. */
  config: { parseLimit: 64 * 1024, renderLimit: 500, memoryLimit: 2_000_000, outputLimit: 256 * 1024 },
  /** The web UI's own views, shipped with the code: pages of up to 200 rows, payloads up to 1 MiB. */
  views: { parseLimit: 1024 * 1024, renderLimit: 3_000, memoryLimit: 10_000_000, outputLimit: 32 * 1024 * 1024 },
} as const satisfies Record<string, TemplateLimits>;

/** The tags that read other files; refused outright in engines without files. */
export const FILE_TAGS = ['include', 'render', 'layout'] as const;

export interface CreateLiquidOptions {
  /**
   * `none`: the template can read no file (`include`, `render` and `layout` are refused when
   * parsed). Otherwise partials and layouts are `.liquid` files inside `root` (symbolic links
   * resolved), nothing else.
   */
  files: 'none' | { root: string; cache?: boolean };
  limits: TemplateLimits;
  outputEscape?: LiquidOptions['outputEscape'];
  strictVariables?: boolean;
}

const PARTIAL_EXTNAME = '.liquid';

/** A file system with no files: even a tag added later cannot read one. */
const NO_FILES: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (dir, file) => `${dir}/${file}`,
  contains: async () => false,
  containsSync: () => false,
};

const isInside = (root: string, file: string) => file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
const isPartialName = (file: string) => path.extname(file) === PARTIAL_EXTNAME;

/** `.liquid` files under a root, judged by their real paths (a link out of the root is refused). */
function partialFiles(): FS {
  return {
    exists: async (file) => isPartialName(file) && (await stat(file).then((s) => s.isFile(), () => false)),
    existsSync: (file) => {
      try {
        return isPartialName(file) && statSync(file).isFile();
      } catch {
        return false;
      }
    },
    readFile: (file) => readFile(file, 'utf8'),
    readFileSync: (file) => readFileSync(file, 'utf8'),
    resolve: (dir, file, ext) => path.resolve(dir, path.extname(file) ? file : file + ext),
    contains: async (root, file) => {
      try {
        return isInside(await realpath(root), await realpath(file));
      } catch {
        return false;
      }
    },
    containsSync: (root, file) => {
      try {
        return isInside(realpathSync(root), realpathSync(file));
      } catch {
        return false;
      }
    },
    dirname: (file) => path.dirname(file),
    sep: path.sep,
  };
}

function refusedTag(name: string) {
  return class RefusedTag extends Tag {
    constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
      super(token, remainTokens, liquid);
      throw new Error(`the "${name}" tag is not allowed: these templates cannot read files`);
    }
    render(): void {}
  };
}

export class TemplateOutputLimitError extends Error {
  constructor(limit: number) {
    super(`output limit exceeded (${limit} characters)`);
    this.name = 'TemplateOutputLimitError';
  }
}

/** LiquidJS's own emitter, with a bound on what it collects. */
class BoundedEmitter implements Emitter {
  buffer = '';
  constructor(private readonly limit: number) {}
  write(html: unknown): void {
    const text = html === null || html === undefined ? '' : typeof html === 'string' ? html : String(html as string);
    if (this.buffer.length + text.length > this.limit) throw new TemplateOutputLimitError(this.limit);
    this.buffer += text;
  }
}

/**
 * The only place a Liquid engine is made (a test holds every `new Liquid` in the code base to
 * this file): limits always set, files only where `files` says, filters strict, only own
 * properties of values readable.
 */
export function createLiquid(options: CreateLiquidOptions): Liquid {
  const { files, limits } = options;
  const liquid = new Liquid({
    strictFilters: true,
    strictVariables: options.strictVariables ?? false,
    ownPropertyOnly: true,
    relativeReference: false,
    parseLimit: limits.parseLimit,
    renderLimit: limits.renderLimit,
    memoryLimit: limits.memoryLimit,
    ...(options.outputEscape !== undefined && { outputEscape: options.outputEscape }),
    ...(files === 'none'
      ? { fs: NO_FILES, root: [], partials: [], layouts: [], cache: false }
      : { fs: partialFiles(), root: [files.root], partials: [files.root], layouts: [files.root], extname: PARTIAL_EXTNAME, cache: files.cache ?? false }),
  });
  if (files === 'none') for (const name of FILE_TAGS) liquid.registerTag(name, refusedTag(name));
  // Every render without an emitter of its own (a whole template, a capture) gets a bounded one.
  const renderer = liquid.renderer;
  const renderTemplates = renderer.renderTemplates.bind(renderer);
  renderer.renderTemplates = (templates: Template[], ctx: Context, emitter?: Emitter) => renderTemplates(templates, ctx, emitter ?? new BoundedEmitter(limits.outputLimit));
  return liquid;
}

const LIMIT_MESSAGE = /(parse length|template render|memory alloc|output) limit exceeded/;

/** Whether a Liquid error (or what it wraps) is one of the limits above being exceeded. */
export function isTemplateLimitError(error: unknown): boolean {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 5; depth++) {
    if (at instanceof TemplateOutputLimitError || LIMIT_MESSAGE.test(at.message)) return true;
    at = (at as { originalError?: unknown }).originalError ?? at.cause;
  }
  return false;
}
