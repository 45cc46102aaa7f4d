package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// ---- the page, its policy and its assets, through the handler ----

func TestPolicyAllowsOnlyThisOrigin(t *testing.T) {
	t.Parallel()
	directives := map[string][]string{}
	for _, d := range strings.Split(Policy, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		if _, dup := directives[fields[0]]; dup {
			t.Errorf("directive %s given twice", fields[0])
		}
		directives[fields[0]] = fields[1:]
	}
	want := map[string][]string{
		"default-src":     {"'none'"},
		"script-src":      {"'self'"},
		"style-src":       {"'self'", "'unsafe-inline'"}, // Monaco writes <style> elements; see Policy
		"font-src":        {"'self'"},
		"img-src":         {"'self'"},
		"connect-src":     {"'self'"}, // fetch, and the WebSocket of subscriptions: 'self' matches ws: and wss: to this host
		"worker-src":      {"'self'"},
		"manifest-src":    {"'self'"},
		"frame-ancestors": {"'none'"},
		"base-uri":        {"'none'"},
		"form-action":     {"'none'"},
	}
	for name, sources := range want {
		if !slices.Equal(directives[name], sources) {
			t.Errorf("%s %q, want %q", name, directives[name], sources)
		}
	}
	for name := range directives {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected directive %s %q", name, directives[name])
		}
	}
	if strings.Contains(Policy, "unsafe-eval") || strings.Contains(Policy, "data:") || strings.Contains(Policy, "blob:") ||
		strings.Contains(Policy, "http") || strings.Contains(Policy, "ws:") || strings.Contains(Policy, "wss:") || strings.Contains(Policy, "*") {
		t.Errorf("policy allows more than this origin: %s", Policy)
	}
}

func get(t *testing.T, h http.Handler, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPageFillsInItsOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts Options
		want []string
	}{
		{Options{Endpoint: "/graphql", Introspection: true, DemoLogin: DemoLoginPath}, []string{
			`<meta name="partizap:endpoint" content="/graphql">`,
			`<meta name="partizap:introspection" content="on">`,
			`<meta name="partizap:demo-login" content="/demo/login">`,
		}},
		{Options{Endpoint: `/x"><script>`, Introspection: false}, []string{
			`<meta name="partizap:endpoint" content="/x&#34;&gt;&lt;script&gt;">`,
			`<meta name="partizap:introspection" content="off">`,
			`<meta name="partizap:demo-login" content="">`,
		}},
	}
	for _, tt := range tests {
		res := get(t, Handler(tt.opts), Path, nil)
		body := string(readBody(t, res))
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", Path, res.StatusCode)
		}
		for _, want := range tt.want {
			if !strings.Contains(body, want) {
				t.Errorf("%+v: page lacks %s:\n%s", tt.opts, want, body)
			}
		}
	}
}

func TestPageHeaders(t *testing.T) {
	t.Parallel()
	res := get(t, Handler(Options{Endpoint: "/graphql", Introspection: true}), Path, nil)
	body := readBody(t, res)
	for name, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": Policy,
		"Cache-Control":           PageCacheControl,
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	// script-src 'self' only: every script of the page is a file.
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(body), -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script in the page: %s", m[0])
		}
	}
	if bytes.Contains(body, []byte(" style=")) {
		t.Error("the page has a style attribute")
	}
}

// assetRefs finds the asset URLs in a page, a stylesheet or a script: absolute ones under
// AssetsPath and, in scripts, the relative imports of other chunks.
var assetRefs = regexp.MustCompile(`/playground/assets/[A-Za-z0-9._-]+|"\./[A-Za-z0-9._-]+\.js"`)

func TestEveryReferencedAssetIsEmbeddedAndServedForGood(t *testing.T) {
	t.Parallel()
	h := Handler(Options{Endpoint: "/graphql", Introspection: true})
	entries, err := fs.ReadDir(dist, "dist/assets")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no embedded assets (run make playground): %v", err)
	}
	embedded := map[string]bool{}
	for _, e := range entries {
		if asset, ok := strings.CutSuffix(e.Name(), ".br"); ok {
			// The build's brotli version of an asset (TestLargestAssetIsServedAsBrotliWhenAccepted).
			if _, err := fs.Stat(dist, "dist/assets/"+asset); err != nil || !compressible(contentTypes[path.Ext(asset)]) {
				t.Errorf("%s is not the brotli version of a compressible asset: %v", e.Name(), err)
			}
			continue
		}
		embedded[e.Name()] = true
		if !hashedName.MatchString(e.Name()) {
			t.Errorf("asset %s has no content hash in its name", e.Name())
		}
		if _, ok := contentTypes[path.Ext(e.Name())]; !ok {
			t.Errorf("asset %s has a type the server does not serve", e.Name())
		}
	}

	// Walk from the page through every stylesheet and script it reaches.
	page := string(readBody(t, get(t, h, Path, nil)))
	queue := []string{}
	seen := map[string]bool{}
	add := func(from, ref string) {
		name := strings.TrimPrefix(strings.Trim(ref, `"`), AssetsPath)
		name = strings.TrimPrefix(name, "./")
		if !embedded[name] {
			t.Errorf("%s references %s, which is not embedded", from, ref)
			return
		}
		if !seen[name] {
			seen[name] = true
			queue = append(queue, name)
		}
	}
	for _, ref := range assetRefs.FindAllString(page, -1) {
		add("the page", ref)
	}
	if len(queue) < 2 {
		t.Fatalf("the page references %d assets:\n%s", len(queue), page)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		res := get(t, h, AssetsPath+name, nil)
		body := readBody(t, res)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", name, res.StatusCode)
			continue
		}
		for header, want := range map[string]string{
			"Cache-Control":           AssetCacheControl,
			"Content-Type":            contentTypes[path.Ext(name)],
			"Content-Security-Policy": Policy, // workers run under their script's policy
		} {
			if got := res.Header.Get(header); got != want {
				t.Errorf("GET %s: %s %q, want %q", name, header, got, want)
			}
		}
		if ext := path.Ext(name); ext == ".js" || ext == ".css" {
			for _, ref := range assetRefs.FindAllString(string(body), -1) {
				add(name, ref)
			}
		}
		if path.Ext(name) == ".css" {
			for _, u := range regexp.MustCompile(`url\(\s*["']?([^)"']*)`).FindAllStringSubmatch(string(body), -1) {
				if !strings.HasPrefix(u[1], AssetsPath) && !strings.HasPrefix(u[1], "#") {
					t.Errorf("%s loads %q from outside the assets", name, u[1])
				}
			}
		}
	}
	for _, want := range []string{".js", ".css", ".woff2", ".ttf"} {
		found := false
		for name := range seen {
			found = found || strings.HasSuffix(name, want)
		}
		if !found {
			t.Errorf("no %s asset reached from the page", want)
		}
	}
	workers := 0
	for name := range seen {
		if strings.Contains(name, ".worker-") {
			workers++
		}
	}
	if workers != 3 {
		t.Errorf("%d web workers reached from the page, want Monaco's editor, JSON and GraphQL workers", workers)
	}
}

