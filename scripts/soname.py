#!/usr/bin/env python3
"""Print the SONAME of a shared library the build links against (for dlopen by soname).

usage: soname.py LIBNAME LIBDIR|'' CC [CC ARGS...]
  LIBNAME  the link name without prefix/suffix, e.g. "curl" for libcurl.so
  LIBDIR   pkg-config's libdir for it ('' or a directory without the file: ask CC)
  CC ...   the C compiler command; `CC -print-file-name=libLIBNAME.so` locates the file

Reads DT_SONAME from the ELF's .dynamic section (64- or 32-bit, either byte order); exits 1
with a message when the file cannot be found or has no SONAME.
"""
import os
import struct
import subprocess
import sys


def soname(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        shfmt, dynfmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        shfmt, dynfmt = end + "IIIIIIIIII", end + "iI"
    sections = [struct.unpack_from(shfmt, data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        offset, size, link = sh[4], sh[5], sh[6]
        strtab = sections[link][4]
        step = struct.calcsize(dynfmt)
        for pos in range(offset, offset + size, step):
            tag, val = struct.unpack_from(dynfmt, data, pos)
            if tag == 0:
                break
            if tag == 14:  # DT_SONAME
                s = strtab + val
                return data[s:data.index(b"\0", s)].decode()
    raise ValueError(f"{path} has no SONAME")


def main():
    name, libdir, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
    file = f"lib{name}.so"
    path = os.path.join(libdir, file) if libdir else ""
    if not path or not os.path.exists(path):
        out = subprocess.run(cc + [f"-print-file-name={file}"], capture_output=True, text=True)
        path = out.stdout.strip()
    if not path or not os.path.isabs(path) or not os.path.exists(path):
        sys.exit(f"soname.py: cannot find {file}")
    try:
        print(soname(os.path.realpath(path)))
    except (ValueError, struct.error) as e:
        sys.exit(f"soname.py: {e}")


if __name__ == "__main__":
    main()
