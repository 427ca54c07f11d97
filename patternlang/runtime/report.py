"""``results.json`` and ``report.md`` from a run directory's step results.

:func:`collect` gathers the steps' typed results (:mod:`patternlang.runtime.results_types`) into
the results document of ``docs/results.md``; :func:`render` draws the figures and writes the
Markdown report from that document. Both only read what the steps wrote, so ``patc report DIR``
re-renders a finished (or partly finished) run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patternlang import __version__
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import Plan
from patternlang.runtime import figures
from patternlang.runtime.results_types import SECTIONS, StepResult, read_result, result_json
from patternlang.runtime.run_verdict import run_verdict, verdict_lines
from patternlang.runtime.rundir import RunDir, StepDir, read_json, safe_name
from patternlang.runtime.steps.sample.section import cell, draws_lines, scan_lines, table
from patternlang.runtime.steps.verify.section import onset_cell, sign_cell, validation_section

RESULTS_SCHEMA = 2


def load_results(run: RunDir, plan: Plan) -> tuple[dict[str, StepResult], dict[str, StepDir]]:
    """The typed results (``done.json``) and directories of the plan's completed steps."""
    hashes = plan.hashes()
    results, dirs = {}, {}
    for s in plan.steps:
        d = run.step(s.kind, s.id, hashes[s.id])
        found = read_result(d) if d.damage() is None else None  # damaged: incomplete, not data
        if found is not None:
            results[s.id], dirs[s.id] = found, d
    return results, dirs


def tracked_curves(plan: Plan, dirs: dict[str, StepDir]) -> dict[str, dict]:
    """Per completed train step that tracks observables: ``{"steps": [evaluation steps], "seeds":
    {seed: {coordinate: [value per evaluation step]}}}``, read from each seed's ``curve.json``."""
    out: dict[str, dict] = {}
    for s in plan.steps:
        if s.kind != "train" or not s.track or s.id not in dirs:
            continue
        steps: list[int] = []
        seeds: dict[str, dict[str, list]] = {}
        for seed in s.seeds:
            f = dirs[s.id].file(f"seed{seed}/curve.json")
            if not f.exists():
                continue
            curve = read_json(f)["curve"]
            steps = curve["step"]
            names = list(curve["values"][0]) if curve["values"] else []
            seeds[str(seed)] = {n: [v.get(n) for v in curve["values"]] for n in names}
        out[s.id] = {"steps": steps, "seeds": seeds}
    return out


def collect(plan: Plan, results: dict[str, StepResult], tracked: dict[str, dict] | None = None) -> dict:
    """The results document (schema: ``docs/results.md``): each step's result model as JSON, in
    the section of its kind, and the observables tracked during training. The report step counts
    as complete: the document is its output."""
    out: dict = {"schema": RESULTS_SCHEMA, "patternlang": __version__, "spec": plan.spec,
                 "seed": plan.seed, "steps": {}, **{name: {} for name in SECTIONS.values()},
                 "tracked": tracked or {}}
    hashes = plan.hashes()
    for s in plan.steps:
        found = results.get(s.id)
        out["steps"][s.id] = {"kind": s.kind, "hash": hashes[s.id],
                              "complete": found is not None or s.kind == "report",
                              "seconds": found.seconds if found is not None else None}
        if found is not None and s.kind in SECTIONS:
            # wall time lives in "steps" alone: the sections of two equal runs are equal
            out[SECTIONS[s.kind]][s.id] = result_json(found, exclude={"seconds"})
    out["verdict"] = run_verdict(out, plan)
    return out


def _sample_section(sid: str, sm: dict, figdir: Path, sdir: StepDir) -> list[str]:
    lines = [f"### LLC and sampler: `{sid}`", "",
             f"nβ = {sm['nbeta']:.4g}; LLC = {sm['llc_mean']:.4g} ± {sm['llc_se']:.3g} (mean ± SE "
             "over chains and centers).", ""]
    rows = [[c["label"], c["llc_mean"], c["llc_se"], c.get("rhat"), c.get("ess"), c.get("trend_ok"),
             c.get("publishable"), len(c.get("divergent_chains", []))] for c in sm["centers"]]
    lines += [table(["center", "LLC", "SE", "R-hat", "ESS", "equilibrated", "publishable (R-hat ≤ 1.01, "
                      "ESS ≥ 400)", "diverged chains"], rows), ""]
    for w in sm.get("warnings", []):
        lines.append(f"- warning: {w}")
    lines += scan_lines(sid, sm.get("step_scan"), figdir) + draws_lines(sm.get("draws_auto"))
    traces = sdir.file("traces.npz")
    if traces.exists():
        data = np.load(traces)
        p = figures.chain_traces({k: data[k] for k in data.files}, figdir / f"traces-{safe_name(sid)}.png",
                                 title=f"{sid}: per-chain traces")
        lines += ["", f"![chain traces](figures/{p.name})", ""]
    return lines


