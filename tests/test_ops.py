"""The one switch over the accelerations (ops/__init__.py): WALKFORMER_OPS and ops.use."""

import pytest
import torch

from walkformer import ops
from walkformer.config import ConfigError
from walkformer.ops import causal_attention as ca


@pytest.mark.parametrize("spec,on", [
    ("", set(ops.NAMES)), ("auto", set(ops.NAMES)), ("reference", set()),
    ("-token_attention", set(ops.NAMES) - {"token_attention"}),
    ("-token_attention, -causal_attention", {"shicao_step"}),
    ("shicao_step", {"shicao_step"}), ("causal_attention,token_attention", {"causal_attention", "token_attention"}),
])
def test_parse(spec, on):
    assert ops.parse(spec) == on


@pytest.mark.parametrize("spec,why", [("fused_mlp", "unknown 'fused_mlp'"), ("-shicao", "unknown 'shicao'"),
                                      ("shicao_step,-token_attention", "mixes NAME and -NAME")])
def test_a_bad_spec_is_one_line_naming_it(spec, why):
    with pytest.raises(ConfigError) as e:
        ops.parse(spec)
    assert f"WALKFORMER_OPS={spec}: {why}" in str(e.value) and "\n" not in str(e.value)


def test_the_environment_is_read_at_each_call_and_use_overrides_it(monkeypatch):
    monkeypatch.setenv("WALKFORMER_OPS", "reference")
    assert not any(ops.enabled(n) for n in ops.NAMES)
    with ops.use("-token_attention"):
        assert ops.enabled("causal_attention") and not ops.enabled("token_attention")
        with ops.use("token_attention"):
            assert ops.enabled("token_attention") and not ops.enabled("causal_attention")
    assert not ops.enabled("shicao_step")
    monkeypatch.setenv("WALKFORMER_OPS", "-token_attention")
    assert ops.enabled("shicao_step") and not ops.enabled("token_attention")
    with pytest.raises(ConfigError), ops.use("nope"):
        pass


def test_reference_runs_the_torch_code():
    q = torch.zeros(1, 1, 4, 8)
    with ops.use("reference"):
        assert ca.backend_for(q) == "sdpa"
    with ops.use("auto"):
        assert ca.backend_for(q) == ("c" if ca.library() is not None else "sdpa")
