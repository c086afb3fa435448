"""Natural-language captions for labelled mocap clips (the Bandai data has content and style labels, no sentences).

Each clip gets several sentences combining what is done (content) with how (style), worded in
different ways so that a text encoder sees paraphrases. Captions are deterministic per clip id.
"""

import random

# Verb phrases per content label: several wordings of the same action.
CONTENT_PHRASES: dict[str, tuple[str, ...]] = {
    "walk": ("walks forward", "walks straight ahead", "takes a few steps forward", "is walking"),
    "run": ("runs forward", "jogs ahead", "is running"),
    "dash": ("dashes forward", "sprints ahead", "runs as fast as possible"),
    "walk-back": ("walks backwards", "steps backward", "retreats walking backwards"),
    "walk-left": ("walks sideways to the left", "side-steps to the left", "moves to the left"),
    "walk-right": ("walks sideways to the right", "side-steps to the right", "moves to the right"),
    "bow": ("bows", "takes a bow", "bends forward in a bow"),
    "bye": ("waves goodbye", "says bye with a wave of the hand", "waves farewell"),
    "guide": ("points the way with an arm", "gestures to show someone the way", "guides someone with a hand gesture"),
    "byebye": ("waves goodbye over and over", "waves bye-bye repeatedly", "keeps waving goodbye"),
    "respond": ("responds to someone", "answers someone with a gesture", "reacts to being called"),
    "call": ("calls someone over", "beckons someone to come", "calls out to someone with a gesture"),
    "punch": ("throws a punch", "punches", "strikes with a fist"),
    "kick": ("kicks", "throws a kick", "kicks with one leg"),
    "slash": ("slashes with a sword", "swings an imaginary sword", "cuts through the air with a blade"),
    "dance-long": ("dances", "performs a long dance", "dances for a while"),
    "dance-short": ("dances briefly", "does a short dance", "dances a few moves"),
    "walk-turn-left": ("walks and turns left", "walks forward then turns to the left", "walks in a left turn"),
    "walk-turn-right": ("walks and turns right", "walks forward then turns to the right", "walks in a right turn"),
    "wave-both-hands": ("waves both hands", "waves with both arms", "waves both hands in the air"),
    "wave-left-hand": ("waves the left hand", "waves with the left hand", "waves with the left arm"),
    "wave-right-hand": ("waves the right hand", "waves with the right hand", "waves with the right arm"),
    "raise-up-both-hands": ("raises both hands", "lifts both arms up", "puts both hands up"),
    "raise-up-left-hand": ("raises the left hand", "lifts the left arm up", "puts the left hand up"),
    "raise-up-right-hand": ("raises the right hand", "lifts the right arm up", "puts the right hand up"),
}

# Per style: (subjects, manner phrases). An empty manner means "say nothing about the manner".
STYLE_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "normal": (("a person", "someone", "a human"), ("", "normally", "in an ordinary way")),
    "happy": (("a happy person", "a cheerful person"), ("happily", "cheerfully", "with joy")),
    "sad": (("a sad person", "an unhappy person"), ("sadly", "with a sad, slumped posture", "gloomily")),
    "angry": (("an angry person", "a furious person"), ("angrily", "in an angry way", "furiously")),
    "proud": (("a proud person", "a confident person"), ("proudly", "with a proud posture", "confidently")),
    "not-confident": (("a shy person", "an unsure person"), ("hesitantly", "timidly", "without confidence")),
    "masculinity": (("a macho man", "a manly person"), ("in a masculine way", "in a manly, broad manner")),
    "masculine": (("a macho man", "a manly person"), ("in a masculine way", "in a manly, broad manner")),
    "feminine": (("a graceful woman", "a ladylike person"), ("in a feminine way", "gracefully", "elegantly")),
    "childish": (("a child", "a kid", "a childlike person"), ("like a child", "childishly", "playfully")),
    "old": (("an old man", "an elderly person", "an old woman"), ("like an old person", "slowly like an elderly person")),
    "elderly": (("an old man", "an elderly person", "an old woman"), ("like an old person", "slowly like an elderly person")),
    "tired": (("a tired person", "a weary person"), ("tiredly", "wearily", "as if exhausted")),
    "exhausted": (("an exhausted person", "a worn-out person"), ("exhaustedly", "as if worn out", "wearily")),
    "active": (("an energetic person", "a lively person"), ("energetically", "actively", "with lots of energy")),
    "musical": (("a performer", "a musical actor"), ("rhythmically", "like in a musical", "theatrically")),
    "giant": (("a giant", "a huge, heavy person"), ("like a giant", "heavily, like a giant", "with big heavy moves")),
    "chimpira": (("a thug", "a street punk", "a delinquent"), ("like a thug", "with a swagger", "in a cocky, thuggish way")),
    "youthful": (("a young person", "a youthful person"), ("youthfully", "in a youthful way", "with youthful energy")),
}

# The style shows either in the subject ("an old man walks") or in the manner ("someone walks
# tiredly"), never both, which would read "a thug kicks like a thug".
_TEMPLATES = (
    "{subject} {verb}.",
    "{plain} {verb} {manner}.",
    "{plain} {verb}, {manner}.",
)
_PLAIN_SUBJECTS = ("a person", "someone", "the person", "a figure")


def mirror_label(label: str) -> str:
    """The label of the mirrored motion: left and right swap."""
    words = label.split("-")
    swapped = ["right" if w == "left" else "left" if w == "right" else w for w in words]
    return "-".join(swapped)


def captions_for(clip_id: str, content: str, style: str, count: int = 4) -> list[str]:
    """`count` distinct sentences describing `content` done in `style`, deterministic for `clip_id`."""
    if content not in CONTENT_PHRASES:
        raise KeyError(f"No caption phrases for the content label '{content}'.")
    if style not in STYLE_PHRASES:
        raise KeyError(f"No caption phrases for the style label '{style}'.")
    rng = random.Random(clip_id)
    verbs = CONTENT_PHRASES[content]
    subjects, manners = STYLE_PHRASES[style]
    captions: list[str] = []
    for attempt in range(count * 20):
        manner = rng.choice(manners)
        template = _TEMPLATES[attempt % len(_TEMPLATES)] if manner else "{subject} {verb}."
        sentence = template.format(
            subject=rng.choice(subjects), plain=rng.choice(_PLAIN_SUBJECTS), verb=rng.choice(verbs), manner=manner
        )
        sentence = sentence[0].upper() + sentence[1:]
        if sentence not in captions:
            captions.append(sentence)
        if len(captions) == count:
            break
    return captions
