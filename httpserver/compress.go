package httpserver

import (
	"net/http"

	"github.com/klauspost/compress/gzhttp"
)

// minCompressBytes is the smallest response worth compressing: below it the headers and the
// work outweigh the bytes saved.
const minCompressBytes = 1024

var compressor = func() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(minCompressBytes))
	if err != nil {
		panic(err) // the options are constants
	}
	return wrap
}()

// Compress compresses next's answers with zstd or gzip, as the client accepts (preferring
// zstd), when they are at least minCompressBytes, with Vary: Accept-Encoding; klauspost's
// gzhttp does it. A WebSocket upgrade passes as it is.
func Compress(next http.Handler) http.Handler {
	compressed := compressor(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		compressed.ServeHTTP(w, r)
	})
}
