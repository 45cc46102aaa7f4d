// Package playground serves the GraphQL playground: GraphiQL, built from this directory's npm
// packages (package.json, package-lock.json, src/) by `make playground` into dist/, which is
// committed and embedded in the binary. The page and every script, stylesheet, font, image and
// web worker it loads come from this server; it talks to nothing but this server's /graphql.
//
// The page is served at Path with Policy as its Content-Security-Policy; its assets, whose file
// names carry a hash of their content, under AssetsPath with a year of immutable caching.
package playground

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dist is the output of `make playground` (vite build): index.html and assets/ ("all:" keeps
// chunks whose names start with _ or ., which Rollup may make).
//
//go:embed all:dist
var dist embed.FS

const (
	// Path is where the page is served.
	Path = "/playground"
	// AssetsPath is the prefix of the page's scripts, styles, fonts, images and workers.
	AssetsPath = Path + "/assets/"
	// DemoLoginPath signs a user in for exploring (see DemoLogin); only in demo mode.
	DemoLoginPath = "/demo/login"

	// AssetCacheControl lets browsers and proxies keep an asset for a year without asking
	// again: a changed asset gets a new name.
	AssetCacheControl = "public, max-age=31536000, immutable"
	// PageCacheControl makes browsers revalidate the page, so they find new asset names after
	// an upgrade.
	PageCacheControl = "no-cache"
)

// Policy is the Content-Security-Policy of the page and of its assets (a web worker runs under
// the policy of its own script's response). Everything comes from this origin and nothing else:
// scripts, styles, fonts, images, workers and requests ('self'); no eval, no inline scripts, no
// data: or blob: URLs, no plugins, no framing, no <base>, no form posts.
//
// The WebSocket of subscriptions needs nothing more: CSP Level 3 has 'self' match ws: and wss:
// URLs of the page's own host and port (ws: beside an http: page, wss: beside https:), and
// Chromium does so (TestPolicyLetsWebSocketsReachThisOriginOnlyInChromium: a socket to the page's
// origin opens, one to another origin is refused). Browsers older than that rule may refuse the
// socket (Safari before 16, by reports): there the playground's subscriptions fail to connect
// and say so, and its queries still run.
//
// The one concession is 'unsafe-inline' for styles, which GraphiQL cannot run without: its
// editor, Monaco, writes <style> elements at run time (the editor theme, token colours, cursor
// and decoration rules, its codicon font table), and GraphiQL's dialogs (Radix UI, through
// react-remove-scroll) add one while open. Neither offers a nonce hook, and a page without them
// renders a colourless, broken editor. Inline styles can change how the page looks, not run
// code; script-src stays 'self' only.
const Policy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"font-src 'self'; " +
	"img-src 'self'; " +
	"connect-src 'self'; " +
	"worker-src 'self'; " +
	"manifest-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Options configure the page.
type Options struct {
	// Endpoint is the path of the GraphQL endpoint the page queries, on this origin.
	Endpoint string
	// Introspection says whether the endpoint answers introspection queries; without it the
	// page does not ask, and says why its documentation explorer is empty.
	Introspection bool
	// DemoLogin is the path of the demo sign-in (DemoLoginPath) when it is on, else empty; the
	// page links to it when nobody is signed in.
	DemoLogin string
}

// page is dist/index.html, with the options filled in by html/template (which escapes them).
var page = template.Must(template.ParseFS(dist, "dist/index.html"))

// Handler serves the page at Path and its assets under AssetsPath (register it for both); any
// other path is 404.
func Handler(opts Options) http.Handler {
	introspection := "off"
	if opts.Introspection {
		introspection = "on"
	}
	var html bytes.Buffer
	err := page.Execute(&html, struct{ Endpoint, Introspection, DemoLogin string }{opts.Endpoint, introspection, opts.DemoLogin})
	if err != nil {
		panic("playground: render index.html: " + err.Error()) // the embedded template is tested
	}
	return &handler{page: html.Bytes()}
}

type handler struct {
	page []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == Path:
		header := w.Header()
		header.Set("Content-Security-Policy", Policy)
		header.Set("Content-Type", "text/html; charset=utf-8")
		header.Set("Cache-Control", PageCacheControl)
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.page))
	case strings.HasPrefix(r.URL.Path, AssetsPath):
		serveAsset(w, r, strings.TrimPrefix(r.URL.Path, AssetsPath))
	default:
		http.NotFound(w, r)
	}
}

// hashedName is how Vite names an asset: name, a dash, eight characters of content hash, and
// the extension. Only such names are served, so every one of them can be cached for good.
var hashedName = regexp.MustCompile(`^[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`)

// contentTypes are the types of the files Vite writes; anything else is not served.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".ttf":   "font/ttf",
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	contentType, known := contentTypes[path.Ext(name)]
	if !known || strings.Contains(name, "/") || !hashedName.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	body, err := fs.ReadFile(dist, "dist/assets/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	header := w.Header()
	header.Set("Content-Type", contentType)
	header.Set("Cache-Control", AssetCacheControl)
	header.Set("Content-Security-Policy", Policy)
	// Each encoding is a representation of its own, with an ETag of its own: a cache that
	// revalidates one must not be told it holds another.
	etag := name
	if compressible(contentType) {
		header.Add("Vary", "Accept-Encoding")
		if br, ok := brotliVersion(name); ok && acceptsEncoding(r, "br") {
			header.Set("Content-Encoding", "br")
			etag, body = name+".br", br
		} else if acceptsEncoding(r, "gzip") {
			header.Set("Content-Encoding", "gzip")
			etag, body = name+".gz", gzipped(name, body)
		}
	}
	header.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func compressible(contentType string) bool {
	return !strings.HasPrefix(contentType, "font/woff") && contentType != "image/png"
}

// acceptsEncoding says whether the request's Accept-Encoding lists coding (case-insensitively)
// with a quality above zero ("br", "br;q=0.5"; not "br;q=0", nor a header without it).
func acceptsEncoding(r *http.Request, coding string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		for _, param := range strings.Split(params, ";") {
			key, value, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(key), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// brotliVersion is the asset as the build compressed it with brotli (vite.config.js, brotliAssets),
// dist/assets/<name>.br, when there is one: every compressible asset of more than 10 KB.
// Those files are not assets of their own (hashedName refuses the .br extension).
func brotliVersion(name string) ([]byte, bool) {
	body, err := fs.ReadFile(dist, "dist/assets/"+name+".br")
	return body, err == nil
}

// gzipCache holds each asset compressed, made on its first request: Monaco's 3 MB of script
// travel as 0.7 MB.
var gzipCache sync.Map // name → func() []byte

func gzipped(name string, body []byte) []byte {
	compress, _ := gzipCache.LoadOrStore(name, sync.OnceValue(func() []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			panic(fmt.Sprintf("playground: gzip %s: %v", name, err)) // writing to memory cannot fail
		}
		return b.Bytes()
	}))
	return compress.(func() []byte)()
}
