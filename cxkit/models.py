"""Retention models, and the row preparation and fitting every model shares.

Each ``fit_*`` takes any DataFrame (usually the customer x period panel of
:func:`cxkit.panel.build_panel`, one row per customer and period, support
metrics of period t and outcomes of period t+1), drops incomplete rows and
says how many and why, checks the data can identify the model (events,
constant or collinear drivers, separation), fits with standard errors
clustered by customer, and returns an immutable
:class:`~cxkit.results.ModelResult` whose effects are stated in the unit the
business reads: percentage points of churn here, currency of revenue in
:mod:`cxkit.revenue`, which builds on the helpers below.
"""

from __future__ import annotations

import difflib
import re
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from cxkit.exceptions import ModelError, SmallSampleWarning
from cxkit.periods import period_word
from cxkit.results import TIDY_COLUMNS, ModelResult
from cxkit.availability import adapts

__all__ = ["fit_retention", "build_formula", "prepare_rows", "DEFAULT_CONTROLS"]

DEFAULT_CONTROLS = ("C(plan)", "C(segment)", "np.log1p(tenure_months)")
DESIGNS = ("quality_given_contact", "all")
_FORMULA_WORDS = {"C", "np", "I", "Q", "log", "log1p", "exp", "sqrt", "center", "standardize",
                  "scale", "Treatment", "Sum", "poly", "bs", "cr", "abs"}


def build_formula(outcome: str, drivers, controls=()) -> str:
    """``outcome ~ driver + ... + control + ...`` (an intercept is implicit)."""
    rhs = list(drivers) + list(controls)
    return f"{outcome} ~ {' + '.join(rhs) if rhs else '1'}"


def formula_columns(terms) -> list[str]:
    """Column names referenced by formula terms such as ``C(plan)`` or ``np.log1p(x)``."""
    names: list[str] = []
    for term in terms:
        text = re.sub(r"np\.\w+", "", str(term))
        for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
            if token not in _FORMULA_WORDS and token not in names:
                names.append(token)
    return names


def check_columns(panel: pd.DataFrame, names, *, role: str) -> None:
    """Raise :class:`ModelError` naming missing columns and their close matches."""
    if not isinstance(panel, pd.DataFrame):
        raise ModelError(f"Expected a pandas DataFrame (e.g. from build_panel), got "
                         f"{type(panel).__name__}.")
    missing = [n for n in names if n not in panel.columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, [str(c) for c in panel.columns], n=3)
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)"
                                        if close else ""))
        raise ModelError(f"{role} column(s) not in the panel: {'; '.join(hints)}. "
                         f"Pass column names of the panel; it has {len(panel.columns)} "
                         f"columns, e.g. {', '.join(map(str, list(panel.columns)[:8]))}.")