func TestAssetsAreCompressedAndUnknownNamesAreNotFound(t *testing.T) {
	t.Parallel()
	h := Handler(Options{Endpoint: "/graphql"})
	var script string
	entries, _ := fs.ReadDir(dist, "dist/assets")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "index-") && strings.HasSuffix(e.Name(), ".js") {
			script = e.Name()
		}
	}
	plain := readBody(t, get(t, h, AssetsPath+script, nil))
	res := get(t, h, AssetsPath+script, map[string]string{"Accept-Encoding": "gzip, deflate"})
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip not offered: %v", res.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(readBody(t, res)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) || len(plain) == 0 {
		t.Fatalf("gzipped %s differs from the plain one", script)
	}
	for _, target := range []string{
		AssetsPath + "nothing-AAAAAAAA.js",
		AssetsPath + script + ".br", // the brotli version is a representation of script, not an asset
		AssetsPath + "index.html",
		AssetsPath + "../index.html",
		AssetsPath + "%2e%2e%2findex.html",
		AssetsPath,
		Path + "/index.html",
		Path + "/",
	} {
		if res := get(t, h, target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, res.StatusCode)
		}
	}
	req := httptest.NewRequest(http.MethodPost, Path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d", Path, rec.Code)
	}
}

// largestAsset is the name of the largest embedded asset: Monaco's script.
func largestAsset(t testing.TB) string {
	t.Helper()
	entries, err := fs.ReadDir(dist, "dist/assets")
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var size int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.Name(), ".br") && info.Size() > size {
			name, size = e.Name(), info.Size()
		}
	}
	if size < 1<<20 {
		t.Fatalf("the largest asset, %q, has %d bytes: is Monaco's script not embedded?", name, size)
	}
	return name
}

func TestLargestAssetIsServedAsBrotliWhenAccepted(t *testing.T) {
	t.Parallel()
	h := Handler(Options{Endpoint: "/graphql"})
	name := largestAsset(t)
	plain, err := fs.ReadFile(dist, "dist/assets/"+name)
	if err != nil {
		t.Fatal(err)
	}
	decode := map[string]func([]byte) ([]byte, error){
		"": func(b []byte) ([]byte, error) { return b, nil },
		"br": func(b []byte) ([]byte, error) {
			return io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
		},
		"gzip": func(b []byte) ([]byte, error) {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(zr)
		},
	}
	sizes := map[string]int{}
	etags := map[string]string{}
	for _, c := range []struct{ accept, want string }{
		{"gzip, deflate, br, zstd", "br"}, // Chromium's
		{"br", "br"},
		{"BR;q=0.5, gzip;q=1", "br"},
		{"gzip, deflate", "gzip"},
		{"gzip, br;q=0", "gzip"},
		{"br; q=0.000, gzip", "gzip"},
		{"GZIP", "gzip"},
		{"", ""},
		{"identity", ""},
		{"deflate, zstd", ""},
		{"br;q=0, gzip;q=0", ""},
	} {
		res := get(t, h, AssetsPath+name, map[string]string{"Accept-Encoding": c.accept})
		body := readBody(t, res)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != c.want {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, want %q", c.accept, res.StatusCode, res.Header.Get("Content-Encoding"), c.want)
			continue
		}
		if vary := res.Header.Get("Vary"); vary != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", c.accept, vary)
		}
		if got := res.Header.Get("Content-Type"); got != contentTypes[".js"] {
			t.Errorf("Accept-Encoding %q: Content-Type %q", c.accept, got)
		}
		decoded, err := decode[c.want](body)
		if err != nil || !bytes.Equal(decoded, plain) {
			t.Errorf("Accept-Encoding %q: the %q body does not decode to %s (%d bytes): %v", c.accept, c.want, name, len(decoded), err)
		}
		if etag, seen := etags[c.want]; seen && etag != res.Header.Get("ETag") {
			t.Errorf("Accept-Encoding %q: ETag %q, and %q before for the same encoding", c.accept, res.Header.Get("ETag"), etag)
		}
		etags[c.want], sizes[c.want] = res.Header.Get("ETag"), len(body)
	}
	if etags[""] == etags["br"] || etags[""] == etags["gzip"] || etags["br"] == etags["gzip"] {
		t.Errorf("the encodings share an ETag: %q", etags)
	}
	if sizes["br"] >= sizes["gzip"] {
		t.Errorf("%s: brotli %d bytes, gzip %d: is the build's .br file at brotli's best?", name, sizes["br"], sizes["gzip"])
	}
	t.Logf("%s: %d bytes, gzip %d, br %d", name, sizes[""], sizes["gzip"], sizes["br"])

	// A revalidation of the brotli version is answered 304 for its own ETag only.
	for etag, want := range map[string]int{etags["br"]: http.StatusNotModified, etags["gzip"]: http.StatusOK, etags[""]: http.StatusOK} {
		res := get(t, h, AssetsPath+name, map[string]string{"Accept-Encoding": "gzip, br", "If-None-Match": etag})
		readBody(t, res)
		if res.StatusCode != want {
			t.Errorf("If-None-Match %s with br accepted: %d, want %d", etag, res.StatusCode, want)
		}
	}
	// A type that is not compressed has no Vary and no encoding, br accepted or not.
	for _, e := range mustReadDir(t, "dist/assets") {
		if strings.HasSuffix(e.Name(), ".woff2") {
			res := get(t, h, AssetsPath+e.Name(), map[string]string{"Accept-Encoding": "gzip, br"})
			readBody(t, res)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "" || res.Header.Get("Vary") != "" {
				t.Errorf("GET %s: %d, %v", e.Name(), res.StatusCode, res.Header)
			}
			break
		}
	}
}

func mustReadDir(t testing.TB, dir string) []fs.DirEntry {
	t.Helper()
	entries, err := fs.ReadDir(dist, dir)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestExampleQueryIsTheREADMEs keeps the query the page opens with equal to README.md's.
func TestExampleQueryIsTheREADMEs(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("src/example.graphql")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```graphql\n"+string(example)+"```\n")) {
		t.Errorf("README.md's example query differs from playground/src/example.graphql:\n%s", example)
	}
	// and the build has it: a stale dist/ fails here (run make playground).
	if !builtScriptsHold(string(example)) {
		t.Error("no built script holds playground/src/example.graphql: dist/ is stale, run make playground")
	}
}

// builtScriptsHold says whether a script of dist/ has text as a string literal, as Vite bundles
// a file imported with ?raw: in quotes, or in backquotes (a template literal, which escapes
// backslashes, backquotes and ${).
func builtScriptsHold(text string) bool {
	literal, _ := json.Marshal(text)
	template := "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`", "${", `\${`).Replace(text) + "`"
	entries, _ := fs.ReadDir(dist, "dist/assets")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".js") {
			b, _ := fs.ReadFile(dist, "dist/assets/"+e.Name())
			if bytes.Contains(b, literal) || bytes.Contains(b, []byte(template)) {
				return true
			}
		}
	}
	return false
}

// exampleTab is one of the playground's tabs after the first: the title GraphiQL gives it (its
// operation's name), the name of its files in src/examples/, an operation (.graphql) and its
// variables (.json), and whether that operation is a subscription (live), which runs until it is
// stopped rather than answering once.
type exampleTab struct {
	title, file string
	live        bool
}

