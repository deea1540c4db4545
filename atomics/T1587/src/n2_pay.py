"""Stand-in for InvisibleFerret's ~/.n2/pay module (Contagious Interview):
a Python payload that calls its C2 (port 1224 in the reported samples),
holds the connection for a moment and exits.

    python3 ~/.n2/pay HOST PORT
"""
import socket
import sys
import time


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pay HOST PORT")
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=5):
        print("pay connected to %s:%d" % (host, port))
        time.sleep(1)


if __name__ == "__main__":
    main()
