"""Print the measured tables of a finished run as markdown (what the example READMEs quote).

Usage: ``PYTHONPATH=$PWD python examples/tables.py RUN_DIR`` (a directory written by ``patc run``).
Tables: steps and seconds; LLC and sampler diagnostics; χ of each scalar/mean observable against
every component, ranked for mean(ih); the first principal direction; weights per verification arm;
onset per arm and seed; calibration (realized vs predicted; finite difference vs covariance).
"""

from __future__ import annotations

import sys
from pathlib import Path

from patternlang.results import Results

import numpy as np


def table(head: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return "—" if v is None else str(v)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def cosine(a: dict, b: dict, base: dict) -> float:
    x = np.array([a[k] - base[k] for k in base])
    y = np.array([b[k] - base[k] for k in base])
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def groups_of(names: list[str]) -> dict[str, list[int]]:
    out = {n: [i] for i, n in enumerate(names) if "[" not in n}
    for owner in dict.fromkeys(n.split("[")[0] for n in names if "[" in n):
        out[f"mean({owner})"] = [i for i, n in enumerate(names) if n.startswith(owner + "[")]
    return out


def chi_tables(sid: str, s: dict) -> None:
    chi, se, names, comps = (np.asarray(s["chi"]), np.asarray(s["chi_se"]), s["observables"],
                             s["components"])
    groups = groups_of(names)
    print(f"\n### χ `{sid}` (mean over heads for per-head observables; ± SE)\n")
    rows = []
    for g, idx in groups.items():
        c, e = chi[idx].mean(0), np.sqrt((se[idx] ** 2).sum(0)) / len(idx)
        rows.append([g] + [f"{a:+.2e} ± {b:.1e}" for a, b in zip(c, e)])
    print(table(["observable"] + comps, rows))
    ih = next((g for g in groups if g.startswith("mean(ih")), None)
    if ih:
        idx = groups[ih]
        c, e = chi[idx].mean(0), np.sqrt((se[idx] ** 2).sum(0)) / len(idx)
        print(f"\nComponents ranked by χ[{ih}] (more of the first raises the induction score most):\n")
        print(table(["rank", "component", f"χ[{ih}]", "SE", "abs(χ)/SE"],
                    [[i + 1, comps[k], f"{c[k]:+.2e}", f"{e[k]:.1e}", f"{abs(c[k]) / e[k]:.1f}"]
                     for i, k in enumerate(np.argsort(-c))]))
    p = s["principal"]
    m0 = p["modes"][0]
    print(f"\nPrincipal direction 1 ({p['variance_explained'][0]:.0%} of the standardized χ): data "
          + ", ".join(f"{k} {v:+.2f}" for k, v in m0["components"].items()))
    top = sorted(m0["observables"].items(), key=lambda kv: -abs(kv[1]))[:5]
    print("; structure (largest loadings): " + ", ".join(f"{k} {v:+.2f}" for k, v in top))
    fd = s.get("finite_difference")
    if fd:
        print(f"\nFinite-difference check (paired central difference, ε = {fd[0]['eps']}):\n")
        print(table(["observable", "component", "χ (cov) ± SE", "χ (finite diff) ± SE", "fd ÷ cov",
                     "z", "sign agrees"],
                    [[x["observable"], x["component"], f"{x['chi']:+.2e} ± {x['chi_se']:.1e}",
                      f"{x['fd']:+.2e} ± {x['fd_se']:.1e}", x["ratio"], x["z"], x["sign_agrees"]]
                     for x in fd if "[" not in x["observable"]]))
        n = len(fd)
        agree = sum(x["sign_agrees"] for x in fd)
        within = sum(x["z"] is not None and abs(x["z"]) <= 3 for x in fd)
        print(f"\nAll {n} rows (per head included): signs agree in {agree}/{n}, |z| ≤ 3 in {within}/{n}.")


def verify_tables(sid: str, v: dict) -> None:
    arms = v["arms"]
    base = arms["baseline"]["weights"]
    pat = arms.get("patterned", {}).get("weights")
    comps = list(base)
    print(f"\n### Verification `{sid}`: weights per arm\n")
    print(table(["arm"] + comps + ["cos(Δ, Δ patterned)"],
                [[a] + [f"{x['weights'][c]:.3f}" for c in comps]
                 + [f"{cosine(x['weights'], pat, base):+.2f}" if pat and a != "baseline" else "—"]
                 for a, x in arms.items()]))
    for on in v["onset_specs"]:
        name = on["observable"]
        print(f"\nOnset of {name} {on['op']} {on['threshold']} (None = absent within "
              f"{v['steps'][-1]} steps):\n")
        print(table(["arm", "per seed", "mean (present)", "absent", "final value (mean ± sd)"],
                    [[a, x["onset"][name]["per_seed"], x["onset"][name]["mean"],
                      f"{x['onset'][name]['absent']}/{len(x['onset'][name]['per_seed'])}",
                      f"{x['final'][name]['mean']:.3f} ± {x['final'][name]['sd']:.3f}"]
                     for a, x in arms.items()]))
    print("\n" + "\n".join(f"- {k}: {val}" for k, val in v["headline"].items()))
    print("\nRealized (patterned − baseline at the horizon, mean over seeds) vs predicted "
          "(posterior, first order):\n")
    print(table(["observable", "predicted Δ", "realized Δ", "realized ÷ predicted", "sign agrees"],
                [[c["observable"], c["predicted"], c["realized"], c["ratio"], c["sign_agrees"]]
                 for c in v["calibration"]]))


def main(run: Path) -> None:
    r = Results.load(run).data  # any schema, read as the current one
    print("### Steps\n")
    print(table(["step", "seconds"], [[k, v["seconds"]] for k, v in r["steps"].items()]))
    for sid, llc in r["llc"].items():
        print(f"\n### LLC `{sid}`: {llc['llc_mean']:.3g} ± {llc['llc_se']:.2g} (nβ = {llc['nbeta']:.3g})\n")
        print(table(["center", "LLC", "R-hat", "equilibrated", "diverged chains", "warnings"],
                    [[c["label"], c["llc_mean"], c["rhat"], c["trend_ok"], len(c["divergent_chains"]),
                      "; ".join(c["warnings"]) or "none"] for c in llc["centers"]]))
    for sid, s in r["susceptibilities"].items():
        chi_tables(sid, s)
    for sid, res in r["solves"].items():
        sol, h0, h1 = res["rounds"][0]["solve"], res["baseline"], res["final_weights"]
        print(f"\n### Solution `{sid}` ({sol['status']})\n")
        print(table(["component", "h", "h'", "Δh"], [[c, h0[c], h1[c], h1[c] - h0[c]] for c in h0]))
        print("\n" + "\n".join(f"- {m}" for m in sol["diagnostics"]["messages"]))
    for sid, v in r["verification"].items():
        verify_tables(sid, v)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
