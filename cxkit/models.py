"""Retention and revenue models: thin layers over the statsmodels formula API.

Each ``fit_*`` takes any DataFrame (usually the customer x period panel of
:func:`cxkit.panel.build_panel`, one row per customer and period, support
metrics of period t and outcomes of period t+1), drops incomplete rows and
says how many and why, checks the data can identify the model (events,
constant or collinear drivers, separation), fits with standard errors
clustered by customer, and returns an immutable
:class:`~cxkit.results.ModelResult` whose effects are stated in the unit the
business reads: percentage points of churn, or currency of revenue.
"""

from __future__ import annotations

import difflib
import re
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from cxkit.exceptions import ModelError, SmallSampleWarning
from cxkit.results import TIDY_COLUMNS, ModelResult

__all__ = ["fit_retention", "fit_revenue", "build_formula", "prepare_rows", "DEFAULT_CONTROLS"]

DEFAULT_CONTROLS = ("C(plan)", "C(segment)", "np.log1p(tenure_months)")
DESIGNS = ("quality_given_contact", "all")
_FORMULA_WORDS = {"C", "np", "I", "Q", "log", "log1p", "exp", "sqrt", "center", "standardize",
                  "scale", "Treatment", "Sum", "poly", "bs", "cr", "abs"}
_PERIOD_WORDS = {"M": "monthly", "W": "weekly", "Q": "quarterly", "D": "daily", "Y": "yearly"}


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
    """Plain words for an outcome, e.g. ``"monthly churn"``."""
    word = _PERIOD_WORDS.get(str(panel.attrs.get("period", "")).upper()[:1], "next-period")
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
                                      controls=controls, checks=checks),
        model_result=res)


def _revenue_fit(df: pd.DataFrame, *, method: str, rhs: str, outcome: str, drivers,
                 cluster: str | None) -> dict:
    """Fit one revenue model; its parameters, covariance and ``effect(theta)`` in currency.

    ``effect`` maps the parameter vector to the currency effect of +1 unit of
    each driver (averaged over the rows of ``df``), for the delta method and
    the bootstrap alike.
    """
    groups = _groups(df, cluster)
    if method == "two_part":
        m1 = smf.logit("any_purchase_ ~" + rhs, df)
        _check_events(df["any_purchase_"], m1.exog.shape[1], outcome + " > 0")
        _check_rank(m1, drivers)
        r1 = _fit(m1, groups=groups, drivers=drivers, label="Any-purchase logit", disp=0,
                  maxiter=200)
        pos = df.loc[df["any_purchase_"] > 0].reset_index(drop=True)
        m2 = smf.ols("log_amount_ ~" + rhs, pos)
        _check_rank(m2, drivers)
        if list(m2.exog_names) != list(m1.exog_names):
            raise ModelError("Some plan/segment category has no purchasers, so the two parts "
                             "have different terms; merge rare categories or drop the control.")
        r2 = _fit(m2, groups=_groups(pos, cluster), drivers=drivers, label="Amount OLS")
        smear = float(np.mean(np.exp(r2.resid)))
        x = np.asarray(m1.exog, float)
        k = x.shape[1]
        idx = [list(m1.exog_names).index(d) for d in drivers]

        def effect(theta):
            b, g = theta[:k], theta[k:]
            base = (1 / (1 + np.exp(-x @ b))) * np.exp(x @ g) * smear
            out = []
            for j in idx:
                p1 = 1 / (1 + np.exp(-(x @ b + b[j])))
                out.append(np.mean(p1 * np.exp(x @ g + g[j]) * smear - base))
            return out

        theta = np.concatenate([r1.params, r2.params])
        cov = np.zeros((2 * k, 2 * k))
        cov[:k, :k], cov[k:, k:] = r1.cov_params(), r2.cov_params()
        return {"result": (r1, r2), "theta": theta, "cov": cov, "effect": effect,
                "smear": smear, "idx": idx}
    if method == "log_ols":
        model = smf.ols("np.log1p(" + outcome + ") ~" + rhs, df)
    else:
        family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
        model = smf.glm(outcome + " ~" + rhs, df, family=family)
    _check_rank(model, drivers)
    res = _fit(model, groups=groups, drivers=drivers, label=f"Revenue {method}")
    x = np.asarray(model.exog, float)
    idx = [list(model.exog_names).index(d) for d in drivers]
    smear = float(np.mean(np.exp(res.resid))) if method == "log_ols" else 1.0

    def effect(theta):
        level = np.mean(np.exp(x @ theta)) * smear
        return [level * (np.exp(theta[j]) - 1) for j in idx]

    return {"result": res, "theta": np.asarray(res.params, float),
            "cov": np.asarray(res.cov_params(), float), "effect": effect, "smear": smear,
            "idx": idx}


