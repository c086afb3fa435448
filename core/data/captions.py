"""Natural-language captions for labelled mocap clips (the archives give labels, not sentences).

Each clip gets many sentences combining what is done (content) with how (style), worded in many
ways so that the text encoder sees paraphrases: several verbs and synonyms per action, the style
as the subject ("an old man walks"), as an adverb ("someone walks tiredly") or not at all,
sentences with and without a subject, a full stop or a capital. Sides follow the content label,
so the mirrored copy of a clip ("wave-left-hand" -> "wave-right-hand") gets the other side's words.
Joined clips get sequence captions ("walks forward, then bows"). Captions are deterministic per
clip id.
"""

import random
from collections.abc import Callable

# Verb phrases per content label (third person, present tense): several wordings of one action.
CONTENT_PHRASES: dict[str, tuple[str, ...]] = {
    # Bandai Namco
    "walk": ("walks forward", "walks straight ahead", "takes a few steps forward", "is walking", "strolls forward",
             "walks along", "paces forward", "ambles ahead", "walks in a straight line", "steps forward"),
    "run": ("runs forward", "jogs ahead", "is running", "runs straight ahead", "jogs forward", "runs along"),
    "dash": ("dashes forward", "sprints ahead", "runs as fast as possible", "sprints forward", "races ahead",
             "runs at full speed"),
    "walk-back": ("walks backwards", "steps backward", "retreats walking backwards", "walks in reverse",
                  "backs away", "moves backwards step by step"),
    "walk-left": ("walks sideways to the left", "side-steps to the left", "moves to the left",
                  "shuffles sideways to the left", "steps sideways toward the left"),
    "walk-right": ("walks sideways to the right", "side-steps to the right", "moves to the right",
                   "shuffles sideways to the right", "steps sideways toward the right"),
    "bow": ("bows", "takes a bow", "bends forward in a bow", "bows politely", "bows at the waist",
            "leans forward in a respectful bow"),
    "bye": ("waves goodbye", "says bye with a wave of the hand", "waves farewell", "waves to say goodbye",
            "gives a goodbye wave"),
    "guide": ("points the way with an arm", "gestures to show someone the way", "guides someone with a hand gesture",
              "shows the direction with an outstretched arm", "motions for someone to go that way"),
    "byebye": ("waves goodbye over and over", "waves bye-bye repeatedly", "keeps waving goodbye",
               "waves farewell again and again"),
    "respond": ("responds to someone", "answers someone with a gesture", "reacts to being called",
                "turns and acknowledges someone"),
    "call": ("calls someone over", "beckons someone to come", "calls out to someone with a gesture",
             "waves someone over", "signals someone to come closer"),
    "punch": ("throws a punch", "punches", "strikes with a fist", "punches the air", "jabs with a fist"),
    "kick": ("kicks", "throws a kick", "kicks with one leg", "kicks forward", "does a kick"),
    "slash": ("slashes with a sword", "swings an imaginary sword", "cuts through the air with a blade",
              "swings a sword"),
    "dance-long": ("dances", "performs a long dance", "dances for a while", "dances energetically",
                   "moves to music"),
    "dance-short": ("dances briefly", "does a short dance", "dances a few moves", "does a little dance"),
    "walk-turn-left": ("walks and turns left", "walks forward then turns to the left", "walks in a left turn",
                       "walks and curves to the left", "turns left while walking"),
    "walk-turn-right": ("walks and turns right", "walks forward then turns to the right", "walks in a right turn",
                        "walks and curves to the right", "turns right while walking"),
    "wave-both-hands": ("waves both hands", "waves with both arms", "waves both hands in the air",
                        "waves both arms above the head", "waves with both hands raised"),
    "wave-left-hand": ("waves the left hand", "waves with the left hand", "waves with the left arm",
                       "raises the left hand and waves", "waves hello with the left hand"),
    "wave-right-hand": ("waves the right hand", "waves with the right hand", "waves with the right arm",
                        "raises the right hand and waves", "waves hello with the right hand"),
    "raise-up-both-hands": ("raises both hands", "lifts both arms up", "puts both hands up",
                            "raises both arms over the head", "throws both hands in the air"),
    "raise-up-left-hand": ("raises the left hand", "lifts the left arm up", "puts the left hand up",
                           "raises the left arm", "holds the left hand up high"),
    "raise-up-right-hand": ("raises the right hand", "lifts the right arm up", "puts the right hand up",
                            "raises the right arm", "holds the right hand up high"),
    # HDM05
    "squat": ("squats down and stands back up", "does a squat", "crouches down and rises again",
              "bends the knees into a squat and stands up", "squats", "does a deep knee bend"),
    "hop": ("hops on both feet", "jumps up and down", "hops in place", "does a small jump on both feet",
            "jumps on the spot", "bounces up with both feet"),
    "elbow-to-knee-left": ("touches the left elbow to the right knee", "does a standing crunch, left elbow first",
                           "brings the left elbow to the opposite knee", "does elbow-to-knee crunches"),
    "elbow-to-knee-right": ("touches the right elbow to the left knee", "does a standing crunch, right elbow first",
                            "brings the right elbow to the opposite knee", "does elbow-to-knee crunches"),
    "put-down-right-hand": ("bends down and puts something on the floor with the right hand",
                            "places an object on the ground with the right hand",
                            "sets something down on the floor using the right hand",
                            "leans down and puts something down with the right hand"),
    "put-down-left-hand": ("bends down and puts something on the floor with the left hand",
                           "places an object on the ground with the left hand",
                           "sets something down on the floor using the left hand",
                           "leans down and puts something down with the left hand"),
    "reach-up-right-hand": ("reaches up high and grabs something with the right hand",
                            "stretches the right arm up to grab something", "reaches for a high shelf with the right hand",
                            "grabs something above the head with the right hand"),
    "reach-up-left-hand": ("reaches up high and grabs something with the left hand",
                           "stretches the left arm up to grab something", "reaches for a high shelf with the left hand",
                           "grabs something above the head with the left hand"),
    "kick-left-leg": ("kicks forward with the left leg", "kicks with the left foot", "does a front kick with the left leg",
                      "kicks the left leg out in front"),
    "kick-right-leg": ("kicks forward with the right leg", "kicks with the right foot",
                       "does a front kick with the right leg", "kicks the right leg out in front"),
    "lie-down": ("lies down on the floor", "lies down on the ground", "gets down and lies flat on the floor",
                 "lowers themselves to the floor and lies down", "lies down on their back"),
    "jog-circle-left": ("jogs in a circle to the left", "jogs along a circle to the left", "runs a small circle to the left",
                        "jogs around in a left-hand curve"),
    "jog-circle-right": ("jogs in a circle to the right", "jogs along a circle to the right",
                         "runs a small circle to the right", "jogs around in a right-hand curve"),
    "arm-circles": ("circles both arms backward", "rotates both arms backwards", "does backward arm circles",
                    "swings both arms around in big circles"),
    "sneak": ("sneaks forward", "tiptoes forward quietly", "creeps ahead stealthily", "sneaks ahead on tiptoe",
              "moves forward carefully without a sound"),
    "throw": ("throws a basketball", "throws a ball", "tosses a ball forward", "throws a ball with both hands",
              "passes a ball"),
    # CMU
    "walk-uneven": ("walks over uneven ground", "walks across rough terrain", "steps carefully over uneven ground",
                    "walks on a bumpy surface"),
    "jump-balance": ("jumps and lands balancing", "jumps and catches their balance", "jumps and then balances"),
    "scoop": ("bends over and scoops something up", "bends down, scoops something up and rises",
              "picks something up from the floor and lifts it", "leans over to scoop something up"),
    "swordplay": ("fights with a sword", "does swordplay", "fences with a sword", "practises sword fighting",
                  "swings a sword in a fight"),
    "wash-self": ("mimes washing themselves", "washes their body", "scrubs their arms and body",
                  "pretends to wash themselves"),
    "ballet": ("dances ballet", "does ballet moves", "performs a ballet dance with pirouettes",
               "dances like a ballerina", "does an arabesque and a pirouette"),
    "dribble": ("dribbles a basketball forward", "dribbles a ball while moving forward", "bounces a basketball",
                "dribbles a basketball"),
    "dribble-back": ("dribbles a basketball backwards", "dribbles a ball while backing up"),
    "dribble-sideways": ("dribbles a basketball sideways", "dribbles a ball while moving sideways"),
    "dribble-turn-left": ("dribbles a basketball and turns left", "dribbles forward, turning to the left"),
    "dribble-turn-right": ("dribbles a basketball and turns right", "dribbles forward, turning to the right"),
    "shoot-basketball": ("dribbles and shoots a basketball", "shoots a basketball at the hoop",
                         "takes a basketball shot", "dribbles then shoots the ball"),
    "shadow-box": ("shadow boxes", "boxes, moving around", "throws punches while bouncing around",
                   "spars with an imaginary opponent", "does shadow boxing"),
    "jump-forward": ("leaps forward across a gap", "jumps forward", "does a long jump forward",
                     "jumps across something", "leaps ahead"),
    "jumping-jacks": ("does jumping jacks", "does star jumps", "jumps, spreading arms and legs",
                      "does jumping jacks in place"),
    "swim": ("mimes swimming strokes", "makes swimming motions with the arms", "pretends to swim while standing"),
    "wipe": ("wipes a surface with the hands", "makes wiping motions with both hands", "wipes a table",
             "cleans a window with circular motions"),
}