def _chi_section(sid: str, sm: dict, figdir: Path) -> list[str]:
    chi, se = np.asarray(sm["chi"], float), np.asarray(sm["chi_se"], float)
    p1 = figures.chi_heatmap(chi, sm["observables"], sm["components"], figdir / f"chi-{safe_name(sid)}.png",
                             se=se, title=f"χ = -Cov(φ, L_k - L)  ({sid})")
    pr = sm.get("principal") or {}
    lines = [f"### Susceptibilities: `{sid}`", "",
             "χ[φ, k] = −Cov(φ, L_k − L) over the localized posterior; Δ⟨φ⟩ ≈ nβ·χ·Δh. "
             "Positive: moving weight toward component k raises ⟨φ⟩.", "",
             f"![chi heatmap](figures/{p1.name})", ""]
    if pr.get("singular_values"):
        p2 = figures.singular_spectrum(pr["singular_values"], figdir / f"spectrum-{safe_name(sid)}.png")
        ve = pr.get("variance_explained", [])
        lines += [f"![singular spectrum](figures/{p2.name})", "",
                  "Variance explained by principal directions: "
                  + ", ".join(f"{v:.1%}" for v in ve[:5]), ""]
    fd = sm.get("finite_difference")
    if fd:
        lines += ["Finite-difference check at the first center (paired runs at h' = (1 ∓ ε)h ± ε·e_k, "
                  "χ_fd = Δ⟨φ⟩/(ε·nβ), beside χ at that center; |z| ≲ 3: the two estimates agree "
                  "within their errors):", "",
                  table(["observable", "component", "χ (linear response)", "± SE", "χ (finite diff)", "± SE",
                          "ratio", "z", "sign agrees"],
                         [[r["observable"], r["component"], r["chi"], r.get("chi_se"), r["fd"],
                           r.get("fd_se"), r.get("ratio"), r.get("z"), r.get("sign_agrees")]
                          for r in fd]), ""]
    lines += [f"- warning: {w}" for w in sm.get("warnings") or []]
    if sm.get("component"):  # component susceptibilities (issue 24)
        from patternlang.runtime.steps.susceptibility.component import report_lines

        lines += report_lines(sid, sm, figdir)
    return lines


def _solve_section(sid: str, res: dict, figdir: Path) -> list[str]:
    """The solve (round 1's program; with rounds > 1 also every round's weights). The weights
    table shows the baseline h and the final h' (after all rounds)."""
    sol = res["rounds"][0]["solution"]
    lines = [f"### Solution: `{sid}` ({sol['status']})", ""]
    comps = sol["components"]
    h0, h1 = res["baseline"], res["final_weights"]
    pw = (sol.get("pinv") or {}).get("weights")  # none for a per-sample solve
    p = figures.weights_comparison(comps, [h0[c] for c in comps], [h1[c] for c in comps],
                                   figdir / f"weights-{safe_name(sid)}.png",
                                   pinv=[pw[c] for c in comps] if pw else None)
    pinv = "pseudo-inverse h" if len(res["rounds"]) == 1 else "pseudo-inverse h (round 1)"
    lines += [f"![weights](figures/{p.name})", "",
              table(["component", "current h", "new h'", "Δh", pinv],
                     [[c, h0[c], h1[c], h1[c] - h0[c], pw[c] if pw else None]
                      for c in comps]), ""]
    ps = sol.get("per_sample")
    if ps:
        lines += [f"Per-sample patterning over {ps['atoms']} atoms (pools: "
                  + ", ".join(f"{k} {n} examples" for k, n in ps["pools"].items())
                  + f"): KL(p'||p0) = {cell(ps.get('kl'))}, ||p' - p0|| = {cell(ps.get('l2'))}, "
                  f"solved by {sol['solver']} in {sol.get('seconds') or 0:.2f} s; per-example "
                  f"weights in `{ps['file']}` of the step directory.", ""]
    lines += [table(["target", "desired Δ", "predicted Δ (posterior)", "± SE", "achieved"],
                     [[t["label"], t["desired"], t["predicted"], t["se"], t["achieved_fraction"]]
                      for t in sol["targets"]]), ""]
    lines += _modes_lines(sol)
    lines += [f"- {m}" for m in sol["diagnostics"]["messages"]]
    if sol.get("resolved"):
        lines += ["", table(["target", "largest |z| of its χ row", "resolved (|z| ≥ 3)"],
                             [[r["label"], r["max_abs_z"], r["resolved"]] for r in sol["resolved"]]), ""]
    lines += [f"- warning: {w}" for r in res["rounds"] for w in r["solution"].get("warnings") or []]
    if len(res["rounds"]) > 1:
        lines += ["", "Iterative patterning (χ re-estimated and the problem re-solved each round; "
                  "the targets above are round 1's):", "",
                  table(["round"] + comps, [[r["round"]] + [r["weights"][c] for c in comps]
                                             for r in res["rounds"]])]
    lines += ["", "Predicted changes are first-order changes of *posterior* expectations; how they "
              "translate into training-time change is measured by verification (calibration).", ""]
    return lines


