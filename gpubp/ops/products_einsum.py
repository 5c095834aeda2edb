"""einsum: Einstein summation with PyTorch's equations (implicit output, ``...``, repeated indices, broadcasting).

The equation is normalized once, at the public boundary, into a plain contraction: ellipses become letters the
equation does not use, a subscript repeated within an operand becomes a diagonal (an indexing op, whose gradient
scatters back into the diagonal), and a size-1 dim that broadcasts against a larger one is squeezed out (a reshape).
What is left, ``_contract``, has unique subscripts per operand, and the gradient w.r.t. each operand is again a
contraction, of g with the other operands, so every order of derivative is one more ``_contract``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import shape
from ._core import check_same_device, make, spec

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # PyTorch's order: implicit output sorts A-Z before a-z


def _einsum_error(msg: str) -> InputError:
    return InputError(f"einsum(): {msg}")


def _sublist_equation(args: Sequence[Any]) -> tuple[str, list]:
    """The sublist form einsum(op0, [0, 1], op1, [1, 2], [0, 2]) as an equation string and its operands."""
    out = args[-1] if len(args) % 2 == 1 else None
    pairs = args[:-1] if out is not None else args
    ops = list(pairs[0::2])
    subs = list(pairs[1::2])
    if not all(isinstance(s, (list, tuple)) for s in subs) or (out is not None and not isinstance(out, (list, tuple))):
        raise _einsum_error("the sublist form expects pairs of (operand, sublist), then an optional output sublist")

    def word(sub: Any) -> str:
        chars = []
        for s in sub:
            if s is Ellipsis:
                chars.append("...")
            elif isinstance(s, int) and not isinstance(s, bool) and 0 <= s < len(_LETTERS):
                chars.append(_LETTERS[s])
            else:
                raise _einsum_error(f"subscript in a sublist must be in [0, {len(_LETTERS)}) or Ellipsis, got {s!r}")
        return "".join(chars)

    eq = ",".join(word(s) for s in subs)
    if out is not None:
        eq += "->" + word(out)
    return eq, ops


def _parse_term(term: str, offset: int) -> list[str]:
    """One operand's (or the output's) subscripts: letters, with '...' as the token '.'."""
    out = []
    i = 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i : i + 3] != "..." or "." in out:
                raise _einsum_error(f"found '.' for operand that is not part of any ellipsis at index {offset + i}")
            out.append(".")
            i += 3
            continue
        if c not in _LETTERS:
            raise _einsum_error(
                f"invalid subscript given at index {offset + i} in the equation string, subscripts must be in [a-zA-Z]"
            )
        out.append(c)
        i += 1
    return out


def einsum(equation: Any, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)``, the list form ``einsum(eq, [a, b])``
    and the sublist form ``einsum(a, [0, 1], b, [1, 2])``; implicit output, '...', repeated indices (diagonals and
    traces) and size-1 broadcasting as PyTorch. Operands must share one dtype (bool is refused, as PyTorch's CPU)."""
    if isinstance(equation, Tensor):
        equation, ops = _sublist_equation((equation, *operands))
    else:
        if not isinstance(equation, str):
            raise TypeError(f"einsum(): equation must be a str, got {type(equation).__name__}")
        ops = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(operands)
    for t in ops:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, got {type(t).__name__}")
    if not ops:
        raise _einsum_error("must provide at least one operand")
    for t in ops[1:]:
        check_same_device("einsum", ops[0], t)
        if t.dtype != ops[0].dtype:
            raise InputTypeError(f"einsum(): expected all operands to have dtype {ops[0].dtype}, but found {t.dtype}")
    if ops[0].dtype.kind == "b":
        raise InputTypeError("einsum(): not implemented for bool tensors (as PyTorch's CPU bmm)")
    subs_list, out_subs = _normalize(equation.replace(" ", ""), ops)
    tensors = []
    subs_final = []
    for i, (t, subs) in enumerate(zip(ops, subs_list)):
        t, subs = _take_diagonal(t, subs, i)
        tensors.append(t)
        subs_final.append(subs)
    sizes = _letter_sizes(tensors, subs_final)
    for i, (t, subs) in enumerate(zip(tensors, subs_final)):
        keep = [k for k, c in enumerate(subs) if t.shape[k] == sizes[c]]
        if len(keep) < len(subs):  # a size-1 dim broadcasting against a larger one: the operand is constant along it
            tensors[i] = shape.reshape(t, tuple(t.shape[k] for k in keep))
            subs_final[i] = "".join(subs[k] for k in keep)
    return _contract(tuple(subs_final), out_subs, tensors)


