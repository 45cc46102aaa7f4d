package models

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
)

// FuzzParseGlobalID feeds arbitrary strings to ParseGlobalID. It must never panic; what it
// accepts must be exactly what GlobalID makes (one spelling per id) for a positive id of one
// of the four types; what it rejects must be an EINVALID error.
func FuzzParseGlobalID(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		// valid
		GlobalID(TypeConversation, 1),
		GlobalID(TypeProduct, math.MaxInt64),
		GlobalID(TypeUser, 5),
		GlobalID(TypeMessage, 42),
		// other spellings of valid ids
		GlobalID(TypeConversation, 1) + "=",  // padding
		GlobalID(TypeConversation, 1) + "==", // padding
		base64.StdEncoding.EncodeToString([]byte("Conversation:1")),
		base64.StdEncoding.EncodeToString([]byte("Product:1>?")), // '+' and '/' in the standard alphabet
		b64([]byte("Conversation:01")),
		b64([]byte("Conversation:+1")),
		b64([]byte("Conversation: 1")),
		b64([]byte("Conversation:1 ")),
		b64([]byte("Conversation:1\n")),
		b64([]byte("Conversation:1\x00")),
		b64([]byte(" Conversation:1")),
		b64([]byte("conversation:1")),
		// out of range or malformed ids
		b64([]byte("Conversation:0")),
		b64([]byte("Conversation:-1")),
		b64([]byte("Conversation:-0")),
		b64([]byte("Conversation:9223372036854775808")),
		b64([]byte("Conversation:-9223372036854775808")),
		b64([]byte("Conversation:99999999999999999999999")),
		b64([]byte("Conversation:1e3")),
		b64([]byte("Conversation:0x1f")),
		b64([]byte("Conversation:1_000")),
		b64([]byte("Conversation:١٢")), // unicode digits
		b64([]byte("Conversation:")),
		b64([]byte("Conversation")),
		b64([]byte(":1")),
		b64([]byte("Conversation:1:2")),
		b64([]byte("Vendor:1")),
		b64([]byte("Conversation:1 OR 1=1")), // SQL injection
		b64([]byte("Conversation:1; DROP TABLE conversations;--")),
		b64([]byte("\xff\xfe:1")), // invalid UTF-8
		b64([]byte("Conv\x00ersation:1")),
		// not base64 at all
		"",
		"' OR 1=1--",
		"1",
		"42",
		"١٢",
		"\x00",
		"\xff\xfe\xfd",
		" ",
		"Q29udmVyc2F0aW9uOjE ", // trailing space
		"%51%32%39",            // percent-escapes
		"Q29udmVyc2F0aW9uOjF",  // last char's padding bits set
		strings.Repeat("A", 64),
		strings.Repeat("A", 65),
		strings.Repeat("QUFB", 1024), // huge
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, id, err := ParseGlobalID(s)
		if err != nil {
			if code := ErrorCode(err); code != EINVALID {
				t.Fatalf("ParseGlobalID(%q) error code = %q (%v), want %q", s, code, err, EINVALID)
			}
			if typ != "" || id != 0 {
				t.Fatalf("ParseGlobalID(%q) failed but returned (%q, %d)", s, typ, id)
			}
			return
		}
		switch typ {
		case TypeConversation, TypeProduct, TypeUser, TypeMessage:
		default:
			t.Fatalf("ParseGlobalID(%q) type = %q, not a type of this API", s, typ)
		}
		if id <= 0 {
			t.Fatalf("ParseGlobalID(%q) id = %d, want positive", s, id)
		}
		if got := GlobalID(typ, id); got != s {
			t.Fatalf("ParseGlobalID(%q) = (%q, %d), but GlobalID of it = %q: not the one spelling", s, typ, id, got)
		}
	})
}