def _modes_lines(sol: dict) -> list[str]:
    """Move targets: the principal mode each chose and how far the realized step turned from it."""
    modes = sol.get("modes") or []
    if not modes:
        return []
    angle = {t["label"]: t.get("angle_deg") for t in sol["targets"]}
    comps = sol["components"]
    return ["Steps along principal directions of χ (requested unit direction per component; the "
            "angle is between the requested and the realized step):", "",
            table(["target", "mode", "gain s", "loading", "angle (deg)"] + comps,
                   [[m["label"], m["mode"], m["singular_value"], m["loading"], angle.get(m["label"])]
                    + [m["direction"][c] for c in comps] for m in modes]), ""]


def _verify_section(sid: str, sm: dict, figdir: Path) -> list[str]:
    lines = [f"### Verification: `{sid}`", ""]
    arms = sm["arms"]
    for obs in sm.get("plotted", []):
        curves = {a: np.asarray(v["curves"][obs], float) for a, v in arms.items()
                  if obs in v.get("curves", {}) and not a.startswith("random")}
        if not curves:
            continue
        thr = [o["threshold"] for o in sm.get("onset_specs", []) if o["observable"] == obs]
        p = figures.verification_curves(sm["steps"], curves, figdir / f"verify-{safe_name(sid)}-{_slug(obs)}.png",
                                        observable=obs, thresholds=thr,
                                        title=f"{obs}: baseline vs patterned over training")
        lines += [f"![{obs}](figures/{p.name})", ""]
    rows = []
    for arm, v in arms.items():
        if arm.startswith("random"):
            continue  # in the validation's table of every arm
        for obs, o in v.get("onset", {}).items():
            holds = o.get("final_holds")
            rows.append([arm, obs, onset_cell(o), o["per_seed"], o["absent"],
                         f"{sum(holds)}/{len(holds)}" if holds else None])
    if rows:
        lines += ["Onset (first step the observable crosses its threshold; absent = never within "
                  "the horizon and counted at the horizon, so a mean with absent seeds is a lower "
                  "bound, `>=`; at horizon = seeds whose final value meets the threshold):", "",
                  table(["arm", "observable", "mean onset", "per seed", "absent", "at horizon"],
                         rows), ""]
    for k, v in (sm.get("headline") or {}).items():
        lines.append(f"- {k}: {v}")
    cal = sm.get("calibration") or []
    if cal:
        lines += ["", "Calibration (realized change at the horizon, patterned − baseline, vs the "
                  "solver's posterior prediction):", "",
                  table(["observable", "predicted Δ", "± SE", "realized Δ", "realized ÷ predicted",
                          "sign agrees"], [[c["observable"], c["predicted"], c.get("se"), c["realized"],
                                            c["ratio"], sign_cell(c["sign_agrees"])] for c in cal]), ""]
    return lines + validation_section(sid, sm, figdir, _slug)



def _formats(plan: Plan) -> list[str]:
    """The report formats the spec's ``output`` block asks for (``results.json`` is always
    written: the API reads it); without ``md`` there is no report.md and no figures."""
    report = [s for s in plan.steps if s.kind == "report"]
    return list(getattr(report[0], "formats", ["md", "json"])) if report else ["md", "json"]