def prepare_rows(panel: pd.DataFrame, *, drivers, controls, outcome: str, cluster: str | None,
                 design: str = "all") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows a model can use, and a table of the rows dropped at each step.

    Steps, in order: outcome not observed (``outcome_observed`` false),
    not contacted (``design="quality_given_contact"``), missing outcome,
    missing driver (one step per driver), missing control or cluster.

    Returns
    -------
    (DataFrame, DataFrame)
        The usable rows (a copy) and ``step, reason, rows_dropped, rows_remaining``.
    """
    drivers = list(drivers)
    if design not in DESIGNS:
        raise ModelError(f"design={design!r} is unknown; use one of {', '.join(DESIGNS)}.")
    control_cols = [c for c in formula_columns(controls) if c not in drivers]
    check_columns(panel, drivers, role="Driver")
    check_columns(panel, [outcome], role="Outcome")
    check_columns(panel, control_cols, role="Control")
    if cluster is not None:
        check_columns(panel, [cluster], role="Cluster")
    df = panel.copy()
    rows = [{"step": "input", "reason": "rows in the panel", "rows_dropped": 0,
             "rows_remaining": len(df)}]

    def drop(mask: pd.Series, step: str, reason: str) -> None:
        nonlocal df
        mask = mask.fillna(False).astype(bool)
        rows.append({"step": step, "reason": reason, "rows_dropped": int(mask.sum()),
                     "rows_remaining": int((~mask).sum())})
        df = df.loc[~mask]

    if "outcome_observed" in df.columns:
        drop(~df["outcome_observed"].fillna(False).astype(bool), "outcome_not_observed",
             "outcome period not (fully) observed, e.g. end of data or already churned")
    if design == "quality_given_contact":
        check_columns(panel, ["contacted"], role="Design")
        drop(~df["contacted"].fillna(False).astype(bool), "not_contacted",
             "no ticket in the period (quality metrics undefined)")
    drop(df[outcome].isna(), "missing_outcome", f"{outcome} is missing")
    for d in drivers:
        drop(df[d].isna(), f"missing_{d}", f"{d} is missing")
    rest = control_cols + ([cluster] if cluster is not None else [])
    if rest:
        drop(df[rest].isna().any(axis=1), "missing_control",
             f"a control or cluster column is missing ({', '.join(rest)})")
    return df.reset_index(drop=True), pd.DataFrame(rows)


def _check_drivers(df: pd.DataFrame, drivers, y: pd.Series | None = None) -> None:
    for d in drivers:
        if not pd.api.types.is_numeric_dtype(df[d]):
            raise ModelError(f"Driver {d!r} is not numeric (dtype {df[d].dtype}); "
                             f"pass numeric drivers, or put a label in controls as C({d}).")
        values = df[d].unique()
        if len(values) <= 1:
            shown = values[0] if len(values) else "none"
            raise ModelError(f"Driver {d!r} is constant (value {shown}) in the {len(df):,} rows "
                             f"used; its effect cannot be estimated. Drop it from drivers or "
                             f"use a design/segment where it varies.")
        if y is not None and y.nunique() == 2:
            x = df[d].astype(float)
            x0, x1 = x[y == 0], x[y == 1]
            if x0.max() < x1.min() or x1.max() < x0.min():
                raise ModelError(f"Driver {d!r} perfectly separates the outcome (every "
                                 f"outcome-1 row has {d} on one side of every outcome-0 row); "
                                 f"the logit effect is infinite. Bin the driver, drop it, or "
                                 f"collect more data.")


def _check_rank(model, drivers) -> None:
    x = np.asarray(model.exog, dtype=float)
    rank = np.linalg.matrix_rank(x)
    if rank == x.shape[1]:
        return
    names = list(model.exog_names)
    involved = [n for j, n in enumerate(names)
                if np.linalg.matrix_rank(np.delete(x, j, axis=1)) == rank]
    culprits = [d for d in drivers if d in involved] or involved
    raise ModelError(f"Drivers/controls are perfectly collinear: {', '.join(culprits)} can be "
                     f"written as a combination of the others (design rank {rank} < "
                     f"{x.shape[1]} columns). Drop one of {', '.join(culprits)}.")


def _fit(model, *, groups, drivers, label: str, **kwargs):
    """Fit translating statsmodels failures and warnings into ModelError."""
    cov = {"cov_type": "cluster", "cov_kwds": {"groups": groups}} if groups is not None \
        else {"cov_type": "HC1"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(**cov, **kwargs)
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"{label}: the model matrix is singular ({exc}); check drivers "
                             f"{', '.join(drivers)} for collinearity or near-constant values.") \
                from None
        except Exception as exc:  # statsmodels PerfectSeparationError and friends
            if "separation" in type(exc).__name__.lower() or "separation" in str(exc).lower():
                raise ModelError(f"{label}: perfect separation — some combination of "
                                 f"{', '.join(drivers)} and the controls predicts the outcome "
                                 f"exactly. Bin or drop a driver, or remove rare categories.") \
                    from None
            raise
    for w in caught:
        name = type(w.message).__name__
        if "Separation" in name:
            raise ModelError(f"{label}: (quasi-)perfect separation — fitted probabilities of "
                             f"0 or 1 occur; some combination of {', '.join(drivers)} and the "
                             f"controls predicts the outcome exactly. Bin or drop a driver, or "
                             f"merge rare plan/segment categories.")
    retvals = getattr(res, "mle_retvals", None) or {}
    if retvals.get("converged") is False or any(
            type(w.message).__name__ == "ConvergenceWarning" for w in caught):
        raise ModelError(f"{label}: the fit did not converge; rescale drivers (e.g. hours "
                         f"instead of minutes), drop rare categories or collinear drivers "
                         f"({', '.join(drivers)}).")
    return res


def _groups(df: pd.DataFrame, cluster: str | None):
    return None if cluster is None else pd.factorize(df[cluster])[0]


def cluster_bootstrap_rows(clusters, *, n_boot: int, seed: int):
    """Row positions of ``n_boot`` cluster-bootstrap replicates (a generator).

    Each replicate draws as many clusters (customers) as there are, with
    replacement, and keeps every row of each drawn cluster, in row order; a
    cluster drawn twice contributes its rows twice.
    """
    codes, uniques = pd.factorize(np.asarray(clusters))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniques), len(uniques))
        yield np.concatenate([order[starts[c]:starts[c + 1]] for c in pick])


def tidy_frame(res, alpha: float) -> pd.DataFrame:
    """The tidy table of a statsmodels result (columns :data:`TIDY_COLUMNS`)."""
    ci = np.asarray(res.conf_int(alpha=alpha))
    return pd.DataFrame({
        "term": list(res.model.exog_names), "estimate": np.asarray(res.params, float),
        "std_error": np.asarray(res.bse, float), "statistic": np.asarray(res.tvalues, float),
        "p_value": np.asarray(res.pvalues, float), "conf_low": ci[:, 0], "conf_high": ci[:, 1],
    })[TIDY_COLUMNS]


def auc_score(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney form; ties count one half)."""
    y = np.asarray(y, dtype=bool)
    ranks = stats.rankdata(np.asarray(p, dtype=float))
    n1, n0 = y.sum(), (~y).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed rate by decile of predicted probability."""
    frame = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float)})
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False) + 1
    out = frame.groupby("decile").agg(n=("y", "size"), predicted_rate=("p", "mean"),
                                      observed_rate=("y", "mean")).reset_index()
    return out


def outcome_label(panel: pd.DataFrame, outcome: str) -> str:
    """Plain words for an outcome, e.g. ``"monthly churn"``.

    An outcome of a table without periods that is not a ``*_next`` outcome
    (one row per customer, e.g. ``churned``) is named without a time word:
    ``"churn"``, never ``"next-period churn"``.
    """
    timed = panel.attrs.get("period") is not None or "_next" in outcome
    if not timed:
        return "churn" if outcome.startswith("churn") else outcome.replace("_", " ")
    word = period_word(panel.attrs.get("period"))
    if outcome.startswith("churn"):
        return f"{word} churn"
    if outcome.startswith("revenue"):
        return f"{'next-period' if word == 'next-period' else word} revenue"
    return outcome.replace("_", " ")


def _binary_outcome(df: pd.DataFrame, outcome: str) -> pd.Series:
    y = df[outcome]
    values = set(pd.unique(y.astype(float)))
    if not values <= {0.0, 1.0}:
        raise ModelError(f"Outcome {outcome!r} must be 0/1 (or bool) for a logit; found "
                         f"values {sorted(values)[:5]}. Use fit_revenue for amounts.")
    return y.astype(float)


def _check_events(y: pd.Series, n_params: int, outcome: str) -> int:
    events = int(min(y.sum(), len(y) - y.sum()))
    if events < 20:
        raise ModelError(f"Too few events for {outcome!r}: {events} rows in the rarer class "
                         f"(of {len(y):,}); at least 20 are needed. Use a longer history, a "
                         f"coarser period, design='all', or fewer drivers.")
    if events < 10 * n_params:
        warnings.warn(f"{events} events for {n_params} parameters (< 10 per parameter): "
                      f"estimates of {outcome!r} may be unstable; consider fewer drivers or "
                      f"controls.", SmallSampleWarning, stacklevel=3)
    return events


@adapts
def fit_retention(panel: pd.DataFrame, *, drivers, controls=DEFAULT_CONTROLS,
                  outcome: str = "churned_next", cluster: str | None = "customer_id",
                  design: str = "quality_given_contact", alpha: float = 0.05,
                  placebo: bool = True) -> ModelResult:
    """Logit of next-period churn on support drivers, clustered by customer.

    One row of ``panel`` is a customer in a period; drivers are measured in
    period t and the outcome in t+1. Effects are average marginal effects in
    percentage points of churn per unit of the driver (per hour, per minute,
    per 1.0 of a 0-1 rate), with odds ratios alongside.

    Parameters
    ----------
    panel : DataFrame
        Customer x period table.
    drivers : sequence of str
        Numeric driver columns.
    controls : sequence of str
        Formula terms adjusted for (default plan, segment, log tenure).
    outcome : str
        0/1 outcome column (NaN rows are dropped and counted).
    cluster : str or None
        Column whose groups get cluster-robust standard errors; None = HC1.
    design : {"quality_given_contact", "all"}
        Restrict to periods with a ticket (default), or use all rows.
    alpha : float
        Intervals are ``1 - alpha`` intervals.
    placebo : bool
        Run the placebo check of :func:`cxkit.guardrails.placebo_check`.

    Returns
    -------
    ModelResult
        ``kind="logit"``, ``effect_unit="pp"``; diagnostics hold ``auc``,
        ``events``, ``clusters``; ``calibration`` the decile table.

    Raises
    ------
    ModelError
        Unknown column, too few events, constant, separating or collinear
        driver, non-convergence.

    Examples
    --------
    >>> from cxkit.synth import make_sample  # doctest: +SKIP
    >>> from cxkit.panel import build_panel  # doctest: +SKIP
    >>> panel = build_panel(make_sample()[0])  # doctest: +SKIP
    >>> fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"]).effect(
    ...     "resolution_hours_mean", -2)["sentence"]  # doctest: +SKIP
    """
    from cxkit import guardrails

    drivers = list(drivers)
    df, dropped = prepare_rows(panel, drivers=drivers, controls=controls, outcome=outcome,
                               cluster=cluster, design=design)
    y = _binary_outcome(df, outcome)
    df[outcome] = y
    formula = build_formula(outcome, drivers, controls)
    model = smf.logit(formula, df)
    events = _check_events(y, model.exog.shape[1], outcome)
    _check_drivers(df, drivers, y)
    _check_rank(model, drivers)
    res = _fit(model, groups=_groups(df, cluster), drivers=drivers, label="Retention logit",
               disp=0, maxiter=200)
    tidy = tidy_frame(res, alpha)
    tidy["odds_ratio"] = np.exp(tidy["estimate"])
    me = res.get_margeff(at="overall").summary_frame(alpha=alpha)
    effects = pd.DataFrame({
        "term": drivers, "ame": 100 * me.loc[drivers].iloc[:, 0].to_numpy(),
        "ame_std_error": 100 * me.loc[drivers].iloc[:, 1].to_numpy(),
        "ame_conf_low": 100 * me.loc[drivers].iloc[:, 4].to_numpy(),
        "ame_conf_high": 100 * me.loc[drivers].iloc[:, 5].to_numpy(),
        "p_value": me.loc[drivers].iloc[:, 3].to_numpy(), "unit": "pp"})
    tidy = tidy.merge(effects[["term", "ame", "ame_conf_low", "ame_conf_high"]], on="term",
                      how="left")
    p = np.asarray(res.predict(), float)
    diagnostics = {"auc": auc_score(y, p), "events": events, "event_rate": float(y.mean()),
                   "clusters": None if cluster is None else int(df[cluster].nunique()),
                   "pseudo_r2": float(res.prsquared), "design": design}
    checks = guardrails.design_checks(panel, df, outcome=outcome, drivers=drivers,
                                      controls=controls, design=design, cluster=cluster,
                                      events=events, n_params=model.exog.shape[1],
                                      placebo=placebo, alpha=alpha)
    label = outcome_label(panel, outcome)
    return ModelResult(
        kind="logit", outcome=outcome, drivers=tuple(drivers), formula=formula, n_obs=len(df),
        effect_unit="pp", outcome_label=label, alpha=alpha, tidy_table=tidy,
        effects_table=effects, dropped_table=dropped, guardrails_table=checks,
        calibration_table=calibration_table(y, p), diagnostics=diagnostics,
        caveat=guardrails.caveat_text(design=design, outcome_label=label, n_obs=len(df),
                                      controls=controls, checks=checks, cluster=cluster),
        model_result=res)
