#!/usr/bin/python3
"""Check the man pages made from docs/tuneslotd.md (ctest docs.man_pages).

    check-man-pages.py SOURCE_MD MAN_DIR

MAN_DIR holds tuneslotd.8 and tuneslotd.toml.5 as the man_pages target wrote
them (the build fails when the document has a `##` section assigned to
no page, or Markdown the generator cannot convert).  The checks:

  - `man --warnings -E UTF-8 -l -Tutf8 -Z PAGE` says nothing on stderr (what
    lintian's groff-message check runs);
  - `lexgrog PAGE` parses the NAME section (lintian's bad-whatis-entry);
  - every `### \\`key\\`` of "## Configuration" is a heading of tuneslotd.toml.5,
    and every metric of the "## Metrics" table is an entry of tuneslotd.8.

Standard library only; needs man-db and groff-base.  Exit status 0 when
everything passed, 1 otherwise.
"""

import os
import re
import shutil
import subprocess
import sys

PAGES = {"tuneslotd.8": "tuneslotd", "tuneslotd.toml.5": "tuneslotd.toml"}

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def ok(message):
    print("ok: " + message)


def run(cmd, **kw):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    for var in ("MANPAGER", "PAGER", "MAN_KEEP_FORMATTING", "MANROFFOPT", "GROFF_SGR"):
        env.pop(var, None)
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          **kw)


def section(markdown, title):
    """The text of the `## title` section of the document."""
    m = re.search(r"^## %s[ \t]*\n(.*?)(?=^## |\Z)" % re.escape(title), markdown,
                  re.M | re.S)
    return m.group(1) if m else None


def check_page(path, name):
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path])
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode != 0 or err:
        fail("man --warnings on %s (status %d):\n%s" % (path, r.returncode, err))
    else:
        ok("man --warnings -E UTF-8 -l -Tutf8 -Z %s: no warnings" % os.path.basename(path))

    r = run(["lexgrog", path])
    out = r.stdout.decode("utf-8", "replace").strip()
    m = re.match(r'^.*: "(\S+) - (.+)"$', out)
    if r.returncode != 0 or not m or m.group(1) != name:
        fail('lexgrog cannot parse the NAME section of %s (status %d): %s %s'
             % (path, r.returncode, out, r.stderr.decode("utf-8", "replace").strip()))
    else:
        ok("lexgrog %s: %s - %s" % (os.path.basename(path), m.group(1), m.group(2)))

    r = run(["man", "-E", "UTF-8", "-l", path])
    if r.returncode != 0:
        fail("man -l %s failed: %s" % (path, r.stderr.decode("utf-8", "replace")))
        return ""
    text = r.stdout.decode("utf-8", "replace")
    # whatever groff makes of \- and -, compare with ASCII
    return text.replace("\u2010", "-").replace("\u2212", "-")


def check_all_there(what, names, heading, page, texts, after):
    """Every name the document's `## heading` lists stands at the start of
    an indented line of the rendered page (followed by `after`)."""
    if not names:
        fail('no %s found under "## %s" of the document' % (what, heading))
        return
    missing = [n for n in names
               if not re.search(r"^[ \t]+%s%s" % (re.escape(n), after), texts[page], re.M)]
    if missing:
        fail("%s has no entry for the %s(s) %s" % (page, what, ", ".join(missing)))
    else:
        ok('%s has all %d %ss of "## %s"' % (page, len(names), what, heading))


def main():
    if len(sys.argv) != 3:
        print("usage: check-man-pages.py SOURCE_MD MAN_DIR", file=sys.stderr)
        return 2
    source, man_dir = sys.argv[1], sys.argv[2]
    for tool, package in (("man", "man-db"), ("lexgrog", "man-db"), ("groff", "groff-base")):
        if shutil.which(tool) is None:
            print("FAIL: %s is missing: apt-get install man-db groff-base" % tool,
                  file=sys.stderr)
            return 1
    missing = [p for p in PAGES if not os.path.isfile(os.path.join(man_dir, p))]
    if missing:
        print("FAIL: %s not in %s: build the man_pages target first"
              % (", ".join(missing), man_dir), file=sys.stderr)
        return 1
    with open(source, encoding="utf-8") as f:
        markdown = f.read()

    texts = {}
    for page, name in PAGES.items():
        texts[page] = check_page(os.path.join(man_dir, page), name)

    config = section(markdown, "Configuration")
    check_all_there("key", re.findall(r"^### `([^`]+)`[ \t]*$", config or "", re.M),
                    "Configuration", "tuneslotd.toml.5", texts, r"[ \t]*$")
    metrics = section(markdown, "Metrics")
    check_all_there("metric", re.findall(r"^\|\s*`(tuneslotd_[A-Za-z0-9_]+)`\s*\|", metrics or "", re.M),
                    "Metrics", "tuneslotd.8", texts, r"(\s|$)")

    if failures:
        print("%d check(s) of the man pages failed" % len(failures), file=sys.stderr)
        return 1
    print("all checks of the man pages passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
