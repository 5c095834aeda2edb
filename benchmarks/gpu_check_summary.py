"""Writes summary.md (one screen) and summary.json for a run of benchmarks/gpu_check.sh.

    python3 benchmarks/gpu_check_summary.py RAW OUT [--final] [--elapsed SECONDS]

RAW is the run's working folder: plan.tsv (step, budget, description) and steps.tsv (step, exit status,
seconds, budget given, note), one log per step, the JUnit XML of the pytest steps, warmup.json and the
example's final.json. OUT holds env.json and bench.json (pytest-benchmark's JSON). The script calls this
after every step, so a run cut short still leaves a summary; ``--final`` marks steps never reached as not
run instead of pending. Standard library only: it must work whatever else is broken.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

TIMEOUT_RC = 124  # what `timeout` returns when the step ran past its budget and stopped at its SIGINT
KILLED_RC = 137  # and when it had to SIGKILL it (or something else killed it)
MAX_FAILURES = 12  # failures listed in summary.md; the rest are counted
JUNIT = {"tests": "tests.xml", "kernels": "kernels.xml", "bench": "bench.xml"}


def _read_tsv(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    return [line.split("\t") for line in path.read_text(errors="replace").splitlines() if line.strip()]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _short(text: str, width: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def junit_counts(path: Path) -> dict[str, Any] | None:
    """passed/failed/errors/skipped and each failure's first lines from pytest's JUnit XML, or None."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": []}
    for case in root.iter("testcase"):
        name = _node_id(case.get("classname", ""), case.get("name", ""))
        bad = [(child.tag, child) for child in case if child.tag in ("failure", "error")]
        if bad:
            tag, child = bad[0]
            counts["failed" if tag == "failure" else "errors"] += 1
            counts["failures"].append({"test": name, "kind": tag, "lines": _failure_lines(child)})
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def _node_id(classname: str, name: str) -> str:
    """pytest's node id from JUnit's dotted classname: tests.test_x.TestY + name -> tests/test_x.py::TestY::name."""
    parts = classname.split(".") if classname else []
    modules = [i for i, p in enumerate(parts) if p.startswith("test_") or p.endswith("_test")]
    if not modules:
        return "::".join([*parts, name])
    i = modules[0]
    return "::".join(["/".join(parts[: i + 1]) + ".py", *parts[i + 1 :], name])


def _failure_lines(node: ET.Element) -> list[str]:
    """The message, then the first 'E ' line of the traceback (pytest's marker for the error), if different."""
    message = (node.get("message") or "").strip().splitlines()
    lines = [message[0]] if message else []
    for line in (node.text or "").splitlines():
        if line.startswith("E ") and line[2:].strip() and line[2:].strip() not in lines:
            lines.append(line[2:].strip())
            break
    return [_short(x) for x in lines[:2]] or ["(no message)"]


def log_tail(path: Path, n: int = 3) -> list[str]:
    """The last ``n`` non-blank lines of a log (where a traceback's error is)."""
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ["(no log)"]
    return [_short(x) for x in lines[-n:]] or ["(empty log)"]


