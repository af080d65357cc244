"""The script-unit library: unit catalogue, variant texts, rendering, factorial designs. Pure."""

from variants.catalogue import Catalogue, Unit, Variant, load_catalogue
from variants.design import arm_key, arms, parse_arm_key
from variants.render import check_choices, render

__all__ = [
    "Catalogue",
    "Unit",
    "Variant",
    "arm_key",
    "arms",
    "check_choices",
    "load_catalogue",
    "parse_arm_key",
    "render",
]
