package detect

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"io"

	"github.com/argus-sensor/argus-sensor/event"
)

// packer stores triggering records compactly. A window holds its records
// for up to an hour and most never fire, so they are kept as deflated
// JSON: about a third of the bytes of the JSON and a tenth of the Go
// structures. Packing happens once per key per window (a newer record of a
// busy key is kept as plain JSON instead: see Engine.keep), unpacking only
// when a detection fires.
type packer struct {
	buf bytes.Buffer
	w   *flate.Writer
	raw []byte
}

func (p *packer) pack(rec *event.Record) []byte {
	p.raw = rec.AppendJSON(p.raw[:0])
	p.buf.Reset()
	if p.w == nil {
		p.w, _ = flate.NewWriter(&p.buf, flate.BestSpeed)
	} else {
		p.w.Reset(&p.buf)
	}
	p.w.Write(p.raw)
	p.w.Close()
	return bytes.Clone(p.buf.Bytes())
}

// unpack decodes b, deflated by pack or, when raw, plain JSON.
func (p *packer) unpack(b []byte, raw bool, rec *event.Record) error {
	if raw {
		return json.Unmarshal(b, rec)
	}
	js, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		return err
	}
	return json.Unmarshal(js, rec)
}