def _bootstrap_effects(df: pd.DataFrame, effects: pd.DataFrame, *, method: str, rhs: str,
                       outcome: str, drivers, cluster: str, alpha: float, n_boot: int,
                       seed: int) -> tuple[pd.DataFrame, int]:
    """Replace the delta-method columns of ``effects`` by a customer-cluster bootstrap.

    Each replicate draws as many customers as there are, with replacement,
    keeps all rows of each draw (a customer drawn twice counts twice) and
    refits the whole model. Replicates whose fit fails (e.g. a category
    without purchasers) are left out and counted; more than 10% failing is
    an error.
    """
    codes, uniques = pd.factorize(df[cluster])
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniques), len(uniques))
        rows = np.concatenate([order[starts[c]:starts[c + 1]] for c in pick])
        sample = df.iloc[rows].reset_index(drop=True)
        sample[cluster] = np.repeat(np.arange(len(pick)), starts[pick + 1] - starts[pick])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SmallSampleWarning)
                fit = _revenue_fit(sample, method=method, rhs=rhs, outcome=outcome,
                                   drivers=drivers, cluster=None)
        except ModelError:
            failed += 1
            continue
        draws.append(fit["effect"](fit["theta"]))
    if failed > 0.1 * n_boot:
        raise ModelError(f"The bootstrap failed in {failed} of {n_boot} refits (a resample "
                         "left a category without purchasers, or a driver constant); merge "
                         "rare plan/segment categories or use interval='delta'.")
    draws = np.asarray(draws, float)
    se = draws.std(axis=0, ddof=1)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    # two-sided p-value of "no effect": twice the share of replicates on the far side of 0
    share = np.minimum((draws <= 0).mean(axis=0), (draws >= 0).mean(axis=0))
    out = effects.copy()
    out["ame_std_error"], out["ame_conf_low"], out["ame_conf_high"] = se, low, high
    out["p_value"] = np.clip(2 * share, 1 / len(draws), 1.0)
    return out, failed


def _delta_effects(fn, theta: np.ndarray, cov: np.ndarray, drivers, alpha: float, unit: str):
    """Effects ``fn(theta) -> array`` with delta-method standard errors."""
    est = np.asarray(fn(theta), float)
    jac = np.empty((len(est), len(theta)))
    for k in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        jac[:, k] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * h)
    se = np.sqrt(np.einsum("ik,kl,il->i", jac, cov, jac))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"term": list(drivers), "ame": est, "ame_std_error": se,
                         "ame_conf_low": est - z * se, "ame_conf_high": est + z * se,
                         "p_value": 2 * stats.norm.sf(np.abs(est / se)), "unit": unit})


