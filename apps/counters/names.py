"""The names counted for the public transparency report (one place, so writers and the report agree)."""

from __future__ import annotations


def command(action: str) -> str:  # control: a recording command requested, by action
    return f"command.{action}"


LIVE_VIEW = "live.view"  # live: each person's first look at a live session
EVIDENCE_ACCESS = "evidence.access"  # footage: an access link to a clip's bytes
PLATE_READS_RECEIVED = "alpr.reads.received"  # alpr: reads newly stored
PLATE_READS_DELETED = "alpr.reads.deleted"  # alpr: reads deleted by retention
PLATE_SEARCH = "alpr.search"  # alpr: a search of stored reads


def hit(state: str) -> str:  # alpr: hits created ("new"), confirmed, rejected
    return f"alpr.hit.{state}"


def lead(kind: str, event: str) -> str:  # leads: created, verified, rejected per kind
    return f"lead.{kind}.{event}"


BRIEFING_SENT = "briefing.sent"  # briefings: a briefing sent to officers

ASSIST = "assist"  # outcomes: assists by occurred_at, and one name per outcome code


def assist_outcome(code: str) -> str:
    return f"assist.{code}"
