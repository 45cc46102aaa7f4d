// Builds the playground page into dist/, which the Go package playground embeds and serves:
// the page at /playground, everything else under /playground/assets/ with content hashes in the
// names (so the server can let browsers cache them for a year). `make playground` runs this.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlib } from 'node:zlib';
import { defineConfig } from 'vite';

const base = '/playground/';

export default defineConfig({
  base,
  esbuild: { jsx: 'automatic' },
  plugins: [dataURLsToFiles(), brotliAssets()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Every asset is a file of its own: the page's Content-Security-Policy allows no data: URLs.
    assetsInlineLimit: 0,
    // Chromium, Firefox and Safari all support <link rel="modulepreload">; skip the polyfill.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    // Monaco, the editor of GraphiQL 5, is a few MB; that is expected, not a warning.
    chunkSizeWarningLimit: 6000,
  },
  worker: { format: 'es' },
});

// dataURLsToFiles moves the data: URLs of the bundled CSS into files of their own. GraphiQL's
// prebuilt style.css carries its fonts (Roboto, Fira Code, Monaco's codicons) and a few images
// inline; with them as files the page's policy can say font-src 'self' and img-src 'self'
// instead of allowing data: URLs.
function dataURLsToFiles() {
  const extensions = {
    'font/woff2': '.woff2',
    'font/woff': '.woff',
    'font/ttf': '.ttf',
    'font/otf': '.otf',
    'application/font-woff': '.woff',
    'application/x-font-ttf': '.ttf',
    'image/svg+xml': '.svg',
    'image/png': '.png',
    'image/gif': '.gif',
    'image/jpeg': '.jpg',
    'image/webp': '.webp',
  };
  const dataURL = /url\(\s*(?:"(data:[^"]*)"|'(data:[^']*)'|(data:[^)'"\s]*))\s*\)/g;
  return {
    name: 'partizap:data-urls-to-files',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== 'asset' || !file.fileName.endsWith('.css')) continue;
        const css = typeof file.source === 'string' ? file.source : new TextDecoder().decode(file.source);
        file.source = css.replace(dataURL, (match, dq, sq, bare) => {
          const url = dq ?? sq ?? bare;
          const comma = url.indexOf(',');
          const [mime, ...params] = url.slice('data:'.length, comma).split(';');
          const ext = extensions[mime.toLowerCase()];
          if (!ext) this.error(`${file.fileName}: a data: URL of type ${mime} has no file extension here; add one`);
          const payload = url.slice(comma + 1);
          const bytes = params.includes('base64')
            ? Buffer.from(payload, 'base64')
            : Buffer.from(decodeURIComponent(payload), 'utf8');
          const kind = mime.startsWith('font/') || mime.includes('font') ? 'font' : 'image';
          const ref = this.emitFile({ type: 'asset', name: kind + ext, source: bytes });
          return `url(${base}${this.getFileName(ref)})`;
        });
      }
    },
  };
}

// brotliAssets writes <name>.br beside every compressible asset of more than brotliThreshold
// bytes in dist/assets, at brotli's best quality, once the build has written them: the server
// answers a browser that accepts br with it (playground.go, serveAsset), Monaco's 3 MB script
// travelling as about half its gzip size. Brotli is deterministic for the same bytes and
// parameters, so a rebuild of the same sources writes the same files.
const brotliThreshold = 10 * 1024;
// The types serveAsset compresses (fonts in woff and woff2 are compressed already, as is png).
const brotliExtensions = ['.js', '.css', '.svg', '.ttf'];

function brotliAssets() {
  let assetsDir;
  return {
    name: 'partizap:brotli-assets',
    apply: 'build',
    configResolved(config) {
      assetsDir = join(config.root, config.build.outDir, config.build.assetsDir);
    },
    closeBundle() {
      for (const name of readdirSync(assetsDir).sort()) {
        const file = join(assetsDir, name);
        if (!brotliExtensions.some((ext) => name.endsWith(ext)) || statSync(file).size <= brotliThreshold) continue;
        const source = readFileSync(file);
        const compressed = brotliCompressSync(source, {
          params: {
            [zlib.BROTLI_PARAM_MODE]: name.endsWith('.ttf') ? zlib.BROTLI_MODE_FONT : zlib.BROTLI_MODE_TEXT,
            [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
            [zlib.BROTLI_PARAM_SIZE_HINT]: source.length,
          },
        });
        writeFileSync(file + '.br', compressed);
      }
    },
  };
}