def _progress(plan: Plan, found: dict, failed: dict | None = None) -> str:
    """``all 6 steps complete.`` or ``4/6 steps complete; failed: solve.up (its error); not run:
    verify.up`` (the report step, being written, is not counted; ``failed``: the run's
    ``failed.json``)."""
    steps = [s.id for s in plan.steps if s.kind != "report"]
    missing = [sid for sid in steps if sid not in found]
    if not missing:
        return f"all {len(steps)} steps complete."
    head = f"{len(steps) - len(missing)}/{len(steps)} steps complete"
    if failed and failed.get("step") in missing:
        missing.remove(failed["step"])
        cause = str(failed.get("error", "")).splitlines()[0]
        head += f"; **failed: {failed['step']}** ({cause})"
    return head + (f"; not run: {', '.join(missing)}." if missing else ".")


def read_failure(run: RunDir) -> dict | None:
    """The run's ``failed.json`` (written when a step fails, removed when a run starts)."""
    path = run.root / "failed.json"
    try:
        return read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _tracked_section(tr: dict | None) -> list[str]:
    if not tr or not tr["seeds"]:
        return []
    names = list(next(iter(tr["seeds"].values())))
    cols = list(range(len(tr["steps"])))
    if len(cols) > 8:
        cols = sorted({round(i * (len(cols) - 1) / 7) for i in range(8)})
    rows = []
    for n in names:
        per_step = [[v[n][i] for v in tr["seeds"].values() if v[n][i] is not None] for i in cols]
        rows.append([n] + [float(np.mean(x)) if x else None for x in per_step])
    shown = "" if len(cols) == len(tr["steps"]) else \
        (f" ({len(cols)} of the {len(tr['steps'])} evaluation steps, evenly spaced; all of them "
         "are in results.json, `tracked`)")
    return [f"Tracked observables (mean over {len(tr['seeds'])} seed(s)) by training step{shown}:",
            "",
            table(["observable"] + [str(tr["steps"][i]) for i in cols], rows), ""]


def _measure_section(sid: str, sm: dict) -> list[str]:
    seeds = sm["per_seed"][:8]
    rows = [[n, m] + [r["values"].get(n) for r in seeds] for n, m in sm["mean"].items()]
    return [f"### Measurement: `{sid}`", "",
            table(["observable", f"mean over {len(sm['per_seed'])}"] + [f"seed {r['seed']}" for r in seeds],
                   rows), ""]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)[:40]


def render(run_dir: str | Path) -> Path:
    """Write ``results.json``, ``figures/`` and ``report.md`` for the run in ``run_dir``."""
    run = RunDir(run_dir)
    try:
        plan = Plan.from_json((run.root / "plan.json").read_text())
        plan.hashes()  # every input names a step of the plan
    except (OSError, ValueError, KeyError) as exc:
        raise PatRuntimeError("report", f"{run.root / 'plan.json'} cannot be read as a plan "
                              f"({type(exc).__name__})", "run `patc run SPEC --out DIR` again to "
                              "rewrite it; completed steps are re-used") from None
    found, dirs = load_results(run, plan)
    doc = collect(plan, found, tracked_curves(plan, dirs))
    failed = read_failure(run)
    if failed:
        doc["failed"] = failed
    path = run.write_json("results.json", doc)
    if "md" not in _formats(plan):
        return path
    figdir = run.subdir("figures")
    lines = [f"# patternlang report: `{Path(plan.spec).name}`", "",
             f"patternlang {__version__}; plan seed {plan.seed}; {_progress(plan, found, failed)}",
             ""]
    if doc["verdict"]:
        lines += ["## Verdict", "", "```", *verdict_lines(doc["verdict"]), "```", ""]
    for s in plan.steps:
        if s.id not in found or s.kind not in SECTIONS:
            continue
        sm = doc[SECTIONS[s.kind]][s.id]
        if s.kind == "train":
            losses = ", ".join(f"seed {k}: {v:.4g}" for k, v in list(sm["final_loss"].items())[:8])
            lines += [f"### Training: `{s.id}`", "", f"Final training loss — {losses}.", ""]
            lines += _tracked_section(doc["tracked"].get(s.id))
        elif s.kind == "observe":
            lines += _measure_section(s.id, sm)
        elif s.kind == "sample":
            lines += _sample_section(s.id, sm, figdir, dirs[s.id])
        elif s.kind == "susceptibility":
            lines += _chi_section(s.id, sm, figdir)
        elif s.kind == "solve":
            lines += _solve_section(s.id, sm, figdir)
        elif s.kind == "verify":
            lines += _verify_section(s.id, sm, figdir)
    return run.write_text("report.md", "\n".join(lines) + "\n")
