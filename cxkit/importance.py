"""Driver importance: which support metrics explain most of the outcome.

Methods
-------
``"relative_weights"`` (Johnson 2000)
    Drivers are replaced by their closest orthogonal counterparts; each
    driver's weight is its share of R-squared, and weights sum to R-squared.
    Continuous outcome: OLS R-squared. Binary outcome: relative weights on
    the logit's latent scale (Tonidandel & LeBreton 2010), summing to the
    McKelvey-Zavoina R-squared.
``"dominance"`` (general dominance, Azen & Budescu 2003)
    Average increase in R-squared (OLS) or McFadden pseudo-R-squared
    (logit, binary outcome) from adding the driver to every subset of the
    others; at most 8 drivers.

Controls are partialled out of the drivers (and of a continuous outcome)
by OLS before the decomposition. Intervals: bootstrap over customers (all
rows of a customer resampled together), percentile method.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cxkit import fitting
from cxkit.availability import adapts
from cxkit.exceptions import MissingDataError, ParameterError
from cxkit.results import ImportanceResult

__all__ = ["driver_importance", "importance_performance", "relative_weights"]


def relative_weights(x: np.ndarray, y: np.ndarray, *, binary: bool = False) -> np.ndarray:
    """Johnson's relative weights of the columns of ``x`` for ``y`` (sum = R-squared)."""
    z = (x - x.mean(0)) / x.std(0)
    r = np.corrcoef(z, rowvar=False)
    vals, vecs = np.linalg.eigh(r)
    lam = vecs @ np.diag(np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    zo = z @ np.linalg.pinv(lam)  # orthogonal counterparts (lam symmetric)
    if binary:
        b = np.asarray(sm.Logit(y, sm.add_constant(zo)).fit(disp=0).params[1:])
        explained = float(np.var(zo @ b))
        r2 = explained / (explained + np.pi ** 2 / 3)
        beta = b * np.sqrt(r2 / explained)
    else:
        ys = (y - y.mean()) / y.std()
        beta = np.linalg.lstsq(zo, ys, rcond=None)[0]
    return (lam ** 2) @ (beta ** 2)


def _r2(x: np.ndarray, y: np.ndarray, binary: bool) -> float:
    if x.shape[1] == 0:
        return 0.0
    if binary:
        return float(sm.Logit(y, sm.add_constant(x)).fit(disp=0).prsquared)
    return float(sm.OLS(y, sm.add_constant(x)).fit().rsquared)


def _dominance(x: np.ndarray, y: np.ndarray, binary: bool) -> np.ndarray:
    p = x.shape[1]
    cache = {(): 0.0}
    for size in range(1, p + 1):
        for subset in itertools.combinations(range(p), size):
            cache[subset] = _r2(x[:, subset], y, binary)
    out = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        by_size = []
        for size in range(p):
            gains = [cache[tuple(sorted((*s, j)))] - cache[s]
                     for s in itertools.combinations(others, size)]
            by_size.append(np.mean(gains))
        out[j] = np.mean(by_size)
    return out


@adapts
def driver_importance(panel: pd.DataFrame, *, drivers, outcome: str, controls=(),
                      method: str = "relative_weights", n_boot: int = 200, seed: int = 0,
                      cluster: str = "customer_id", design: str = "quality_given_contact",
                      alpha: float = 0.05) -> ImportanceResult:
    """Share of the explained outcome variation attributable to each driver.

    Parameters
    ----------
    panel : DataFrame
        One row per customer-period (or per customer).
    drivers : sequence of str
        Numeric driver columns (at least 2).
    outcome : str
        Outcome column; 0/1 outcomes use the binary variants (module notes).
    controls : sequence of str
        Formula terms partialled out first.
    method : {"relative_weights", "dominance"}
    n_boot : int
        Bootstrap replicates over customers (0 = no intervals).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    ImportanceResult
        ``table()``: ``term, weight, share_pct, conf_low, conf_high, rank``;
        ``weight`` in R-squared units, ``share_pct`` in % of the total.
    """
    if method not in ("relative_weights", "dominance"):
        raise ParameterError(f"method={method!r} is unknown; use 'relative_weights' or "
                             f"'dominance'.")
    spec = fitting.make_spec(panel, outcome=outcome, drivers=drivers, controls=controls,
                             design=design, cluster=cluster, cov_type="nonrobust")
    drivers = list(spec.driver_names)
    if len(drivers) == 1:  # e.g. "auto" drivers on an export that measures one metric only
        raise MissingDataError(
            f"Driver importance splits the explained variation among 2 or more drivers; only "
            f"{drivers[0]} is given. Add drivers, or map more ticket columns (first response, "
            f"contacts, CSAT) in the source config so that more support metrics are measured.")
    if len(drivers) < 2 or (method == "dominance" and len(drivers) > 8):
        raise ParameterError(f"Importance needs 2 to "
                             f"{'8' if method == 'dominance' else 'many'} drivers; got "
                             f"{len(drivers)}.")
    df, _ = fitting.prepare_rows(panel, spec)
    fitting.check_drivers(df, spec)
    y = df[outcome].astype(float).to_numpy()
    binary = set(np.unique(y)) <= {0.0, 1.0}
    full = fitting.build_design(df, spec)
    x = full.matrix[:, [full.index(d) for d in drivers]].copy()
    if spec.controls:
        base = full.matrix[:, [j for j, n in enumerate(full.names) if n not in drivers]]
        coef = np.linalg.lstsq(base, x, rcond=None)[0]
        x = x - base @ coef  # drivers with the controls partialled out
        if not binary:
            y = y - base @ np.linalg.lstsq(base, y, rcond=None)[0]

    def compute(xx, yy):
        if method == "dominance":
            return _dominance(xx, yy, binary)
        return relative_weights(xx, yy, binary=binary)

    weights = compute(x, y)
    r2 = float(weights.sum())
    lo = hi = np.full(len(drivers), np.nan)
    if n_boot:
        boots = []
        for pick in fitting.cluster_bootstrap_rows(df[cluster], n_boot=n_boot, seed=seed):
            try:
                boots.append(compute(x[pick], y[pick]))
            except (np.linalg.LinAlgError, ValueError):
                continue
        lo, hi = np.percentile(np.asarray(boots), [100 * alpha / 2, 100 * (1 - alpha / 2)],
                               axis=0)
    table = pd.DataFrame({"term": drivers, "weight": weights, "share_pct": 100 * weights / r2,
                          "conf_low": lo, "conf_high": hi})
    table["rank"] = table["weight"].rank(ascending=False, method="min").astype(int)
    scale = ("McKelvey-Zavoina latent R2" if method == "relative_weights" else
             "McFadden pseudo-R2") if binary else "OLS R2"
    note = (f"{method.replace('_', ' ')} on {len(df):,} rows; weights in {scale} units, "
            f"intervals from {n_boot} customer bootstrap replicates. Importance is not an "
            f"effect: it says how much variation a driver accounts for, not what changing it "
            f"would do.")
    return ImportanceResult(method=method, outcome=outcome, r2=r2, alpha=alpha,
                            table_=table, note=note)


@adapts
def importance_performance(importance: ImportanceResult, performance) -> pd.DataFrame:
    """Importance-performance quadrant table.

    Parameters
    ----------
    importance : ImportanceResult
    performance : dict or DataFrame
        Current performance per driver, higher = better (e.g. a percentile
        score); a DataFrame needs columns ``term, performance``.

    Returns
    -------
    DataFrame
        ``term, share_pct, performance, quadrant``; quadrants split at the
        means: ``concentrate here`` (important, weak), ``keep up`` (important,
        strong), ``low priority`` (minor, weak), ``possible overkill``
        (minor, strong).
    """
    if isinstance(performance, dict):
        performance = pd.DataFrame({"term": list(performance),
                                    "performance": list(performance.values())})
    table = importance.table()[["term", "share_pct"]].merge(performance[["term", "performance"]],
                                                            on="term", how="inner")
    missing = sorted(set(importance.table()["term"]) - set(table["term"]))
    if missing:
        raise ParameterError(f"No performance value for {', '.join(missing)}; give one per driver.")
    high_i = table["share_pct"] >= table["share_pct"].mean()
    high_p = table["performance"] >= table["performance"].mean()
    table["quadrant"] = np.select([high_i & ~high_p, high_i & high_p, ~high_i & ~high_p],
                                  ["concentrate here", "keep up", "low priority"],
                                  "possible overkill")
    return table
