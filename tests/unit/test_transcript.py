"""The journal's bounds and the message log files, without a network (issue 10 §7, issue 11 §4)."""
from __future__ import annotations

import logging

import pytest

from kalshi_fixsim.fixproto.codec import encode
from kalshi_fixsim.simulator.transcript import ENTRY_OVERHEAD, Transcript, message_log_name


def frame(seq: int, size: int = 0, msg_type: str = "1", cl: str | None = None) -> bytes:
    body = [(112, "x" * size)] if size else []
    if cl is not None:
        body = [(11, cl)]
    return encode([(35, msg_type), (49, "k"), (56, "KalshiNR"), (34, seq), (52, "20260101-00:00:00.000")] + body)


def test_journal_keeps_at_most_max_entries_and_max_bytes_oldest_first():
    t = Transcript(lambda: 0.0, 5, max_bytes=10**9)
    for seq in range(1, 9):
        t.add("in", "prediction/NR", "s", frame(seq))
    assert [e.frame for e in t.entries] == [frame(seq) for seq in range(4, 9)]
    t = Transcript(lambda: 0.0, 1000, max_bytes=3 * (len(frame(1)) + ENTRY_OVERHEAD))
    for seq in range(1, 9):
        t.add("in", "prediction/NR", "s", frame(seq))
        assert t.bytes <= t.max_bytes
    assert len(t.entries) == 3 and t.bytes == sum(len(e.frame) + ENTRY_OVERHEAD for e in t.entries)


def test_a_frame_over_max_frame_bytes_is_kept_truncated_and_says_so():
    t = Transcript(lambda: 0.0, max_bytes=4096, max_frame_bytes=100)
    big = frame(2, size=50_000)
    t.add("in", "prediction/NR", "s", big)
    (entry,) = t.entries
    assert entry.frame == big[:100] and entry.size == len(big) and entry.truncated
    (row,) = t.recent()
    assert row["truncated"] and row["size"] == len(big) and row["frame"].endswith(f"[truncated, {len(big)} bytes]")
    assert t.text().rstrip().endswith(f"[truncated, {len(big)} bytes]") and "35=1(TestRequest)" in t.text()


def test_select_filters_by_session_prefix_msgtype_and_clordid_newest_last():
    t = Transcript(lambda: 0.0)
    t.add("in", "prediction/NR", "prediction/NR/k1", frame(2, msg_type="D", cl="a"))
    t.add("out", "prediction/NR", "prediction/NR/k1", frame(3, msg_type="8", cl="a"))
    t.add("in", "prediction/NRX", "prediction/NRX/k9", frame(2, msg_type="D", cl="b"))
    t.add("in", "margin/NR", "margin/NR/k1", frame(2, msg_type="D", cl="a"))
    assert len(t.select(session="prediction/NR")) == 2          # a prefix, not prediction/NRX
    assert len(t.select(session="prediction/NR/k1", msg_type="8")) == 1
    assert [e.session for e in t.select(cl_ord_id="a")] == ["prediction/NR/k1", "prediction/NR/k1", "margin/NR/k1"]
    assert [e.session for e in t.select(limit=1)] == ["margin/NR/k1"]
    t.clear()
    assert t.select() == [] and t.bytes == 0


def test_message_log_names_are_quickfix_style_and_safe_as_file_names():
    assert message_log_name("prediction/RT/abc-123", "KalshiRT") == "FIXT.1.1-KalshiRT-abc-123.messages.log"
    assert message_log_name("margin/NR/k", "KalshiNR") == "FIXT.1.1-KalshiNR-k-margin.messages.log"
    assert message_log_name("prediction/NR/../x", "Kalshi NR") == "FIXT.1.1-Kalshi_NR-.._x.messages.log"


def test_an_unwritable_message_log_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError) as info:
        Transcript(lambda: 0.0, message_log=blocker / "logs")
    assert "message_log" in str(info.value) and str(blocker / "logs") in str(info.value)


def test_a_write_error_stops_the_files_with_one_warning_and_never_raises(tmp_path, caplog):
    t = Transcript(lambda: 0.0, message_log=tmp_path)
    rec = t.recorder("prediction", "NR", comp_id="KalshiNR")
    rec.session = "prediction/NR/k"
    rec.inbound(frame(2))
    t.files.folder = tmp_path / "gone"  # the next file cannot be opened
    rec2 = t.recorder("prediction", "RT", comp_id="KalshiRT")
    with caplog.at_level(logging.WARNING, logger="kalshi_fixsim.messages"):
        rec2.session = "prediction/RT/k"
        rec2.inbound(frame(2))
        rec2.inbound(frame(3))
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert len(t.entries) == 3  # the journal goes on
    t.close()


