"""PyTorch's ``torch.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp of a function of tensors.

All of it runs on gpubp's reverse-mode tape: a jvp (and a forward-mode jacobian) is the derivative of a vjp with
respect to its grad_outputs (the double-backward trick, as PyTorch), so it needs the function to be twice
differentiable, which every op in ``gpubp.ops.DIFFERENTIABLE`` is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import grad as _grad
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


class _StrategyError(ValueError, AssertionError):
    """An unknown jacobian strategy: the AssertionError PyTorch raises, and a ValueError."""


def _tensor_type() -> type:
    from ..tensor import Tensor  # at call time: gpubp.tensor imports gpubp.autograd while it loads

    return Tensor


def _zeros_like(t: Any, requires_grad: bool = False) -> Any:
    from ..creation import zeros_like

    return zeros_like(t, requires_grad=requires_grad)


def _stack_to(parts: list, dim: int, shape: tuple, ref: Any) -> Any:
    """``parts`` stacked on a new ``dim`` and reshaped to ``shape``; zeros like ``ref`` when there are none."""
    from ..ops import stack

    if not parts:  # an empty output or input: nothing to stack (PyTorch fails here; the answer is simply empty)
        return ref.new_zeros(shape)
    return stack(parts, dim=dim).reshape(shape)


def _as_tuple(inp: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(whether ``inp`` was a tuple, ``inp`` as a tuple of Tensors); TypeError for anything else, as PyTorch."""
    tensor = _tensor_type()
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but {where} "
                f"has type {type(el)}."
            )
    return is_tuple, items


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    # undoes _as_tuple: one flag for a flat tuple, two (outer, inner) for a tuple of tuples
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    # Always a new tensor object, so the function's own references to the user's tensors stay apart from ours
    # (pytorch/pytorch#32576). With create_graph a view keeps the user's graph, so results differentiate back to it.
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs: tuple, create_graph: bool) -> tuple:
    # results carry no history unless the user asked for it; recurses into a jacobian's tuple of tuples
    if isinstance(inputs[0], _tensor_type()):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool, fn_name: str) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"{fn_name}: v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError(f"{fn_name}: The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(
                f"{fn_name}: {prepend}v has invalid size: should be {tuple(el_other.shape)} "
                f"but got {tuple(el_v.shape)}."
            )


def _preprocess_v(v: Any, ref: tuple, is_ref_tuple: bool, create_graph: bool, fn_name: str, what: str) -> Any:
    """``v`` checked against ``ref`` (the inputs or the outputs); None only where ``ref`` is one one-element tensor."""
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, ref, is_ref_tuple, fn_name)
        return v
    if len(ref) != 1 or ref[0].nelement() != 1:
        raise RuntimeError(
            f"{fn_name}: The vector v can only be None if {what} is a single Tensor with a single element."
        )
    return None


def _check_requires_grad(inputs: tuple, input_type: str, strict: bool, fn_name: str) -> None:
    # strict mode only: every output (or gradient, jacobian) must depend on the inputs
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(
                f"{fn_name}: The output of the user-provided function is independent of input {i}. "
                "This is not allowed in strict mode."
            )
        if inp.requires_grad:
            continue
        if input_type == "jacobian":
            raise RuntimeError(
                f"{fn_name}: While computing the hessian, found that the jacobian of the user-provided function "
                f"with respect to input {i} is independent of the input. This is not allowed in strict mode. You "
                "should ensure that your function is twice differentiable and that the jacobian depends on the "
                "inputs (this would be violated by a linear function for example)."
            )
        if input_type == "grad_inputs":
            raise RuntimeError(
                f"{fn_name}: The gradient with respect to input {i} is independent of the inputs of the "
                "user-provided function. This is not allowed in strict mode."
            )
        raise RuntimeError(
            f"{fn_name}: Output {i} of the user-provided function does not require gradients. The outputs must "
            "be computed in a differentiable manner from the input when running in strict mode."
        )


