"""A prompt that asks for actions one after another, split into those actions in time order.

    split_actions("A person walks forward and then bows.")          -> ["A person walks forward", "bows"]
    split_actions("Before lying down, the man does a few squats.")  -> ["the man does a few squats", "lying down"]
    split_actions("He waves goodbye before walking away.")          -> ["He waves goodbye", "walking away"]
    split_actions("A man waves while walking.")                     -> ["A man waves while walking."]

Only words that say "one after the other" split a prompt: "then", "after that", "afterwards",
"after which", "followed by", "and later" / "finally" / "at the end", "when done", "after a pause";
"before", "after", "having", "upon", "as soon as" or "prior to" leading a clause; "starts by ... and
ends by ..."; "but first"; or "before" / "after" / "prior to" followed by a verb in -ing, a pronoun or
"a ..." ("after he squats", "after a short walk"). Simultaneous actions ("while", "as", "and") stay
one prompt. Pure text, no model.

`with_subject` gives every part a subject, the prompt's own where it names one ("the woman bows, then
walks off" -> "the woman walks off"): the model was trained on whole sentences, and a bare "walks
off" reads as no action in particular.
"""

import re

_THEN = re.compile(
    r"(?:[,;.]\s*|\s+)(?:and\s+)?(?:then|after\s+that|after\s+which|afterwards|afterward|after\s+this|next)\b[,]?\s*"
    # "later", "finally", "at the end" ... only after "and" or a comma ("a person finally sits down" is one action)
    r"|(?:[,;.]\s*(?:and\s+)?|\s+and\s+)(?:later|finally|eventually|subsequently|(?:at|in)\s+the\s+end|second(?:ly)?)"
    r"\b[,]?\s*"
    r"|,?\s+followed\s+by\s+"
    r"|(?:[,;.]\s*|\s+)(?:and\s+)?(?:when|once)\s+(?:(?:he|she|they|it|the\s+\w+)\s+(?:is|are|has|have)\s+)?"
    r"(?:done|finished)\b[,]?\s*"
    r"|(?:[,;.]\s*|\s+)(?:and\s+)?after\s+a\s+(?:short\s+|brief\s+|long\s+)?(?:pause|moment|while|break|rest)\b[,]?\s*",
    re.IGNORECASE)
_LEADING = re.compile(r"^(?P<word>after|once|before|having|upon|as\s+soon\s+as|prior\s+to)\s+(?P<clause>[^,]+?),\s*"
                      r"(?P<rest>.+)$", re.IGNORECASE)
# "Y, but first X": X happens first
_BUT_FIRST = re.compile(r"^(?P<main>.+?),?\s+but\s+first,?\s+(?P<clause>.+)$", re.IGNORECASE)
# "the man starts by jogging and ends by lying down", "she begins with a bow and finishes with a wave"
_START_END = re.compile(
    r"^(?P<subject>.*?)\s*\b(?:starts|begins|start|begin)\s+(?:off\s+)?(?:by|with)\s+(?P<first>.+?),?\s+"
    r"(?:and\s+)?(?:then\s+)?(?:ends|finishes|end|finish)\s+(?:up\s+)?(?:by|with)\s+(?P<last>.+)$", re.IGNORECASE)
# what "after finishing the squats" or "once done with his squats" leaves of an action: "the squats"
_FINISHING = re.compile(r"^(?:finishing|completing|finished|completed|done)(?:\s+with)?\s+", re.IGNORECASE)
_INFIX = re.compile(
    r"^(?P<main>.+?),?\s+(?:but\s+)?(?:only\s+)?(?P<word>after|before|prior\s+to)\s+"
    r"(?P<clause>(?:\w+ing\b|(?:he|she|they|we|i)\s+\w+|(?:a|an|some)\s+\w+).*)$", re.IGNORECASE)
