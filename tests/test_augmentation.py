from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mindscreen.augmentation import (
    augment_text,
    augment_texts,
    eligible_examples,
    load_synonyms,
    minority_classes,
)
from mindscreen.config import AugmentConfig

TEXT = "I feel tired and worried about the exam, but my friend is happy to help."


def _only(**rates: float) -> AugmentConfig:
    base = {"synonym_replacement": 0.0, "random_insertion": 0.0, "random_swap": 0.0, "random_deletion": 0.0}
    return AugmentConfig.model_validate({**base, "probability": 1.0, **rates})


def test_shipped_word_list_covers_everyday_emotion_words_and_leaves_out_risk_words() -> None:
    synonyms = load_synonyms()
    for word in ("happy", "sad", "worried", "tired", "angry", "lonely", "friend", "job", "exam"):
        assert synonyms.get(word), word
    for word in ("depressed", "suicidal", "kill", "die", "suicide"):
        assert word not in synonyms
    assert "glad" in synonyms["happy"] and "happy" in synonyms["glad"]  # groups work both ways


def test_same_generator_seed_gives_the_same_augmented_text() -> None:
    cfg, synonyms = AugmentConfig(probability=1.0), load_synonyms()
    first = augment_text(TEXT, np.random.default_rng([1, 0, 1]), cfg, synonyms)
    again = augment_text(TEXT, np.random.default_rng([1, 0, 1]), cfg, synonyms)
    others = {augment_text(TEXT, np.random.default_rng([1, e, 1]), cfg, synonyms) for e in range(1, 6)}
    assert first == again and first != TEXT and len(others - {first}) >= 4


def test_synonym_replacement_swaps_words_for_listed_synonyms_keeping_case_and_punctuation() -> None:
    synonyms = load_synonyms()
    out = augment_text(TEXT, np.random.default_rng(0), _only(synonym_replacement=0.3), synonyms)
    before, after = TEXT.split(), out.split()
    assert len(before) == len(after) and before != after
    for old, new in zip(before, after, strict=True):
        if old != new:
            old_core, new_core = old.strip(",."), new.strip(",.")
            assert new_core.lower() in synonyms[old_core.lower()]
            assert old[-1] not in ",." or new[-1] == old[-1]
            assert old_core[0].isupper() == new_core[0].isupper()


def test_random_deletion_keeps_a_non_empty_subsequence() -> None:
    words = TEXT.split()
    for seed in range(20):
        out = augment_text(TEXT, np.random.default_rng(seed), _only(random_deletion=0.5), {}).split()
        assert out and len(out) < len(words)
        position = iter(words)
        assert all(word in position for word in out)  # in order: a subsequence
    assert augment_text("alone", np.random.default_rng(0), _only(random_deletion=0.9), {}) == "alone"


def test_random_swap_keeps_the_same_words() -> None:
    out = augment_text(TEXT, np.random.default_rng(3), _only(random_swap=0.2), {})
    assert Counter(out.split()) == Counter(TEXT.split()) and out != TEXT


def test_random_insertion_adds_synonyms_of_words_in_the_text() -> None:
    synonyms = load_synonyms()
    out = augment_text(TEXT, np.random.default_rng(5), _only(random_insertion=0.2), synonyms).split()
    added = Counter(out) - Counter(TEXT.split())
    cores = {word.strip(",.").lower() for word in TEXT.split()}
    assert sum(added.values()) == round(0.2 * len(TEXT.split()))
    assert all(any(word in synonyms.get(core, ()) for core in cores) for word in added)


def test_only_minority_class_texts_change_when_minority_only() -> None:
    labels = np.eye(2, dtype=np.float32)[[0] * 8 + [1] * 2]  # class 1 is below half of class 0
    assert minority_classes(labels, 0.5).tolist() == [False, True]
    cfg = AugmentConfig(probability=1.0, minority_only=True, random_swap=0.5)
    eligible = eligible_examples(labels, cfg)
    texts = [f"text number {i} with several words in it" for i in range(10)]
    out, changed = augment_texts(texts, eligible, cfg, load_synonyms(), np.random.default_rng(0))
    assert set(changed.tolist()) == {8, 9}
    assert out[:8] == texts[:8] and all(out[i] != texts[i] for i in (8, 9))


def test_probability_zero_changes_nothing() -> None:
    texts = [TEXT] * 5
    out, changed = augment_texts(
        texts, np.ones(5, dtype=bool), AugmentConfig(), load_synonyms(), np.random.default_rng(0)
    )
    assert out == texts and changed.size == 0


def test_a_custom_word_list_is_read_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    path.write_text("# mine\nexam\ttest\tquiz\n\n")
    expected = {"exam": ("test", "quiz"), "test": ("exam", "quiz"), "quiz": ("exam", "test")}
    assert load_synonyms(path) == expected
    with pytest.raises(OSError, match="augment.synonyms"):
        load_synonyms(tmp_path / "missing.tsv")
