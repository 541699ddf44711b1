"""Mediation: how much of a support driver's churn effect runs through a mediator (CSAT).

:func:`fit_mediation` splits the effect of a change in a driver (e.g. +5
hours of resolution time) on next-period churn into the part that runs
through the mediator (indirect: slower resolution -> lower CSAT -> churn)
and the rest (direct), by g-computation on two models fitted to the same
rows: a linear model of the mediator and a logit of the outcome, both with
the retention model's controls. Intervals come from a cluster bootstrap
that resamples customers and refits both models.

The split is causal only under **sequential ignorability** (Imai, Keele &
Tingley 2010): given the controls, nothing unmeasured drives both the
driver and the mediator or outcome, and nothing unmeasured drives both the
mediator and the outcome, including any effect of the driver itself. The
second part is strong: anything that moves both CSAT and churn (e.g.
first-contact resolution) must be among the controls, which is why the
other support drivers are controls by default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit

from cxkit import fitting

__all__ = ["fit_mediation", "MEDIATION_ASSUMPTION"]

#: The assumption every mediation table states.
MEDIATION_ASSUMPTION = (
    "Sequential ignorability: given the controls, no unmeasured factor drives both the "
    "driver and the mediator or churn, and none drives both the mediator and churn (so "
    "everything that moves both CSAT and churn, such as first-contact resolution, must be "
    "controlled). The split is not identified from the data; a confounder of the mediator "
    "and churn makes the indirect share wrong in either direction.")

_SUPPORT_DRIVERS = ("resolution_hours_mean", "fcr_rate", "first_response_minutes_median")


def _default_controls(panel: pd.DataFrame, driver: str, mediator: str) -> list[str]:
    """The retention model's default controls plus the other support drivers in the panel."""
    others = [d for d in _SUPPORT_DRIVERS if d not in (driver, mediator) and d in panel.columns
              and panel[d].notna().any()]
    return [*fitting.DEFAULT_CONTROLS, "ticket_count_prior", *others]


def _effects(xm: np.ndarray, m: np.ndarray, xo: np.ndarray, y: np.ndarray, *,
             delta: float, cols: tuple[int, int, int]) -> np.ndarray:
    """Indirect, direct and total effects (probability scale) of ``driver + delta``.

    ``xm``: mediator-model matrix (driver and controls); ``xo``: outcome-model
    matrix (driver, mediator, controls); ``cols``: the driver's column in
    ``xm``, the driver's and the mediator's in ``xo``. The driver and mediator
    enter linearly, so moving them moves the linear predictor by their
    coefficients times the change.
    """
    jm, jd, jmed = cols
    gamma = np.linalg.lstsq(xm, m, rcond=None)[0][jm]  # mediator per unit of the driver
    beta = sm.Logit(y, xo).fit(disp=0, maxiter=200).params
    eta = xo @ beta
    p_base = expit(eta).mean()
    p_direct = expit(eta + delta * beta[jd]).mean()  # driver moved, mediator as it was
    p_total = expit(eta + delta * beta[jd] + delta * gamma * beta[jmed]).mean()
    return np.array([p_total - p_direct, p_direct - p_base, p_total - p_base])