def _fmt(value: float | None, spec: str = "", unit: str = "") -> str:
    """``value`` with ``spec``, or by default with 3 significant digits but never in exponent form."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if not spec:
        spec = ".0f" if abs(value) >= 100 else ".3g"
    return f"{value:{spec}}{unit}"


def bench_rows(bench: dict | None) -> tuple[float | None, list[dict[str, Any]]]:
    """(copy GB/s, one row per headline) from pytest-benchmark's JSON."""
    if not bench:
        return None, []
    copy = None
    rows: list[dict[str, Any]] = []
    steps: dict[str, dict[str, Any]] = {}
    attention: list[dict[str, Any]] = []
    for b in bench.get("benchmarks", []):
        name, extra, stats = b.get("name", "?"), b.get("extra_info") or {}, b.get("stats") or {}
        group = b.get("group") or ""
        copy = extra.get("copy_gbps", copy)
        if group == "gpu-copy":
            continue
        if "gbps" in extra:
            rows.append(
                {
                    "case": _case_name(name),
                    "gpubp_ms": extra.get("gpubp_ms"),
                    "gbps": extra.get("gbps"),
                    "fraction_of_copy": extra.get("fraction_of_copy"),
                    "torch_ms": extra.get("torch_ms"),
                    "ratio": extra.get("gpubp_over_torch"),
                }
            )
        elif group == "gpu-mlp-step":
            rows.append(
                {
                    "case": "MLP step (events)",
                    "gpubp_ms": extra.get("gpubp_ms"),
                    "torch_ms": extra.get("torch_ms"),
                    "ratio": extra.get("gpubp_over_torch"),
                }
            )
            rows.append(
                {
                    "case": "MLP step memory",
                    "gpubp_mib": extra.get("gpubp_step_mib"),
                    "torch_mib": extra.get("torch_step_mib"),
                    "ratio": extra.get("gpubp_over_torch_memory"),
                }
            )
        elif group == "gpu-attention":  # test_attention_bench: one case per length, causal or not, dtype
            attention.append(extra)
        elif group == "gpu-transformer-step":  # test_transformer_bench: both sides timed inside one case
            kind = "encoder layer" if "encoder" in name else "block"
            rows.append(
                {
                    "case": f"transformer {kind} step (events)",
                    "gpubp_ms": extra.get("gpubp_ms"),
                    "torch_ms": extra.get("torch_ms"),
                    "ratio": extra.get("gpubp_over_torch"),
                }
            )
        elif group.endswith("-step-gpu"):  # train_bench: gpubp and torch are separate benchmarks of one group
            side = "torch" if "torch" in name else "gpubp"
            steps.setdefault(group, {})[side] = stats.get("median")
    rows += _attention_rows(attention)
    for group, sides in sorted(steps.items()):
        g, t = sides.get("gpubp"), sides.get("torch")
        rows.append(
            {
                "case": group.replace("-step-gpu", "").upper() + " step (median)",
                "gpubp_ms": None if g is None else g * 1e3,
                "torch_ms": None if t is None else t * 1e3,
                "ratio": None if g is None or not t else g / t,
            }
        )
    return copy, rows


