"""The character-level language model: embedding -> recurrent stack -> linear head.

One file, read top to bottom. The recurrent stack is torch's own nn.LSTM / nn.GRU /
nn.RNN, so the parameter names in a model file are PyTorch's (docs/MODEL-FORMAT.md).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from rnnstudio.nn.modelfile import ModelConfig

ARCHS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# The kernel each of those modules calls in its forward (CharRNN's "rnn" is always tanh).
RECURRENT_KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}
FLOAT32_TINY = torch.finfo(torch.float32).tiny
BURST_S = 0.005  # generate() yields the characters it drew about every 5 ms


@dataclass(frozen=True)
class CharRNNConfig(ModelConfig):
    vocab_size: int
    arch: str = "lstm"  # lstm | gru | rnn (the vanilla tanh RNN of docs/LECTURE-MAP.md)
    layers: int = 2
    hidden: int = 128
    embed: int = 64  # size of the learned character embedding; 0 means one-hot input
    dropout: float = 0.0  # between stacked layers, during training only

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if self.layers < 1 or self.hidden < 1 or self.vocab_size < 1 or self.embed < 0:
            raise ValueError("layers, hidden and vocab_size must be positive, embed at least 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")


class CharRNN(nn.Module):
    def __init__(self, config: CharRNNConfig):
        super().__init__()
        self.config = config
        input_size = config.embed or config.vocab_size
        if config.embed:
            self.embed = nn.Embedding(config.vocab_size, config.embed)
        rnn_kwargs = dict(
            input_size=input_size,
            hidden_size=config.hidden,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        if config.arch == "rnn":
            rnn_kwargs["nonlinearity"] = "tanh"
        self.rnn = ARCHS[config.arch](**rnn_kwargs)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """Character indices (B, T) -> recurrent inputs (B, T, E)."""
        if self.config.embed:
            return self.embed(idx)
        return nn.functional.one_hot(idx, self.config.vocab_size).float()

    def forward(self, idx: torch.Tensor, state=None):
        """idx (B, T) -> logits (B, T, V), new state (h, or (h, c) for an LSTM)."""
        x = self.inputs(idx)  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(out), state  # (B, T, V)

    def generate(
        self,
        prime: list[int],
        steps: int,
        temperature: float = 1.0,
        top_k: int = 0,
        generator: torch.Generator | None = None,
    ) -> Iterator[int]:
        """Yield `steps` sampled character indices, one at a time, after reading `prime`.

        One call of torch's recurrent kernel per character. oneDNN repacks the weights on
        every such single-step call (about 1 ms), so it is switched off here: 3x faster sampling.
        Characters are drawn in bursts of about BURST_S under torch.inference_mode, and yielded
        after each burst outside it (a caller never runs in that mode): entering and leaving
        the mode for every character cost about 12 us each time, 5% of a 2 x 256 LSTM's step.
        """
        device = self.head.weight.device
        with torch.inference_mode():
            if prime:
                with _onednn_off():
                    logits, state = self(torch.tensor([prime], dtype=torch.long, device=device), None)  # (1, P, V)
                last = logits[0, -1]  # (V,)
            else:
                # No prime: start from the zero state and a uniform first guess.
                state = self._zero_state()
                last = torch.zeros(self.config.vocab_size, device=device)
            step_in = torch.empty((1, 1), dtype=torch.long, device=device)
        step = self._one_step()
        left = max(steps, 0)
        while left:
            burst = []
            with torch.inference_mode(), _onednn_off():
                ends = time.perf_counter() + BURST_S
                while True:
                    burst.append(sample_index(last, temperature, top_k, generator))
                    left -= 1
                    if not left:
                        break  # the step after the last character would be wasted
                    step_in.fill_(burst[-1])
                    last, state = step(step_in, state)
                    if time.perf_counter() >= ends:
                        break
            yield from burst

    def _zero_state(self):
        """What nn.LSTM / nn.GRU / nn.RNN start from when given no state: zeros (layers, 1, H)."""
        w = self.head.weight
        h = torch.zeros(self.config.layers, 1, self.config.hidden, dtype=w.dtype, device=w.device)
        return (h, torch.zeros_like(h)) if self.config.arch == "lstm" else h

    def _one_step(self):
        """A function (1, 1) character index, state -> next-character logits (V,), new state.

        The numbers of `forward` on one character, without its per-call cost: it calls the
        kernel nn.LSTM calls (torch.lstm, with the same arguments) and the functional forms
        of the embedding and the head. nn.LSTM's own forward checks its arguments and weights
        in Python on every call, about 35 us, a seventh of a 2 x 256 LSTM's step on one core.
        """
        rnn = self.rnn
        kernel = RECURRENT_KERNELS[self.config.arch]
        weights = [w for layer in rnn.all_weights for w in layer]
        # As nn.LSTM passes them: weights, bias, layers, dropout, training, bidirectional, batch_first.
        args = (weights, rnn.bias, rnn.num_layers, rnn.dropout, rnn.training, False, True)
        lstm = self.config.arch == "lstm"
        head_weight, head_bias = self.head.weight, self.head.bias  # looked up once: a module attribute costs ~1 us
        if self.config.embed:
            embed_weight = self.embed.weight
            inputs = lambda idx: nn.functional.embedding(idx, embed_weight)  # noqa: E731
        else:
            inputs = self.inputs

        def step(idx: torch.Tensor, state):
            out, *new = kernel(inputs(idx), state, *args)  # out (1, 1, H); new [h, c] or [h]
            logits = nn.functional.linear(out, head_weight, head_bias)  # (1, 1, V), the shape forward gives
            return logits[0, -1], (new if lstm else new[0])

        return step


@contextlib.contextmanager
def _onednn_off():
    # torch warns about TF32 on Intel GPUs whenever these flags are set; it does not apply.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def sample_index(
    logits: torch.Tensor, temperature: float, top_k: int = 0, generator: torch.Generator | None = None
) -> int:
    """Draw one index from softmax(logits / temperature), optionally from the top k only.

    temperature 0 means greedy (argmax), and so does one too small for float32 (below 1.2e-38).
    """
    if temperature < FLOAT32_TINY:
        return int(torch.argmax(logits))
    logits = logits.float()
    if temperature != 1.0 or 0 < top_k < logits.numel():
        # Shifted so the largest is 0 before dividing (softmax does not change): a tiny temperature
        # such as 1e-37 then sends the others to -inf, where dividing first overflows to inf - inf = nan.
        # At temperature 1 with no top k neither is needed: softmax subtracts the largest itself,
        # so the probabilities, and the draws, are the same to the bit.
        logits = (logits - logits.max()) / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if generator is not None and generator.device.type != probs.device.type:
        # The app seeds CPU generators (the same text from a seed on every device); a CUDA
        # generator reports "cuda" where the tensor says "cuda:0", so compare the types.
        probs = probs.to(generator.device)
    return int(torch.multinomial(probs, 1, generator=generator))


# --- model files -------------------------------------------------------------------------

TASK = "charrnn"
OPTIMIZER_PREFIX = "optim."  # optional Adam state saved beside the weights, for exact resume


@dataclass
class LoadedCharRNN:
    model: CharRNN
    vocab: list[str]
    trained: dict
    optimizer_tensors: dict[str, torch.Tensor]  # empty unless saved from a training run
    path: object = None


def charrnn_model_file(model: CharRNN, vocab: list[str], trained: dict, optimizer_tensors=None):
    from rnnstudio.nn.modelfile import ModelFile

    tensors = dict(model.state_dict())
    for name, t in (optimizer_tensors or {}).items():
        tensors[OPTIMIZER_PREFIX + name] = t
    return ModelFile(task=TASK, config=model.config.to_dict(), vocab=list(vocab), tensors=tensors, trained=trained)


def save_charrnn(path, model: CharRNN, vocab: list[str], trained: dict, optimizer_tensors=None) -> None:
    from rnnstudio.nn.modelfile import save_model_file

    save_model_file(path, charrnn_model_file(model, vocab, trained, optimizer_tensors))


def load_charrnn(path, device: str | torch.device = "cpu") -> LoadedCharRNN:
    """Load a char-RNN model file, refusing any file whose tensors do not fit its config."""
    from rnnstudio.errors import ModelFileError
    from rnnstudio.nn.modelfile import build_for_file, check_tensors_match, load_model_file

    mf = load_model_file(path, TASK)
    vocab = mf.vocab
    if not isinstance(vocab, list) or not vocab or not all(isinstance(c, str) and len(c) == 1 for c in vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must be a list of single characters")
    if len(set(vocab)) != len(vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: a character appears twice")
    try:
        config = CharRNNConfig.from_dict({**mf.config, "vocab_size": len(vocab)})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    weights = {k: v for k, v in mf.tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}
    # Each layer is a few Python objects however small: count them before building a billion.
    layers = sum(k.startswith("rnn.weight_ih_l") for k in weights)
    if config.layers > layers:
        raise ModelFileError(f"{path} does not match its config: it holds {layers} layers, the config says {config.layers}")
    model = build_for_file(path, lambda: CharRNN(config))
    expected = model.state_dict()
    check_tensors_match(mf.path, expected, weights)
    extra = sorted(set(weights) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.to(device).eval()
    optim = {k[len(OPTIMIZER_PREFIX):]: v for k, v in mf.tensors.items() if k.startswith(OPTIMIZER_PREFIX)}
    return LoadedCharRNN(model=model, vocab=vocab, trained=mf.trained, optimizer_tensors=optim, path=mf.path)