def _normalize(equation: str, ops: list[Tensor]) -> tuple[list[str], str]:
    """Each operand's subscripts (ellipses replaced by unused letters, right-aligned) and the output's."""
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(ops):
        raise _einsum_error("fewer operands were provided than specified in the equation")
    if len(terms) < len(ops):
        raise _einsum_error("more operands were provided than specified in the equation")
    parsed = []
    offset = 0
    for term in terms:
        parsed.append(_parse_term(term, offset))
        offset += len(term) + 1
    out_parsed = _parse_term(rhs, len(lhs) + 2) if arrow else None
    used = {c for p in parsed for c in p} | set(out_parsed or ())
    free = [c for c in _LETTERS if c not in used]
    ell_ndim = 0
    for i, (p, t) in enumerate(zip(parsed, ops)):
        n = len(p) - ("." in p)
        if ("." in p and t.ndim < n) or ("." not in p and t.ndim != n):
            raise _einsum_error(
                f"the number of subscripts in the equation ({n}) does not match the number of dimensions ({t.ndim}) "
                f"for operand {i}" + (" and no ellipsis was given" if "." not in p else "")
            )
        if "." in p:
            ell_ndim = max(ell_ndim, t.ndim - n)
    if ell_ndim > len(free):
        raise _einsum_error(f"too many dims: the equation leaves {len(free)} letters for '...', {ell_ndim} needed")
    ell = free[:ell_ndim]
    subs_list = []
    for p, t in zip(parsed, ops):
        k = t.ndim - (len(p) - ("." in p))
        subs_list.append("".join("".join(ell[ell_ndim - k :]) if c == "." else c for c in p))
    if out_parsed is None:
        counts: dict[str, int] = {}
        for s in subs_list:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
        return subs_list, out
    seen = set()
    for c in out_parsed:
        if c in seen and c != ".":
            raise _einsum_error(f"output subscript {c} appears more than once in the output")
        seen.add(c)
        if c != "." and not any(c in s for s in subs_list):
            raise _einsum_error(f"output subscript {c} does not appear in the equation for any input operand")
    return subs_list, "".join("".join(ell) if c == "." else c for c in out_parsed)


def _letter_sizes(tensors: Sequence[Tensor], subs_list: Sequence[str]) -> dict[str, int]:
    """Each letter's size; size-1 dims broadcast, other sizes must agree (PyTorch's message)."""
    sizes: dict[str, int] = {}
    for i, (t, subs) in enumerate(zip(tensors, subs_list)):
        for c, n in zip(subs, t.shape):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = n
            elif n != 1 and n != prev:
                raise _einsum_error(
                    f"subscript {c} has size {n} for operand {i} which does not broadcast with previously seen size "
                    f"{prev}"
                )
    return sizes


def _take_diagonal(t: Tensor, subs: str, i: int) -> tuple[Tensor, str]:
    """An operand whose subscripts repeat a letter ('ii', 'iji'), as the diagonal over the repeats, in the order of
    first appearance: x[i0, i1, ...] with one index array per dim, so backward scatters g into a zero tensor's
    diagonal and double backward takes it again (``m.index_scatter`` / ``m.take``)."""
    uniq = "".join(dict.fromkeys(subs))
    if len(uniq) == len(subs):
        return t, subs
    dims: dict[str, int] = {}
    for c, n in zip(subs, t.shape):
        if dims.setdefault(c, n) != n:
            raise _einsum_error(
                f"subscript {c} is repeated for operand {i} but the sizes don't match, {n} != {dims[c]}"
            )
    xp = t._be.xp
    key = []
    for c in subs:
        pos = uniq.index(c)
        view = [1] * len(uniq)
        view[pos] = dims[c]
        key.append(xp.arange(dims[c]).reshape(view))
    key = tuple(key)
    sp = spec(t)

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, sp[0], sp[1], key, False),)

    return make("einsum_diagonal", t._data[key], t._be, (t,), rule), uniq


def _contract(subs: tuple[str, ...], out: str, tensors: Sequence[Tensor]) -> Tensor:
    """The einsum of operands whose subscripts are unique and whose sizes agree; its gradient w.r.t. each operand is
    a ``_contract`` of g with the others (broadcast over the letters only that operand has)."""
    xp = tensors[0]._be.xp
    datas = [t._data for t in tensors]
    y = _einsum_arrays(xp, subs, out, datas)
    specs = [spec(t) for t in tensors]

    def rule(m: Any, g: Any, *vals: Any) -> tuple:
        grads = []
        for k, sp in enumerate(specs):
            if sp is None:
                grads.append(None)
                continue
            others = [(subs[j], vals[j]) for j in range(len(subs)) if j != k]
            have = set(out).union(*(s for s, _ in others))
            target = "".join(c for c in subs[k] if c in have)
            gk = _einsum_any(m, (out, *(s for s, _ in others)), target, [g, *(v for _, v in others)])
            if target != subs[k]:  # letters only operand k has were summed: g is constant along them
                gk = gk.reshape(tuple(n if c in have else 1 for c, n in zip(subs[k], sp[0])))
                gk = m.broadcast_to(gk, sp[0])
            grads.append(m.unbroadcast(gk, sp))
        return tuple(grads)

    needs = [any(specs[j] is not None for j in range(len(specs)) if j != i) for i in range(len(specs))]
    saved = tuple(t if need else None for t, need in zip(tensors, needs))
    return make("einsum", y, tensors[0]._be, tuple(tensors), rule, saved=saved)


def _einsum_any(m: Any, subs: tuple[str, ...], out: str, vals: list) -> Any:
    """A contraction in either of a rule's namespaces: the op itself on tensors (recorded), ``xp.einsum`` on arrays."""
    if m.graph:
        return _contract(subs, out, vals)
    return _einsum_arrays(m.xp, subs, out, vals)


def _einsum_arrays(xp: Any, subs: tuple[str, ...], out: str, datas: Sequence[Any]) -> Any:
    # optimize=True: NumPy then contracts pairwise through BLAS (tensordot) in a good order; CuPy accepts it too
    # a NumPy einsum of one operand to 0-d returns a scalar, not an array: asarray makes it one (no copy otherwise)
    y = xp.asarray(xp.einsum(",".join(subs) + "->" + out, *datas, optimize=len(datas) > 1))
    if any(xp.may_share_memory(y, d) for d in datas):  # 'ij->ji' is a view of its operand: the output owns its memory
        y = y.copy()
    return y