def _attention_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SDPA rows, to fit one screen: time and memory at the longest length of each (causal, dtype); every length's
    figures are in bench.json."""
    rows: list[dict[str, Any]] = []
    lengths = sorted({c.get("length") for c in cases if c.get("length") is not None})
    for c in sorted(cases, key=lambda c: (str(c.get("dtype")), bool(c.get("causal")), c.get("length") or 0)):
        length = c.get("length")
        if length != lengths[-1]:
            continue
        label = f"SDPA fwd+bwd L={length} {'causal' if c.get('causal') else 'full'} {c.get('dtype')}"
        rows.append(
            {
                "case": label,
                "gpubp_ms": c.get("gpubp_ms"),
                "torch_ms": c.get("torch_ms"),
                "ratio": c.get("gpubp_over_torch"),
            }
        )
        rows.append(
            {
                "case": label + " memory",
                "gpubp_mib": c.get("gpubp_peak_mib"),
                "torch_mib": c.get("torch_peak_mib"),
                "ratio": c.get("gpubp_over_torch_memory"),
            }
        )
    return rows


def bench_fallbacks(bench: dict | None) -> list[str]:
    """'case (primitive: reason)' for each benchmark during which a fused primitive took its reference path."""
    found = []
    for b in (bench or {}).get("benchmarks", []):
        for what in (b.get("extra_info") or {}).get("fallbacks") or {}:
            found.append(f"{_case_name(b.get('name', '?'))} ({what})")
    return found


def _case_name(name: str) -> str:
    name = name.removeprefix("test_")
    for long, short in (
        ("activation_backward_kernel", "act-bwd"),
        ("cross_entropy_kernel", "xent fwd+bwd"),
        ("fused_adam_step", "Adam step"),
    ):
        name = name.replace(long, short)
    return name.replace("[", " ").replace("]", "")


def _step_result(rec: list[str] | None, final: bool) -> tuple[str, bool]:
    """(text, ok) for one planned step and its record from steps.tsv."""
    if rec is None:
        return ("not run" if final else "pending"), not final
    rc = rec[1]
    if rc == "-":
        return "not run", True
    if rc == "0":
        return "ok", True
    if rc == str(TIMEOUT_RC) or (rc == str(KILLED_RC) and float(rec[2]) >= float(rec[3])):
        return f"TIMED OUT ({rec[3]} s)", False
    return f"FAILED (exit {rc})", False


def _header(env: dict[str, Any]) -> list[str]:
    title = "# gpubp GPU check" + (" (EMULATED: CPU stand-in, no GPU)" if env.get("emulated") else "")
    if not env:
        return [title, "(no env.json: the environment step did not finish)"]
    g = env.get
    parts = [
        f"{g('device', '?')}, {g('sm_count', '?')} SMs",
        f"driver {g('driver', '?')}, CUDA runtime {g('cuda_runtime', '?')}",
        f"CuPy {g('cupy', '?')}",
        f"PyTorch {g('torch', '?')} (CUDA {g('torch_cuda') or '-'})",
        f"NumPy {g('numpy', '?')}",
        f"Python {g('python', '?')}",
        str(g("date", "?")),
    ]
    if g("cuda_error"):
        parts.append(f"CUDA error: {_short(g('cuda_error'), 100)}")
    return [title, " | ".join(parts)]


def _note(name: str, rec: list[str] | None, raw: Path, elapsed: float | None, final: bool) -> str:
    """What one step's row says beyond its result: its counts, compile time, accuracy."""
    if name == "warmup":
        warm = _read_json(raw / "warmup.json") or {}
        if warm:
            failed = [f for f, v in warm.get("families", {}).items() if v.get("error")]
            return (
                f"{warm.get('compiled', '?')}/{warm.get('kernels', '?')} kernels, "
                f"{len(warm.get('families', {}))} families, {_fmt(warm.get('seconds'), '.1f', ' s')}"
                + (f"; failed: {', '.join(failed)}" if failed else "")
            )
    if name == "example":
        final_json = _read_json(raw / "example" / "final.json") or {}
        keys = [k for k, v in final_json.items() if k.startswith("val_") and isinstance(v, float)]
        if keys:
            return ", ".join(f"{k} {final_json[k]:.4g}" for k in keys[:3])
    if name == "summary" and elapsed is not None:
        return f"{'whole run' if final else 'so far'}: {elapsed:.0f} s"
    return rec[4] if rec is not None and len(rec) > 4 else ""


def _failures(name: str, ok: bool, rec: list[str] | None, counts: dict | None, raw: Path) -> list[tuple]:
    """(step, what, first lines) for each failure of one step."""
    found: list[tuple] = []
    if name == "warmup":
        warm = _read_json(raw / "warmup.json") or {}
        found += [
            (name, f"family {f}", [_short(v["error"])]) for f, v in warm.get("families", {}).items() if v.get("error")
        ]
        if warm.get("error"):
            found.append((name, "warmup", [_short(warm["error"])]))
    if counts is not None:
        found += [(name, f["test"], f["lines"]) for f in counts["failures"]]
    if not ok and rec is not None and not found:
        found.append((name, f"{name}.log", log_tail(raw / f"{name}.log")))
    return found


