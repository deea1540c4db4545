"""A Python payload that covers its tracks: after a short look around
(0.2 s) it unlinks its own file, then calls its C2. A sensor that hashes
the script by path when it gets round to it finds nothing there.

    python3 vanish.py HOST PORT
"""
import os
import socket
import sys
import time

time.sleep(0.2)
os.unlink(__file__)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: vanish.py HOST PORT")
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=5):
        print("vanish connected to %s:%d" % (host, port))


if __name__ == "__main__":
    main()
