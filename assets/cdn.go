package assets

import (
	"embed"
	"io/fs"
	"mime"
	"path"
	"sort"
)

//go:embed cdn
var cdnFiles embed.FS

// StaticFile is one of the demo site's static files that chapter 6's origin
// serves: real bytes with their content type.
type StaticFile struct {
	Name string // "app.css"
	Type string // "text/css; charset=utf-8"
	Body []byte
	// Text files can be changed by a deploy (a new release is appended as
	// a comment); images and video segments are not redeployed.
	Text bool
}

// StaticFiles returns the demo site's files, by name.
func StaticFiles() []StaticFile {
	ents, err := fs.ReadDir(cdnFiles, "cdn")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out []StaticFile
	for _, e := range ents {
		b, err := cdnFiles.ReadFile("cdn/" + e.Name())
		if err != nil {
			panic(err)
		}
		ext := path.Ext(e.Name())
		typ := mime.TypeByExtension(ext)
		if ext == ".ts" {
			typ = "video/mp2t" // not TypeScript
		}
		out = append(out, StaticFile{Name: e.Name(), Type: typ, Body: b, Text: ext == ".css" || ext == ".js"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
