"""Kalshi logon signature (spec 01 §3), session-type rules (spec 00 §5) and Logon flags (spec 01 §2.2)."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_fixsim.fixproto.codec import encode, parse
from kalshi_fixsim.fixproto.kalshi import (DEFAULT_PORTS, LogonOptions, logon_payload, session_type, session_types, sign_logon,
                             verify_logon)


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_pre_hash_is_the_five_values_joined_by_soh_as_in_the_worked_example():
    payload = logon_payload("20260105-14:30:00.123", 1, "0f6a1c2e-1111-4222-8333-944455556666", "KalshiNR")
    assert payload == b"20260105-14:30:00.123\x01A\x011\x010f6a1c2e-1111-4222-8333-944455556666\x01KalshiNR"


def test_signature_is_344_base64_characters_for_a_2048_bit_key_and_verifies(key):
    payload = logon_payload("20260105-14:30:00.123", 1, "k", "KalshiRT")
    signature = sign_logon(key, payload)
    assert len(signature) == 344 and base64.b64decode(signature)
    assert verify_logon(key.public_key(), payload, signature)


@pytest.mark.parametrize("salt", [32, padding.PSS.MAX_LENGTH], ids=["digest-length (docs, SDK)", "max-length"])
def test_verification_accepts_pss_signatures_of_any_salt_length(key, salt):
    payload = logon_payload("20260105-14:30:00.123", 1, "k", "KalshiNR")
    sig = key.sign(payload, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256())
    assert verify_logon(key.public_key(), payload, base64.b64encode(sig).decode())


@pytest.mark.parametrize("change", ["sending_time", "seq", "target", "garbage"])
def test_verification_fails_when_any_signed_value_differs(key, change):
    good = ("20260105-14:30:00.123", 1, "k", "KalshiNR")
    signature = sign_logon(key, logon_payload(*good))
    other = {"sending_time": ("20260105-14:30:00.124", 1, "k", "KalshiNR"),
             "seq": ("20260105-14:30:00.123", 2, "k", "KalshiNR"),
             "target": ("20260105-14:30:00.123", 1, "k", "Kalshi"),
             "garbage": good}[change]
    assert not verify_logon(key.public_key(), logon_payload(*other),
                            "not base64!" if change == "garbage" else signature)


def test_only_rt_and_pt_have_retransmission_and_the_others_must_reset():
    table = {st.code: (st.retransmission, st.reset_required) for st in session_types("prediction")}
    assert table == {"NR": (False, True), "DC": (False, True), "RT": (True, False), "PT": (True, False),
                     "RFQ": (False, True), "MD": (False, True)}


def test_margin_has_no_pt_and_no_rfq_sessions():
    assert [st.code for st in session_types("margin")] == ["NR", "DC", "RT", "MD"]
    with pytest.raises(ValueError):
        session_type("margin", "RFQ")
    assert set(DEFAULT_PORTS["margin"]) == {"NR", "DC", "RT", "MD"}


def test_logon_flags_round_trip_through_the_wire():
    opts = LogonOptions(cancel_orders_on_disconnect=True, skip_pending_exec_reports=True, use_dollars=False,
                        message_retention_period=48, use_expired_ord_status=True)
    msg = parse(encode([(35, "A")] + opts.to_fields("prediction")))
    assert LogonOptions.from_message(msg) == opts


def test_margin_logon_always_asks_for_dollar_prices():
    assert (21005, "Y") in LogonOptions(use_dollars=False).to_fields("margin")


def test_legacy_21003_is_read_as_skip_pending_exec_reports():
    msg = parse(encode([(35, "A"), (21003, "Y")]))
    assert LogonOptions.from_message(msg).skip_pending_exec_reports is True
    assert LogonOptions.from_message(msg, accept_legacy_21003=False).skip_pending_exec_reports is None


def test_settlement_reports_default_on_for_pt_and_opt_in_on_rt():
    assert LogonOptions().settlement_reports("PT") and not LogonOptions().settlement_reports("RT")
    assert LogonOptions(receive_settlement_reports=True).settlement_reports("RT")
    assert not LogonOptions(receive_settlement_reports=False).settlement_reports("PT")
