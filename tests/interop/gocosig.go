// gocosig opens cosigned checkpoints with Go's golang.org/x/mod/sumdb/note, given the log's
// verifier key and a witness's c2sp.org/tlog-cosignature (type 0x04) verifier key. x/mod 0.7.0
// has no 0x04 verifier, so this file implements one from the spec (tlog-cosignature
// "Format"), independently of orderarchive's Python code. Built by tests/test_cosignature.py
// in GOPATH mode against Debian's golang-golang-x-mod-dev; test tooling, not orderarchive.
//
// usage: gocosig LOG_VKEY_FILE WITNESS_VKEY_FILE NOTE_FILE...
// Prints "ok <file>" for each note that opens with both a log signature and a cosignature.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosigVerifier) Name() string    { return v.name }
func (v cosigVerifier) KeyHash() uint32 { return v.hash }
func (v cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > 1<<63-1 {
		return false
	}
	m := []byte("cosignature/v1\ntime " + strconv.FormatUint(t, 10) + "\n")
	m = append(m, msg...)
	return ed25519.Verify(v.key, m, sig[8:])
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocosig: "+format+"\n", args...)
	os.Exit(1)
}

func readVkey(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		fail("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(raw))
}

func newCosigVerifier(vkey string) cosigVerifier {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		fail("witness vkey is not name+hash+key")
	}
	name := parts[0]
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		fail("witness vkey is not an Ed25519 cosignature (0x04) key")
	}
	h := sha256.Sum256(append([]byte(name+"\n"), raw...))
	want, err := hex.DecodeString(parts[1])
	if err != nil || len(want) != 4 || string(want) != string(h[:4]) {
		fail("witness vkey hash does not match its key")
	}
	return cosigVerifier{name, binary.BigEndian.Uint32(h[:4]), ed25519.PublicKey(raw[1:])}
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: gocosig LOG_VKEY WITNESS_VKEY NOTE...")
	}
	logV, err := note.NewVerifier(readVkey(os.Args[1]))
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	w := newCosigVerifier(readVkey(os.Args[2]))
	vs := note.VerifierList(logV, w)
	for _, path := range os.Args[3:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fail("read %s: %v", path, err)
		}
		n, err := note.Open(data, vs)
		if err != nil {
			fail("%s: note.Open: %v", path, err)
		}
		var sawLog, sawWitness bool
		for _, s := range n.Sigs {
			if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
				sawLog = true
			}
			if s.Name == w.name && s.Hash == w.hash {
				sawWitness = true
			}
		}
		if !sawLog || !sawWitness {
			fail("%s: log signature %v, cosignature %v", path, sawLog, sawWitness)
		}
		fmt.Println("ok", path)
	}
}
