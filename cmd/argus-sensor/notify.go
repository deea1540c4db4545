package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells systemd about the service's state ("READY=1",
// "STOPPING=1") over $NOTIFY_SOCKET, as a Type=notify unit expects. Outside
// systemd there is no socket and it does nothing. The protocol is one
// datagram per message, so no library is needed for it.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' { // abstract namespace
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}
