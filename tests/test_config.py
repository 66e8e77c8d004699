import dataclasses
from typing import Literal

import pytest

from cogsim import config
from cogsim.errors import CogsimError, ConfigError


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


def test_available_memory_comes_from_the_os_or_the_environment(monkeypatch):
    monkeypatch.delenv(config.MEMORY_ENV, raising=False)
    avail, source = config.available_bytes()
    assert avail is not None and avail > 0 and source != config.MEMORY_ENV
    monkeypatch.setenv(config.MEMORY_ENV, "3e9")
    assert config.available_bytes() == (3_000_000_000, config.MEMORY_ENV)
    for bad in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv(config.MEMORY_ENV, bad)
        with pytest.raises(CogsimError, match=config.MEMORY_ENV):
            config.available_bytes()


def test_a_config_too_large_for_the_memory_names_field_value_bytes_and_what_to_lower(monkeypatch):
    def need(c):
        return {"steps": 1000 * c.steps, "lr": 10}

    monkeypatch.setenv(config.MEMORY_ENV, "5000")
    config.check_fits(Inner(steps=5), need)  # exactly what is available
    with pytest.raises(ConfigError) as err:
        config.check_fits(Inner(steps=6), need)
    msg = str(err.value)
    assert err.value.field == "steps" and err.value.value == 6
    assert "5.9 KiB" in msg and "4.9 KiB are available (COGSIM_MEMORY_BYTES)" in msg
    assert msg.endswith("lower steps to at most 5") and "\n" not in msg


def test_every_memory_declaration_names_real_size_fields_and_grows_with_them(monkeypatch):
    from cogsim import scenario_registry

    declared = []
    for name in scenario_registry.names():
        mod = scenario_registry.get(name)
        if not hasattr(mod, "memory_bytes"):
            continue
        declared.append(name)
        cfg = mod.PRESETS["quick"]
        need = mod.memory_bytes(cfg)
        assert need and set(need) <= set(config.field_names(cfg)), name
        for field, nbytes in need.items():
            assert isinstance(nbytes, int) and nbytes > 0, (name, field)
            bigger = mod.memory_bytes(dataclasses.replace(cfg, **{field: 2 * getattr(cfg, field)}))
            assert bigger[field] > nbytes, (name, field)
        monkeypatch.setenv(config.MEMORY_ENV, str(max(need.values()) - 1))
        with pytest.raises(ConfigError, match="fit in memory"):
            config.check_fits(cfg, mod.memory_bytes)
    assert {"iconic_memory", "attentional_blink", "change_detection"} <= set(declared)


@dataclasses.dataclass(frozen=True)
class Names:
    models: tuple[str, ...] = config.field(("a", "b"))
    maybe: tuple[str, ...] | None = None
    widths: tuple[float, ...] = config.field((1.0, 1.0, 2.0))  # numbers may repeat
    steps: tuple[int, ...] = config.field((1, 2), distinct=True)
    labels: tuple[str, ...] = config.field(("x", "x"), distinct=False)


@pytest.mark.parametrize(
    "override, field",
    [("models=a,b,a", "models"), ("maybe=q,q", "maybe"), ("steps=3,3", "steps")],
)
def test_a_list_of_names_refuses_repeated_names(override, field):
    with pytest.raises(ConfigError, match=rf"'{field}'.*allowed: distinct values"):
        config.replace_from_strings(Names(), [override])
    with pytest.raises(ConfigError, match="distinct values"):
        config.validate(Names(models=("a", "a")))


def test_repeats_are_allowed_in_numbers_and_where_a_field_says_so():
    cfg = config.replace_from_strings(Names(), ["widths=1,1", "labels=y,y", "models=b,a"])
    assert cfg.widths == (1.0, 1.0) and cfg.labels == ("y", "y") and cfg.models == ("b", "a")


def test_every_preset_of_every_scenario_is_valid():
    """The checks (distinct names included) accept every packaged preset and default."""
    from cogsim import scenario_registry

    for name in scenario_registry.names():
        mod = scenario_registry.get(name)
        config.validate(mod.Config())
        for preset in mod.PRESETS.values():
            config.validate(preset)


