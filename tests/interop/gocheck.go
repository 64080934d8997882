// gocheck verifies orderarchive output with Go's reference implementations:
// golang.org/x/mod/sumdb/note (signed notes) and golang.org/x/mod/sumdb/tlog (RFC 6962
// hashing and proofs). Built by tests/test_go_interop.py in GOPATH mode against Debian's
// golang-golang-x-mod-dev; it is test tooling, not part of orderarchive.
//
// usage:
//   gocheck archive VKEY ARCHIVE_DIR         note.Open every checkpoint; TreeHash, ProveRecord,
//                                            CheckRecord, ProveTree, CheckTree over log/hashes
//   gocheck proof VKEY PROOF_FILE            check a c2sp tlog-proof with note.Open + CheckRecord
//   gocheck consistency VKEY OLD_CP NEW_CP PROOF_FILE   check a consistency proof with CheckTree
//   gocheck threshold K NOTE VKEY...         note.Open with the holders' verifiers; at least K
//                                            distinct keys among them must have signed
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocheck: "+format+"\n", args...)
	os.Exit(1)
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func verifier(path string) note.Verifiers {
	raw, err := os.ReadFile(path)
	must(err, "read vkey")
	v, err := note.NewVerifier(strings.TrimSpace(string(raw)))
	must(err, "note.NewVerifier")
	return note.VerifierList(v)
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func openCheckpoint(data []byte, vs note.Verifiers) checkpoint {
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
	return checkpoint{lines[0], size, h}
}

type fileHashes struct{ data []byte }

func (f fileHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if (idx+1)*tlog.HashSize > int64(len(f.data)) {
			return nil, fmt.Errorf("stored hash %d out of range", idx)
		}
		copy(out[i][:], f.data[idx*tlog.HashSize:(idx+1)*tlog.HashSize])
	}
	return out, nil
}

func checkArchive(vs note.Verifiers, dir string) {
	head, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	must(err, "read checkpoint")
	cp := openCheckpoint(head, vs)
	hashes, err := os.ReadFile(filepath.Join(dir, "log", "hashes"))
	must(err, "read log/hashes")
	if int64(len(hashes)) != tlog.StoredHashCount(cp.size)*tlog.HashSize {
		fail("log/hashes holds %d bytes, tlog.StoredHashCount(%d) wants %d", len(hashes), cp.size,
			tlog.StoredHashCount(cp.size)*tlog.HashSize)
	}
	reader := fileHashes{hashes}
	root, err := tlog.TreeHash(cp.size, reader)
	must(err, "tlog.TreeHash")
	if root != cp.root {
		fail("tlog.TreeHash(%d) = %v, checkpoint says %v", cp.size, root, cp.root)
	}
	entries, err := os.ReadFile(filepath.Join(dir, "log", "entries"))
	must(err, "read log/entries")
	lines := bytes.Split(bytes.TrimSuffix(entries, []byte("\n")), []byte("\n"))
	if int64(len(lines)) != cp.size {
		fail("%d entries, checkpoint size %d", len(lines), cp.size)
	}
	// Go's StoredHashesForRecordHash must rebuild log/hashes byte for byte.
	var rebuilt []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = rebuilt[x]
		}
		return out, nil
	})
	for i, line := range lines {
		leaf := tlog.RecordHash(line)
		add, err := tlog.StoredHashesForRecordHash(int64(i), leaf, mem)
		must(err, "tlog.StoredHashesForRecordHash")
		rebuilt = append(rebuilt, add...)
		proof, err := tlog.ProveRecord(cp.size, int64(i), reader)
		must(err, "tlog.ProveRecord")
		must(tlog.CheckRecord(proof, cp.size, cp.root, int64(i), leaf), "tlog.CheckRecord")
	}
	for i, h := range rebuilt {
		if !bytes.Equal(h[:], hashes[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
			fail("stored hash %d differs from Go's", i)
		}
	}
	releases, _ := filepath.Glob(filepath.Join(dir, "releases", "*"))
	sort.Strings(releases)
	for _, path := range releases {
		data, err := os.ReadFile(path)
		must(err, "read release")
		rel := openCheckpoint(data, vs)
		h, err := tlog.TreeHash(rel.size, reader)
		must(err, "tlog.TreeHash(release)")
		if h != rel.root {
			fail("release %s root differs from tlog.TreeHash", path)
		}
		proof, err := tlog.ProveTree(cp.size, rel.size, reader)
		must(err, "tlog.ProveTree")
		must(tlog.CheckTree(proof, cp.size, cp.root, rel.size, rel.root), "tlog.CheckTree")
	}
	fmt.Printf("ok archive %s: %d entries, %d releases\n", cp.origin, cp.size, len(releases))
}

