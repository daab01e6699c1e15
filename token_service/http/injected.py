"""How a handler names a service the composition root (app.py) provides."""

from __future__ import annotations

from typing import Annotated, TypeAlias, TypeVar

from litestar.di import Dependency
from litestar.params import SkipValidationMarker

T = TypeVar("T")

# Injected by parameter name (`clients: Injected[ClientRegistry]`). Not validated per request:
# the value is a service built once at start-up, not request input, and validation would cost
# every request a type walk (and cannot check protocol types such as `Clock` at all).
Injected: TypeAlias = Annotated[T, SkipValidationMarker(), Dependency(kind="named")]