def _autograd_grad(
    outputs: tuple,
    inputs: tuple,
    grad_outputs: tuple | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple:
    """``autograd.grad`` that skips outputs which are None or need no grad, and gives None for unused inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not pairs:  # nothing differentiable: no need to run the engine
        return (None,) * len(inputs)
    return _grad(
        [out for out, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


_ZERO_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
    "using the double backward trick to compute forward mode gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
    "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
    "grad_jacobian. This is not allowed in strict mode as it prevents from using the double backward trick to "
    "replace forward mode AD.",
}


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str, fn_name: str) -> tuple:
    """None gradients become zeros like ``refs`` (the mathematical value), or an error in strict mode."""
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn_name}: " + _ZERO_MESSAGES[stage].format(i=i))
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"{fn_name}: The {what} of the user-provided function is independent of input {i}. "
                "This is not allowed in strict mode when create_graph=True."
            )
        res.append(g)
    return tuple(res)


def _call(func: Callable, inputs: tuple, strict: bool, fn_name: str) -> tuple[bool, tuple]:
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict, fn_name)
    return is_outputs_tuple, outputs


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T J): the vector-Jacobian product of ``func`` at ``inputs``; ``v`` is shaped like the output.

    ``v`` may be None when the output is a single one-element tensor. Results are shaped like PyTorch's."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, strict, "vjp")
        v = _preprocess_v(v, outputs, is_outputs_tuple, create_graph, "vjp", "the user-provided function returns")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back", "vjp")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_inputs_tuple)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product of ``func`` at ``inputs``; ``v`` is shaped like the inputs.

    Computed by the double-backward trick, as PyTorch: the derivative of a vjp with respect to its vector."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _preprocess_v(v, inputs, is_inputs_tuple, create_graph, "jvp", "the input to the user-provided function")
        is_outputs_tuple, outputs = _call(func, inputs, strict, "jvp")
        # the backward is linear in grad_outputs, so their value (zeros) never shows in the result
        grad_outputs = tuple(_zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict, "jvp")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick", "jvp")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_outputs_tuple)


def _jacobian_rows(out_idx: int, out: Any, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """d out / d inputs[j] for each j, one reverse pass per element of ``out``: shapes out.shape + inputs[j].shape."""
    rows: list[list] = [[] for _ in inputs]
    flat = out.reshape(-1)
    for k in range(out.nelement()):
        vj = _autograd_grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
        for j, (g, inp) in enumerate(zip(vj, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(
                        f"jacobian: Output {out_idx} of the user-provided function is independent of input {j}. "
                        "This is not allowed in strict mode."
                    )
                g = _zeros_like(inp)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(
                    f"jacobian: The jacobian of the user-provided function is independent of input {j}. "
                    "This is not allowed in strict mode when create_graph=True."
                )
            rows[j].append(g)
    return tuple(_stack_to(r, 0, tuple(out.shape) + tuple(inp.shape), inp) for r, inp in zip(rows, inputs))


def _jacobian_forward(func: Callable, inputs: Any, strict: bool, vectorize: bool) -> Any:
    """The jacobian one column per input element, each column a jvp (the double-backward trick); dtype the output's."""
    if strict:
        raise RuntimeError(
            'jacobian: `strict=True` and `strategy="forward-mode"` are not supported together (yet). '
            'Please either set `strict=False` or `strategy="reverse-mode"`.'
        )
    if not vectorize:  # PyTorch's own limit, kept so code that runs here runs there
        raise NotImplementedError(
            "jacobian: Computing Jacobian using forward-AD or forward-over-reverse Hessian is only implemented "
            "for `vectorize=True`."
        )
    from ..creation import eye

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=False, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, False, "jacobian")
        grad_outputs = tuple(_zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
    columns: list[list[list]] = [[[] for _ in inputs] for _ in outputs]
    for j, inp in enumerate(inputs):
        basis = eye(inp.nelement(), dtype=inp.dtype, device=inp.device)
        for k in range(inp.nelement()):
            tangent = (basis[k].reshape(inp.shape),)
            jv = _autograd_grad((grad_inputs[j],), grad_outputs, tangent, retain_graph=True)
            for i, (g, out) in enumerate(zip(jv, outputs)):
                columns[i][j].append(_zeros_like(out) if g is None else g)
    jac = tuple(
        tuple(
            _stack_to(columns[i][j], -1, tuple(out.shape) + tuple(inp.shape), out).detach()
            for j, inp in enumerate(inputs)
        )
        for i, out in enumerate(outputs)
    )
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: ``J[i][j]`` has shape outputs[i].shape + inputs[j].shape.

    A tensor when both the input and the output are single tensors, else (nested) tuples, as PyTorch. One reverse
    pass per output element; ``vectorize=True`` computes the same way."""
    if strategy not in _STRATEGIES:
        raise _StrategyError(
            'jacobian: Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function has '
            'more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer to use '
            f'"reverse-mode". Got {strategy!r}.'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'jacobian: `create_graph=True` and `strategy="forward-mode"` are not supported together (yet). '
                'Please either set `create_graph=False` or `strategy="reverse-mode"`.'
            )
        return _jacobian_forward(func, inputs, strict, vectorize)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, strict, "jacobian")
        if vectorize and strict:
            raise RuntimeError(
                "jacobian: `strict=True` and `vectorized=True` are not supported together. "
                "Please either set `strict=False` or `vectorize=False`."
            )
        jac = tuple(_jacobian_rows(i, out, inputs, create_graph, strict) for i, out in enumerate(outputs))
    jac = _grad_postprocess(jac, create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of the scalar function ``func`` at ``inputs``: the jacobian of its (reverse-mode) jacobian.

    ``H[i][j]`` has shape inputs[i].shape + inputs[j].shape; a single tensor when ``inputs`` is one."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise _StrategyError(
            'hessian: Expected strategy to be either "forward-mode" or "reverse-mode", '
            f"got {outer_jacobian_strategy!r}."
        )

    def ensure_single_output_function(*inp: Any) -> Any:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict, "hessian")
        if is_out_tuple:
            raise RuntimeError("hessian: The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError(
                "hessian: The Tensor returned by the function given to hessian should contain a single element, "
                f"got shape {tuple(out.shape)}"
            )
        return out.squeeze()

    def jac_func(*inp: Any) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)  # so the inner jacobian keeps them, not copies
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, "hessian")
        return jac

    res = jacobian(
        jac_func,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_jacobian(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, fn_name: str) -> tuple:
    """(inputs, v, outputs, first gradients with a graph) for vhp and hvp: ``func`` must return one element."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    v = _preprocess_v(v, inputs, is_inputs_tuple, create_graph, fn_name, "the input to the user-provided function")
    is_outputs_tuple, outputs = _call(func, inputs, strict, fn_name)
    if is_outputs_tuple:
        raise RuntimeError(f"{fn_name}: The function given to {fn_name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(
            f"{fn_name}: The Tensor returned by the function given to {fn_name} should contain a single element, "
            f"got shape {tuple(outputs[0].shape)}"
        )
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict, fn_name)
    return is_inputs_tuple, inputs, v, outputs, jac


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T H): the vector-Hessian product of the scalar function ``func`` at ``inputs``.

    ``v`` is shaped like the inputs; two reverse passes."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _scalar_jacobian(func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back", "vhp")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return outputs[0], _tuple_postprocess(result, is_inputs_tuple)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), H v): the Hessian-vector product of the scalar function ``func`` at ``inputs``.

    Three reverse passes (the double-backward trick), as PyTorch; for twice continuously differentiable functions
    H is symmetric and ``vhp`` gives the same result with two."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _scalar_jacobian(func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(_zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick", "hvp")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return outputs[0], _tuple_postprocess(result, is_inputs_tuple)
