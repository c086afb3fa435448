"""BVH reader: text -> BvhMotion, one function per grammar rule, errors that name the line.

Axes and units: kept as in the file (no conversion); rotations in degrees, intrinsic in the
listed channel order (see format.py).

Grammar (whitespace and line breaks are free in HIERARCHY; a frame is one line):
    file        := hierarchy motion
    hierarchy   := "HIERARCHY" "ROOT" joint_body
    joint       := "JOINT" joint_body
    joint_body  := name "{" offset channels (joint | end_site)* "}"
    offset      := "OFFSET" number number number
    channels    := "CHANNELS" count channel_name{count}
    end_site    := "End" "Site" "{" offset "}"
    motion      := "MOTION" "Frames:" count "Frame Time:" number frames
    frames      := (number{C} newline){count}
The MOTION block is converted in bulk with numpy; the slow line-by-line search runs only to
name the line of an error.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import KeyMaskError
from .format import CHANNEL_NAMES, BvhJoint, BvhMotion, BvhSkeleton


class BvhError(KeyMaskError, ValueError):
    """A malformed BVH file; the message names the file and the line."""

    def __init__(self, source: str, line: int | None, problem: str):
        self.source, self.line, self.problem = source, line, problem
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


@dataclass
class _Token:
    text: str
    line: int


class _Tokens:
    """Cursor over the HIERARCHY tokens; every read says what it expected."""

    def __init__(self, tokens: list[_Token], source: str, last_line: int, motion_follows: bool):
        self.tokens, self.source, self.last_line, self.position = tokens, source, last_line, 0
        self.end_description = "found MOTION (a missing '}'?)" if motion_follows else "the file ends (truncated?)"

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise BvhError(self.source, self.last_line, f"expected {expected} but {self.end_description}")
        self.position += 1
        return token

    def keyword(self, word: str) -> _Token:
        token = self.take(f"'{word}'")
        if token.text.upper() != word.upper():
            raise BvhError(self.source, token.line, f"expected '{word}' but found '{token.text}'")
        return token

    def number(self, what: str) -> float:
        token = self.take(what)
        try:
            return float(token.text)
        except ValueError:
            raise BvhError(self.source, token.line, f"expected {what} (a number) but found '{token.text}'") from None

    def count(self, what: str) -> int:
        token = self.take(what)
        if not token.text.isdigit():
            raise BvhError(self.source, token.line, f"expected {what} (a whole number) but found '{token.text}'")
        return int(token.text)


_MOTION_LINE = re.compile(r"^[ \t]*MOTION[ \t]*$", re.MULTILINE)
_WHITESPACE_BYTES = np.zeros(256, dtype=bool)
_WHITESPACE_BYTES[[9, 10, 11, 12, 13, 32]] = True


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a BVH file (any rotation order, position channels on any joint, CRLF or LF)."""
    path = Path(path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    return parse_bvh(text, source_name=str(path))


def parse_bvh(text: str, source_name: str = "<bvh>") -> BvhMotion:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    motion_match = _MOTION_LINE.search(text)
    hierarchy_text = text if motion_match is None else text[: motion_match.start()]
    first_motion_line = hierarchy_text.count("\n") + 1
    tokens = _tokenize(hierarchy_text, source_name, motion_follows=motion_match is not None)
    skeleton = _parse_hierarchy(tokens)
    if tokens.peek() is not None:
        extra = tokens.peek()
        raise BvhError(source_name, extra.line, f"expected MOTION after the root joint's closing '}}' but found '{extra.text}'")
    if motion_match is None:
        raise BvhError(source_name, tokens.last_line, "expected a MOTION section after HIERARCHY but the file ends")
    motion_lines = text[motion_match.end() :].split("\n", 3)  # rest of MOTION line, Frames, Frame Time, frames
    n_frames, frame_time, frames_text = _parse_motion_header(motion_lines, first_motion_line, source_name)
    frames = _parse_frames(frames_text, first_motion_line + 3, n_frames, skeleton.n_channels, source_name)
    return BvhMotion(skeleton=skeleton, frame_time=frame_time, frames=frames)


def _tokenize(hierarchy_text: str, source_name: str, motion_follows: bool) -> _Tokens:
    tokens = []
    lines = hierarchy_text.split("\n")
    for line_number, line in enumerate(lines, start=1):
        spaced = line.replace("{", " { ").replace("}", " } ")
        tokens.extend(_Token(word, line_number) for word in spaced.split())
    return _Tokens(tokens, source_name, last_line=len(lines), motion_follows=motion_follows)


def _parse_hierarchy(tokens: _Tokens) -> BvhSkeleton:
    tokens.keyword("HIERARCHY")
    tokens.keyword("ROOT")
    joints: list[BvhJoint] = []
    _parse_joint_body(tokens, parent=-1, joints=joints)
    try:
        return BvhSkeleton(tuple(joints))
    except ValueError as error:
        raise BvhError(tokens.source, None, str(error)) from None


def _parse_joint(tokens: _Tokens, parent: int, joints: list[BvhJoint]) -> None:
    tokens.keyword("JOINT")
    _parse_joint_body(tokens, parent, joints)


def _parse_joint_body(tokens: _Tokens, parent: int, joints: list[BvhJoint]) -> None:
    name = tokens.take("a joint name")
    if name.text in "{}":
        raise BvhError(tokens.source, name.line, f"expected a joint name but found '{name.text}'")
    tokens.keyword("{")
    offset = _parse_offset(tokens)
    channels = _parse_channels(tokens)
    index = len(joints)
    joints.append(BvhJoint(name=name.text, parent=parent, offset=offset, channels=channels))
    end_site = None
    while True:
        token = tokens.peek() or tokens.take(f"JOINT, End Site or '}}' closing joint '{name.text}'")
        word = token.text.upper()
        if word == "}":
            tokens.keyword("}")
            break
        if word == "JOINT":
            _parse_joint(tokens, parent=index, joints=joints)
        elif word == "END":
            if end_site is not None:
                raise BvhError(tokens.source, token.line, f"joint '{name.text}' has a second End Site; expected JOINT or '}}'")
            end_site = _parse_end_site(tokens)
        else:
            raise BvhError(tokens.source, token.line, f"expected JOINT, End Site or '}}' in joint '{name.text}' but found '{token.text}'")
    if end_site is not None:
        joints[index] = BvhJoint(name=name.text, parent=parent, offset=offset, channels=channels, end_site=end_site)


def _parse_offset(tokens: _Tokens) -> tuple[float, float, float]:
    tokens.keyword("OFFSET")
    return (tokens.number("the OFFSET's x"), tokens.number("the OFFSET's y"), tokens.number("the OFFSET's z"))


def _parse_channels(tokens: _Tokens) -> tuple[str, ...]:
    tokens.keyword("CHANNELS")
    n_channels = tokens.count("the number of channels")
    channels = []
    for _ in range(n_channels):
        token = tokens.take(f"{n_channels} channel names")
        canonical = token.text[:1].upper() + token.text[1:].lower()
        if canonical not in CHANNEL_NAMES:
            raise BvhError(tokens.source, token.line, f"expected a channel name ({', '.join(CHANNEL_NAMES)}) but found '{token.text}'")
        if canonical in channels:
            raise BvhError(tokens.source, token.line, f"channel '{token.text}' is listed twice")
        channels.append(canonical)
    return tuple(channels)


def _parse_end_site(tokens: _Tokens) -> tuple[float, float, float]:
    tokens.keyword("End")
    tokens.keyword("Site")
    tokens.keyword("{")
    offset = _parse_offset(tokens)
    tokens.keyword("}")
    return offset


def _parse_motion_header(motion_lines: list[str], motion_line: int, source: str) -> tuple[int, float, str]:
    """Frames and Frame Time from the two lines after MOTION; returns them and the frames' text."""
    if motion_lines[0].strip():
        raise BvhError(source, motion_line, f"expected nothing after MOTION on its line but found '{motion_lines[0].strip()}'")
    frames_value = _header_value(motion_lines, 1, "Frames", motion_line + 1, source)
    if not frames_value.isdigit():
        raise BvhError(source, motion_line + 1, f"expected a whole number of frames after 'Frames:' but found '{frames_value}'")
    time_value = _header_value(motion_lines, 2, "Frame Time", motion_line + 2, source)
    try:
        frame_time = float(time_value)
    except ValueError:
        raise BvhError(source, motion_line + 2, f"expected a number after 'Frame Time:' but found '{time_value}'") from None
    if not frame_time > 0:
        raise BvhError(source, motion_line + 2, f"expected a positive Frame Time but found {time_value}")
    frames_text = motion_lines[3] if len(motion_lines) > 3 else ""
    return int(frames_value), frame_time, frames_text


def _header_value(lines: list[str], index: int, label: str, line_number: int, source: str) -> str:
    if index >= len(lines):
        raise BvhError(source, line_number, f"expected '{label}:' but the file ends (truncated?)")
    label_pattern = r"\s+".join(label.split())
    match = re.fullmatch(rf"\s*{label_pattern}\s*:\s*(\S*)\s*", lines[index], flags=re.IGNORECASE)
    if match is None:
        raise BvhError(source, line_number, f"expected '{label}: <value>' but found '{lines[index].strip()}'")
    return match.group(1)


def _parse_frames(frames_text: str, first_line: int, n_frames: int, n_channels: int, source: str) -> np.ndarray:
    """(T, C) frame values; blank lines are skipped, every other line must hold C numbers."""
    values_per_line = _count_values_per_line(frames_text)  # (L,)
    frame_lines = np.flatnonzero(values_per_line)  # (T,) 0-based line indices within frames_text
    wrong = frame_lines[values_per_line[frame_lines] != n_channels]
    if wrong.size:
        line = int(wrong[0])
        found = int(values_per_line[line])
        cut_short = line == frame_lines[-1] and found < n_channels and not frames_text.rstrip(" \t").endswith("\n")
        hint = " (the file seems truncated)" if cut_short else ""
        raise BvhError(source, first_line + line, f"expected {n_channels} values on a frame line (the channels in HIERARCHY) but found {found}{hint}")
    if len(frame_lines) != n_frames:
        last_line = first_line + (int(frame_lines[-1]) if len(frame_lines) else -1)
        if len(frame_lines) < n_frames:
            problem = f"expected {n_frames} frames ('Frames: {n_frames}') but the file ends after {len(frame_lines)} (truncated?)"
        else:
            last_line = first_line + int(frame_lines[n_frames])
            problem = f"expected {n_frames} frames ('Frames: {n_frames}') but found more; this line is frame {n_frames + 1}"
        raise BvhError(source, last_line, problem)
    try:
        values = np.array(frames_text.split(), dtype=np.float64)  # (T * C,)
    except ValueError:
        _raise_first_non_number(frames_text, first_line, source)
    return values.reshape(n_frames, n_channels)


def _count_values_per_line(text: str) -> np.ndarray:
    """(L,) number of whitespace-separated values on each line, in bulk over the bytes."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    is_space = _WHITESPACE_BYTES[data]
    starts_value = ~is_space
    starts_value[1:] &= is_space[:-1]
    newlines = np.flatnonzero(data == 10)
    line_of_value = np.searchsorted(newlines, np.flatnonzero(starts_value))
    return np.bincount(line_of_value, minlength=len(newlines) + 1)


def _raise_first_non_number(frames_text: str, first_line: int, source: str) -> None:
    for offset, line in enumerate(frames_text.split("\n")):
        for column, word in enumerate(line.split(), start=1):
            try:
                float(word)
            except ValueError:
                raise BvhError(source, first_line + offset, f"expected a number but found '{word}' (value {column} of the frame)") from None
    raise AssertionError("numpy rejected a value that float() accepts")
