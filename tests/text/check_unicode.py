#!/usr/bin/python3
"""Checks the tokenizer's Unicode layer (core/text/unicode_text.c) against
Python for every code point: how the reference's split pattern classes the
character (the `regex` module with IGNORECASE), str.isspace(), the regex
module's \\s, and str.lower().

  check_unicode.py TEXT_TOOL        (exits 77 when `regex` is missing)
"""

import subprocess
import sys

try:
    import regex
except ImportError:
    print("SKIP: Python's regex module is missing (apt-get install python3-regex)")
    sys.exit(77)

LETTER = regex.compile(r"[\p{L}]", regex.IGNORECASE)
NUMBER = regex.compile(r"[\p{N}]", regex.IGNORECASE)
OTHER = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
SPACE = regex.compile(r"\s")


def expected_class(ch):
    if LETTER.match(ch):
        return "L"
    if NUMBER.match(ch):
        return "N"
    if OTHER.match(ch):
        return "O"
    return "S"  # no alternative matches: findall skips it


def main():
    out = subprocess.run([sys.argv[1], "unicode"], check=True, capture_output=True, text=True)
    seen = 0
    failures = []
    for line in out.stdout.splitlines():
        fields = line.split()
        cp = int(fields[0], 16)
        ch = chr(cp)
        seen += 1
        got = (fields[1], fields[2] == "1", fields[3] == "1", "".join(chr(int(x, 16)) for x in fields[4:]))
        want = (expected_class(ch), ch.isspace(), bool(SPACE.match(ch)), ch.lower())
        if got != want:
            failures.append(f"U+{cp:04X}: C {ascii(got)}, Python {ascii(want)}")
    expected_count = 0x110000 - 0x800  # every code point but the surrogates
    if seen != expected_count:
        failures.append(f"text_tool listed {seen} code points, expected {expected_count}")
    for f in failures[:30]:
        print("FAIL " + f)
    print(f"{seen} code points checked (class, isspace, \\s, lower): {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