def _step_table(raw: Path, final: bool, elapsed: float | None) -> tuple[list[str], list[dict], list[tuple]]:
    records = {r[0]: r for r in _read_tsv(raw / "steps.tsv") if len(r) >= 4}
    lines = [
        "| step | result | passed / failed / skipped | time | budget | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    steps, failures = [], []
    for row in _read_tsv(raw / "plan.tsv"):
        name, budget = row[0], row[1] if len(row) > 1 else "?"
        rec = records.get(name)
        if name == "summary":  # this very step: its record comes after it has written the summary
            rec, text, ok = None, ("ok" if final else "pending"), True
        else:
            text, ok = _step_result(rec, final)
        counts = junit_counts(raw / JUNIT[name]) if name in JUNIT and rec is not None else None
        tally = (
            "-"
            if counts is None
            else f"{counts['passed']} / {counts['failed'] + counts['errors']} / {counts['skipped']}"
        )
        seconds = f"{float(rec[2]):.1f} s" if rec is not None and rec[1] != "-" else "-"
        note = _note(name, rec, raw, elapsed, final)
        lines.append(f"| {name} | {text} | {tally} | {seconds} | {budget} s | {note} |")
        failures += _failures(name, ok, rec, counts, raw)
        junit = None if counts is None else {k: v for k, v in counts.items() if k != "failures"}
        steps.append({"step": name, "result": text, "ok": ok, "seconds": seconds, "budget": budget, "junit": junit})
    return lines, steps, failures


def _headlines(copy: float | None, rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## Headlines (gpubp against PyTorch on the same GPU; a ratio under 1 means gpubp is faster)"]
    if copy is not None:
        lines.append(f"device-to-device copy: {copy:.0f} GB/s (read + write); '% of copy' is each kernel's share of it")
    if not rows:
        return [*lines, "(no benchmark results)"]
    lines += [
        "",
        "| case | gpubp | GB/s | % of copy | PyTorch | gpubp / PyTorch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "gpubp_mib" in r:
            ours, theirs = _fmt(r["gpubp_mib"], unit=" MiB"), _fmt(r["torch_mib"], unit=" MiB")
        else:
            ours, theirs = _fmt(r.get("gpubp_ms"), unit=" ms"), _fmt(r.get("torch_ms"), unit=" ms")
        frac = r.get("fraction_of_copy")
        share = _fmt(None if frac is None else 100 * frac, ".0f", "%")
        ratio = _fmt(r.get("ratio"), ".2f", "x")
        lines.append(f"| {r['case']} | {ours} | {_fmt(r.get('gbps'))} | {share} | {theirs} | {ratio} |")
    return lines


def build(raw: Path, out: Path, final: bool, elapsed: float | None) -> tuple[str, dict[str, Any]]:
    """The text of summary.md and the data of summary.json."""
    env = _read_json(out / "env.json") or {}
    table, steps, failures = _step_table(raw, final, elapsed)
    bench = _read_json(out / "bench.json")
    copy, rows = bench_rows(bench)
    fallbacks = bench_fallbacks(bench)
    lines = [*_header(env), "", *table, "", *_headlines(copy, rows)]
    if fallbacks:
        lines.append(f"measured on a reference path, not a kernel: {_short('; '.join(fallbacks), 400)}")
    lines.append("")
    lines.append("## Failures" if failures else "## Failures: none")
    for step, what, detail in failures[:MAX_FAILURES]:
        lines.append(f"- {step}: {what}")
        lines += [f"    {d}" for d in detail]
    if len(failures) > MAX_FAILURES:
        lines.append(f"- ... and {len(failures) - MAX_FAILURES} more (raw.tar.gz: the JUnit XML and the logs)")
    lines += [
        "",
        "Raw: env.json, bench.json, summary.json, raw.tar.gz (every log, the JUnit XML, warmup.json, the example).",
    ]
    data = {
        "ok": all(s["ok"] for s in steps),
        "final": final,
        "elapsed_s": elapsed,
        "env": env,
        "steps": steps,
        "copy_gbps": copy,
        "headlines": rows,
        "fallbacks": fallbacks,
        "failures": [{"step": s, "what": w, "lines": d} for s, w, d in failures],
    }
    return "\n".join(lines) + "\n", data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="the run's working folder (logs, JUnit XML, plan.tsv, steps.tsv)")
    parser.add_argument("out", type=Path, help="the results folder (env.json, bench.json; summary written here)")
    parser.add_argument("--final", action="store_true", help="steps not reached are 'not run', not 'pending'")
    parser.add_argument("--elapsed", type=float, help="seconds since the run began")
    args = parser.parse_args(argv)
    text, data = build(args.raw, args.out, args.final, args.elapsed)
    for name, content in (("summary.md", text), ("summary.json", json.dumps(data, indent=1, default=str))):
        tmp = args.out / f".{name}.tmp"
        tmp.write_text(content)
        tmp.replace(args.out / name)  # a reader never sees half a summary
    return 0


if __name__ == "__main__":
    sys.exit(main())
