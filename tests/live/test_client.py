"""The simulated camera's stream: real fMP4 from ffmpeg, continuous across passes over its loop."""

from __future__ import annotations

import itertools
import struct

from apps.simulator.live import _find, make_loop


def decode_time(segment: bytes) -> int:
    for offset, header, _ in _find(segment, [b"moof", b"traf", b"tfdt"]):
        width = ">Q" if segment[offset + header] == 1 else ">I"
        return struct.unpack_from(width, segment, offset + header + 4)[0]
    raise AssertionError("no tfdt")


def test_the_loop_is_fmp4_and_its_decode_times_keep_rising_across_passes():
    loop = make_loop()
    assert loop.init[4:8] == b"ftyp" and b"moov" in loop.init and b"avc1" in loop.init
    assert loop.timescale > 0
    times = [decode_time(loop.segment(n)) for n in range(len(loop.segments) * 2 + 2)]
    steps = {b - a for a, b in itertools.pairwise(times)}
    assert steps == {loop.timescale}  # exactly one second apart, also where the loop starts over
    assert loop.segment(3)[4:8] in (b"styp", b"moof")
    assert loop.segment(3) != loop.segment(3 + len(loop.segments))
