#!/usr/bin/env python3
"""The documentation says what the program does.

Run by ctest as: test_docs.py --offport BIN. Checks:

- every option of `BIN --help` (short and long) has an entry in the OPTIONS
  section of man/offport.8 (`.It Fl x` / `Fl -long`), and the default the
  help text gives is the one the entry gives;
- every `Fl` option anywhere in the man page exists in --help (no stale
  documentation), and the SYNOPSIS names every option;
- every option appears in README.md or docs/*.md;
- the EXIT STATUS section lists the codes --help lists;
- every JSON key offport writes (alert, flow and stats records of the
  sample, of every detection capture in tests/captures/ and of a tunnelled,
  a tagged and a mid-stream capture) is described in docs/output.md, and
  the drop reasons, tunnel types, finding kinds and protocols docs/output.md
  (and the man page) list are exactly those of the stats record, in its
  order;
- docs/detection.md has a row for every protocol of --list-protocols and
  names every evidence key the identifiers (src/identify/*.c) write,
  which docs/output.md names too; detection.md and the man page's DETECTION
  section give every finding kind with its signature id;
- every text alert line quoted in README.md or docs/*.md is one that offport
  writes for a capture in the repository, and every pretty-printed alert
  record quoted there equals one offport writes (no invented examples);
- `mandoc -T lint` finds nothing at warning level or above (when mandoc is
  installed; scripts/setup.sh installs it);
- README.md's Quick start gives the two commands scripts/quickstart.sh and
  scripts/test.sh, and .ci/run runs scripts/test.sh.

Prints "docs: N passed, N failed"; exits 1 on any failure.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MAN = REPO / "man" / "offport.8"
README = REPO / "README.md"
DOCS = REPO / "docs"
OUTPUT_MD = DOCS / "output.md"
DETECTION_MD = DOCS / "detection.md"
CI_RUN = REPO / ".ci" / "run"

passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))


# ---- --help ----------------------------------------------------------------

HELP_OPT = re.compile(r"^\s+(?:-([A-Za-z0-9]),\s+)?(--[a-z0-9][a-z0-9-]*)\b(.*)$")


def help_options(help_text):
    """Returns {long: (short or None, rest of the help text for it)}.

    An option's text runs from its line to the next option line, so a default
    given on a continuation line is found too."""
    opts = {}
    current = None
    for line in help_text.splitlines():
        m = HELP_OPT.match(line)
        if m:
            current = m.group(2)
            opts[current] = [m.group(1), m.group(3)]
        elif current and line.startswith("  ") and line.strip() and not line.lstrip().startswith("-"):
            if re.match(r"^\s{10,}", line):
                opts[current][1] += " " + line.strip()
            else:
                current = None
        else:
            current = None
    return {k: (v[0], v[1]) for k, v in opts.items()}


def help_default(text):
    """The number in "(default N" of an option's help, or None."""
    m = re.search(r"\(default (\d+)", text)
    return m.group(1) if m else None


# ---- man page --------------------------------------------------------------

MACROS = {
    "Ar", "Op", "Oo", "Oc", "Fl", "Nm", "Ns", "No", "Pa", "Dq", "Ql", "Sq", "Pq", "Po", "Pc",
    "Bro", "Brc", "Xr", "Sx", "Em", "Cm", "Dv", "Ic", "Li", "Va", "Ev", "Qq", "Do", "Dc",
}


def man_sections(text):
    """{section name: [lines]} for every .Sh."""
    sections = {}
    name = None
    for line in text.splitlines():
        if line.startswith(".Sh "):
            name = line[4:].strip().strip('"')
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def fl_options(lines):
    """Every option a `Fl` macro names in these lines: '-x' or '--long'."""
    found = []
    for line in lines:
        if not line.startswith("."):
            continue
        words = line[1:].split()
        for i, w in enumerate(words):
            if w != "Fl" or i + 1 >= len(words):
                continue
            arg = words[i + 1]
            if arg in MACROS or arg in {"|", ",", ";", ".", "(", ")", "[", "]"}:
                continue  # a bare dash
            arg = arg.rstrip(",;.)]")
            if arg.startswith("-"):
                found.append("-" + arg)  # "Fl -json" is --json
            else:
                found.extend("-" + c for c in arg if c.isalnum())  # "Fl hpV"
    return found


def option_entries(lines):
    """The .It entries of a section: [(options named on the .It line, body)]."""
    entries = []
    cur = None
    depth = 0
    for line in lines:
        if line.startswith(".Bl"):
            depth += 1
        elif line.startswith(".El"):
            depth -= 1
        elif line.startswith(".It") and depth == 1:
            cur = (fl_options([line]), [])
            entries.append(cur)
            continue
        if cur is not None:
            cur[1].append(line)
    return [(opts, "\n".join(body)) for opts, body in entries]


