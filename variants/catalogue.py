"""The unit catalogue: one YAML file per script unit in ``variants/units/``, validated on load.

A unit file looks like::

    key: stock_left            # must equal the file name (stock_left.yaml)
    name: 库存紧张
    name_en: Stock left
    description: Why and when to use it.
    variants:
      - key: "off"             # binary units: "off" (text "") and "on"
        text: ""
      - key: "on"
        label: 只剩最后N件      # optional, for the marketer UI
        text: 只剩最后{stock}件
        defaults: {stock: 3}   # optional; a parameter without default must come from params

Keys are identifiers (letters, digits, underscore) so a unit key can be a template slot and an
arm key (``unit=variant|...``) stays unambiguous.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from variants.text import IDENTIFIER, placeholders

ParameterValue = str | int | float
PACKAGED_UNITS = Path(__file__).resolve().parent / "units"


@dataclass(frozen=True)
class Variant:
    """One way of saying a unit: a text with ``{named}`` parameters and their defaults."""

    key: str
    text: str
    defaults: Mapping[str, ParameterValue] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        # Read-only: the default catalogue is cached and shared by every request.
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    @property
    def parameters(self) -> tuple[str, ...]:
        """Parameter names used by the text, in order of first use."""
        return placeholders(self.text)


@dataclass(frozen=True)
class Unit:
    """A variable piece of a sales script and its variants (insertion order kept)."""

    key: str
    name: str
    name_en: str
    description: str
    variants: Mapping[str, Variant]

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every parameter any variant uses: the fields a web form must offer."""
        names = (name for variant in self.variants.values() for name in variant.parameters)
        return tuple(dict.fromkeys(names))


class Catalogue(Mapping[str, Unit]):
    """Read-only mapping unit_key -> Unit."""

    __slots__ = ("_units",)

    def __init__(self, units: Iterable[Unit]) -> None:
        by_key: dict[str, Unit] = {}
        for unit in units:
            if unit.key in by_key:
                raise ValueError(f"unit {unit.key!r} appears twice in the catalogue")
            by_key[unit.key] = unit
        self._units = MappingProxyType(by_key)

    def __getitem__(self, key: str) -> Unit:
        return self._units[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)

    def __repr__(self) -> str:
        return f"Catalogue({', '.join(self._units)})"


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """Load every ``*.yaml`` unit file in ``directory`` (default: the packaged catalogue, cached).

    Raises ValueError naming the file and the problem for the first bad file.
    """
    if directory is None:
        return _packaged_catalogue()
    return _read_catalogue(Path(directory))


@functools.cache
def _packaged_catalogue() -> Catalogue:
    return _read_catalogue(PACKAGED_UNITS)


def _read_catalogue(directory: Path) -> Catalogue:
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ValueError(f"no unit files (*.yaml) in {directory}")
    return Catalogue(_read_unit(path) for path in paths)


def _read_unit(path: Path) -> Unit:
    try:
        spec = _UnitSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        raise ValueError(f"{path}: {_describe(error)}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not readable YAML: {error}") from error
    if spec.key != path.stem:
        raise ValueError(f"{path}: key {spec.key!r} must match the file name {path.stem!r}")
    return spec.to_unit()


def _describe(error: ValidationError) -> str:
    """One line per problem, with its location in the file (``variants.1.text: ...``)."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'file'}: {problem['msg']}"
        for problem in error.errors()
    )


_Key = Annotated[StrictStr, StringConstraints(pattern=f"^{IDENTIFIER}$")]
_Text = Annotated[StrictStr, StringConstraints(min_length=1)]


class _VariantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: _Key
    text: StrictStr
    defaults: dict[StrictStr, StrictStr | StrictInt | StrictFloat] = {}
    label: StrictStr | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _not_a_yaml_boolean(cls, key: object) -> object:
        if isinstance(key, bool):
            raise ValueError("YAML reads bare off/on/yes/no as booleans: quote the key ('off')")
        return key

    @model_validator(mode="after")
    def _consistent(self) -> _VariantSpec:
        if self.key == "off" and self.text:
            raise ValueError("variant 'off' must have an empty text")
        unused = sorted(set(self.defaults) - set(placeholders(self.text)))
        if unused:
            raise ValueError(f"defaults for parameters the text does not use: {', '.join(unused)}")
        return self

    def to_variant(self) -> Variant:
        return Variant(self.key, self.text, self.defaults, self.label)


class _UnitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: _Key
    name: _Text
    name_en: _Text
    description: _Text
    variants: list[_VariantSpec] = Field(min_length=2)

    @model_validator(mode="after")
    def _distinct_variant_keys(self) -> _UnitSpec:
        keys = [variant.key for variant in self.variants]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"variant keys appear more than once: {', '.join(repeated)}")
        return self

    def to_unit(self) -> Unit:
        variants = {spec.key: spec.to_variant() for spec in self.variants}
        return Unit(self.key, self.name, self.name_en, self.description, variants)
