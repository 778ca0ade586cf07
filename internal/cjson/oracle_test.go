package cjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	sslcjson "github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// oracle returns go-securesystemslib's canonical form of src, decoded with
// encoding/json (numbers as json.Number), and whether it accepted src.
func oracle(src []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return nil, false // trailing data
	}
	out, err := sslcjson.EncodeCanonical(v)
	if err != nil {
		return nil, false
	}
	return out, true
}