# ---- checks ----------------------------------------------------------------

def check_options(offport):
    p = subprocess.run([offport, "--help"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "offport --help exits 0", p.stderr.strip())
    opts = help_options(p.stdout)
    check(len(opts) >= 10, "--help lists the options", f"found {sorted(opts)}")
    # every getopt short option appears in the help's usage line or list
    all_help = set()
    for long, (short, _) in opts.items():
        all_help.add(long)
        if short:
            all_help.add("-" + short)

    man = MAN.read_text()
    sections = man_sections(man)
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES",
              "SEE ALSO"):
        check(s in sections, f"man page has a {s} section")

    entries = option_entries(sections.get("OPTIONS", []))
    documented = {o for names, _ in entries for o in names}
    for long, (short, text) in sorted(opts.items()):
        names = [long] + (["-" + short] if short else [])
        for n in names:
            check(n in documented, f"{n} has an entry in the man page OPTIONS section")
        want = help_default(text)
        if want:
            bodies = [body for ns, body in entries if long in ns]
            ok = any(re.search(r"\bDefault " + want + r"\b", b) for b in bodies)
            check(ok, f"{long}: man page gives the default {want} that --help gives")

    stale = sorted(set(fl_options(man.splitlines())) - all_help)
    check(not stale, "every Fl option in the man page exists in --help", ", ".join(stale))

    synopsis = set(fl_options(sections.get("SYNOPSIS", [])))
    for long, (short, _) in sorted(opts.items()):
        check(long in synopsis or (short and "-" + short in synopsis),
              f"the man page SYNOPSIS names {long}")

    prose = README.read_text() + "".join(p.read_text() for p in sorted(DOCS.glob("*.md")))
    for long, (short, _) in sorted(opts.items()):
        found = re.search(r"(?<![\w-])" + re.escape(long) + r"(?![\w-])", prose) or (
            short and re.search(r"(?<![\w-])-" + re.escape(short) + r"(?![\w-])", prose))
        check(bool(found), f"{long} appears in README.md or docs/")

    m = re.search(r"Exit status:(.*)", p.stdout)
    help_codes = set(re.findall(r"\b(\d+) [a-z]", m.group(1))) if m else set()
    man_codes = {l.split()[1] for l in sections.get("EXIT STATUS", [])
                 if l.startswith(".It ") and len(l.split()) > 1}
    check(help_codes and help_codes == man_codes, "EXIT STATUS lists the codes --help lists",
          f"--help {sorted(help_codes)}, man page {sorted(man_codes)}")