# Per style: (subjects, manner phrases). An empty manner means "say nothing about the manner".
STYLE_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "normal": (("a person", "someone", "a human", "a man", "a woman", "somebody"), ("", "normally", "in an ordinary way")),
    "happy": (("a happy person", "a cheerful person", "a happy woman"), ("happily", "cheerfully", "with joy")),
    "sad": (("a sad person", "an unhappy person", "a sad man"), ("sadly", "with a sad, slumped posture", "gloomily")),
    "angry": (("an angry person", "a furious person", "an angry man"), ("angrily", "in an angry way", "furiously")),
    "proud": (("a proud person", "a confident person"), ("proudly", "with a proud posture", "confidently")),
    "not-confident": (("a shy person", "an unsure person"), ("hesitantly", "timidly", "without confidence", "shyly")),
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
    "slow": (("a person", "someone", "a man"), ("slowly", "at a slow pace", "leisurely", "unhurriedly")),
    "brisk": (("a person", "someone", "a busy person"), ("briskly", "quickly", "at a brisk pace")),
}

# The style shows either in the subject ("an old man walks") or in the manner ("someone walks
# tiredly"), never both, which would read "a thug kicks like a thug".
_TEMPLATES = (
    "{subject} {verb}.",
    "{plain} {verb} {manner}.",
    "{plain} {verb}, {manner}.",
    "{verb} {manner}",
)
_PLAIN_SUBJECTS = ("a person", "someone", "the person", "a figure", "a man", "a woman", "somebody", "the actor")
_SEQUENCE_TEMPLATES = (
    "{subject} {first}, then {second}.",
    "{subject} {first} and then {second}.",
    "{subject} first {first}, then {second}.",
    "{subject} {first}, and after that {second}.",
    "{subject} {first}. Then {subject_again} {second}.",
    "{first}, then {second}",
)