@pytest.mark.parametrize("text", ["[1,2", "1,2]", "(1,2]", "[", "]", "(1,2"])
def test_unbalanced_brackets_are_refused(text):
    with pytest.raises(ConfigError, match=r"'sizes'.*matching brackets"):
        config.replace_from_strings(Outer(), [f"sizes={text}"])


@pytest.mark.parametrize("text, value", [("[1,2]", (1, 2)), ("(3, 4)", (3, 4)), ("5,6", (5, 6))])
def test_balanced_brackets_are_accepted(text, value):
    assert config.replace_from_strings(Outer(), [f"sizes={text}"]).sizes == value


def test_a_name_ending_in_a_bracket_it_opened_is_a_name():
    assert config.parse_value("a,f(x)", tuple[str, ...], path="names") == ("a", "f(x)")


@pytest.mark.parametrize("text", ["1,,2", "1,2,", ",1", "[1, ,2]", "1,2,,"])
def test_an_empty_list_item_is_refused(text):
    # an item left out ("1,,2") was dropped silently
    with pytest.raises(
        ConfigError, match=r"'sizes': got .*; allowed: comma-separated values with no empty item"
    ):
        config.replace_from_strings(Outer(), [f"sizes={text}"])
    assert config.replace_from_strings(Outer(), ["sizes= 1 , 2 "]).sizes == (1, 2)


def test_numpy_integers_and_floats_are_taken_as_python_numbers_and_bools_are_not_integers():
    import numpy as np

    cfg = config.validate(Outer(sizes=(np.int64(3), 4), inner=Inner(lr=np.float32(0.5), steps=np.int64(8))))
    assert cfg.inner.steps == 8 and type(cfg.inner.steps) is int and type(cfg.sizes[0]) is int
    assert type(cfg.inner.lr) is float and config.to_json(cfg)  # plain Python numbers: JSON-serialisable
    with pytest.raises(ConfigError, match="config field 'inner.steps': got True; allowed: an integer"):
        config.validate(Outer(inner=Inner(steps=True)))
    with pytest.raises(ConfigError, match="config field 'inner.steps': got 8.0; allowed: an integer"):
        config.validate(Outer(inner=Inner(steps=8.0)))


@dataclasses.dataclass(frozen=True)
class WithOptional:
    n: int = config.field(3, low=1)
    fit: Inner = Inner()
    opt: Inner | None = None


def test_setting_a_field_of_an_unset_optional_section_creates_it_from_defaults():
    # before: a raw TypeError from replace and replace_from_strings
    got = config.replace_from_strings(WithOptional(), ["opt.lr=0.5"])
    assert got.opt == dataclasses.replace(Inner(), lr=0.5)
    assert config.replace(WithOptional(), **{"opt.lr": 0.5}) == got
    rows = {r[0]: r for r in config.describe(WithOptional)}  # before: AttributeError on the None section
    assert rows["opt.lr"][2] == Inner().lr and "section opt is unset" in rows["opt.lr"][3]


def test_replace_names_the_full_dotted_field():
    with pytest.raises(ConfigError, match=r"'fit\.lr': got 5\.0"):  # before: named 'lr'
        config.replace(WithOptional(), **{"fit.lr": 5.0})
    with pytest.raises(ConfigError, match=r"'n\.x': got 1; allowed: n is a leaf field \(int\)"):
        config.replace(WithOptional(), **{"n.x": 1})  # before: a raw TypeError
    with pytest.raises(ConfigError, match=r"'fit\.lrr'.*a field of Inner"):
        config.replace(WithOptional(), **{"fit.lrr": 1.0})


def test_overrides_must_be_strings():
    with pytest.raises(ConfigError, match="got 3; allowed: a string of the form field=value"):
        config.replace_from_strings(WithOptional(), [3])  # before: AttributeError
    with pytest.raises(ConfigError, match="not one string"):
        config.replace_from_strings(WithOptional(), "n=5")
