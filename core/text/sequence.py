"""A prompt that asks for actions one after another, split into those actions in time order.

    split_actions("A person walks forward and then bows.")          -> ["A person walks forward", "bows"]
    split_actions("Before lying down, the man does a few squats.")  -> ["the man does a few squats", "lying down"]
    split_actions("He waves goodbye before walking away.")          -> ["He waves goodbye", "walking away"]
    split_actions("A man waves while walking.")                     -> ["A man waves while walking."]

Only words that say "one after the other" split a prompt: "then", "after that", "afterwards",
"before"/"after" leading a clause, or "before"/"after" followed by a verb in -ing or a pronoun
("after he squats"). Simultaneous actions ("while", "as", "and") stay one prompt. Pure text, no model.
"""

import re

_THEN = re.compile(
    r"(?:[,;.]\s*|\s+)(?:and\s+)?(?:then|after\s+that|afterwards|afterward|after\s+this|next)\b[,]?\s*",
    re.IGNORECASE)
_LEADING = re.compile(r"^(?P<word>after|once|before)\s+(?P<clause>[^,]+?),\s*(?P<rest>.+)$", re.IGNORECASE)
_INFIX = re.compile(
    r"^(?P<main>.+?),?\s+(?:but\s+)?(?:only\s+)?(?P<word>after|before)\s+"
    r"(?P<clause>(?:\w+ing\b|(?:he|she|they|we|i)\s+\w+).*)$", re.IGNORECASE)
_FIRST = re.compile(r"^(?:at\s+first|first(?:\s+of\s+all)?)\s*,?\s*", re.IGNORECASE)


def _tidy(part: str) -> str:
    part = _FIRST.sub("", part.strip(" ,;"))
    return part.rstrip(" ,;.")


def split_actions(prompt: str) -> list[str]:
    """The actions `prompt` asks for, in the order they happen; one item when it asks for one."""
    text = " ".join(prompt.split())
    parts = [p for p in _THEN.split(text) if _tidy(p)]
    if len(parts) > 1:
        return [a for p in parts for a in split_actions(_tidy(p))]
    # "after X, Y" and "Y after X": X happens first; "before" turns the order round.
    for pattern, earlier, later in ((_LEADING, "clause", "rest"), (_INFIX, "clause", "main")):
        match = pattern.match(text)
        if match and _tidy(match[earlier]) and _tidy(match[later]):
            order = [_tidy(match[earlier]), _tidy(match[later])]
            if match["word"].lower() == "before":
                order.reverse()
            return [a for p in order for a in split_actions(p)]
    return [prompt]