def test_a_write_recorded_at_once_leaves_the_journal_a_frame_by_frame_recording_leaves():
    """Recorder.outbound_all (the driver's whole write, issue 16): the same entries, bounds,
    truncation, counter calls as `outbound` for each frame."""
    frames = [frame(2), frame(3, size=300), frame(4, cl="c1", msg_type="8"), frame(5)]

    def journal(at_once: bool):
        t = Transcript(lambda: 7.0, 3, max_bytes=10**6, max_frame_bytes=200)
        counted = []
        t.count = lambda *args: counted.append(args)
        r = t.recorder("prediction", "NR")
        r.session = "prediction/NR/k"
        t.add("in", "prediction/NR", "prediction/NR/k", frame(1))
        if at_once:
            assert r.outbound_all(frames) == frames
        else:
            assert [f for x in frames for f in r.outbound(x)] == frames
        rows = [(e.time, e.direction, e.endpoint, e.session, e.frame, e.size, e.note) for e in t.entries]
        return rows, t.bytes, t.added, counted

    assert journal(True) == journal(False)
    rows, _bytes, added, counted = journal(True)
    assert len(rows) == 3 and added == 5 and len(counted) == 5
    assert rows[0][4] == frame(3, size=300)[:200] and rows[0][5] == len(frame(3, size=300))


def test_a_write_is_recorded_frame_by_frame_when_more_is_asked_per_frame(tmp_path):
    t = Transcript(lambda: 0.0)
    r = t.recorder("prediction", "NR")
    assert r.outbound_all([frame(1)]) is None  # before the Logon: its frames wait for the session id
    r.session = "prediction/NR/k"
    t.log_messages = True
    assert r.outbound_all([frame(2)]) is None  # the message log renders each frame
    t.log_messages = False
    r.inner = type("Inner", (), {"outbound": lambda self, f: [f]})()
    assert r.outbound_all([frame(3)]) is None  # an inner interceptor (faults) sees each frame
    r.inner = None
    r._record = lambda direction, f, note="": None  # a connection watch (simulator/conn_watch.py)
    assert r.outbound_all([frame(4)]) is None


def test_a_read_recorded_through_the_inbound_recorder_leaves_the_journal_inbound_leaves():
    """Recorder.inbound_recorder (the driver's read path, issue 16): the same entries, bounds,
    truncation, counter calls as `inbound` for each frame."""
    frames = [frame(2), frame(3, size=300), frame(4, cl="c1", msg_type="D"), frame(5)]

    def journal(quick: bool):
        t = Transcript(lambda: 7.0, 3, max_bytes=10**6, max_frame_bytes=200)
        counted = []
        t.count = lambda *args: counted.append(args)
        r = t.recorder("prediction", "NR")
        r.session = "prediction/NR/k"
        if quick:
            record = r.inbound_recorder()
            for f in frames:
                record(f)
        else:
            assert [f for x in frames for f in r.inbound(x)] == frames
        rows = [(e.time, e.direction, e.endpoint, e.session, e.frame, e.size, e.note) for e in t.entries]
        return rows, t.bytes, t.added, counted

    assert journal(True) == journal(False)
    rows, _bytes, added, counted = journal(True)
    assert len(rows) == 3 and added == 4 and len(counted) == 4
    assert rows[0][4] == frame(3, size=300)[:200] and rows[0][5] == len(frame(3, size=300))


def test_a_read_is_recorded_frame_by_frame_when_more_is_asked_per_frame(tmp_path):
    t = Transcript(lambda: 0.0)
    r = t.recorder("prediction", "NR")
    assert r.inbound_recorder() is None  # before the Logon: its frames wait for the session id
    r.session = "prediction/NR/k"
    assert r.inbound_recorder() is not None
    t.log_messages = True
    assert r.inbound_recorder() is None  # the message log renders each frame
    t.log_messages = False
    r._record = lambda *args: None       # a connection watch wraps _record on this recorder
    assert r.inbound_recorder() is None
    del r._record
    r.inner = type("Inner", (), {"inbound": lambda self, f: [f]})()
    assert r.inbound_recorder() is None  # an inner interceptor (faults) sees each frame
