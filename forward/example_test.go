package forward_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/forward/format"
)

// The daemon builds one Output per --output flag, with --format as the
// default format, sends every record from the pipeline goroutine, reads
// Stats for sensor_health, and closes with a deadline on shutdown.
func ExampleNew() {
	specs := []string{"stdout"} // e.g. also "syslog+tcp://siem:514", "https://..."
	var outs []forward.Output
	for _, s := range specs {
		outs = append(outs, forward.Output{Spec: s, Format: format.FormatNative})
	}
	f, err := forward.New(forward.Config{Outputs: outs, SpoolDir: os.TempDir()})
	if err != nil {
		fmt.Println(err) // names the output and the setting at fault
		return
	}
	f.Send(&event.Record{
		Schema: event.Schema, ID: "b00t-health-1", Kind: event.KindSensorHealth,
		Time: time.Date(2026, 11, 26, 2, 40, 18, 0, time.UTC), Host: event.Host{Hostname: "vm1"},
		Health: &event.Health{State: "running"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		fmt.Println(err)
	}
	for _, st := range f.Stats() {
		fmt.Printf("%s: sent %d, dropped %d\n", st.Name, st.Sent, st.Dropped())
	}
	// Output:
	// {"schema":"argus.v1","id":"b00t-health-1","kind":"sensor_health","time":"2026-11-26T02:40:18.000000000Z","host":{"hostname":"vm1"},"health":{"state":"running","events_lost":0,"events_dropped":0,"decode_errors":0,"processes":0,"processes_evicted":0,"write_errors":0,"uptime_seconds":0}}
	// stdout: sent 1, dropped 0
}
