package filter

import (
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// Env is a record in the shape conditions see: maps keyed by the argus.v1
// JSON names, built at most once however many outputs ask, and only when
// a condition needs it.
type Env struct {
	r *event.Record
	m map[string]any
}

// NewEnv wraps r; nothing is built until a condition needs it.
func NewEnv(r *event.Record) *Env { return &Env{r: r} }

func (e *Env) get() (map[string]any, error) {
	if e.m == nil {
		e.m = toValue(reflect.ValueOf(e.r).Elem()).(map[string]any)
	}
	return e.m, nil
}

// field is one exported struct field with its JSON name.
type field struct {
	index     int
	name      string
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []field

func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		// omitzero (a time.Time) is left out when zero, as omitempty is
		// for the rest.
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		out = append(out, field{index: i, name: name, omitEmpty: omit})
	}
	fieldCache.Store(t, out)
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// toValue converts v the way encoding/json would shape it: structs to
// maps by their json names (omitempty and omitzero fields left out when
// empty),
// times to RFC 3339 strings, nil pointers and slices to nil.
func toValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toValue(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).Format(time.RFC3339Nano)
		}
		fs := fieldsOf(v.Type())
		m := make(map[string]any, len(fs))
		for _, f := range fs {
			fv := v.Field(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			m[f.name] = toValue(fv)
		}
		return m
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			m[it.Key().String()] = toValue(it.Value())
		}
		return m
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return v.Interface()
}
