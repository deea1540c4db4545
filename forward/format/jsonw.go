package format

import (
	"strconv"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// jw appends JSON to a byte slice without reflection. The formats run on
// the pipeline goroutine for every record, so they build their output
// directly rather than through maps or tagged structs.
//
// comma tracks whether the next member of the open object or array needs
// a separating comma; closing a container sets it, because the container
// itself was a member of its parent.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
}

// key writes a member name. Names are constants of this package and need
// no escaping.
func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) open() {
	w.sep()
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) obj(k string) {
	w.key(k)
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) end() {
	w.b = append(w.b, '}')
	w.comma = true
}

func (w *jw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.comma = false
}

func (w *jw) endArr() {
	w.b = append(w.b, ']')
	w.comma = true
}

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = event.AppendString(w.b, v)
}

// strNZ writes a string member only when it is not empty: UDM and ECS
// readers treat an empty string as a value, not as absence.
func (w *jw) strNZ(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jw) elemStr(v string) {
	w.sep()
	w.b = event.AppendString(w.b, v)
}

func (w *jw) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
}

// uintStr writes an integer as a JSON string, as proto3 JSON does for
// 64-bit integers and as UDM wants for process ids.
func (w *jw) uintStr(k string, v uint64) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = strconv.AppendUint(w.b, v, 10)
	w.b = append(w.b, '"')
}

func (w *jw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// raw writes v, which must be one JSON value, as the member's value.
func (w *jw) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
}

// time writes t as RFC 3339 in UTC with nine fractional digits: valid for
// proto3 Timestamp (UDM) and for Elasticsearch date and date_nanos.
func (w *jw) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, rfc3339Nano9)
	w.b = append(w.b, '"')
}

func (w *jw) strs(k string, ss []string) {
	w.arr(k)
	for _, s := range ss {
		w.elemStr(s)
	}
	w.endArr()
}

// joined writes ss joined by single spaces as one string, without
// building the joined string first.
func (w *jw) joined(k string, ss []string) {
	w.key(k)
	w.b = append(w.b, '"')
	for i, s := range ss {
		if i > 0 {
			w.b = append(w.b, ' ')
		}
		w.b = event.AppendEscaped(w.b, s)
	}
	w.b = append(w.b, '"')
}

const rfc3339Nano9 = "2006-01-02T15:04:05.000000000Z07:00"
