"""Fault injection (issue 12): the catalogue, rules and the engine that applies them.

Sans-IO like the protocol and the engine (DESIGN §3 rule 1): frames in, frames and transport
actions (fixproto/actions.py) out; time comes in as `now`. The simulator's glue
(simulator/fault_service.py) installs it on connections, the gateway and the control plane.
"""
from .catalogue import CATALOGUE, FAMILIES, FaultKind, Param, describe, fault_kind
from .connection import ConnectionFaults
from .engine import Context, FaultEngine, RuleState
from .rules import APP_MESSAGES_OUT, RULE_KEYS, Rule, RuleError, carried, parse_rule

__all__ = ["CATALOGUE", "FAMILIES", "FaultKind", "Param", "describe", "fault_kind", "ConnectionFaults",
           "Context", "FaultEngine", "RuleState", "APP_MESSAGES_OUT", "RULE_KEYS", "Rule", "RuleError", "carried",
           "parse_rule"]
