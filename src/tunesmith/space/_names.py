"""What a parameter's name says it is: a learning rate, a batch size, a dropout rate...

`kind_of` reads a name word by word against the spellings PyTorch, Keras, scikit-learn and Hugging Face configs
use. The domain priors (`tunesmith.discipline.priors.priority_of`) read a parameter's place in the guide's
importance order from it, and `Space` the bounds that make physical sense for it.
"""

from __future__ import annotations

import re

__all__ = ["kind_of"]

# How parameters are usually spelt, compared word by word: a name is split into lower-case words at
# punctuation, camelCase and digits ("optimizer.learningRate_init" -> optimizer learning rate init), and a
# spelling matches the last words of the name, after any trailing qualifiers ("learning_rate_init", "lr_peak",
# KerasTuner's "units_0"). Words before it are free ("head_lr", "optim.beta2", "num_hidden_layers"); any other
# word after it means the name is about something else ("lr_scheduler", "max_depth_ratio"), and "lr" inside a
# word ("clr") is no match.
_SPELLINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("learning_rate", ("lr", "learning_rate", "learningrate", "eta")),
    ("batch_size", ("batch_size", "batchsize", "batch", "bs")),
    ("weight_decay", ("weight_decay", "weightdecay", "wd", "l2", "l2_reg", "reg_lambda", "alpha")),
    ("dropout", ("dropout", "drop", "pdrop")),
    ("depth", ("depth", "layers", "n_layer", "num_layer", "nlayers")),
    ("width", ("width", "units", "neurons", "hidden", "hidden_size", "hidden_dim", "hidden_layer_sizes", "d_model")),
    ("adam_beta1", ("beta1", "b1", "betas_0")),
    ("adam_beta2", ("beta2", "b2", "betas_1")),
    ("adam_eps", ("eps", "epsilon")),
    ("momentum", ("momentum",)),
)

# Words that may follow a spelling without changing what the parameter is (numbers too: a layer's index).
_QUALIFIERS = frozenset({"init", "initial", "peak", "max", "min", "base", "start", "final", "rate", "prob", "p"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _words(name: str) -> tuple[str, ...]:
    """``name`` as lower-case words: ``"learningRate_init"`` -> ``("learning", "rate", "init")``."""
    return tuple(word.lower() for word in _WORD.findall(name))


# Longest spellings first, so that a name is read by the most specific spelling that ends where it does.
_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        ((_words(spelling), kind) for kind, spellings in _SPELLINGS for spelling in spellings),
        key=lambda entry: -len(entry[0]),
    )
)


# Words naming a transform of the quantity that follows them: ``log_lr`` is its exponent (10 ** log_lr).
_TRANSFORMS = frozenset({"log", "ln", "exp", "logit", "sqrt"})


def transformed(name: str) -> bool:
    """Whether ``name`` is spelt as a transform of the quantity it names (``log_lr``, ``log10_lr``, ``exp_lr``):
    its values are not the quantity's, so the bounds the quantity's kind allows say nothing of them."""
    words = [w for w in _words(name) if not w.isdigit()]
    return len(words) > 1 and words[0] in _TRANSFORMS


def kind_of(name: str) -> str | None:
    """The kind of parameter ``name`` is spelt as (``"learning_rate"``, ``"batch_size"``, ``"weight_decay"``,
    ``"dropout"``, ``"depth"``, ``"width"``, ``"adam_beta1"``, ``"adam_beta2"``, ``"adam_eps"``, ``"momentum"``),
    or ``None``: ``kind_of("optimizer.learningRate_init")`` is ``"learning_rate"``, ``kind_of("lr_scheduler")``
    ``None``."""
    words = _words(name)
    for end in range(len(words), 0, -1):
        for phrase, kind in _PHRASES:
            if words[max(0, end - len(phrase)) : end] == phrase:
                return kind
        if not (words[end - 1] in _QUALIFIERS or words[end - 1].isdigit()):
            return None
    return None