def fit_mediation(panel: pd.DataFrame, *, driver: str, mediator: str = "csat_mean",
                  outcome: str = "churned_next", controls=None, delta: float = 1.0,
                  design: str = "quality_given_contact", cluster: str = "customer_id",
                  n_boot: int = 200, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Split a driver's churn effect into the part through ``mediator`` and the rest.

    Mediator model: OLS of ``mediator`` on the driver and the controls.
    Outcome model: logit of ``outcome`` on driver, mediator and controls.
    For every row, the driver is moved by ``delta`` and the mediator by the
    mediator model's coefficient times ``delta`` (each row keeps its own
    residual); averaging the outcome model's predictions gives the total
    effect, the direct effect (driver moved, mediator held) and the
    indirect effect (the difference), in percentage points of the outcome.
    Intervals: percentiles of ``n_boot`` cluster-bootstrap refits
    (customers resampled, as the retention model clusters by customer).

    Parameters
    ----------
    panel : DataFrame
        Customer x period panel (:func:`cxkit.build_panel`).
    driver, mediator : str
        Support metric whose effect is split, and the metric it may act through.
    outcome : str
        0/1 outcome column.
    controls : sequence of str, optional
        Formula terms adjusted for in both models. Default: the retention
        model's controls (plan, segment, log tenure, prior ticket volume)
        plus the other support drivers in the panel, which may move both the
        mediator and churn.
    delta : float
        Change of the driver, in its units.
    design : {"quality_given_contact", "all"}
        Rows used, as in :func:`cxkit.fit_retention`.
    cluster : str
        Column whose groups are resampled together.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the bootstrap draws.
    alpha : float
        Intervals are ``1 - alpha`` intervals.

    Returns
    -------
    DataFrame
        ``effect, estimate_pp, conf_low, conf_high, p_value, reading`` for
        ``indirect (via <mediator>)``, ``direct``, ``total`` (the same
        contrast, so the split sits beside the effect it splits) and
        ``proportion mediated`` (a share, not pp; its interval from the same
        replicates). ``.attrs`` holds ``assumption``, ``controls``,
        ``n_boot`` and ``n_obs``.
    """
    controls = _default_controls(panel, driver, mediator) if controls is None else list(controls)
    spec = fitting.make_spec(panel, outcome=outcome, drivers=[driver, mediator],
                             controls=controls, design=design, cluster=cluster)
    df, _ = fitting.prepare_rows(panel, spec)
    df[outcome] = fitting.binary_outcome(df, outcome)
    # one design matrix (terms whitelisted by cxkit.terms); the mediator model drops its column
    design_matrix = fitting.build_design(df, spec)
    names = list(design_matrix.names)
    xo = design_matrix.matrix
    xm = np.delete(xo, names.index(mediator), axis=1)
    m_names = [n for n in names if n != mediator]
    cols = (m_names.index(driver), names.index(driver), names.index(mediator))
    m, y = df[mediator].to_numpy(float), df[outcome].to_numpy(float)
    point = _effects(xm, m, xo, y, delta=delta, cols=cols)
    draws = []
    for rows in fitting.cluster_bootstrap_rows(df[cluster].to_numpy(), n_boot=n_boot, seed=seed):
        try:
            draws.append(_effects(xm[rows], m[rows], xo[rows], y[rows], delta=delta, cols=cols))
        except (np.linalg.LinAlgError, ValueError):  # a degenerate resample: skip it
            continue
    draws = np.asarray(draws)
    share = draws[:, 0] / draws[:, 2]
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)

    def row(name, est, sample, scale, reading):
        p = 2 * min((sample <= 0).mean(), (sample >= 0).mean())
        return {"effect": name, "estimate_pp": scale * est,
                "conf_low": scale * np.percentile(sample, lo),
                "conf_high": scale * np.percentile(sample, hi), "p_value": min(1.0, p),
                "reading": reading}

    change = f"{delta:+g} {driver}"
    table = pd.DataFrame([
        row(f"indirect (via {mediator})", point[0], draws[:, 0], 100,
            f"{change} acting through {mediator}; rests on sequential ignorability"),
        row("direct", point[1], draws[:, 1], 100, f"{change} with {mediator} held as it was"),
        row("total", point[2], draws[:, 2], 100, f"{change}, all paths (the effect being split)"),
        row("proportion mediated", point[0] / point[2], share, 1,
            "indirect / total; unstable when the total is near zero"),
    ])
    table.attrs = {"assumption": MEDIATION_ASSUMPTION, "controls": controls,
                   "n_boot": int(len(draws)), "n_obs": int(len(df))}
    return table
