// gotiles reads a site written by `orderarchive publish` over HTTP with Go's reference code:
// golang.org/x/mod/sumdb/note opens the checkpoint and the releases, and
// golang.org/x/mod/sumdb/tlog's TileHashReader fetches and authenticates the C2SP tiles,
// over which ProveRecord/CheckRecord check every entry of the entry bundles and
// ProveTree/CheckTree every release named on the command line. Built by
// tests/test_tiles_go.py in GOPATH mode against Debian's golang-golang-x-mod-dev; test
// tooling, not part of orderarchive.
//
// usage: gotiles BASE_URL VKEY [RELEASE_SIZE...]
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gotiles: "+format+"\n", args...)
	os.Exit(1)
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

var base string
var requests int

func get(path string) []byte {
	requests++
	resp, err := http.Get(base + "/" + path)
	must(err, "GET "+path)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail("GET %s: %s", path, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	must(err, "read "+path)
	return data
}

type checkpoint struct {
	size int64
	root tlog.Hash
}

func open(data []byte, vs note.Verifiers) checkpoint {
	n, err := note.Open(data, vs)
	must(err, "note.Open")
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint body too short")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	must(err, "checkpoint size")
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	must(err, "checkpoint root")
	var h tlog.Hash
	copy(h[:], raw)
	return checkpoint{size, h}
}

// httpTiles serves Go's tiles of height 8 from the C2SP paths: Go names a tile
// tile/8/L/N[.p/W]; c2sp.org/tlog-tiles drops the height: tile/L/N[.p/W]. Downloads are
// kept in memory (TileHashReader authenticates the bytes on every read anyway), so each
// tile is fetched once.
type httpTiles struct{ cache map[string][]byte }

func (httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		if _, ok := h.cache[path]; !ok {
			h.cache[path] = get(path)
		}
		out[i] = h.cache[path]
	}
	return out, nil
}

func (httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func entryPath(n int64, w int64) string {
	t := tlog.Tile{H: 8, L: 0, N: n, W: int(w)}
	return "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/0/")
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: gotiles BASE_URL VKEY [RELEASE_SIZE...]")
	}
	base = strings.TrimSuffix(os.Args[1], "/")
	raw, err := os.ReadFile(os.Args[2])
	must(err, "read vkey")
	v, err := note.NewVerifier(strings.TrimSpace(string(raw)))
	must(err, "note.NewVerifier")
	vs := note.VerifierList(v)
	cp := open(get("checkpoint"), vs)
	tree := tlog.Tree{N: cp.size, Hash: cp.root}
	thr := tlog.TileHashReader(tree, httpTiles{map[string][]byte{}})
	root, err := tlog.TreeHash(cp.size, thr)
	must(err, "tlog.TreeHash")
	if root != cp.root {
		fail("tlog.TreeHash through the tiles differs from the checkpoint")
	}
	for start := int64(0); start < cp.size; start += 256 {
		w := cp.size - start
		if w > 256 {
			w = 256
		}
		bundle := get(entryPath(start/256, w))
		for i := int64(0); i < w; i++ {
			if len(bundle) < 2 {
				fail("bundle %d ends early", start/256)
			}
			n := int(binary.BigEndian.Uint16(bundle))
			if len(bundle) < 2+n {
				fail("bundle %d ends inside an entry", start/256)
			}
			entry := bundle[2 : 2+n]
			bundle = bundle[2+n:]
			p, err := tlog.ProveRecord(cp.size, start+i, thr)
			must(err, "tlog.ProveRecord")
			must(tlog.CheckRecord(p, cp.size, cp.root, start+i, tlog.RecordHash(entry)),
				"tlog.CheckRecord")
		}
		if len(bundle) != 0 {
			fail("bundle %d has bytes after its entries", start/256)
		}
	}
	for _, arg := range os.Args[3:] {
		old := open(get("releases/"+arg), vs)
		p, err := tlog.ProveTree(cp.size, old.size, thr)
		must(err, "tlog.ProveTree")
		must(tlog.CheckTree(p, cp.size, cp.root, old.size, old.root), "tlog.CheckTree")
	}
	fmt.Printf("ok tiles: %d records, %d releases, %d requests\n", cp.size, len(os.Args)-3, requests)
}
