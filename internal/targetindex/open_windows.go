package targetindex

import (
	"bytes"
	"os"
)

// OpenFile reads a cached file whole: Windows refuses to rename over a file
// that is open, and the client replaces cached files with a rename while a
// Reader may still need the old one. Its chunks are still hashed only when
// used.
func OpenFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}
