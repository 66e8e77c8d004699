import dataclasses
from typing import Literal

import pytest

from cogsim import config
from cogsim.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Inner:
    lr: float = config.field(0.1, low=0.0, high=1.0)
    steps: int = config.field(10, low=1)


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str = config.field("a", choices=("a", "b"))
    flag: bool = False
    sizes: tuple[int, ...] = config.field((2, 5, 8), low=1)
    mode: Literal["x", "y"] = "x"
    limit: float | None = None
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_overrides_are_parsed_to_the_field_type():
    cfg = config.replace_from_strings(
        Outer(), ["inner.lr=0.5", "inner.steps=3", "flag=true", "sizes=1,2", "mode=y", "limit=none", "name=b"]
    )
    assert cfg.inner == Inner(lr=0.5, steps=3)
    assert cfg.flag is True and cfg.sizes == (1, 2) and cfg.mode == "y" and cfg.limit is None
    assert config.replace_from_strings(Outer(), ["limit=2"]).limit == 2.0


@pytest.mark.parametrize(
    "override, field, allowed",
    [
        ("inner.lr=2", "inner.lr", "[0.0, 1.0]"),
        ("inner.steps=x", "inner.steps", "integer"),
        ("nope=1", "nope", "a field of Outer"),
        ("inner.nope=1", "inner.nope", "a field of inner"),
        ("name=c", "name", "one of ['a', 'b']"),
        ("flag=maybe", "flag", "boolean"),
        ("sizes=0,1", "sizes", "[1, 2147483647] (the int32 limit of JAX arrays)"),
        ("mode=z", "mode", "one of ['x', 'y']"),
        ("noequals", "noequals", "field=value"),
    ],
)
def test_bad_overrides_name_field_value_and_what_is_allowed(override, field, allowed):
    with pytest.raises(ConfigError) as err:
        config.replace_from_strings(Outer(), [override])
    msg = str(err.value)
    assert repr(field) in msg and allowed in msg
    value = override.partition("=")[2] or override
    assert value in msg or str(config.parse_value(value, tuple[int, ...])) in msg


def test_validate_catches_wrong_types_in_code():
    with pytest.raises(ConfigError, match="'inner.steps'"):
        config.validate(Outer(inner=Inner(steps=2.5)))
    with pytest.raises(ConfigError, match="'flag'"):
        config.validate(Outer(flag="yes"))
    assert config.validate(Outer(inner=Inner(lr=1))).inner.lr == 1.0


def test_json_round_trip():
    cfg = config.replace_from_strings(Outer(), ["inner.lr=0.25", "sizes=3,4"])
    assert config.from_json(Outer, config.to_json(cfg)) == cfg
    with pytest.raises(ConfigError, match="'bogus'"):
        config.from_dict(Outer, {"bogus": 1})


def test_describe_lists_every_leaf():
    names = [r[0] for r in config.describe(Outer)]
    assert names == ["name", "flag", "sizes", "mode", "limit", "inner.lr", "inner.steps"]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_numbers_are_rejected(text):
    with pytest.raises(ConfigError, match="a finite number"):
        config.replace_from_strings(Outer(), [f"inner.lr={text}"])
    with pytest.raises(ConfigError, match="a finite number"):
        config.replace_from_strings(Outer(), [f"limit={text}"])  # no range declared: still finite


def test_empty_tuples_are_rejected_unless_the_default_is_empty():
    with pytest.raises(ConfigError, match="'sizes'.*non-empty"):
        config.replace_from_strings(Outer(), ["sizes="])
    with pytest.raises(ConfigError, match="'sizes'.*non-empty"):
        config.validate(Outer(sizes=()))

    @dataclasses.dataclass(frozen=True)
    class Optional:
        extra: tuple[str, ...] = ()

    assert config.replace_from_strings(Optional(), ["extra="]).extra == ()


def test_ints_without_a_declared_cap_stop_at_the_int32_limit():
    with pytest.raises(ConfigError, match="'inner.steps'.*2147483647"):
        config.replace_from_strings(Outer(), ["inner.steps=99999999999999999999"])
    assert config.replace_from_strings(Outer(), ["inner.steps=2147483647"]).inner.steps == 2**31 - 1


def test_the_last_override_of_a_field_wins():
    cfg = config.replace_from_strings(Outer(), ["inner.lr=5", "inner.lr=0.5", "sizes=1", "sizes=3,4"])
    assert cfg.inner.lr == 0.5 and cfg.sizes == (3, 4)
    with pytest.raises(ConfigError, match="'inner.lr'"):
        config.replace_from_strings(Outer(), ["inner.lr=0.5", "inner.lr=5"])
