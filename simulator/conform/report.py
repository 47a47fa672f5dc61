"""What a conformance run leaves: the summary table (case, spec §, FIX session test case id,
verdict, what was expected, what came, and for each failure the transcript excerpt with tag
names), JUnit XML for CI, and a folder with one transcript per case (docs/conform.md
"Reading the report")."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from ..scenario.report import transcript_text, write_transcript

__all__ = ["summary_text", "write_junit", "write_transcripts", "EXCERPT"]

EXCERPT = 12  # transcript lines shown under a failure in the summary


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def summary_text(result) -> str:
    rows = [("case", "session", "spec", "FIX test", "verdict", "expected", "came")]
    for r in result.results:
        verdict = r.verdict + ("" if r.mandatory else "*")
        came = "as expected" if r.verdict == "PASS" else r.came
        rows.append((r.case.id, f"{r.product}/{r.session}", ", ".join(r.case.spec), r.case.fix_test_case or "-",
                     verdict, _cut(r.expect, 60), _cut(came, 80)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    c = result.counts()
    lines.append("")
    lines.append(f"{c['PASS']} passed, {c['FAIL']} failed ({len(result.failed())} mandatory), {c['SKIP']} skipped "
                 f"in {result.seconds:.1f} s; * = optional: its failure does not fail the run")
    for r in result.results:
        if r.verdict != "FAIL":
            continue
        lines.append("")
        lines.append(f"FAIL {r.case.id} {r.case.name} ({r.product}/{r.session}, {r.case.file})")
        lines.append(f"  expected: {r.expect}")
        lines += ["  " + line for line in r.failure.splitlines()[:1]]
        lines += [line for line in _diff_lines(r.failure)[:30] if line.strip()]
        excerpt = transcript_text(r.transcript[-EXCERPT:]).splitlines()
        if excerpt:
            lines.append(f"  transcript (last {len(excerpt)} of {len(r.transcript)} frames"
                         + (f"; whole: {r.transcript_file}" if r.transcript_file else "") + "):")
            lines += ["    " + _cut(line, 240) for line in excerpt]
    if result.report is not None:
        lines.append("")
        lines.append(f"report: {result.report}")
    return "\n".join(lines)


def _diff_lines(failure: str) -> list[str]:
    """A failure's expected-versus-received part, without the runner's last-messages listing."""
    out = []
    for line in failure.splitlines()[1:]:
        if line.startswith("  last ") and " message(s) on " in line:
            break
        out.append(line)
    return out


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def write_transcripts(result) -> None:
    """One transcript per case (text and JSON lines) under REPORT/transcripts/, and summary.txt."""
    if result.report is None:
        return
    folder = Path(result.report) / "transcripts"
    for r in result.results:
        if r.verdict == "SKIP":
            continue
        name = _safe(f"{r.case.id}-{r.product}-{r.session}-{r.case.name}")
        text, _jsonl = write_transcript(folder, name, r.transcript)
        if r.verdict == "FAIL":
            with open(text, "a", encoding="utf-8") as f:
                f.write("\n# FAIL\n" + r.failure + "\n")
        r.transcript_file = text
    (Path(result.report) / "summary.txt").write_text(summary_text(result) + "\n", encoding="utf-8")


def write_junit(result, path: Path) -> None:
    """One testcase per case and session: a mandatory failure is <failure>; an optional one
    <skipped> (it does not fail the run) with the report in system-out; SKIP is <skipped>."""
    counts = result.counts()
    suite = ET.Element("testsuite", name="kalshi-fixsim conform", tests=str(len(result.results)),
                       failures=str(len(result.failed())),
                       skipped=str(counts["SKIP"] + len(result.failed(False)) - len(result.failed())),
                       time=f"{result.seconds:.3f}")
    for r in result.results:
        case = ET.SubElement(suite, "testcase", classname=f"conform.{r.case.profile}.{r.product}.{r.session}",
                             name=f"{r.case.id} {r.case.name}", time=f"{r.seconds:.3f}", file=str(r.case.file))
        props = ET.SubElement(case, "properties")
        for key, value in (("spec", ", ".join(r.case.spec)), ("fix_test_case", r.case.fix_test_case),
                           ("mandatory", str(r.mandatory).lower()), ("expected", r.expect),
                           ("verdict", r.verdict)):
            ET.SubElement(props, "property", name=key, value=value)
        if r.verdict == "FAIL" and r.mandatory:
            ET.SubElement(case, "failure", message=r.came).text = r.failure
        elif r.verdict == "FAIL":
            ET.SubElement(case, "skipped", message=f"optional case failed: {r.came}")
            ET.SubElement(case, "system-out").text = r.failure
        elif r.verdict == "SKIP":
            ET.SubElement(case, "skipped", message=r.came)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
