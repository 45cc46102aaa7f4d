package httpserver

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// Of the shape of gqlgen's protocol messages (graphqltransportwsMessage, graphqlwsMessage).
type protocolMessageType string

type protocolMessage struct {
	Payload json.RawMessage     `json:"payload,omitempty"`
	ID      string              `json:"id,omitempty"`
	Type    protocolMessageType `json:"type"`
	noOp    bool                //lint:ignore U1000 gqlgen's messages have it; the shape check must skip it
}

// Like it but for the payload's tag: json.Marshal writes an empty payload as null.
type otherMessage struct {
	Payload json.RawMessage `json:"payload"`
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
}

func TestEncodeSocketMessageWritesWhatJSONMarshalDoes(t *testing.T) {
	// A payload as gqlgen makes it (sendResponse): json.Marshal of the response.
	event, err := json.Marshal(&graphql.Response{Data: json.RawMessage(`{"inboxUpdated":{"id":"Q29udmVyc2F0aW9uOjE=","text":"\"hi\"\n\u2028 <b>&amp;</b> ✓"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    any
	}{
		{"an event", &protocolMessage{Payload: event, ID: "inbox-1", Type: "next"}},
		{"the older protocol's data", &protocolMessage{Payload: event, ID: "1", Type: "data"}},
		{"a ping: empty payload, no id", &protocolMessage{Payload: json.RawMessage{}, Type: "ping"}},
		{"complete: no payload", &protocolMessage{ID: "7", Type: "complete"}},
		{"only a type", &protocolMessage{Type: "connection_ack"}},
		{"an id to escape", &protocolMessage{Payload: json.RawMessage(`[{"message":"x"}]`), ID: "a\"b\\c\n\u2028<>&\xff", Type: "error"}},
		{"a value, not a pointer", protocolMessage{Payload: event, ID: "v", Type: "next"}},
		{"another shape", &otherMessage{ID: "1", Type: "next"}},
		{"not a struct", map[string]any{"type": "next"}},
		{"a nil pointer", (*protocolMessage)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeSocketMessage(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("encodeSocketMessage = %s\n              want %s", got, want)
			}
		})
	}
}

func TestEncodeSocketMessageWritesThePayloadAsItIs(t *testing.T) {
	// json.Marshal would compact it; gqlgen's payloads are compact already, so the bytes are
	// sent as they are.
	got, err := encodeSocketMessage(&protocolMessage{Payload: json.RawMessage(`{"data": {"a": 1}}`), ID: "1", Type: "next"})
	if want := `{"payload":{"data": {"a": 1}},"id":"1","type":"next"}`; err != nil || string(got) != want {
		t.Errorf("encodeSocketMessage = %s, %v; want %s", got, err, want)
	}
}