_FIRST = re.compile(r"^(?:at\s+first|first(?:\s+of\s+all)?)\s*,?\s*", re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:he|she|they|we|i|you|someone|somebody|a\s+person)\b", re.IGNORECASE)
# A subject: a determiner or possessive, up to three words, then a word for a person ("the old man").
_SUBJECT = re.compile(
    r"^(?:(?:a|an|the|this|that|my|our|your|his|her|their|one|some)\s+)(?:[\w'-]+\s+){0,3}?"
    r"(?:man|woman|person|boy|girl|child|kid|guy|lady|gentleman|player|dancer|athlete|soldier|boxer|actor|"
    r"figure|human|character|runner|walker|fighter|student|worker|teenager|teen|youngster|toddler|adult|senior|elder|"
    r"friend|mother|father|mom|dad|grandma|grandpa|warrior|pirate|cowboy|"
    r"baby|robot|zombie|ninja|knight|clown|mime|performer|gymnast|swimmer|skater|teacher|officer)\b",
    re.IGNORECASE)
DEFAULT_SUBJECT = "a person"
_NOUN_PHRASE = re.compile(r"^(?:a|an|the|some|few|several|many|two|three|\d+|his|her|their|its|my|your)\b",
                          re.IGNORECASE)


def _tidy(part: str) -> str:
    part = _FINISHING.sub("", _FIRST.sub("", part.strip(" ,;")))
    return part.rstrip(" ,;.")


def split_actions(prompt: str) -> list[str]:
    """The actions `prompt` asks for, in the order they happen; one item when it asks for one."""
    text = " ".join(prompt.split())
    parts = _join_bare_subjects([p for p in _THEN.split(text) if _tidy(p)])
    if len(parts) > 1:
        return [a for p in parts for a in split_actions(_tidy(p))]
    match = _START_END.match(text)
    if match and _tidy(match["first"]) and _tidy(match["last"]):
        subject = match["subject"].strip()
        return [_tidy(part) if not subject else f"{subject} {_linking_verb(_tidy(part))}{_tidy(part)}"
                for part in (match["first"], match["last"])]
    # "after X, Y", "having done X, Y", "Y after X" and "Y, but first X": X happens first; "before" and
    # "prior to" turn the order round.
    for pattern, earlier, later in ((_LEADING, "clause", "rest"), (_BUT_FIRST, "clause", "main"),
                                    (_INFIX, "clause", "main")):
        match = pattern.match(text)
        if match and _tidy(match[earlier]) and _tidy(match[later]):
            order = [_tidy(match[earlier]), _tidy(match[later])]
            if (match.groupdict().get("word") or "").lower() in ("before", "prior to"):  # text's spaces are single
                order.reverse()
            return [a for p in order for a in split_actions(p)]
    return [prompt]


def _join_bare_subjects(parts: list[str]) -> list[str]:
    """Parts with one that only names who acts joined to the next ("a person then sits down" is one
    action: ["a person", "sits down"] -> ["a person sits down"])."""
    joined: list[str] = []
    for part in parts:
        if joined and _is_bare_subject(joined[-1]):
            joined[-1] = f"{_tidy(joined[-1])} {part.strip()}"
        else:
            joined.append(part)
    return joined


def _is_bare_subject(part: str) -> bool:
    subject = subject_of(_tidy(part))
    return subject is not None and subject.strip().lower() == _tidy(part).lower()


def subject_of(text: str) -> str | None:
    """The words that name who acts, when `text` starts with them ("the old man", "she"), else None."""
    match = _SUBJECT.match(text.strip()) or _PRONOUN.match(text.strip())
    return match[0] if match else None


def with_subject(parts: list[str]) -> list[str]:
    """Each part of a split prompt as a sentence with a subject: the first subject any part names, or
    "a person", before every part that names none ("walks off" -> "the woman walks off", "lying down"
    -> "the woman is lying down", "a few squats" -> "the woman does a few squats")."""
    subjects = [subject_of(part) for part in parts]
    subject = next((s for s in subjects if s is not None), DEFAULT_SUBJECT)
    return [part if own is not None else f"{subject} {_linking_verb(part)}{part}"
            for part, own in zip(parts, subjects)]


def _linking_verb(part: str) -> str:
    """What joins a subject to a part: "is" before "walking away", "does" before "a few squats"."""
    first = part.split()[0].lower() if part.split() else ""
    if first.endswith("ing") and len(first) > 4:
        return "is "
    return "does " if _NOUN_PHRASE.match(part) else ""