def json_keys(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            json_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            json_keys(v, out)


def doc_captures():
    """The captures whose records the documentation must cover: the sample,
    every detection capture, and captures with a tunnel, a VLAN tag and a
    flow seen mid-stream (orientation turned round by the payload)."""
    caps = [REPO / "samples" / "sample.pcap"]
    caps += sorted((REPO / "tests" / "captures").glob("*.pcap"))
    caps += [REPO / "tests" / "data" / n for n in
             ("tunnel_vxlan.pcap", "encap_vlan.pcap", "tcp_midstream_reversed.pcap")]
    return [c for c in caps if c.exists()]


_records = {}


def records(offport, cap):
    """The parsed JSON records of `offport --json -r cap` (cached)."""
    if cap not in _records:
        p = subprocess.run([offport, "--json", "-r", str(cap)], capture_output=True,
                           timeout=60)
        recs = []
        try:
            recs = [json.loads(line) for line in p.stdout.decode().splitlines()]
        except (ValueError, UnicodeDecodeError) as e:
            check(False, f"offport --json -r {cap.name} writes JSON lines", str(e))
        _records[cap] = recs
    return _records[cap]


def check_output_doc(offport):
    doc = OUTPUT_MD.read_text() if OUTPUT_MD.exists() else ""
    check(bool(doc), "docs/output.md exists")
    documented = set(re.findall(r"`([^`\s]+)`", doc))
    # a dotted name in a table ("fragments.timeout") documents each part
    documented |= {part for d in documented for part in d.split(".")}
    keys, kinds = set(), set()
    for cap in doc_captures():
        for rec in records(offport, cap):
            kinds.add(rec.get("event_type"))
            # The members of stats.detection.app_proto are the protocol
            # names (checked against --list-protocols below) and those of
            # offport.evidence the evidence keys (checked against
            # docs/detection.md): output.md documents the two objects.
            rec = json.loads(json.dumps(rec))
            det = rec.get("stats", {}).get("detection", {})
            if isinstance(det.get("app_proto"), dict):
                det["app_proto"] = {}
            if isinstance(rec.get("offport", {}).get("evidence"), dict):
                rec["offport"]["evidence"] = {}
            json_keys(rec, keys)
    check(bool(keys), "offport --json wrote records to compare with docs/output.md")
    check({"alert", "flow", "stats"} <= kinds,
          "the captures give alert, flow and stats records to compare with docs/output.md",
          f"got {sorted(k for k in kinds if k)}")
    missing = sorted(k for k in keys if k not in documented)
    check(not missing, "every JSON key offport writes is in docs/output.md", ", ".join(missing))
    check_name_lists(offport, doc)


def check_name_lists(offport, doc):
    """The drop reasons and tunnel types docs/output.md and the man page list
    are exactly those the stats record has, in its order (no stale names)."""
    p = subprocess.run([offport, "--json", "-r", str(REPO / "samples" / "sample.pcap")],
                       capture_output=True, timeout=60)
    try:
        stats = json.loads(p.stdout.decode().splitlines()[-1])["stats"]["decoder"]
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as e:
        check(False, "the sample's stats record has decoder drops and tunnels", str(e))
        return
    drops, tunnels = list(stats["drops"]), list(stats["tunnel"])
    m = re.search(r"^\| `drops` \|[^|]*\|([^|]*)\|", doc, re.M)
    listed = re.findall(r"`([a-z0-9_]+)`", m.group(1).split("Meanings")[0]) if m else []
    check(listed == drops, "docs/output.md lists the drop reasons offport writes, in order",
          f"doc {listed}, offport {drops}")
    m = re.search(r"^\| `tunnel` \| object \| Frames decapsulated([^|]*)\|", doc, re.M)
    listed = re.findall(r"`([a-z0-9]+)`", m.group(1).split(". ")[0]) if m else []
    check(listed == tunnels, "docs/output.md lists the tunnel types offport counts",
          f"doc {listed}, offport {tunnels}")
    try:
        detection = json.loads(p.stdout.decode().splitlines()[-1])["stats"]["detection"]
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as e:
        check(False, "the sample's stats record has a detection section", str(e))
        detection = {"alerts": {}, "app_proto": {}}
    m = re.search(r"^\| `alerts` \| object \|([^|]*)\|", doc, re.M)
    listed = re.findall(r"`([a-z0-9-]+)`", m.group(1)) if m else []
    check(listed == list(detection["alerts"]),
          "docs/output.md lists the finding kinds stats.detection.alerts counts, in order",
          f"doc {listed}, offport {list(detection['alerts'])}")
    lp = subprocess.run([offport, "--list-protocols"], capture_output=True, text=True,
                        timeout=30)
    names = [ln.split()[0] for ln in lp.stdout.splitlines()[1:] if ln.strip()]
    check(list(detection["app_proto"]) == names + ["unknown", "none"],
          "stats.detection.app_proto has the protocols of --list-protocols in order, "
          "then unknown and none, as docs/output.md says",
          f"offport {list(detection['app_proto'])}")
    man = man_sections(MAN.read_text()).get("DECODING", [])
    reasons, inside = [], False
    for line in man:
        if line.startswith(".Ss "):
            inside = line.startswith(".Ss Malformed")
        elif inside and line.startswith(".It "):
            reasons.append(line[4:].strip())
    check(reasons == drops, "the man page lists the drop reasons offport writes, in order",
          f"man {reasons}, offport {drops}")


def check_detection_doc(offport):
    """docs/detection.md covers every protocol, evidence key and finding."""
    det = DETECTION_MD.read_text() if DETECTION_MD.exists() else ""
    check(bool(det), "docs/detection.md exists")
    out = OUTPUT_MD.read_text() if OUTPUT_MD.exists() else ""
    p = subprocess.run([offport, "--list-protocols"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "offport --list-protocols exits 0", p.stderr.strip())
    protos = [l.split()[0] for l in p.stdout.splitlines()[1:] if l.strip()]
    check(len(protos) >= 20, "--list-protocols lists the protocols", f"{protos}")
    for name in protos:
        check(re.search(r"^\| `" + re.escape(name) + r"` \|", det, re.M) is not None,
              f"docs/detection.md has a table row for protocol {name}")
    evidence = set()
    for src in sorted((REPO / "src" / "identify").glob("*.c")):
        evidence |= set(re.findall(r'ident_add\w*\([\w>&.-]+,\s*"(\w+)"', src.read_text()))
    # proto_http.c adds header fields through a helper
    http = (REPO / "src" / "identify" / "proto_http.c")
    if http.exists():
        evidence |= set(re.findall(r'add_reader\(ev,\s*"(\w+)"', http.read_text()))
    evidence.add("tls_upgrade")
    check(len(evidence) > 20, "the identifiers' evidence keys were found", f"{sorted(evidence)}")
    for doc, text in (("docs/detection.md", det),):
        named = set(re.findall(r"`([^`\s]+)`", text))
        missing = sorted(evidence - named)
        check(not missing, f"{doc} names every evidence key", ", ".join(missing))
    man = man_sections(MAN.read_text()).get("DETECTION", [])
    check(bool(man), "the man page has a DETECTION section")
    mantext = "\n".join(man)
    for i, kind in enumerate(("off-port", "unexpected", "unknown", "fake-tls"), start=1):
        sid = str(9157100 + i)
        row = re.search(r"^\| `" + re.escape(kind) + r"` \| " + sid + r" \|", det, re.M)
        check(row is not None, f"docs/detection.md gives finding {kind} with signature {sid}")
        check(kind in mantext and sid in mantext,
              f"the man page DETECTION section gives {kind} with signature {sid}")


ALERT_LINE = re.compile(r"^\s*(\d{4}-\d\d-\d\dT\S+ \[\*\*\] \[\d+:\d+:\d+\] .*)$")


def check_quoted_output(offport):
    """Alert lines and alert records quoted in the prose are real output."""
    lines, alerts = set(), []
    for cap in doc_captures():
        p = subprocess.run([offport, "-r", str(cap)], capture_output=True, timeout=60)
        lines |= set(p.stdout.decode(errors="replace").splitlines())
        alerts += [r for r in records(offport, cap) if r.get("event_type") == "alert"]
    docs = [README] + sorted(DOCS.glob("*.md"))
    quoted = 0
    for path in docs:
        text = path.read_text()
        for line in text.splitlines():
            m = ALERT_LINE.match(line)
            if not m:
                continue
            quoted += 1
            check(m.group(1) in lines,
                  f"{path.relative_to(REPO)} quotes an alert line offport writes",
                  m.group(1)[:120])
        for block in re.findall(r"```json\n(.*?)```", text, re.S):
            try:
                rec = json.loads(block)
            except ValueError:
                continue  # a wrapped or abridged example
            if isinstance(rec, dict) and rec.get("event_type") == "alert":
                quoted += 1
                check(rec in alerts,
                      f"{path.relative_to(REPO)} quotes an alert record offport writes",
                      f"flow_id {rec.get('flow_id')}")
    check(quoted > 0, "README.md and docs/ quote real alert output")


def check_mandoc():
    mandoc = shutil.which("mandoc")
    if not mandoc:
        print("note: mandoc not installed, lint skipped (scripts/setup.sh installs it)")
        return
    # -W warning: style notes (a referenced manual missing on this system)
    # depend on the host, not on the page.
    p = subprocess.run([mandoc, "-T", "lint", "-W", "warning", str(MAN)], capture_output=True,
                       text=True, timeout=60)
    msgs = [l for l in (p.stdout + p.stderr).splitlines() if str(MAN.name) in l]
    check(p.returncode == 0 and not msgs, "mandoc -T lint -W warning man/offport.8 is clean",
          "\n".join(msgs))
    p = subprocess.run([mandoc, "-T", "utf8", str(MAN)], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0 and "OFFPORT(8)" in p.stdout, "the man page renders")


def check_readme():
    text = README.read_text()
    m = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.M | re.S)
    check(m is not None, "README.md has a Quick start section")
    qs = m.group(1) if m else ""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", qs, re.S)
    cmds = [l.strip() for b in blocks for l in b.splitlines() if l.strip()]
    for c in ("scripts/quickstart.sh", "scripts/test.sh"):
        check(any(re.fullmatch(r"(sudo )?" + re.escape(c), x) for x in cmds),
              f"README Quick start gives the command {c}", f"commands: {cmds}")
    check(len(cmds) == 2, "README Quick start has exactly two commands", f"{cmds}")
    check(re.search(r"(?i)^\*\*status\.?\*\*", text, re.M) is not None,
          "README.md has a Status paragraph")
    ci = CI_RUN.read_text() if CI_RUN.exists() else ""
    lines = [l for l in ci.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    check(any("scripts/test.sh" in l for l in lines), ".ci/run runs scripts/test.sh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    a = ap.parse_args()
    for f in (MAN, README):
        check(f.exists(), f"{f.relative_to(REPO)} exists")
    if MAN.exists() and README.exists():
        check_options(a.offport)
        check_mandoc()
        check_readme()
    check_output_doc(a.offport)
    if MAN.exists() and README.exists():
        check_detection_doc(a.offport)
        check_quoted_output(a.offport)
    print(f"docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