// exampleTabs are the tabs of src/examples/tabs.js, in order.
var exampleTabs = []exampleTab{
	{"Thread", "thread", false},
	{"Reply", "reply", false},
	{"MarkRead", "mark-read", false},
	{"Unread", "unread", false},
	{"LiveInbox", "live-inbox", true},
	{"LiveThread", "live-thread", true},
}

// readExample is an example tab's operation and variables.
func readExample(t *testing.T, file string) (query, variables string) {
	t.Helper()
	q, err := os.ReadFile(filepath.Join("src", "examples", file+".graphql"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile(filepath.Join("src", "examples", file+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(q), string(v)
}

// TestExampleTabsAreBuilt: each example tab's files are valid and in the build as they are in
// src/examples/ (a stale dist/ fails here: run make playground), and exampleTabs lists them all.
func TestExampleTabsAreBuilt(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, tab := range exampleTabs {
		listed[tab.file+".graphql"], listed[tab.file+".json"] = true, true
		query, variables := readExample(t, tab.file)
		if !json.Valid([]byte(variables)) {
			t.Errorf("src/examples/%s.json is not JSON", tab.file)
		}
		operation := regexp.MustCompile(`(?m)^(query|mutation|subscription) ` + tab.title + `[ ({]`).FindStringSubmatch(query)
		if operation == nil {
			t.Errorf("src/examples/%s.graphql is not the operation %s", tab.file, tab.title)
		} else if live := operation[1] == "subscription"; live != tab.live {
			t.Errorf("src/examples/%s.graphql is a %s; exampleTabs says live: %v", tab.file, operation[1], tab.live)
		}
		for name, text := range map[string]string{".graphql": query, ".json": variables} {
			if !builtScriptsHold(text) {
				t.Errorf("no built script holds playground/src/examples/%s%s: dist/ is stale, run make playground", tab.file, name)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join("src", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != "tabs.js" && !listed[name] {
			t.Errorf("src/examples/%s is not in exampleTabs", name)
		}
	}
}

// ---- the demo sign-in, through the handler ----

type fakeSessions struct {
	users    map[int64]*models.User
	busiest  *models.User
	mu       sync.Mutex
	sessions []int64
}

func (f *fakeSessions) UsersByID(_ context.Context, ids []int64) ([]*models.User, error) {
	var out []*models.User
	for _, id := range ids {
		if u := f.users[id]; u != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeSessions) BusiestVendor(context.Context) (*models.User, int, error) {
	return f.busiest, 3, nil
}

func (f *fakeSessions) CreateSession(_ context.Context, userID int64, ttl time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = append(f.sessions, userID)
	return fmt.Sprintf("session-of-%d-for-%s", userID, ttl), nil
}

func TestDemoLoginSetsTheCookieAndRedirects(t *testing.T) {
	t.Parallel()
	store := &fakeSessions{users: map[int64]*models.User{1: {ID: 1}, 7: {ID: 7}}, busiest: &models.User{ID: 1}}
	h := DemoLogin(store, time.Hour, slog.New(slog.DiscardHandler))
	for _, tls := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(h)
		if tls {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		client := srv.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		for query, user := range map[string]int64{"": 1, "?user=7": 7} {
			res, err := client.Get(srv.URL + DemoLoginPath + query)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Path {
				t.Errorf("tls=%v %s: %d to %q, want 303 to %s", tls, query, res.StatusCode, res.Header.Get("Location"), Path)
			}
			cookies := res.Header.Values("Set-Cookie")
			if len(cookies) != 1 {
				t.Fatalf("Set-Cookie %q", cookies)
			}
			want := fmt.Sprintf("PARTIZAP_SESSION=session-of-%d-for-1h0m0s; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax", user)
			if tls {
				want = fmt.Sprintf("PARTIZAP_SESSION=session-of-%d-for-1h0m0s; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax", user)
			}
			if cookies[0] != want {
				t.Errorf("tls=%v %s: Set-Cookie %q, want %q", tls, query, cookies[0], want)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("a sign-in may be cached: %q", res.Header.Get("Cache-Control"))
			}
		}
		srv.Close()
	}
}

func TestDemoLoginRejectsBadUsers(t *testing.T) {
	t.Parallel()
	store := &fakeSessions{users: map[int64]*models.User{1: {ID: 1}}}
	h := DemoLogin(store, time.Hour, slog.New(slog.DiscardHandler))
	tests := []struct {
		query  string
		status int
		says   string
	}{
		{"?user=abc", 400, `user must be a user id, a positive integer like /demo/login?user=1; not "abc"`},
		{"?user=0", 400, "positive integer"},
		{"?user=-3", 400, "positive integer"},
		{"?user=1.5", 400, "positive integer"},
		{"?user=", 400, "positive integer"},
		{"?user=99999999999999999999", 400, "positive integer"},
		{"?user=1&user=2", 400, "give user once"},
		{"?user=42", 404, "there is no user 42"},
		{"", 404, "no vendor to sign in"}, // an empty database: no busiest vendor
	}
	for _, tt := range tests {
		res := get(t, h, DemoLoginPath+tt.query, nil)
		body := string(readBody(t, res))
		if res.StatusCode != tt.status || !strings.Contains(body, tt.says) || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %q (Set-Cookie %q), want %d saying %q", tt.query, res.StatusCode, body, res.Header.Get("Set-Cookie"), tt.status, tt.says)
		}
	}
	for _, method := range []string{http.MethodHead, http.MethodPost} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, DemoLoginPath+"?user=1", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s %s: %d, Set-Cookie %q", method, DemoLoginPath, rec.Code, rec.Header().Get("Set-Cookie"))
		}
	}
	if len(store.sessions) != 0 {
		t.Errorf("sessions created for bad requests: %v", store.sessions)
	}
}

// ---- the real server ----

// repoRoot is the directory of go.mod, above this package's.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds the service, as `go build` in the repository root does, once per run.
func serverBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "playground-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vendor-inbox")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type server struct {
	base    string // as the greeting prints it: http://localhost:PORT
	dataDir string
	mu      sync.Mutex
	out     bytes.Buffer // the greeting and the logs
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startServer runs the built service on a free port of 127.0.0.1 with a fresh DATA_DIR and env,
// and waits until it is ready.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	s := &server{dataDir: t.TempDir()}
	cmd := exec.Command(serverBinary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "ADDR=127.0.0.1:0", "DATA_DIR=" + s.dataDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		base := ""
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if b, ok := strings.CutPrefix(line, "Partizap vendor inbox listening on "); ok {
				base = b
			}
			// The banner's line on signing in comes in every banner, after the address: once
			// it is read, the tests that look for it find it in the output.
			if base != "" && (strings.HasPrefix(line, "  sign in:") || strings.HasPrefix(line, "  sessions:")) {
				listening <- base
				base = ""
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case s.base = <-listening:
	case <-exited:
		t.Fatalf("the server stopped:\n%s", s.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start in 60s:\n%s", s.output())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz: not ready in 60s (%v):\n%s", err, s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type viewer struct {
	DatabaseID  int64  `json:"databaseId"`
	DisplayName string `json:"displayName"`
}

// viewerOf asks /graphql who the session is; nil when nobody.
func (s *server) viewerOf(t *testing.T, session string) *viewer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(`{"query":"{ viewer { databaseId displayName } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: session})
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct{ Viewer *viewer }
	}
	if err := json.Unmarshal(readBody(t, res), &out); err != nil {
		t.Fatal(err)
	}
	return out.Data.Viewer
}

// TestDemoLoginOnTheEmbeddedDatabase follows the printed link of a zero-setup start.
func TestDemoLoginOnTheEmbeddedDatabase(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	link := s.base + DemoLoginPath
	if !strings.Contains(s.output(), "  sign in:    "+link+"  ") {
		t.Fatalf("the greeting does not print the sign-in link %s:\n%s", link, s.output())
	}
	page := string(readBody(t, mustGet(t, s.base+Path)))
	if !strings.Contains(page, `<meta name="partizap:demo-login" content="/demo/login">`) {
		t.Errorf("the page does not offer the demo sign-in:\n%s", page)
	}

	db, err := database.Open(context.Background(), "sqlite:"+filepath.Join(s.dataDir, "partizap.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dbtest.Close(db)
	vendor, _, err := models.NewStore(db).BusiestVendor(context.Background())
	if err != nil || vendor == nil {
		t.Fatalf("no demo vendor: %v", err)
	}

	for query, want := range map[string]int64{"": vendor.ID, "?user=2": 2} {
		res := mustGet(t, link+query)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Path {
			t.Fatalf("GET %s: %d to %q", link+query, res.StatusCode, res.Header.Get("Location"))
		}
		var session *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == httpserver.SessionCookie {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
			t.Fatalf("GET %s: cookie %+v, want HttpOnly, SameSite=Lax, Path=/ and not Secure over plain HTTP", link+query, session)
		}
		if v := s.viewerOf(t, session.Value); v == nil || v.DatabaseID != want {
			t.Errorf("GET %s signed in %+v, want user %d", link+query, v, want)
		}
	}
	for query, status := range map[string]int{"?user=x": 400, "?user=-1": 400, "?user=100000": 404} {
		res := mustGet(t, link+query)
		body := readBody(t, res)
		if res.StatusCode != status || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: %d %s, want %d and no cookie", link+query, res.StatusCode, body, status)
		}
	}
}

func mustGet(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := noRedirects.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// cursorSecret is the CURSOR_SECRET of the servers started outside demo mode, which need one.
const cursorSecret = "playground-tests-cursor-secret-0123456789"

// TestDemoLoginIsOffOutsideDemoMode: DEMO_LOGIN=false, and PostgreSQL without DEMO_LOGIN, have
// no such route; DEMO_LOGIN=true turns it on on PostgreSQL too.
func TestDemoLoginIsOffOutsideDemoMode(t *testing.T) {
	t.Parallel()
	pgURL, _ := dbtest.NewOn(t, database.Postgres)
	tests := []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"embedded database, DEMO_LOGIN=false", map[string]string{"DEMO_LOGIN": "false"}, false},
		{"embedded database, DEMO=false", map[string]string{"DEMO": "false", "CURSOR_SECRET": cursorSecret}, false},
		{"PostgreSQL", map[string]string{"DATABASE_URL": pgURL, "CURSOR_SECRET": cursorSecret}, false},
		{"PostgreSQL, DEMO_LOGIN=true", map[string]string{"DATABASE_URL": pgURL, "DEMO_LOGIN": "true", "CURSOR_SECRET": cursorSecret}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.env)
			res := mustGet(t, s.base+DemoLoginPath)
			body := string(readBody(t, res))
			greets := strings.Contains(s.output(), "sign in:")
			page := string(readBody(t, mustGet(t, s.base+Path)))
			offers := !strings.Contains(page, `<meta name="partizap:demo-login" content="">`)
			if !tt.on {
				if res.StatusCode != http.StatusNotFound || res.Header.Get("Set-Cookie") != "" || strings.Contains(body, "vendor") || greets || offers {
					t.Errorf("demo sign-in is on: GET %s %d %q; greeting prints it: %v; page offers it: %v", DemoLoginPath, res.StatusCode, body, greets, offers)
				}
				return
			}
			// On, over an empty database: the route answers, and says there is nobody to sign in.
			if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no vendor to sign in") || !greets || !offers {
				t.Errorf("demo sign-in is off: GET %s %d %q; greeting prints it: %v; page offers it: %v\n%s", DemoLoginPath, res.StatusCode, body, greets, offers, s.output())
			}
		})
	}
}

// ---- the real server in a real browser ----

// chromiumPath is Debian's chromium, which `make test` installs when it is missing.
const chromiumPath = "/usr/bin/chromium"

// recordingProxy is the browser's only way out: it notes every request the browser sends, from
// the page, its workers or the browser itself, forwards those to the server and refuses the
// rest, so that nothing leaves the machine. Chromium sends a WebSocket through a proxy as a
// CONNECT tunnel, ws: as well as wss:: one to the server is let through as a tunnel to it.
type recordingProxy struct {
	server string // host:port
	mu     sync.Mutex
	toServer,
	elsewhere, // refused: Chromium's own background requests, or a page's (a failure)
	elsewhereForPage []string // of those, the ones made for a page or worker
}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Host
	if r.Method == http.MethodConnect {
		host = r.Host
	}
	// A request a page or worker makes carries fetch metadata (Sec-Fetch-*) or, when it goes
	// to another origin in CORS mode (module scripts, fetch, fonts), an Origin; the browser's
	// own requests (updates, time, sign-in, autofill hints) carry neither.
	forPage := r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Mode") != "" || r.Header.Get("Sec-Fetch-Dest") != ""
	request := r.Method + " " + r.URL.String()
	if r.Method == http.MethodConnect {
		request = "CONNECT " + host
	}
	p.mu.Lock()
	switch {
	case host == p.server:
		p.toServer = append(p.toServer, request)
	case forPage:
		p.elsewhereForPage = append(p.elsewhereForPage, request)
		fallthrough
	default:
		p.elsewhere = append(p.elsewhere, request)
	}
	p.mu.Unlock()
	if host != p.server {
		http.Error(w, "the test lets the browser reach the server only", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodConnect {
		tunnel(w, r, p.server)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Connection")
	res, err := proxyTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

var proxyTransport = &http.Transport{DisableCompression: true, TLSClientConfig: &tls.Config{}}

// tunnel answers a CONNECT to server and then carries bytes both ways until either side closes.
func tunnel(w http.ResponseWriter, r *http.Request, server string) {
	up, err := net.DialTimeout("tcp", server, 10*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	down, buffered, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer down.Close()
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, buffered); done <- struct{}{} }() // what the browser sent after CONNECT first
	go func() { _, _ = io.Copy(down, up); done <- struct{}{} }()
	<-done // either side closed: close both, which ends the other copy
}

// browser is headless Chromium on a fresh profile whose only way out is a recordingProxy in
// front of the server. It records the page's requests, errors and policy violations.
type browser struct {
	t      *testing.T
	ctx    context.Context
	server *server
	host   string // the server's host:port
	proxy  *recordingProxy

	mu       sync.Mutex
	requests []string // URL of every request the page made (its workers' scripts included)
	sockets  []string // URL of every WebSocket the page opened
	sent     []string // the messages the page sent on them
	closed   int      // how many of them have closed
	problems []string // exceptions and console errors
	noise    []string // console errors and warnings, the page's (console.*) and the browser's
	// encodings has the Content-Encoding of each response the page received, by URL.
	encodings map[string]string
}

func openBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed at %s: `make test` installs it (apt-get install chromium): %v", chromiumPath, err)
	}
	serverURL, _ := url.Parse(s.base)
	b := &browser{t: t, server: s, host: serverURL.Host, proxy: &recordingProxy{server: serverURL.Host}, encodings: map[string]string{}}
	proxySrv := httptest.NewServer(b.proxy)
	t.Cleanup(proxySrv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000),
		// Every request goes through the recording proxy, loopback ones too.
		chromedp.ProxyServer(proxySrv.URL),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
	)
	t.Cleanup(cancelAlloc)
	var cancelTab context.CancelFunc
	b.ctx, cancelTab = chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)

	if err := chromedp.Listen(b.ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *network.EventResponseReceived:
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					b.encodings[ev.Response.URL], _ = v.(string)
				}
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					if a.Value != nil {
						args = append(args, string(a.Value))
					} else {
						args = append(args, a.Description)
					}
				}
				b.noise = append(b.noise, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *network.EventWebSocketCreated:
			b.sockets = append(b.sockets, ev.URL)
		case *network.EventWebSocketFrameSent:
			b.sent = append(b.sent, string(ev.Response.PayloadData))
		case *network.EventWebSocketClosed:
			b.closed++
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text+" "+exceptionDescription(ev.ExceptionDetails))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.problems = append(b.problems, fmt.Sprintf("console %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.noise = append(b.noise, fmt.Sprintf("%s %s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	// Collect violations of the page's Content-Security-Policy (a script of the test's, which
	// the policy does not govern).
	if _, err := chromedp.Call(b.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__cspViolations = []; document.addEventListener('securitypolicyviolation',
			e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// open navigates to u and checks where the browser landed.
func (b *browser) open(u, wantLocation string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(u)); err != nil {
		b.t.Fatalf("open %s: %v", u, err)
	}
	if location, _ := chromedp.Run(b.ctx, chromedp.Location()); location != wantLocation {
		b.t.Fatalf("%s led to %s, want %s", u, location, wantLocation)
	}
}

// poll waits until the JavaScript expression js is truthy in the page.
func (b *browser) poll(what, js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		b.screenshot("failed")
		b.mu.Lock()
		defer b.mu.Unlock()
		b.t.Fatalf("%s: %v\nserver:\n%s\nbrowser problems: %q", what, err, b.server.output(), b.problems)
	}
}

// within says whether the JavaScript expression js becomes truthy in the page within d.
func (b *browser) within(d time.Duration, js string) bool {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil && !errors.Is(err, chromedp.ErrPollingTimeout) {
		b.t.Fatal(err)
	}
	return err == nil
}

// wait waits until done, a condition on what the test saw of the browser, holds.
func (b *browser) wait(what string, done func() bool) {
	b.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(45 * time.Second)
	for !done() {
		select {
		case <-tick.C:
		case <-deadline:
			b.screenshot("failed")
			b.mu.Lock()
			defer b.mu.Unlock()
			b.t.Fatalf("%s: not in 45s\nserver:\n%s\nbrowser problems: %q\nWebSockets: %q, sent: %q", what, b.server.output(), b.problems, b.sockets, b.sent)
		}
	}
}

func (b *browser) click(selector string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.t.Fatalf("click %s: %v", selector, err)
	}
}

// text is what the element shows, no-break spaces as spaces.
func (b *browser) text(selector string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ''`, selector)))
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.ReplaceAll(v, "\u00a0", " ")
}

// checkContained fails the test when the page broke its policy, threw, or requested anything
// from another host than the server.
func (b *browser) checkContained() {
	t := b.t
	t.Helper()
	violations, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", violations)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		if strings.Contains(p, "Content Security Policy") || strings.HasPrefix(p, "exception") {
			t.Errorf("browser: %s", p)
		}
	}
	// Every request of the page went to the server ...
	if len(b.requests) < 10 {
		t.Errorf("only %d requests recorded: %q", len(b.requests), b.requests)
	}
	for _, r := range b.requests {
		u, err := url.Parse(r)
		if err != nil || u.Host != b.host || u.Scheme != "http" {
			t.Errorf("the page requested %s, not from the server %s", r, b.host)
		}
	}
	for _, r := range b.sockets {
		u, err := url.Parse(r)
		if err != nil || u.Host != b.host || u.Scheme != "ws" {
			t.Errorf("the page opened a WebSocket to %s, not to the server %s", r, b.host)
		}
	}
	// ... and so did every request the browser sent for the page or its workers.
	p := b.proxy
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.elsewhereForPage) > 0 {
		t.Errorf("requests for the page went elsewhere than the server: %q", p.elsewhereForPage)
	}
	workers := 0
	for _, r := range p.toServer {
		if strings.Contains(r, ".worker-") {
			workers++
		}
	}
	if workers == 0 || len(p.toServer) < len(b.requests)/2 {
		t.Errorf("the proxy saw %d requests to the server (%d of web workers), the page made %d: is the browser bypassing it? %q",
			len(p.toServer), workers, len(b.requests), p.toServer)
	}
	t.Logf("the page made %d requests and opened %d WebSockets, all to %s; through the proxy %d went to the server",
		len(b.requests), len(b.sockets), b.host, len(p.toServer))
	if len(p.elsewhere) > 0 {
		t.Logf("Chromium's own background requests, refused by the proxy (not the page's): %q", p.elsewhere)
	}
}

// TestPlaygroundInChromium explores the API as a newcomer does: start the service on its
// embedded database, open the printed sign-in link, press run, and read the vendor's newest
// conversation in the result pane. Nothing may be loaded from anywhere but the server.
func TestPlaygroundInChromium(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// The banner comes in one write, but the reader of the server's output may not have
	// passed on its lines after the first yet.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.output(), "  sign in:    ") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var link string
	for _, line := range strings.Split(s.output(), "\n") {
		if rest, ok := strings.CutPrefix(line, "  sign in:    "); ok {
			link, _, _ = strings.Cut(rest, " ")
		}
	}
	if link == "" {
		t.Fatalf("the greeting prints no sign-in link:\n%s", s.output())
	}

	// What the result must show: the product of the demo vendor's newest conversation. Who
	// writes while the live tabs run: the buyer of that conversation, and of the LiveThread tab's.
	db, err := database.Open(context.Background(), "sqlite:"+filepath.Join(s.dataDir, "partizap.db"))
	if err != nil {
		t.Fatal(err)
	}
	vendor, _, err := models.NewStore(db).BusiestVendor(context.Background())
	if err != nil || vendor == nil {
		t.Fatalf("no demo vendor: %v", err)
	}
	var newest struct {
		ID    int64
		Title string
	}
	err = db.Raw(`SELECT c.id, p.title FROM conversations c JOIN products p ON p.id = c.product_id
		WHERE c.seller_id = ? ORDER BY c.updated_at DESC, c.id DESC LIMIT 1`, vendor.ID).Scan(&newest).Error
	if err != nil || newest.Title == "" {
		t.Fatalf("newest conversation's product: %q, %v", newest.Title, err)
	}
	title := newest.Title
	_, liveThreadVariables := readExample(t, "live-thread")
	var liveThread struct{ ConversationID string }
	if err := json.Unmarshal([]byte(liveThreadVariables), &liveThread); err != nil {
		t.Fatal(err)
	}
	_, liveThreadConversation, err := models.ParseGlobalID(liveThread.ConversationID)
	if err != nil {
		t.Fatalf("src/examples/live-thread.json: %v", err)
	}
	live := map[string]liveConversation{
		"LiveInbox":  {id: newest.ID, buyer: buyerOf(t, db, newest.ID)},
		"LiveThread": {id: liveThreadConversation, buyer: buyerOf(t, db, liveThreadConversation)},
	}
	dbtest.Close(db)

	b := openBrowser(t, s)
	// 1. Open the printed link: it signs in and lands on the playground, which says who.
	b.open(link, s.base+Path)
	b.poll("the playground shows the signed-in vendor", `document.querySelector('[data-testid="viewer"]')?.innerText.includes(`+jsString(vendor.DisplayName)+`)`)
	// The editor holds the README's example query.
	example, _ := os.ReadFile("src/example.graphql")
	b.poll("the query editor holds the example query",
		`(globalThis.__MONACO?.editor.getModels() ?? []).some(m => m.getValue() === `+jsString(string(example))+`)`)
	b.poll("the query editor shows it", `document.querySelector('.graphiql-query-editor .view-lines')?.innerText.includes('vendorConversations') && document.querySelector('.graphiql-response .monaco-editor')`)
	// Monaco's script, the largest asset, came brotli-compressed (Chromium accepts br from
	// localhost over plain HTTP too).
	monacoScript := s.base + AssetsPath + largestAsset(t)
	b.wait("the response for "+monacoScript, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		_, ok := b.encodings[monacoScript]
		return ok
	})
	b.mu.Lock()
	if got := b.encodings[monacoScript]; got != "br" {
		t.Errorf("%s came with Content-Encoding %q, want br", monacoScript, got)
	}
	// The page loaded without a word in the console, from itself or from the browser.
	if len(b.noise) > 0 {
		t.Errorf("console errors and warnings on loading the page:\n%s", strings.Join(b.noise, "\n"))
	}
	b.mu.Unlock()
	// The documentation explorer has the schema, from introspection.
	b.click(`button[aria-label="Show Documentation Explorer"]`)
	b.poll("the documentation explorer shows the schema", `document.querySelector('.graphiql-doc-explorer')?.innerText.includes('Query')`)
	// The query editor, narrower beside the explorer, wraps the query's lines at its width: none
	// is wider than the editor, so none scrolls out of view.
	wrapJS := `(() => {
		const editor = __MONACO.editor.getEditors().find(e => e.getDomNode()?.closest('.graphiql-query-editor'));
		const info = editor?.getLayoutInfo();
		return { wordWrap: editor?.getOption(__MONACO.editor.EditorOption.wordWrap), wrapping: info?.isViewportWrapping,
			scrollWidth: editor?.getScrollWidth(), width: info?.width };
	})()`
	if !b.within(5*time.Second, `(w => w.wordWrap === 'on' && w.wrapping && w.scrollWidth <= w.width)(`+wrapJS+`)`) {
		wrap, err := chromedp.Run(b.ctx, chromedp.Evaluate[map[string]any](wrapJS))
		t.Errorf("the query editor does not wrap its lines at its width: %v (%v)", wrap, err)
	}
	// 2. Press run: the result shows the newest conversation's product. (Monaco renders spaces
	// as no-break spaces and wraps long lines: compare the words.)
	b.click(`.graphiql-execute-button`)
	b.poll("the result pane shows "+title,
		`document.querySelector('.graphiql-response .view-lines')?.innerText.replace(/\s+/g, ' ').includes(`+jsString(strings.Join(strings.Fields(title), " "))+`)`)
	if result := b.text(".graphiql-response .view-lines"); strings.Contains(result, "UNAUTHENTICATED") || !strings.Contains(result, `"totalCount"`) {
		t.Errorf("result pane:\n%s", result)
	}
	// The headers editor is there too.
	if tools := b.text(".graphiql-editor-tools"); !strings.Contains(tools, "Headers") {
		t.Errorf("no headers editor: %q", tools)
	}
	b.screenshot("playground")

	// 3. The messaging examples have a tab each, and each runs as it is on the demo data.
	titles := []string{"Inbox"}
	for _, tab := range exampleTabs {
		titles = append(titles, tab.title)
	}
	b.poll("the tabs are "+strings.Join(titles, ", "),
		`[...document.querySelectorAll('.graphiql-tab-button')].map(b => b.innerText.trim()).join() === `+jsString(strings.Join(titles, ",")))
	for _, tab := range exampleTabs {
		if tab.live {
			continue // step 4
		}
		_, variables := b.openTab(tab)
		b.click(`.graphiql-execute-button`)
		b.poll("the "+tab.title+" tab's result", `(() => { try { return !!JSON.parse(`+editorJS+`('response.json')) } catch { return false } })()`)
		var res struct {
			Data   map[string]json.RawMessage
			Errors []json.RawMessage
		}
		if err := json.Unmarshal([]byte(b.editorValue("response.json")), &res); err != nil || len(res.Errors) > 0 || len(res.Data) == 0 {
			t.Fatalf("%s: %v, result:\n%s", tab.title, err, b.editorValue("response.json"))
		}
		checkExampleResult(t, tab.title, variables, res.Data)
	}
	b.screenshot("examples")

	// 4. The live examples have a tab each: each subscribes over a WebSocket to the page's own
	// origin, and shows a message a buyer sends meanwhile, from elsewhere, as it happens.
	for _, tab := range exampleTabs {
		if tab.live {
			b.runLive(tab, s, live[tab.title])
		}
	}
	b.screenshot("live")

	// 5. A mistake is underlined, from the page's own files (Monaco's underlines are data: URLs,
	// which the policy blocks; see playground.css): checkContained fails on any blocked one.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(__MONACO.editor.getModels().find(m => m.uri.path.endsWith('-operation.graphql')).setValue('{ viewer { displayNam } }'), true)`)); err != nil {
		t.Fatal(err)
	}
	b.poll("the mistake is underlined from a file of the page",
		`[...document.querySelectorAll('.graphiql-query-editor .squiggly-error')].some(e => getComputedStyle(e).maskImage.includes('/playground/assets/'))`)
	b.checkContained()
}

