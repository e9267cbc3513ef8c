"""easy-VQA (Victor Zhou), read from the installed `easy-vqa` package; nothing is downloaded.

4,000 training and 1,000 test pictures (64 x 64, one shape each) with 38,575 and 9,673
questions, 13 answers. The splits here:

- `train`: the package's training split less the held-out pictures;
- `valid`: 10 % of the package's training pictures (chosen once, by a fixed seed), with all
  their questions: what model selection and the numbers during training look at;
- `test`: the package's test split, never trained on and never used to choose anything.

Held-out pictures are whole pictures, so no question about a validation picture is seen
in training. Each question has a type: `colour`, `shape` or `yes/no` (from its answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnstudio.errors import UserError

SPLITS = ("train", "valid", "test")
VALID_FRACTION = 0.1
VALID_SEED = 20240501  # which training pictures are held out; fixed, so every run holds out the same


@dataclass(frozen=True)
class VQAQuestion:
    question: str
    answer: str
    image: int  # index into the split's `images`
    kind: str  # colour | shape | yes/no


@dataclass
class EasyVQASplit:
    name: str
    questions: list[VQAQuestion]
    image_ids: list[int]  # the package's image id of each picture
    image_paths: list[str]
    images: np.ndarray | None = None  # (N, 64, 64, 3) uint8 RGB, once loaded
    answers: list[str] = field(default_factory=list)

    def load_images(self) -> np.ndarray:
        """Every picture of the split, read once (about 12 KB each)."""
        if self.images is None:
            from rnnstudio.data.images import read_image

            self.images = np.stack([read_image(p) for p in self.image_paths]) if self.image_paths else \
                np.zeros((0, 64, 64, 3), np.uint8)
        return self.images

    def questions_of(self) -> list[list[int]]:
        """For each picture, the indices of its questions."""
        out: list[list[int]] = [[] for _ in self.image_ids]
        for n, q in enumerate(self.questions):
            out[q.image].append(n)
        return out


def _package():
    try:
        import easy_vqa
    except ImportError:
        raise UserError("the easy-vqa package is not installed; install it with `pip install easy-vqa`") from None
    return easy_vqa


def answers() -> list[str]:
    """easy-VQA's 13 answers, in the package's order."""
    return list(_package().get_answers())


def question_type(answer: str) -> str:
    from rnnstudio.data.shapes import COLORS, SHAPES

    if answer in ("yes", "no"):
        return "yes/no"
    if answer in COLORS:
        return "colour"
    if answer in SHAPES:
        return "shape"
    raise ValueError(f"{answer!r} is not an easy-VQA answer")


def held_out_ids(train_ids: list[int]) -> set[int]:
    """The training pictures kept for validation."""
    ids = sorted(train_ids)
    order = np.random.default_rng(VALID_SEED).permutation(len(ids))
    return {ids[i] for i in order[: int(round(len(ids) * VALID_FRACTION))]}


def load_easyvqa(split: str, with_images: bool = False) -> EasyVQASplit:
    """One split of easy-VQA (module docstring); `with_images` reads its pictures too."""
    if split not in SPLITS:
        raise UserError(f"unknown easy-VQA split {split!r}; choose one of {', '.join(SPLITS)}")
    pkg = _package()
    if split == "test":
        texts, answers_, ids = pkg.get_test_questions()
        paths = pkg.get_test_image_paths()
        keep = set(paths)
    else:
        texts, answers_, ids = pkg.get_train_questions()
        paths = pkg.get_train_image_paths()
        held = held_out_ids(list(paths))
        keep = held if split == "valid" else set(paths) - held
    image_ids = sorted(keep)
    where = {image_id: n for n, image_id in enumerate(image_ids)}
    questions = [VQAQuestion(t, a, where[i], question_type(a)) for t, a, i in zip(texts, answers_, ids) if i in where]
    data = EasyVQASplit(split, questions, image_ids, [paths[i] for i in image_ids], answers=list(pkg.get_answers()))
    if with_images:
        data.load_images()
    return data
