package rest

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPISchemasMatchShapes holds openapi.json to the shapes the handler renders, which no
// linter sees: each object lists exactly the struct's JSON keys, all required and no others;
// each value has the Go field's JSON type; and a value may be null exactly where the field is
// a pointer, by OpenAPI 3.0's strict reading (nullable counts only beside a type, and a Message
// or null is a oneOf of the two), not by kin-openapi's lenient one.
func TestOpenAPISchemasMatchShapes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Paths.Find("/vendor/conversations").Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value
	checkShape(t, "ConversationList", reflect.TypeFor[listResponse](), body)
}

// checkShape checks that s describes the JSON encoding of typ's values; at names the place.
func checkShape(t *testing.T, at string, typ reflect.Type, s *openapi3.Schema) {
	t.Helper()
	if len(s.AllOf) > 0 || len(s.AnyOf) > 0 {
		// allOf cannot add null to a non-nullable member (null fails that member); the one
		// composition read here is the oneOf of a value and null.
		t.Errorf("%s: openapi.json composes with allOf or anyOf; describe the value itself, or a value or null as a oneOf", at)
		return
	}
	value, nullable := nonNull(s)
	if pointer := typ.Kind() == reflect.Pointer; nullable != pointer {
		t.Errorf("%s: may be null in openapi.json: %v; is a pointer in shape.go: %v", at, nullable, pointer)
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if value == nil {
		t.Errorf("%s: openapi.json allows only null", at)
		return
	}
	want := map[reflect.Kind]string{reflect.Struct: "object", reflect.Slice: "array", reflect.String: "string",
		reflect.Bool: "boolean", reflect.Int: "integer", reflect.Int64: "integer"}[typ.Kind()]
	if !value.Type.Is(want) {
		t.Errorf("%s: type %v in openapi.json, %s (%s) in shape.go", at, value.Type.Slice(), want, typ)
		return
	}
	switch typ.Kind() {
	case reflect.Slice:
		checkShape(t, at+"[]", typ.Elem(), value.Items.Value)
	case reflect.Struct:
		if has := value.AdditionalProperties.Has; has == nil || *has {
			t.Errorf("%s: openapi.json allows keys other than the documented ones", at)
		}
		var keys []string
		for f := range typ.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			keys = append(keys, key)
			prop := value.Properties[key]
			if prop == nil {
				t.Errorf("%s: openapi.json has no property %s", at, key)
				continue
			}
			checkShape(t, at+"."+key, f.Type, prop.Value)
		}
		documented := slices.Sorted(maps.Keys(value.Properties))
		if slices.Sort(keys); !slices.Equal(documented, keys) {
			t.Errorf("%s: properties %v in openapi.json, keys %v in shape.go", at, documented, keys)
		}
		if required := slices.Sorted(slices.Values(value.Required)); !slices.Equal(required, keys) {
			t.Errorf("%s: required %v in openapi.json; every key of %v is always present", at, required, keys)
		}
	}
}

// nonNull reads s as OpenAPI 3.0 defines it: it returns the schema of s's values other than
// null (nil if only null is allowed) and whether null is allowed. nullable allows null only
// beside a type; a oneOf may join one schema of values with one that allows only null.
func nonNull(s *openapi3.Schema) (*openapi3.Schema, bool) {
	onlyNull := func(s *openapi3.Schema) bool {
		return s.Nullable && !s.Type.IsEmpty() && len(s.Enum) == 1 && s.Enum[0] == nil
	}
	if len(s.OneOf) == 2 && s.Type.IsEmpty() {
		for i, branch := range s.OneOf {
			if other := s.OneOf[1-i].Value; onlyNull(branch.Value) && !onlyNull(other) {
				value, nullable := nonNull(other)
				return value, !nullable // null matching both branches of a oneOf fails it
			}
		}
	}
	if onlyNull(s) {
		return nil, true
	}
	return s, s.Nullable && !s.Type.IsEmpty()
}
