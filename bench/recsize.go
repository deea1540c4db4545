package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward/format"
)

// sizeFormats are the JSON formats a SIEM receives, in report order.
var sizeFormats = []format.Format{format.FormatNative, format.FormatUDM, format.FormatECS}

// sizeSampleLimit bounds the records of one kind measured per round: a
// connect storm writes a million records, and the sizes of the first
// 20,000 are theirs.
const sizeSampleLimit = 20000

// sizeStat is the size of one kind of record in one format: what a SIEM
// ingests and bills per record.
type sizeStat struct {
	Records int `json:"records"`
	Median  int `json:"median_bytes"`
	P99     int `json:"p99_bytes"`
}

// sizeSampler measures the records a sensor wrote: the native size is the
// line as written; UDM and ECS are what the same record encodes to (the
// forwarders' encoders, on the record parsed back).
type sizeSampler struct {
	sizes map[string]map[format.Format][]int
	buf   []byte
}

func newSizeSampler() *sizeSampler {
	return &sizeSampler{sizes: map[string]map[format.Format][]int{}}
}

// add measures one output line of the given kind. Health records are not
// the workload's and are skipped.
func (s *sizeSampler) add(kind string, line []byte) error {
	if kind == "sensor_health" {
		return nil
	}
	byFormat := s.sizes[kind]
	if byFormat == nil {
		byFormat = map[format.Format][]int{}
		s.sizes[kind] = byFormat
	}
	if len(byFormat[format.FormatNative]) >= sizeSampleLimit {
		return nil
	}
	var rec event.Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("record sizes: %w", err)
	}
	byFormat[format.FormatNative] = append(byFormat[format.FormatNative], len(line))
	for _, f := range sizeFormats[1:] {
		s.buf = f.Append(s.buf[:0], &rec)
		byFormat[f] = append(byFormat[f], len(s.buf))
	}
	return nil
}

// stats returns, per record kind and format, the median and 99th
// percentile sizes (nearest rank).
func (s *sizeSampler) stats() map[string]map[string]sizeStat {
	out := map[string]map[string]sizeStat{}
	for kind, byFormat := range s.sizes {
		out[kind] = map[string]sizeStat{}
		for f, v := range byFormat {
			v = slices.Clone(v)
			slices.Sort(v)
			out[kind][string(f)] = sizeStat{Records: len(v), Median: v[(len(v)-1)/2], P99: v[(len(v)*99+99)/100-1]}
		}
	}
	return out
}

// printSizes writes the record size table of the argus condition.
func printSizes(w io.Writer, r results) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | record kind | records measured | native median / p99 B | udm median / p99 B | ecs median / p99 B |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, x := range r.Workloads {
		cr := x.Conditions["argus"]
		if cr == nil {
			continue
		}
		for _, kind := range slices.Sorted(maps.Keys(cr.RecordBytes)) {
			st := cr.RecordBytes[kind]
			cell := func(f format.Format) string {
				v, ok := st[string(f)]
				if !ok {
					return ""
				}
				return fmt.Sprintf("%d / %d", v.Median, v.P99)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", x.Name, kind, st[string(format.FormatNative)].Records,
				cell(format.FormatNative), cell(format.FormatUDM), cell(format.FormatECS))
		}
	}
}
