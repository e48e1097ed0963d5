"""Warmup schedules refuse a warmup that fills the run; the dropout prior and the names `priority_of` reads."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.priors import priority_of
from tunesmith.errors import ConfigError
from tunesmith.lr import WarmupCosine, WarmupLinear

WARMUP_SCHEDULES = [WarmupCosine, WarmupLinear]


@pytest.mark.parametrize("cls", WARMUP_SCHEDULES, ids=lambda cls: cls.__name__)
def test_a_warmup_that_rounds_to_the_whole_run_is_refused_with_the_rule_the_values_and_the_fix(
    cls: type[WarmupCosine | WarmupLinear],
) -> None:
    # round(0.95 * 10) = 10 warmup steps: the rate would never reach the peak and turn NaN at step 10.
    with pytest.raises(ConfigError) as refused:
        cls(0.1, total_steps=10, warmup=0.95)
    message = str(refused.value)
    assert message.startswith(f"{cls.__name__}: ")
    assert "round(warmup * total_steps) < total_steps" in message
    assert "got warmup=0.95, total_steps=10 (10 warmup steps)" in message
    assert "pass a smaller warmup such as warmup=0.9, or more total_steps" in message


@pytest.mark.parametrize("cls", WARMUP_SCHEDULES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(("total_steps", "warmup"), [(1, 0.6), (2, 0.75), (3, 0.9), (10, 0.95), (777, 0.9999)])
def test_the_warmup_a_refusal_suggests_reaches_the_peak_and_then_min_lr_without_nan(
    cls: type[WarmupCosine | WarmupLinear], total_steps: int, warmup: float
) -> None:
    with pytest.raises(ConfigError, match=r"warmup such as warmup=([0-9.]+)") as refused:
        cls(0.1, total_steps=total_steps, warmup=warmup, min_lr=0.001)
    suggested = re.search(r"warmup such as warmup=([0-9.]+)", str(refused.value))
    assert suggested is not None
    schedule = cls(0.1, total_steps=total_steps, warmup=float(suggested.group(1)), min_lr=0.001)
    lrs = schedule(np.arange(total_steps + 3))
    assert np.all(np.isfinite(lrs))
    assert float(np.max(lrs[:total_steps])) == pytest.approx(0.1)  # the peak, within the run's steps
    assert lrs[total_steps:] == pytest.approx([0.001] * 3)  # min_lr at total_steps, held after


def test_the_dropout_prior_is_a_uniform_probability_from_zero_to_a_half() -> None:
    prior = ts.priors.dropout()
    assert (prior.low, prior.high, prior.log) == (0.0, 0.5, False)


# (name, the prior it points to): spellings from PyTorch, Keras, scikit-learn, XGBoost and Hugging Face
# configs, and names that only look like one (None).
SPELLINGS: list[tuple[str, str | None]] = [
    ("lr", "learning_rate"),
    ("learning_rate", "learning_rate"),
    ("learning_rate_init", "learning_rate"),  # scikit-learn's MLP
    ("lr_peak", "learning_rate"),
    ("peak_lr", "learning_rate"),
    ("max_lr", "learning_rate"),
    ("head_lr", "learning_rate"),
    ("optimizer.learningRate", "learning_rate"),
    ("base_LR", "learning_rate"),
    ("eta0", "learning_rate"),  # scikit-learn's SGD
    ("batch_size", "batch_size"),
    ("batchSize", "batch_size"),
    ("per_device_train_batch_size", "batch_size"),
    ("bs", "batch_size"),
    ("weight_decay", "weight_decay"),
    ("weight_decay_rate", "weight_decay"),
    ("optim.wd", "weight_decay"),
    ("l2", "weight_decay"),
    ("lambda_l2", "weight_decay"),  # LightGBM
    ("reg_lambda", "weight_decay"),  # XGBoost
    ("alpha", "weight_decay"),  # scikit-learn's MLP L2 penalty
    ("dropout", "dropout"),
    ("dropout_rate", "dropout"),
    ("hidden_dropout_prob", "dropout"),
    ("attn_pdrop", "dropout"),
    ("drop_rate", "dropout"),
    ("dropout_1", "dropout"),  # KerasTuner's per-layer names
    ("depth", "depth"),
    ("n_layers", "depth"),
    ("num_hidden_layers", "depth"),
    ("n_layer", "depth"),
    ("max_depth", "depth"),
    ("width", "width"),
    ("units_0", "width"),
    ("hidden_size", "width"),
    ("hidden_layer_sizes", "width"),  # scikit-learn's MLP
    ("n_hidden", "width"),
    ("d_model", "width"),
    ("beta1", "adam_beta1"),
    ("beta_1", "adam_beta1"),
    ("adam_beta1", "adam_beta1"),
    ("betas.0", "adam_beta1"),
    ("beta_2", "adam_beta2"),
    ("optimizer.beta2", "adam_beta2"),
    ("b2", "adam_beta2"),
    ("adam_epsilon", "adam_eps"),
    ("momentum", "momentum"),
    ("steps", None),
    ("clr", None),
    ("n_estimators", None),
    ("max_depth_ratio", None),
    ("lr_scheduler", None),
    ("lr_warmup", None),
    ("lr_decay", None),
    ("batch_norm", None),
    ("layer_1", None),
    ("hidden_act", None),
    ("top_p", None),
    ("init", None),
]


def test_priority_of_reads_common_spellings_of_a_parameter_word_by_word() -> None:
    read = {name: (entry[0] if (entry := priority_of(name)) else None) for name, _ in SPELLINGS}
    misread = {name: (read[name], expected) for name, expected in SPELLINGS if read[name] != expected}
    assert misread == {}, "name: (read as, expected)"