// openTab switches to an example tab and waits until it is ready to run.
func (b *browser) openTab(tab exampleTab) (query, variables string) {
	b.t.Helper()
	query, variables = readExample(b.t, tab.file)
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.Search(`//button[contains(@class, "graphiql-tab-button")][normalize-space() = `+jsString(tab.title)+`]`))); err != nil {
		b.t.Fatalf("click the %s tab: %v", tab.title, err)
	}
	// GraphiQL takes the operation's name from the editor 100ms after a change, and saves the
	// editor's text in localStorage just before: until then, run would send the previous tab's.
	b.poll("the "+tab.title+" tab shows its operation and variables",
		editorJS+`('operation.graphql') === `+jsString(query)+` && `+editorJS+`('variables.json') === `+jsString(variables)+
			` && `+editorJS+`('response.json') === '' && localStorage.getItem('graphiql:query') === `+jsString(query))
	return query, variables
}

// liveConversation is the conversation whose messages a live tab shows, and its buyer.
type liveConversation struct {
	id    int64
	buyer viewer
}

// buyerOf is the buyer taking part in a conversation (its participant other than the seller).
func buyerOf(t *testing.T, db *gorm.DB, conversation int64) viewer {
	t.Helper()
	var buyer viewer
	err := db.Raw(`SELECT u.id AS database_id, u.display_name FROM conversation_participants cp
		JOIN conversations c ON c.id = cp.conversation_id JOIN users u ON u.id = cp.user_id
		WHERE cp.conversation_id = ? AND cp.user_id <> c.seller_id ORDER BY cp.joined_at, u.id LIMIT 1`, conversation).Scan(&buyer).Error
	if err != nil || buyer.DatabaseID == 0 {
		t.Fatalf("the buyer of conversation %d: %+v, %v", conversation, buyer, err)
	}
	return buyer
}

