// Package web serves the browser page: HTML and JavaScript embedded in the
// binary. The page (static/app.js) is built on the JavaScript client,
// @voicectl/client (sdk/js), whose bundle static/voicectl-client.js is
// committed, so that `go build` needs no node; `make sdk-check` fails when it
// is not what sdk/js builds.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page at / and its assets.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