func checkProof(vs note.Verifiers, path string) {
	data, err := os.ReadFile(path)
	must(err, "read proof")
	parts := bytes.SplitN(data, []byte("\n\n"), 2)
	if len(parts) != 2 {
		fail("no blank line in proof")
	}
	sc := bufio.NewScanner(bytes.NewReader(parts[0]))
	if !sc.Scan() || sc.Text() != "c2sp.org/tlog-proof@v1" {
		fail("bad header")
	}
	var extra []byte
	var index int64 = -1
	var proof tlog.RecordProof
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "extra "):
			extra, err = base64.StdEncoding.DecodeString(line[6:])
			must(err, "extra")
		case strings.HasPrefix(line, "index "):
			index, err = strconv.ParseInt(line[6:], 10, 64)
			must(err, "index")
		default:
			raw, err := base64.StdEncoding.DecodeString(line)
			must(err, "proof hash")
			var h tlog.Hash
			copy(h[:], raw)
			proof = append(proof, h)
		}
	}
	cp := openCheckpoint(parts[1], vs)
	must(tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(extra)), "tlog.CheckRecord")
	fmt.Printf("ok proof: entry %d in tree %d\n", index, cp.size)
}

func checkConsistency(vs note.Verifiers, oldPath, newPath, proofPath string) {
	oldData, err := os.ReadFile(oldPath)
	must(err, "read old")
	newData, err := os.ReadFile(newPath)
	must(err, "read new")
	old, cur := openCheckpoint(oldData, vs), openCheckpoint(newData, vs)
	data, err := os.ReadFile(proofPath)
	must(err, "read proof")
	var proof tlog.TreeProof
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		must(err, "proof hash")
		var h tlog.Hash
		copy(h[:], raw)
		proof = append(proof, h)
	}
	must(tlog.CheckTree(proof, cur.size, cur.root, old.size, old.root), "tlog.CheckTree")
	fmt.Printf("ok consistency: %d -> %d\n", old.size, cur.size)
}

// checkThreshold opens a multi-signed note (a k-of-n release) with every holder's verifier,
// as a Go client would, and counts the distinct keys whose signatures verified.
func checkThreshold(k string, path string, vkeys []string) {
	need, err := strconv.Atoi(k)
	must(err, "threshold")
	var list []note.Verifier
	for _, p := range vkeys {
		raw, err := os.ReadFile(p)
		must(err, "read vkey")
		v, err := note.NewVerifier(strings.TrimSpace(string(raw)))
		must(err, "note.NewVerifier")
		list = append(list, v)
	}
	data, err := os.ReadFile(path)
	must(err, "read note")
	n, err := note.Open(data, note.VerifierList(list...))
	must(err, "note.Open")
	seen := map[string]bool{}
	for _, sig := range n.Sigs {
		seen[fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)] = true
	}
	if len(seen) < need {
		fail("threshold: %d of the holders' keys signed, %d needed", len(seen), need)
	}
	fmt.Printf("ok threshold: %d keys signed, %d needed\n", len(seen), need)
}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "threshold" {
		checkThreshold(os.Args[2], os.Args[3], os.Args[4:])
		return
	}
	if len(os.Args) < 4 {
		fail("usage: gocheck archive|proof|consistency VKEY ...")
	}
	vs := verifier(os.Args[2])
	switch os.Args[1] {
	case "archive":
		checkArchive(vs, os.Args[3])
	case "proof":
		checkProof(vs, os.Args[3])
	case "consistency":
		if len(os.Args) != 6 {
			fail("usage: gocheck consistency VKEY OLD NEW PROOF")
		}
		checkConsistency(vs, os.Args[3], os.Args[4], os.Args[5])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