// runLive runs a live tab and checks that its subscription shows what happens meanwhile: the
// conversation's buyer, signed in on a client of its own, sends a message over HTTP as any
// client would, and the response pane shows it. Then it stops the subscription.
//
// The page cannot tell when the server has taken the subscription: it sends "subscribe", and no
// answer comes until an event. A message sent before then would go unseen; so each message is
// sent once the page has sent its "subscribe", and if the pane does not show it in a few
// seconds another is sent, up to a few times.
func (b *browser) runLive(tab exampleTab, s *server, conversation liveConversation) {
	t := b.t
	t.Helper()
	b.openTab(tab)
	b.mu.Lock()
	sent := len(b.sent)
	b.mu.Unlock()
	b.click(`.graphiql-execute-button`)
	b.poll("the "+tab.title+" tab is subscribed: its run button stops it",
		`document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.startsWith('Stop')`)
	b.wait("the page sends the "+tab.title+" subscription on its WebSocket", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, frame := range b.sent[sent:] {
			var m struct {
				Type    string
				Payload struct{ OperationName string }
			}
			if json.Unmarshal([]byte(frame), &m) == nil && m.Type == "subscribe" && m.Payload.OperationName == tab.title {
				return true
			}
		}
		return false
	})

	buyer := signedIn(t, s, conversation.buyer.DatabaseID)
	conversationID := models.GlobalID(models.TypeConversation, conversation.id)
	var text string
	for attempt := 1; ; attempt++ {
		text = fmt.Sprintf("%s test message %d: is the part still available?", tab.title, attempt)
		buyer.sendMessage(t, conversationID, text, fmt.Sprintf("playground-test-%s-%d", tab.title, attempt))
		if b.within(5*time.Second, editorJS+`('response.json')?.includes(`+jsString(text)+`)`) {
			break
		}
		if attempt == 4 {
			b.screenshot("failed")
			t.Fatalf("%s: no event in the response pane for any of %d messages; it shows:\n%s\nserver:\n%s",
				tab.title, attempt, b.editorValue("response.json"), s.output())
		}
		t.Logf("%s: message %d sent and not shown within 5s (sent before the server took the subscription?); sending another", tab.title, attempt)
	}
	b.poll("the "+tab.title+" event is on the screen",
		`document.querySelector('.graphiql-response .view-lines')?.innerText.replace(/\s+/g, ' ').includes(`+jsString(text)+`)`)
	var res struct {
		Data   map[string]json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.Unmarshal([]byte(b.editorValue("response.json")), &res); err != nil || len(res.Errors) > 0 || len(res.Data) == 0 {
		t.Fatalf("%s: %v, event:\n%s", tab.title, err, b.editorValue("response.json"))
	}
	checkLiveEvent(t, tab.title, conversationID, text, conversation.buyer.DisplayName, res.Data)

	// The run button stops the subscription, and the page closes its socket.
	b.mu.Lock()
	sockets, closed := len(b.sockets), b.closed
	b.mu.Unlock()
	b.click(`.graphiql-execute-button`)
	b.poll("the "+tab.title+" subscription stops", `document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.startsWith('Execute')`)
	b.wait("the page closes its WebSocket", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.closed == sockets && b.closed > closed
	})
}

