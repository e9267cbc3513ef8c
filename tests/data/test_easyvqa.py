"""easy-VQA from the installed package: splits, the held-out pictures, question types."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rnnstudio.data.easyvqa import SPLITS, answers, held_out_ids, load_easyvqa, question_type
from rnnstudio.errors import UserError


@pytest.fixture(scope="module")
def splits():
    return {name: load_easyvqa(name) for name in SPLITS}


def test_the_package_has_its_published_size(splits):
    assert len(answers()) == 13 and {"yes", "no", "circle", "teal"} <= set(answers())
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    assert len(train.image_ids) + len(valid.image_ids) == 4000
    assert len(valid.image_ids) == 400
    assert len(test.image_ids) == 1000
    assert len(train.questions) + len(valid.questions) == 38575
    assert len(test.questions) == 9673


def test_validation_pictures_are_held_out_whole(splits):
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    assert not set(train.image_ids) & set(valid.image_ids)
    assert set(valid.image_ids) == held_out_ids(train.image_ids + valid.image_ids)  # the same every time
    # no training question is about a validation picture, and test pictures come from the test folder
    assert all(train.image_ids[q.image] not in set(valid.image_ids) for q in train.questions[:2000])
    assert all("/test/" in p.replace("\\", "/") for p in test.image_paths)
    assert not any("/test/" in p.replace("\\", "/") for p in train.image_paths + valid.image_paths)


def test_question_types_follow_the_answers(splits):
    test = splits["test"]
    kinds = Counter(q.kind for q in test.questions)
    assert set(kinds) == {"colour", "shape", "yes/no"}
    assert kinds["yes/no"] == 7136  # the package's own count of yes/no test questions
    for q in test.questions[:500]:
        assert q.kind == question_type(q.answer)
        if q.kind == "colour":
            assert "color" in q.question
    with pytest.raises(ValueError):
        question_type("purple")


def test_pictures_load_as_rgb_and_questions_point_at_them(splits):
    valid = splits["valid"]
    images = valid.load_images()
    assert images.shape == (400, 64, 64, 3) and images.dtype == np.uint8
    assert valid.load_images() is images  # read once
    by_image = valid.questions_of()
    assert sum(len(qs) for qs in by_image) == len(valid.questions)
    assert all(valid.questions[n].image == i for i, qs in enumerate(by_image) for n in qs)
    # a picture's colour questions name a colour that is really there
    first = next(q for q in valid.questions if q.question == "what color is the shape?")
    from rnnstudio.data.shapes import COLORS

    colour = np.array(COLORS[first.answer])
    assert (np.abs(images[first.image].astype(int) - colour).sum(axis=2) < 30).sum() > 10


def test_unknown_split_is_refused():
    with pytest.raises(UserError, match="unknown easy-VQA split"):
        load_easyvqa("holdout")
