package httpserver

import (
	"mime"
	"net/http"
	"strings"
)

// Endpoint is one of the service's endpoints, as GET / lists them.
type Endpoint struct {
	Path string `json:"path"`
	What string `json:"what"`
}

// Index answers GET /: a browser is sent to the playground, anyone else gets the list of
// endpoints, as JSON.
func Index(playground string, endpoints []Endpoint) http.Handler {
	body := struct {
		Service   string     `json:"service"`
		Endpoints []Endpoint `json:"endpoints"`
	}{"Partizap vendor-inbox backend-for-frontend", endpoints}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acceptsHTML(r.Header.Get("Accept")) {
			http.Redirect(w, r, playground, http.StatusSeeOther)
			return
		}
		WriteJSON(w, http.StatusOK, body)
	})
}

// acceptsHTML: what a browser asks for when it opens a page.
func acceptsHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}