// checkLiveEvent checks the event a live tab shows: the message the buyer sent, in the
// conversation the tab watches.
func checkLiveEvent(t *testing.T, title, conversationID, text, buyer string, data map[string]json.RawMessage) {
	t.Helper()
	type message struct {
		ID, ConversationID, Text string
		IsRead                   bool
		Sender                   struct{ DisplayName string }
	}
	switch title {
	case "LiveInbox":
		var got struct {
			ID          string
			UnreadCount int
			LastMessage message
		}
		if json.Unmarshal(data["inboxUpdated"], &got); got.ID != conversationID || got.LastMessage.Text != text ||
			got.LastMessage.Sender.DisplayName != buyer || got.LastMessage.IsRead || got.UnreadCount == 0 {
			t.Errorf("LiveInbox: %s, want conversation %s with %q from %s as its last message, unread", data["inboxUpdated"], conversationID, text, buyer)
		}
	case "LiveThread":
		var got message
		if json.Unmarshal(data["messageAdded"], &got); got.ID == "" || got.ConversationID != conversationID ||
			got.Text != text || got.Sender.DisplayName != buyer {
			t.Errorf("LiveThread: %s, want %q from %s in conversation %s", data["messageAdded"], text, buyer, conversationID)
		}
	default:
		t.Errorf("%s: no check of its events", title)
	}
}

