from keymask.core.data.captions import CONTENT_PHRASES, STYLE_PHRASES, captions_for, mirror_label


def test_every_label_pair_gets_distinct_sentences():
    for content in CONTENT_PHRASES:
        for style in STYLE_PHRASES:
            captions = captions_for(f"clip_{content}_{style}", content, style, count=4)
            assert len(captions) == len(set(captions)) >= 3
            assert all(c[0].isupper() and not c.endswith(" .") for c in captions)


def test_captions_are_deterministic_per_clip_and_vary_across_clips():
    first = captions_for("dataset-1_walk_old_001", "walk", "old")
    assert first == captions_for("dataset-1_walk_old_001", "walk", "old")
    others = {tuple(captions_for(f"dataset-1_walk_old_{i:03d}", "walk", "old")) for i in range(10)}
    assert len(others) > 1


def test_side_words_follow_the_content():
    assert all("left" in c for c in captions_for("x", "wave-left-hand", "normal"))
    assert all("right" in c for c in captions_for("x", mirror_label("wave-left-hand"), "normal"))


def test_mirror_label_swaps_sides_only():
    assert mirror_label("walk-turn-left") == "walk-turn-right"
    assert mirror_label("raise-up-right-hand") == "raise-up-left-hand"
    assert mirror_label("dance-long") == "dance-long"
    for content in CONTENT_PHRASES:
        assert mirror_label(content) in CONTENT_PHRASES
