"""Fileless loader for the T1587 atomics.

Reads an ELF (the stand-in for a payload a dropper downloads), copies it
into an anonymous memfd_create(2) file and replaces itself with it through
fexecve: the program that then runs has no path on any filesystem.

    python3 memfd_loader.py PAYLOAD [ARG...]
"""
import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: memfd_loader.py PAYLOAD [ARG...]")
    with open(sys.argv[1], "rb") as f:
        payload = f.read()
    # Without MFD_CLOEXEC the descriptor stays open across the exec: an
    # ELF runs either way, a script would need it (its interpreter opens
    # /dev/fd/N).
    fd = os.memfd_create("argus-atomic", 0)
    os.write(fd, payload)
    argv = ["[kworker/0:1]"] + sys.argv[2:]
    os.execve(fd, argv, dict(os.environ))


if __name__ == "__main__":
    main()
