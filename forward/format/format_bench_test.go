package format

import (
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

// BenchmarkFormat measures the encoding cost per record, which the
// pipeline goroutine pays once per format in use.
func BenchmarkFormat(b *testing.B) {
	recs := map[string]*event.Record{
		"launch": recordtest.Launch(0, true), "connect": recordtest.Connect(0, true), "detection": recordtest.Detection(true),
	}
	for _, f := range []Format{FormatNative, FormatUDM, FormatECS} {
		for _, kind := range []string{"launch", "connect", "detection"} {
			r := recs[kind]
			b.Run(string(f)+"/"+kind, func(b *testing.B) {
				buf := f.Append(nil, r)
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					buf = f.Append(buf[:0], r)
				}
			})
		}
	}
}
