"""A job's fingerprint: the same job built again, in this process or another, gets the same one.

Dask's own token of a collection names each step after ``repr`` of its function, so a step that is an instance
of a user's class (``<__main__.Clean object at 0x7f...>``) changes the token every time the job is built.  Here
the expression tree is walked instead, and everything dask's tokenizer would treat as an opaque object is
reduced to what defines it: a function by its module, qualified name and code; an instance by its class (module,
qualified name and the code of its methods) and its attributes.  Everything else (inputs, frames, our configs,
parameters) is tokenized by dask as usual.
"""

from __future__ import annotations

import functools
import hashlib
import types

from dask.base import normalize_token, tokenize
from dask.dataframe.dask_expr._expr import Expr
from dask.tokenize import TokenizationError
from fsspec import AbstractFileSystem

__all__ = ["fingerprint"]

_MAX_DEPTH = 16  # attributes of attributes ...: deeper than any job's configuration, shallow enough for cycles


def fingerprint(ddf) -> str:
    """A hex digest of what defines the job ``ddf`` builds: its inputs, steps and their parameters."""
    return tokenize(_stable(ddf.expr, 0))


def _stable(obj, depth: int):
    """A value dask tokenizes deterministically across processes, standing for ``obj``."""
    if depth > _MAX_DEPTH:
        return type(obj).__qualname__
    if isinstance(obj, Expr):
        return ("expr", type(obj).__name__, [_stable(operand, depth + 1) for operand in obj.operands])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_stable(item, depth + 1) for item in obj])
    if isinstance(obj, dict):
        return ("dict", sorted((repr(key), _stable(value, depth + 1)) for key, value in obj.items()))
    if isinstance(obj, functools.partial):
        return ("partial", _stable(obj.func, depth + 1), _stable(obj.args, depth + 1),
                _stable(obj.keywords, depth + 1))
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return _function(obj, depth)
    if isinstance(obj, type):
        return _class(obj)
    if isinstance(obj, AbstractFileSystem):  # fsspec's own token holds the process id
        return ("filesystem", type(obj).__module__, type(obj).__qualname__, _stable(obj.storage_options, depth + 1))
    opaque = normalize_token.dispatch(type(obj)) is normalize_token.dispatch(object)
    if not opaque or hasattr(obj, "__dask_tokenize__"):
        return obj
    if hasattr(obj, "__dict__"):
        return ("object", _class(type(obj)), _stable(vars(obj), depth + 1))
    try:  # a lock, a C object: what it is, if it has no deterministic token
        return tokenize(obj, ensure_deterministic=True)
    except TokenizationError:
        return ("object", type(obj).__module__, type(obj).__qualname__)


def _function(func, depth: int):
    if isinstance(func, types.MethodType):
        return ("method", _function(func.__func__, depth), _stable(func.__self__, depth + 1))
    cells = tuple(cell.cell_contents for cell in func.__closure__ or () if _filled(cell))
    return ("function", func.__module__, func.__qualname__, _code(func.__code__), _stable(func.__defaults__, depth + 1),
            _stable(cells, depth + 1))


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises)
    except ValueError:
        return False
    return True


def _class(cls: type):
    methods = sorted((name, _code(value.__code__)) for name, value in vars(cls).items()
                     if isinstance(value, types.FunctionType))
    return ("class", cls.__module__, cls.__qualname__, methods)


def _code(code: types.CodeType) -> str:
    """A digest of a code object: its bytecode, constants (nested code included) and names."""
    digest = hashlib.sha256(code.co_code)
    for const in code.co_consts:
        digest.update(_constant(const).encode("utf-8"))
    digest.update(repr((code.co_names, code.co_varnames)).encode("utf-8"))
    return digest.hexdigest()


def _constant(const) -> str:
    if isinstance(const, types.CodeType):
        return _code(const)
    if isinstance(const, frozenset):  # its order follows string hashing, which differs between processes
        return repr(sorted(map(_constant, const)))
    return repr(const)
