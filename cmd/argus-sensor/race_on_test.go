//go:build race

package main

// raceEnabled: this test binary, which the tests also run as the sensor,
// is built with the race detector, whose shadow memory and bookkeeping
// grow with every goroutine and allocation site the sensor touches.
const raceEnabled = true
