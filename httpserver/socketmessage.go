package httpserver

import (
	"encoding/json"
	"reflect"
)

// encodeSocketMessage writes a message of gqlgen's WebSocket protocols as json.Marshal does,
// without compacting its payload again. gqlgen hands WriteJSON its own message types (one per
// subprotocol, unexported, each {Payload json.RawMessage; ID string; Type string}) whose
// payload it has just made with json.Marshal, and json.Marshal compacts a RawMessage byte by
// byte: for an event, the whole response once more (the largest item in a live profile of an
// instance serving 1,000 subscriptions). The payload is written as it is, so it must be valid
// JSON: gqlgen makes every payload it sends with json.Marshal. A value of any other shape is
// marshalled as usual.
func encodeSocketMessage(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return json.Marshal(v)
	}
	m, ok := socketMessageFields(rv)
	if !ok {
		return json.Marshal(v)
	}
	b := make([]byte, 0, len(m.payload)+len(m.id)+len(m.typ)+40)
	b = append(b, '{')
	if len(m.payload) > 0 {
		b = append(b, `"payload":`...)
		b = append(b, m.payload...)
	}
	if m.id != "" {
		if len(b) > 1 {
			b = append(b, ',')
		}
		id, err := json.Marshal(m.id)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `"id":`...), id...)
	}
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(append(b, `"type":`...), m.typ...)
	return append(b, '}'), nil
}

type socketMessage struct {
	payload json.RawMessage
	id      string
	typ     []byte // as JSON
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// socketMessageFields reads a message of the shape gqlgen's protocols use: exactly the
// exported fields Payload (json.RawMessage, "payload,omitempty"), ID (string, "id,omitempty")
// and Type (a string, "type"), in that order.
func socketMessageFields(rv reflect.Value) (socketMessage, bool) {
	t := rv.Type()
	want := [...]struct {
		name, tag string
		kind      reflect.Kind
	}{{"Payload", "payload,omitempty", reflect.Slice}, {"ID", "id,omitempty", reflect.String}, {"Type", "type", reflect.String}}
	exported := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if exported >= len(want) || f.Name != want[exported].name || f.Tag.Get("json") != want[exported].tag || f.Type.Kind() != want[exported].kind {
			return socketMessage{}, false
		}
		exported++
	}
	payload := rv.FieldByName("Payload")
	if exported != len(want) || payload.Type() != rawMessageType {
		return socketMessage{}, false
	}
	typ, err := json.Marshal(rv.FieldByName("Type").String())
	if err != nil {
		return socketMessage{}, false
	}
	return socketMessage{
		payload: payload.Bytes(),
		id:      rv.FieldByName("ID").String(),
		typ:     typ,
	}, true
}