def mirror_label(label: str) -> str:
    """The label of the mirrored motion: left and right swap."""
    words = label.split("-")
    swapped = ["right" if w == "left" else "left" if w == "right" else w for w in words]
    return "-".join(swapped)


def _check_labels(content: str, style: str) -> None:
    if content not in CONTENT_PHRASES:
        raise KeyError(f"No caption phrases for the content label '{content}'.")
    if style not in STYLE_PHRASES:
        raise KeyError(f"No caption phrases for the style label '{style}'.")


def _finish(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _distinct(count: int, sentence: Callable[[int], str]) -> list[str]:
    """Up to `count` distinct sentences from `sentence(attempt)`, capitalised, in the order made."""
    captions: list[str] = []
    for attempt in range(count * 20):
        made = _finish(sentence(attempt))
        if made not in captions:
            captions.append(made)
        if len(captions) == count:
            break
    return captions


def captions_for(clip_id: str, content: str, style: str, count: int = 4) -> list[str]:
    """`count` distinct sentences describing `content` done in `style`, deterministic for `clip_id`."""
    _check_labels(content, style)
    rng = random.Random(clip_id)
    verbs = CONTENT_PHRASES[content]
    subjects, manners = STYLE_PHRASES[style]

    def sentence(attempt: int) -> str:
        manner = rng.choice(manners)
        template = _TEMPLATES[attempt % len(_TEMPLATES)] if manner else "{subject} {verb}."
        return template.format(subject=rng.choice(subjects), plain=rng.choice(_PLAIN_SUBJECTS), verb=rng.choice(verbs),
                               manner=manner)

    return _distinct(count, sentence)


def sequence_captions(clip_id: str, first: tuple[str, str], second: str, count: int = 4) -> list[str]:
    """Sentences for a motion that does `first` = (content, style), then the content `second`."""
    content, style = first
    _check_labels(content, style)
    _check_labels(second, "normal")
    rng = random.Random(clip_id)
    subjects, _ = STYLE_PHRASES[style]

    def sentence(attempt: int) -> str:
        first_verb, second_verb = rng.choice(CONTENT_PHRASES[content]), rng.choice(CONTENT_PHRASES[second])
        template = _SEQUENCE_TEMPLATES[attempt % len(_SEQUENCE_TEMPLATES)]
        return template.format(subject=rng.choice(subjects), first=first_verb, second=second_verb,
                               subject_again=rng.choice(("the person", "he", "she")))

    return _distinct(count, sentence)


# "-ing" phrases of the locomotion a gesture can ride on ("waves the right hand while walking").
LOCOMOTION_GERUNDS: dict[str, tuple[str, ...]] = {
    "walk": ("walking", "walking forward", "walking along"),
    "run": ("running", "jogging", "running forward"),
    "walk-back": ("walking backwards", "stepping backward"),
    "walk-turn-left": ("walking and turning left", "turning left while walking"),
    "walk-turn-right": ("walking and turning right", "turning right while walking"),
    "walk-left": ("side-stepping to the left", "walking sideways to the left"),
    "walk-right": ("side-stepping to the right", "walking sideways to the right"),
    "sneak": ("sneaking forward", "tiptoeing"),
}
_SIMULTANEOUS_TEMPLATES = (
    "{subject} {body} and {gesture}.",
    "{subject} {gesture} while {body_ing}.",
    "{subject} {body}, {gesture} at the same time.",
    "while {body_ing}, {plain} {gesture}.",
    "{body} and {gesture}",
)


def simultaneous_captions(clip_id: str, body: tuple[str, str], gesture: str, count: int = 4) -> list[str]:
    """Sentences for the locomotion `body` = (content, style) done together with the arm `gesture`."""
    content, style = body
    _check_labels(content, style)
    _check_labels(gesture, "normal")
    if content not in LOCOMOTION_GERUNDS:
        raise KeyError(f"No '-ing' phrases for the locomotion label '{content}'.")
    rng = random.Random(clip_id)
    subjects, _ = STYLE_PHRASES[style]

    def sentence(attempt: int) -> str:
        template = _SIMULTANEOUS_TEMPLATES[attempt % len(_SIMULTANEOUS_TEMPLATES)]
        return template.format(
            subject=rng.choice(subjects), plain=rng.choice(_PLAIN_SUBJECTS), body=rng.choice(CONTENT_PHRASES[content]),
            body_ing=rng.choice(LOCOMOTION_GERUNDS[content]), gesture=rng.choice(CONTENT_PHRASES[gesture]))

    return _distinct(count, sentence)
