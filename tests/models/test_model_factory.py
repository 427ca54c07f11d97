"""Factories and building models/components from plan specs."""

import sys
import textwrap

import pytest
import torch

from patternlang.data.build import build_components, mixture_of
from patternlang.data.component import ComponentError
from patternlang.models import checkpoint
from patternlang.models.factory import FactoryError, build_model, load_factory
from patternlang.plan.ir import Call, ComponentSpec, ModelSpec


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(textwrap.dedent("""
        import torch
        from patternlang.models import AttnOnlyTransformer
        def tiny(width=8):
            return AttnOnlyTransformer(vocab=8, d_model=width, n_layers=1, n_heads=2, context=6)
        def no_task():
            return torch.nn.Linear(2, 2)
        def not_a_module():
            return 3
        VALUE = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_models"
    sys.modules.pop("my_models", None)


def test_load_factory_and_its_errors(user_module):
    assert callable(load_factory("my_models:tiny"))
    for ref, msg in [("my_models", "form"), ("no_such_mod_xyz:f", "cannot import"),
                     ("my_models:missing", "no attribute"), ("my_models:VALUE", "not callable")]:
        with pytest.raises(FactoryError, match=msg) as info:
            load_factory(ref)
        assert info.value.remedy


def test_build_model_from_primitive_factory_and_checkpoint(user_module, tmp_path):
    spec = ModelSpec(name="m", call=Call(primitive="attn_only",
                                         args={"layers": 1, "heads": 2, "d_model": 8, "context": 6,
                                               "vocab": 8}))
    m = build_model(spec)
    assert m.task == "lm" and m.n_layers == 1
    path = checkpoint.save(m, tmp_path / "m.safetensors", {"step": 0})
    alone = build_model(ModelSpec(name="m", checkpoint=str(path)))  # architecture from sidecar
    tokens = torch.tensor([[1, 2, 3]])
    assert torch.equal(alone(tokens), m(tokens))
    f = build_model(ModelSpec(name="f", factory="my_models:tiny", factory_args={"width": 8},
                              checkpoint=str(path)))
    assert torch.equal(f(tokens), m(tokens))
    with pytest.raises(FactoryError, match="task"):
        build_model(ModelSpec(name="x", factory="my_models:no_task"))
    with pytest.raises(FactoryError, match="not a torch.nn.Module"):
        build_model(ModelSpec(name="x", factory="my_models:not_a_module"))
    with pytest.raises(FactoryError, match="arguments"):
        build_model(ModelSpec(name="x", factory="my_models:tiny", factory_args={"depth": 2}))
    with pytest.raises(Exception, match="no model primitive"):
        build_model(ModelSpec(name="x", call=Call(primitive="resnet")))


def test_build_components_and_mixture(tmp_path):
    specs = [ComponentSpec(name="rep", call=Call(primitive="repeated_spans",
                                                 args={"vocab": 8, "length": 6, "period": 2})),
             ComponentSpec(name="uni", call=Call(primitive="uniform_tokens",
                                                 args={"vocab": 8, "length": 6}))]
    comps = build_components(specs)
    assert list(comps) == ["rep", "uni"] and comps["rep"].name == "rep"
    mix = mixture_of(comps, {"uni": 0.0, "rep": 1.0, "absent": 0.5})
    assert mix.names == ["uni", "rep"]  # the order of the weights; unknown names ignored
    batch, idx = mix.sample(5, torch.Generator())
    assert (idx == 1).all()
    with pytest.raises(ComponentError, match="no data primitive"):
        build_components([ComponentSpec(name="x", call=Call(primitive="wikipedia"))])
    with pytest.raises(ComponentError, match="declared twice"):
        build_components(specs + specs[:1])
    with pytest.raises(ComponentError, match="rejected its arguments"):
        build_components([ComponentSpec(name="x", call=Call(primitive="uniform_tokens",
                                                            args={"colour": 1}))])
