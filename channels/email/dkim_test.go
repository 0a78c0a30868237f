package email

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// verifyDKIM checks a relaxed/relaxed rsa-sha256 DKIM-Signature (RFC 6376)
// on a message as received, and returns the signature's tags. It is written
// from the RFC, independently of go-mail's signer.
func verifyDKIM(msg []byte, pub *rsa.PublicKey) (map[string]string, error) {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("no end of header")
	}
	head, body := string(msg[:end+2]), msg[end+4:]
	var fields []string // whole fields, folding kept
	for _, line := range strings.SplitAfter(head, "\r\n") {
		switch {
		case line == "":
		case line[0] == ' ' || line[0] == '\t':
			if len(fields) == 0 {
				return nil, errors.New("continuation line first")
			}
			fields[len(fields)-1] += line
		default:
			fields = append(fields, line)
		}
	}
	fieldName := func(f string) string {
		name, _, _ := strings.Cut(f, ":")
		return strings.ToLower(strings.TrimSpace(name))
	}
	var sig string
	for _, f := range fields {
		if fieldName(f) == "dkim-signature" {
			if sig != "" {
				return nil, errors.New("two DKIM-Signature fields")
			}
			sig = f
		}
	}
	if sig == "" {
		return nil, errors.New("no DKIM-Signature")
	}
	tags := map[string]string{}
	_, value, _ := strings.Cut(sig, ":")
	for _, kv := range strings.Split(value, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); k != "" {
			tags[k] = strings.Join(strings.Fields(v), "") // drop folding whitespace
		}
	}
	if tags["v"] != "1" || tags["a"] != "rsa-sha256" || tags["c"] != "relaxed/relaxed" {
		return tags, fmt.Errorf("unsupported v=%s a=%s c=%s", tags["v"], tags["a"], tags["c"])
	}
	bh := sha256.Sum256(relaxedBody(body))
	if got := base64.StdEncoding.EncodeToString(bh[:]); got != tags["bh"] {
		return tags, fmt.Errorf("body hash %s, signed %s", got, tags["bh"])
	}
	// Signed fields, each name's instances taken from the bottom up; a
	// name listed more often than present contributes nothing.
	var in bytes.Buffer
	taken := map[string]int{}
	for _, name := range strings.Split(tags["h"], ":") {
		name = strings.ToLower(strings.TrimSpace(name))
		skip := taken[name]
		taken[name]++
		for i := len(fields) - 1; i >= 0; i-- {
			if fieldName(fields[i]) != name {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			in.WriteString(relaxedHeader(fields[i]))
			break
		}
	}
	emptyB := regexp.MustCompile(`(^|;)(\s*b\s*=)[^;]*`)
	_, sigValue, _ := strings.Cut(sig, ":")
	in.WriteString(strings.TrimSuffix(relaxedHeader("DKIM-Signature:"+emptyB.ReplaceAllString(sigValue, "$1$2")), "\r\n"))
	sum := sha256.Sum256(in.Bytes())
	b, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil {
		return tags, fmt.Errorf("b=: %w", err)
	}
	return tags, rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], b)
}

// relaxedHeader is RFC 6376 3.4.2.
func relaxedHeader(field string) string {
	name, value, _ := strings.Cut(field, ":")
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimSpace(name)) + ":" + value + "\r\n"
}

var wsp = regexp.MustCompile(`[ \t]+`)

// relaxedBody is RFC 6376 3.4.4.
func relaxedBody(body []byte) []byte {
	lines := strings.Split(string(body), "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(wsp.ReplaceAllString(l, " "), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}
