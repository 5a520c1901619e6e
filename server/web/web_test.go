package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHandlerServesThePageOnTheClient: the page, its module and the client
// library it imports are embedded and served as JavaScript modules need.
func TestHandlerServesThePageOnTheClient(t *testing.T) {
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, w.Code, path)
		require.Equal(t, "no-cache", w.Header().Get("Cache-Control"), path)
		return w
	}
	require.Contains(t, get("/").Body.String(), `<script type="module" src="app.js">`)
	app := get("/app.js")
	require.True(t, strings.HasPrefix(app.Header().Get("Content-Type"), "text/javascript"), app.Header())
	require.Contains(t, app.Body.String(), `from "./voicectl-client.js"`)
	lib := get("/voicectl-client.js")
	require.True(t, strings.HasPrefix(lib.Header().Get("Content-Type"), "text/javascript"), lib.Header())
	for _, export := range []string{"connect", "join", "createRoom", "Room"} {
		require.Regexp(t, `export\{[^}]*\bas `+export+`\b`, lib.Body.String(), "the bundle exports %s", export)
	}
}
