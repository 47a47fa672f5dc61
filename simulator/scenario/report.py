"""Transcripts (plain text and JSON lines, byte-identical on the virtual clock with one seed)
and JUnit XML for scenario runs."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

from ...fixproto.codec import format_utc, parse
from ...fixproto.fields import TAG_NAMES
from ...fixproto.render import render_line

_ARROW = {"in": "client->venue", "out": "venue->client"}


def _line(row) -> str:
    when, session, direction, frame, note = row
    try:
        text = render_line(frame)
    except Exception:  # noqa: BLE001 - garbled bytes as they were
        text = frame.decode("latin-1").replace("\x01", "|")
    return f"{format_utc(when)} {session} {_ARROW.get(direction, direction)} {text}" + (f" [{note}]" if note else "")


def transcript_text(rows: list) -> str:
    return "".join(_line(r) + "\n" for r in rows)


def transcript_jsonl(rows: list) -> str:
    out = []
    for when, session, direction, frame, note in rows:
        try:
            pairs = parse(frame).pairs
        except Exception:  # noqa: BLE001
            pairs = []
        record = {"time": format_utc(when), "epoch": when, "session": session, "direction": _ARROW.get(direction,
                  direction), "fields": [[t, TAG_NAMES.get(t, ""), v] for t, v in pairs]}
        if note:
            record["fault"] = note
        if not pairs:
            record["raw"] = frame.decode("latin-1")
        out.append(json.dumps(record, sort_keys=True))
    return "".join(line + "\n" for line in out)


def recent_text(rows: list, last: int) -> str:
    """The last `last` messages of every session, for a failure report."""
    by_session: dict[str, list] = defaultdict(list)
    for row in rows:
        by_session[row[1]].append(row)
    if not by_session:
        return "\n  (no messages)"
    parts = []
    for session, items in by_session.items():
        shown = items[-last:]
        parts.append(f"\n  last {len(shown)} of {len(items)} message(s) on {session}:")
        parts += [f"\n    {_line(r)}" for r in shown]
    return "".join(parts)


def write_transcript(folder: Path, name: str, rows: list) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    text, jsonl = folder / f"{safe}.txt", folder / f"{safe}.jsonl"
    text.write_text(transcript_text(rows), encoding="utf-8")
    jsonl.write_text(transcript_jsonl(rows), encoding="utf-8")
    return text, jsonl


def write_junit(path: Path, outcomes: list, skipped: list = (), reason: str = "") -> None:
    """One testcase per scenario; `skipped` scenarios get <skipped message=reason>."""
    suite = ET.Element("testsuite", name="kalshi-fixsim scenarios", tests=str(len(outcomes) + len(skipped)),
                       failures=str(sum(1 for o in outcomes if not o.passed)), skipped=str(len(skipped)),
                       time=f"{sum(o.seconds for o in outcomes):.3f}")
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=str(o.scenario.file), name=o.scenario.name,
                             time=f"{o.seconds:.3f}", file=str(o.scenario.file), line=str(o.failed_line or o.scenario.line))
        if not o.passed:
            first = o.failure.splitlines()[0] if o.failure else "failed"
            ET.SubElement(case, "failure", message=first).text = o.failure
        if o.skipped:
            ET.SubElement(case, "system-out").text = "skipped steps:\n" + "\n".join(o.skipped)
    for sc in skipped:
        case = ET.SubElement(suite, "testcase", classname=str(sc.file), name=sc.name, time="0", file=str(sc.file),
                             line=str(sc.line))
        ET.SubElement(case, "skipped", message=reason)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