def fit_revenue(panel: pd.DataFrame, *, drivers, controls=DEFAULT_CONTROLS,
                outcome: str = "revenue_next_amount", method: str = "two_part",
                cluster: str | None = "customer_id", design: str = "quality_given_contact",
                alpha: float = 0.05, currency: str | None = None, placebo: bool = True,
                interval: str = "delta", n_boot: int = 200, seed: int = 0) -> ModelResult:
    """Next-period revenue on support drivers; effects in currency per unit of driver.

    Methods
    -------
    ``"two_part"`` (default)
        Logit of any purchase (revenue > 0) times OLS of log(revenue) among
        purchasers, retransformed with Duan's smearing factor. The effect of
        +1 unit of a driver is the average over rows of
        ``E[revenue | x + 1] - E[revenue | x]``.
    ``"log_ols"``
        OLS of log(1 + revenue); ``estimate`` x 100 is ~% change per unit;
        the currency effect is ``mean(exp(Xb)) * smearing * (exp(b) - 1)``.
    ``"tweedie"``
        GLM with Tweedie variance (power 1.5) and log link; the currency
        effect is ``mean(mu) * (exp(b) - 1)``.

    Intervals of the currency effects
    ---------------------------------
    ``interval="delta"`` (default, fast): delta method with the
    cluster-robust covariances; for the two-part model the two parts are
    treated as independent and the smearing factor as fixed.
    ``interval="bootstrap"``: customers (``cluster``) are resampled with
    replacement ``n_boot`` times (seeded by ``seed``) and the whole model,
    smearing factor included, is refitted; percentile interval, standard
    error from the spread of the refits, and p-value from the share of
    refits on the other side of zero (at least 1 / refits). Slower, and
    honest about everything the delta method holds fixed.

    Parameters are as in :func:`fit_retention`; ``currency`` labels the
    effects (default ``panel.attrs["currency"]`` or ``"currency"``).

    Returns
    -------
    ModelResult
        ``effect_unit`` is the currency; ``effects()`` one row per driver;
        ``diagnostics["interval"]`` says how the intervals were made (and,
        for the bootstrap, how many refits failed and were left out).
    """
    from cxkit import guardrails

    methods, intervals = ("two_part", "log_ols", "tweedie"), ("delta", "bootstrap")
    if method not in methods:
        raise ModelError(f"method={method!r} is unknown; use one of {', '.join(methods)}.")
    if interval not in intervals:
        raise ModelError(f"interval={interval!r} is unknown; use 'delta' or 'bootstrap'.")
    if interval == "bootstrap" and (cluster is None or isinstance(n_boot, bool)
                                    or not isinstance(n_boot, int) or n_boot < 50):
        raise ModelError("interval='bootstrap' resamples customers: it needs cluster= (e.g. "
                         f"'customer_id') and n_boot >= 50 (got cluster={cluster!r}, "
                         f"n_boot={n_boot!r}).")
    drivers = list(drivers)
    unit = currency or str(panel.attrs.get("currency", "currency"))
    df, dropped = prepare_rows(panel, drivers=drivers, controls=controls, outcome=outcome,
                               cluster=cluster, design=design)
    y = df[outcome].astype(float)
    if (y < 0).any():
        raise ModelError(f"Outcome {outcome!r} has negative values (e.g. "
                         f"{y[y < 0].head(3).tolist()}); revenue models need amounts >= 0. "
                         f"Net refunds out before modelling or use a different outcome.")
    _check_drivers(df, drivers)
    rhs = build_formula("y_", drivers, controls).split("~", 1)[1]
    df["any_purchase_"] = (y > 0).astype(float)
    df["log_amount_"] = np.log(y.where(y > 0))
    fit = _revenue_fit(df, method=method, rhs=rhs, outcome=outcome, drivers=drivers,
                       cluster=cluster)
    effects = _delta_effects(fit["effect"], fit["theta"], fit["cov"], drivers, alpha, unit)
    idx = fit["idx"]
    res = fit["result"]
    if method == "two_part":
        t1, t2 = tidy_frame(res[0], alpha), tidy_frame(res[1], alpha)
        t1["term"] = "any_purchase:" + t1["term"]
        t2["term"] = "log_amount:" + t2["term"]
        tidy = pd.concat([t1, t2], ignore_index=True)
        formula = f"{outcome} ~{rhs} (two-part)"
        diagnostics = {"purchase_rate": float(df["any_purchase_"].mean()),
                       "smearing_factor": fit["smear"], "purchasers": int((y > 0).sum())}
    else:
        tidy = tidy_frame(res, alpha)
        if method == "log_ols":
            tidy["pct_effect"] = 100 * (np.exp(tidy["estimate"]) - 1)
        formula = str(res.model.formula)
        diagnostics = {"smearing_factor": fit["smear"] if method == "log_ols" else None}
    diagnostics["interval"] = "delta method"
    if interval == "bootstrap":
        effects, failed = _bootstrap_effects(df, effects, method=method, rhs=rhs,
                                             outcome=outcome, drivers=drivers, cluster=cluster,
                                             alpha=alpha, n_boot=n_boot, seed=seed)
        diagnostics["interval"] = (f"cluster bootstrap by {cluster}, {n_boot - failed} refits "
                                   f"({failed} failed and left out), percentile")
    if method != "two_part":
        tidy = tidy.merge(effects[["term", "ame", "ame_conf_low", "ame_conf_high"]],
                          on="term", how="left")
    diagnostics.update({"mean_outcome_amount": float(y.mean()),
                        "clusters": None if cluster is None else int(df[cluster].nunique()),
                        "design": design})
    checks = guardrails.design_checks(panel, df, outcome=outcome, drivers=drivers,
                                      controls=controls, design=design, cluster=cluster,
                                      events=None, n_params=len(idx) + 1, placebo=placebo,
                                      alpha=alpha)
    label = outcome_label(panel, outcome)
    return ModelResult(
        kind=method, outcome=outcome, drivers=tuple(drivers), formula=formula, n_obs=len(df),
        effect_unit=unit, outcome_label=label, alpha=alpha, tidy_table=tidy,
        effects_table=effects, dropped_table=dropped, guardrails_table=checks,
        diagnostics=diagnostics, model_result=res,
        caveat=guardrails.caveat_text(design=design, outcome_label=label, n_obs=len(df),
                                      controls=controls, checks=checks))
