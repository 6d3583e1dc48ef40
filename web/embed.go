// Package web holds the built demo page and test harness (web/dist, made
// by `npm run build` from web/src) embedded in the gosoup binary.
package web

import (
	"embed"
	"io/fs"
)

// Dist is the web/dist directory: index.html, harness.html, app.js,
// harness.js, style.css and their source maps.
//
//go:embed all:dist
var Dist embed.FS

// FS returns the built page with dist/ as its root, ready for
// http.FileServerFS.
func FS() fs.FS {
	sub, err := fs.Sub(Dist, "dist")
	if err != nil {
		panic("web: embedded dist: " + err.Error()) // fs.Sub fails only on an invalid name
	}
	return sub
}