// client is a user signed in over HTTP, on a cookie jar of its own.
type client struct {
	http *http.Client
	base string
}

// signedIn signs user in through the demo sign-in, as the browser does.
func signedIn(t *testing.T, s *server, user int64) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{base: s.base, http: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	res, err := c.http.Get(fmt.Sprintf("%s%s?user=%d", s.base, DemoLoginPath, user))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, res); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in user %d: %d %s", user, res.StatusCode, body)
	}
	return c
}

// sendMessage sends a message in a conversation with the sendMessage mutation.
func (c *client) sendMessage(t *testing.T, conversationID, text, key string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"query": `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { message { id text } } }`,
		"variables": map[string]any{"input": map[string]string{
			"conversationId": conversationID, "text": text, "clientMutationId": key,
		}},
	})
	res, err := c.http.Post(c.base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			SendMessage struct{ Message struct{ ID, Text string } }
		}
		Errors []json.RawMessage
	}
	raw := readBody(t, res)
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 || len(out.Errors) > 0 || out.Data.SendMessage.Message.Text != text {
		t.Fatalf("sendMessage: %d %s", res.StatusCode, raw)
	}
}

// editorJS is a JavaScript function of the page that returns the text of the GraphiQL editor
// whose model is named name (operation.graphql, variables.json, response.json).
const editorJS = `(name => (globalThis.__MONACO?.editor.getModels() ?? []).find(m => m.uri.path.endsWith('-' + name))?.getValue())`

