"""Calibration of the default models over generated samples with known effects.

For each of 20 generated samples (``make_sample(seed=1..20)``, 3,000
customers, 24 months) the script fits what the default report batch fits and
checks it against the sample's truth:

* the retention logit of notebook 03 (drivers resolution time, first-contact
  resolution, first response time; controls plan, segment, log tenure, prior
  ticket volume): is each planted log-odds effect inside its 95% interval,
  and is the null driver (first response time, true effect 0) significant?
* the two-part revenue model of notebooks 04 and 06: is the true currency
  effect per CSAT point inside its 95% interval?
* the same logit with ticket volume added: how often is the (truly zero)
  ticket-volume effect "significant", and what evidence label does it carry?
* the headline rows the default notebooks write to ``results.json`` (and
  ``results.csv``) and the executive summary's findings: is ticket volume
  ever presented as a finding?

Targets (issue 12): each planted effect covered in at least 18 of 20
samples; the null driver significant in at most 2; ticket volume never a
finding. ``--small`` runs 2 smaller samples and leaves README.md alone.
Figures are written to benchmarks/README.md.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np

from benchmarks import write_readme_block

DRIVERS = ["resolution_hours_mean", "fcr_rate", "first_response_minutes_median"]
CONTROLS = ["C(plan)", "C(segment)", "np.log1p(tenure_months)", "ticket_count_prior"]
NULL_DRIVER = "first_response_minutes_median"


def check_sample(seed: int, *, n_customers: int = 3000, months: int = 24,
                 alpha: float = 0.05) -> dict:
    """Fit the default models on one generated sample; what they got right.

    Returns a dict of booleans and figures: ``covered`` (term -> planted value
    inside the interval), ``null_significant``, ``ticket_significant``,
    ``ticket_evidence``, ``ticket_as_finding`` and the estimates.
    """
    import cxkit as cx
    from cxkit.evidence import evidence_label, is_finding, is_help_needed

    data, truth = cx.make_sample(n_customers=n_customers, months=months, seed=seed)
    panel = cx.build_panel(data)
    planted = truth["churn"]["log_odds"]
    out: dict = {"seed": seed, "covered": {}, "estimates": {}}

    retention = cx.fit_retention(panel, drivers=DRIVERS, controls=CONTROLS, alpha=alpha,
                                 placebo=False)
    tidy = retention.tidy().set_index("term")
    for term in DRIVERS:
        lo, hi = tidy.loc[term, "conf_low"], tidy.loc[term, "conf_high"]
        out["covered"][term] = bool(lo <= planted[term] <= hi)
        out["estimates"][term] = float(tidy.loc[term, "estimate"])
    out["null_significant"] = bool(tidy.loc[NULL_DRIVER, "p_value"] < alpha)

    revenue = cx.fit_revenue(panel, drivers=["csat_mean"], alpha=alpha, placebo=False)
    eff = revenue.effects().set_index("term").loc["csat_mean"]
    money = truth["revenue"]["amount_per_csat_point"]
    out["covered"]["csat_mean (currency per point)"] = bool(
        eff["conf_low"] <= money <= eff["conf_high"])
    out["estimates"]["csat_mean (currency per point)"] = float(eff["estimate"])

    with_volume = cx.fit_retention(panel, drivers=[*DRIVERS, "ticket_count"], controls=CONTROLS,
                                   alpha=alpha, placebo=False)
    vol = with_volume.tidy().set_index("term").loc["ticket_count"]
    out["ticket_significant"] = bool(vol["p_value"] < alpha)
    out["ticket_evidence"] = evidence_label(with_volume, "ticket_count")

    # what the default batch would present: headline rows (results.json / results.csv) of
    # notebooks 03, 05 and 06, and the executive summary's findings
    intervals = cx.build_churn_intervals(panel)
    timing = cx.fit_churn_timing(intervals, covariates=DRIVERS + ["C(plan)", "C(segment)",
                                                                  "ticket_count_prior"],
                                 duration="stop_months", entry="start_months",
                                 event="churned_next", cluster="customer_id", alpha=alpha)
    presented = []
    for res in (retention, revenue, timing):
        rows = cx.headline_rows(res)
        for row in rows.to_dict(orient="records"):
            label = row.get("evidence") or evidence_label(res, row["term"])
            if is_help_needed(row["term"]) and is_finding(label):
                presented.append(f"{res.kind}:{row['term']} ({label})")
    findings = cx.describe_findings(retention, revenue)
    text = " ".join(map(str, findings.astype(str).to_numpy().ravel())).lower()
    if "ticket" in text or "contact rate" in text:
        presented.append("executive summary findings mention ticket volume")
    out["ticket_as_finding"] = presented
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the calibration, print and record the figures; 1 if a target is missed."""
    small = "--small" in (argv or [])
    seeds = [1, 2] if small else list(range(1, 21))
    size = {"n_customers": 1500, "months": 12} if small else {"n_customers": 3000, "months": 24}
    start = time.perf_counter()
    runs = []
    for seed in seeds:
        runs.append(check_sample(seed, **size))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "estimates"}), flush=True)
    seconds = time.perf_counter() - start
    n = len(runs)
    terms = list(runs[0]["covered"])
    covered = {t: sum(r["covered"][t] for r in runs) for t in terms}
    null_sig = sum(r["null_significant"] for r in runs)
    ticket_sig = sum(r["ticket_significant"] for r in runs)
    labels = sorted({r["ticket_evidence"] for r in runs})
    as_finding = [f"seed {r['seed']}: {x}" for r in runs for x in r["ticket_as_finding"]]
    need = int(np.ceil(0.9 * n))
    ok = (all(c >= need for c in covered.values()) and null_sig <= max(2, n // 10)
          and not as_finding)
    figures = {"samples": n, "covered": covered, "null_driver_significant": null_sig,
               "ticket_volume_significant": ticket_sig, "ticket_volume_evidence": labels,
               "ticket_volume_presented_as_finding": as_finding, "seconds": round(seconds, 1),
               "targets_met": ok}
    print(json.dumps(figures, indent=2))
    if small:
        return 0 if ok else 1
    rows = "\n".join(f"| {t} | {covered[t]} / {n} | {need} |" for t in terms)
    text = f"""## Calibration over generated samples (`bench_calibration.py`)

{n} samples from `make_sample(seed=1..{n})` ({size['n_customers']:,} customers,
{size['months']} months each), fitted with the default specification of the report batch
(retention logit of notebook 03 with prior ticket volume among the controls; two-part
revenue model of notebooks 04 and 06), 95% intervals; {seconds:.0f} s on
Python {platform.python_version()}.

| planted effect | inside its 95% interval | target |
|---|---|---|
{rows}

- Null driver (first response time, true effect 0) significant at 5%: {null_sig} / {n}
  (target at most {max(2, n // 10)}).
- Ticket volume added to the guarded logit (true effect 0): "significant" in
  {ticket_sig} / {n} samples; its evidence label: {', '.join(labels)}. Prior volume only
  partly stands in for the unobserved problem propensity, so the label, not the p-value,
  keeps it out of the findings.
- Ticket volume presented as a finding (headline rows of notebooks 03, 05, 06 as written
  to results.json / results.csv, and the executive summary's findings):
  {len(as_finding)} time(s){': ' + '; '.join(as_finding) if as_finding else ''}.

Targets met: {'yes' if ok else 'no'}.
"""
    write_readme_block("bench_calibration", text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