func (b *browser) editorValue(name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](editorJS+`(`+jsString(name)+`) ?? ''`))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// checkExampleResult checks what an example tab's result says, beyond having no errors: what
// its comment promises, on a fresh copy of the demo data, after the tabs before it ran.
func checkExampleResult(t *testing.T, title, variables string, data map[string]json.RawMessage) {
	t.Helper()
	var vars struct {
		ID    string
		Input struct{ ConversationID, Text, ClientMutationID string }
	}
	if err := json.Unmarshal([]byte(variables), &vars); err != nil {
		t.Fatal(err)
	}
	type message struct{ ID, Text string }
	switch title {
	case "Thread":
		var got *struct {
			ID       string
			Messages struct{ Nodes []message }
		}
		if json.Unmarshal(data["node"], &got); got == nil || got.ID != vars.ID || len(got.Messages.Nodes) == 0 {
			t.Errorf("Thread: %s, want the conversation %s with its messages", data["node"], vars.ID)
		}
	case "Reply":
		var got struct {
			ClientMutationID string
			Message          message
			Conversation     struct {
				ID          string
				LastMessage message
			}
		}
		json.Unmarshal(data["sendMessage"], &got)
		if got.Message.ID == "" || got.Message.Text != vars.Input.Text || got.ClientMutationID != vars.Input.ClientMutationID ||
			got.Conversation.ID != vars.Input.ConversationID || got.Conversation.LastMessage != got.Message {
			t.Errorf("Reply: %s, want the message %q sent in %s as its last message", data["sendMessage"], vars.Input.Text, vars.Input.ConversationID)
		}
	case "MarkRead":
		var got struct{ Conversation struct{ UnreadCount *int } }
		if json.Unmarshal(data["markConversationRead"], &got); got.Conversation.UnreadCount == nil || *got.Conversation.UnreadCount != 0 {
			t.Errorf("MarkRead: %s, want unreadCount 0", data["markConversationRead"])
		}
	case "Unread":
		var viewer struct{ UnreadConversationsCount int }
		var list struct{ TotalCount int }
		json.Unmarshal(data["viewer"], &viewer)
		json.Unmarshal(data["vendorConversations"], &list)
		if list.TotalCount == 0 || viewer.UnreadConversationsCount != list.TotalCount {
			t.Errorf("Unread: badge %d, list of %d; want the same, not 0", viewer.UnreadConversationsCount, list.TotalCount)
		}
	}
}

// TestPlaygroundWithoutIntrospectionInChromium: with introspection off the page still loads,
// runs queries, and says why its documentation is empty; signed out, it says how to sign in.
func TestPlaygroundWithoutIntrospectionInChromium(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"GRAPHQL_INTROSPECTION": "false"})
	b := openBrowser(t, s)
	b.open(s.base+Path, s.base+Path)
	b.poll("the playground says introspection is off", `document.querySelector('[data-testid="introspection-off"]')?.innerText.includes('GRAPHQL_INTROSPECTION=false')`)
	b.poll("the playground says how to sign in", `document.querySelector('[data-testid="sign-in-hint"] a')?.getAttribute('href') === '/demo/login'`)
	b.click(`button[aria-label="Show Documentation Explorer"]`)
	b.poll("the documentation explorer says why it is empty", `document.querySelector('[data-testid="docs-off"]')?.innerText.includes('does not answer introspection')`)
	b.poll("the editors are ready", `document.querySelector('.graphiql-query-editor .view-lines')?.innerText.includes('vendorConversations') && document.querySelector('.graphiql-response .monaco-editor')`)
	b.click(`.graphiql-execute-button`)
	b.poll("the query runs and, signed out, is refused", `document.querySelector('.graphiql-response .view-lines')?.innerText.includes('UNAUTHENTICATED')`)
	b.screenshot("no-introspection")
	// A subscription, signed out: the server refuses the WebSocket, and the pane says so at once
	// (the browser tells the page no more), rather than after a minute of retries.
	b.openTab(exampleTabs[slices.IndexFunc(exampleTabs, func(tab exampleTab) bool { return tab.live })])
	b.click(`.graphiql-execute-button`)
	b.poll("the subscription, signed out, says its WebSocket did not open",
		editorJS+`('response.json')?.includes("WebSocket to ws://`+b.host+`/graphql did not open: the server refuses one without a session")`+
			` && document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.startsWith('Execute')`)
	b.checkContained()
}

// TestPolicyLetsWebSocketsReachThisOriginOnlyInChromium: connect-src 'self' lets the page open
// a WebSocket to its own origin (ws: beside http:, as CSP Level 3 matches 'self'), and no other:
// the same server under another name is another origin, refused by the browser before any
// connection.
func TestPolicyLetsWebSocketsReachThisOriginOnlyInChromium(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openBrowser(t, s)
	b.open(s.base+DemoLoginPath, s.base+Path) // a WebSocket needs a session
	b.poll("the playground is signed in", `!!document.querySelector('[data-testid="viewer"]')`)
	server, _ := url.Parse(s.base)
	if server.Hostname() != "localhost" {
		t.Fatalf("the server is at %s, want localhost (and 127.0.0.1 as another origin)", s.base)
	}
	other := "127.0.0.1:" + server.Port()
	open := func(u string) string {
		t.Helper()
		result, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`new Promise(resolve => {
			const ws = new WebSocket(`+jsString(u)+`, 'graphql-transport-ws');
			ws.onopen = () => { ws.close(1000); resolve('open'); };
			ws.onerror = () => resolve('error');
		})`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("new WebSocket(%s): %v", u, err)
		}
		return result
	}
	violations := func() []string {
		t.Helper()
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	own := "ws://" + server.Host + "/graphql"
	if got := open(own); got != "open" {
		t.Errorf("a WebSocket to the page's own origin, %s: %s, want open", own, got)
	}
	if v := violations(); len(v) > 0 {
		t.Errorf("a WebSocket to the page's own origin broke the policy: %q", v)
	}
	elsewhere := "ws://" + other + "/graphql"
	if got := open(elsewhere); got != "error" {
		t.Errorf("a WebSocket to another origin, %s: %s, want refused", elsewhere, got)
	}
	if v := violations(); len(v) != 1 || !strings.HasPrefix(v[0], "connect-src ") || !strings.Contains(v[0], other) {
		t.Errorf("a WebSocket to another origin: violations %q, want one of connect-src for %s", v, elsewhere)
	} else {
		t.Logf("a WebSocket to %s opened; one to %s was refused: %s", own, elsewhere, v[0])
	}
	b.proxy.mu.Lock()
	defer b.proxy.mu.Unlock()
	if !slices.Contains(b.proxy.toServer, "CONNECT "+server.Host) {
		t.Errorf("the WebSocket to the page's own origin did not go through the proxy: %q", b.proxy.toServer)
	}
	for _, r := range append(b.proxy.toServer, b.proxy.elsewhere...) {
		if strings.Contains(r, other) {
			t.Errorf("the browser connected to %s: %s", other, r)
		}
	}
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the page as a test artifact: in $TEST_ARTIFACTS when set, else in the
// system's temporary directory. With UPDATE_SCREENSHOT=1 the one of the main test also replaces
// the README's playground/screenshot.png.
func (b *browser) screenshot(name string) {
	t := b.t
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vendor-inbox-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "playground-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
	if name == "playground" && os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile("screenshot.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("screenshot: updated playground/screenshot.png")
	}
}
