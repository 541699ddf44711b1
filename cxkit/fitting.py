"""The fitting kernel every model shares: spec, rows, design, checks, fit, estimates.

One path from a panel to a fitted statsmodels model:

1. :func:`make_spec` — a frozen :class:`ModelSpec` (outcome, parsed drivers
   and controls, design, cluster, covariance, period, horizon); every result
   keeps it.
2. :func:`prepare_rows` — the rows a model can use, and a table counting the
   rows dropped at each step (nothing is dropped silently). Only the columns
   the model reads are taken from the panel; the panel is never copied.
3. :func:`build_design` — the design matrix, built once with numpy (treatment
   coding of categorical controls as patsy names it, transforms and
   thresholds from :mod:`cxkit.terms`); :meth:`Design.with_values` rebuilds
   it for counterfactual driver values.
4. :func:`check_drivers`, :func:`check_rank`, :func:`check_events` —
   identification checks that name the driver and the fix.
5. :func:`fit_model` — the fit with the spec's covariance (``cluster``,
   ``HC1`` or ``nonrobust``), statsmodels failures translated into
   :class:`~cxkit.exceptions.ModelError`.
6. :func:`estimate_rows`, :func:`coefficient_rows`, :func:`ratio_rows` —
   rows of the one estimates table of a result (columns
   :data:`~cxkit.results.ESTIMATE_COLUMNS`); the result fills their
   ``evidence`` column with :func:`cxkit.evidence.evidence_label`.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from cxkit.exceptions import ModelError, ParameterError, SmallSampleWarning
from cxkit.periods import period_word
from cxkit.results import ESTIMATE_COLUMNS
from cxkit.terms import DEFAULT_CONTROLS, Term, parse_terms

__all__ = [
    "ModelSpec", "Design", "make_spec", "prepare_rows", "build_design", "check_columns",
    "check_drivers", "check_rank", "check_events", "binary_outcome", "cluster_codes",
    "fit_model", "cluster_bootstrap_rows", "coefficient_rows", "ratio_rows", "estimate_rows",
    "delta_method", "outcome_label", "DESIGNS", "COV_TYPES", "DEFAULT_CONTROLS",
]

DESIGNS = ("quality_given_contact", "all")
COV_TYPES = ("cluster", "HC1", "nonrobust")


@dataclass(frozen=True)
class ModelSpec:
    """What was fitted: the specification every result keeps.

    Attributes
    ----------
    outcome : str
        Outcome column.
    drivers : tuple of Term
        Terms whose effects are reported (parsed; see :mod:`cxkit.terms`).
    controls : tuple of Term
        Adjustment terms.
    design : str
        ``"quality_given_contact"`` (periods with a ticket) or ``"all"``.
    cluster : str or None
        Column whose groups get cluster-robust standard errors.
    cov_type : str
        ``"cluster"``, ``"HC1"`` or ``"nonrobust"``.
    period, horizon
        The panel's period (``"M"``...) and outcome horizon, if known.
    """

    outcome: str
    drivers: tuple[Term, ...]
    controls: tuple[Term, ...] = ()
    design: str = "all"
    cluster: str | None = None
    cov_type: str = "HC1"
    period: str | None = None
    horizon: int | None = None

    @property
    def driver_names(self) -> tuple[str, ...]:
        """Canonical text of each driver (the ``term`` of its estimates)."""
        return tuple(t.text for t in self.drivers)

    @property
    def control_names(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.controls)

    @property
    def formula(self) -> str:
        """``outcome ~ drivers + controls`` for display (an intercept is implicit)."""
        rhs = [*self.driver_names, *self.control_names]
        return f"{self.outcome} ~ {' + '.join(rhs) if rhs else '1'}"

    def driver(self, text: str) -> Term:
        """The driver term whose text or column is ``text``."""
        for t in self.drivers:
            if text in (t.text, t.column):
                return t
        raise ParameterError(f"{text!r} is not a driver of this model; drivers are "
                             f"{', '.join(self.driver_names)}.")

    def columns(self) -> list[str]:
        """Panel columns the model reads (drivers, controls, outcome, cluster)."""
        names = [self.outcome, *(t.column for t in (*self.drivers, *self.controls))]
        if self.cluster:
            names.append(self.cluster)
        return list(dict.fromkeys(names))

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return {"outcome": self.outcome, "drivers": list(self.driver_names),
                "controls": list(self.control_names), "design": self.design,
                "cluster": self.cluster, "cov_type": self.cov_type, "period": self.period,
                "horizon": self.horizon}


def make_spec(panel: pd.DataFrame | None = None, *, outcome: str, drivers, controls=(),
              design: str = "all", cluster: str | None = None,
              cov_type: str | None = None) -> ModelSpec:
    """Parse and check a specification (period and horizon from ``panel.attrs``).

    ``cov_type=None`` means ``"cluster"`` when ``cluster`` is given, else ``"HC1"``.

    Raises
    ------
    ParameterError
        A term outside the whitelist, an unknown design or covariance.
    """
    if design not in DESIGNS:
        raise ParameterError(f"design={design!r} is unknown; use one of {', '.join(DESIGNS)}.")
    if cov_type is None:
        cov_type = "cluster" if cluster else "HC1"
    if cov_type not in COV_TYPES:
        raise ParameterError(f"cov_type={cov_type!r} is unknown; use one of "
                             f"{', '.join(COV_TYPES)}.")
    if cov_type == "cluster" and not cluster:
        raise ParameterError("cov_type='cluster' needs cluster= (e.g. 'customer_id'); or use "
                             "cov_type='HC1' or 'nonrobust'.")
    if not isinstance(outcome, str) or not outcome:
        raise ParameterError(f"outcome must be a column name; got {outcome!r}.")
    drivers = parse_terms(drivers, role="driver")
    driver_text = {t.text for t in drivers}
    controls = tuple(t for t in parse_terms(controls, role="control")
                     if t.text not in driver_text)
    attrs = getattr(panel, "attrs", {}) or {}
    horizon = attrs.get("horizon")
    return ModelSpec(outcome=outcome, drivers=drivers, controls=controls, design=design,
                     cluster=cluster,
                     cov_type=cov_type, period=attrs.get("period"),
                     horizon=int(horizon) if isinstance(horizon, (int, np.integer)) else None)


def check_columns(panel: pd.DataFrame, names, *, role: str) -> None:
    """Raise :class:`ModelError` naming missing columns and their close matches."""
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(f"Expected a pandas DataFrame (e.g. from build_panel), got "
                             f"{type(panel).__name__}.")
    missing = [n for n in dict.fromkeys(names) if n not in panel.columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, [str(c) for c in panel.columns], n=3)
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)"
                                        if close else ""))
        raise ModelError(f"{role} column(s) not in the panel: {'; '.join(hints)}. "
                         f"Pass column names of the panel; it has {len(panel.columns)} "
                         f"columns, e.g. {', '.join(map(str, list(panel.columns)[:8]))}.")


def _isna(values) -> np.ndarray:
    return np.asarray(pd.isna(values), dtype=bool)


def prepare_rows(panel: pd.DataFrame, spec: ModelSpec, *, extra: Mapping | None = None,
                 observed_only: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows a model can use, and a table of the rows dropped at each step.

    Steps, in order: outcome not observed (``outcome_observed`` false; skipped
    with ``observed_only=False``), not contacted
    (``design="quality_given_contact"``), missing outcome, missing driver
    (one step per driver column), driver outside its transform's domain
    (e.g. ``log(x)`` needs ``x > 0``), missing control or cluster.

    Parameters
    ----------
    panel : DataFrame
        Customer x period table (not copied: only the model's columns are taken).
    spec : ModelSpec
    extra : mapping, optional
        Further columns aligned with ``panel``'s rows (e.g. a placebo outcome).

    Returns
    -------
    (DataFrame, DataFrame)
        The model's columns of the usable rows (index reset), and
        ``step, reason, rows_dropped, rows_remaining``.
    """
    extra = dict(extra or {})
    drivers = [t for t in spec.drivers]
    driver_cols = list(dict.fromkeys(t.column for t in drivers))
    control_cols = [c for c in dict.fromkeys(t.column for t in spec.controls)
                    if c not in driver_cols]
    known = [c for c in panel.columns] if isinstance(panel, pd.DataFrame) else []
    check_columns(panel, driver_cols, role="Driver")
    if spec.outcome not in extra:
        check_columns(panel, [spec.outcome], role="Outcome")
    check_columns(panel, control_cols, role="Control")
    if spec.cluster is not None:
        check_columns(panel, [spec.cluster], role="Cluster")
    if spec.design == "quality_given_contact":
        check_columns(panel, ["contacted"], role="Design")

    def column(name):
        return np.asarray(extra[name]) if name in extra else panel[name].to_numpy()

    keep = np.ones(len(panel), dtype=bool)
    rows = [{"step": "input", "reason": "rows in the panel", "rows_dropped": 0,
             "rows_remaining": len(panel)}]

    def drop(mask, step: str, reason: str) -> None:
        nonlocal keep
        hit = keep & np.asarray(mask, dtype=bool)
        keep = keep & ~hit
        rows.append({"step": step, "reason": reason, "rows_dropped": int(hit.sum()),
                     "rows_remaining": int(keep.sum())})

    def flag(name):
        return panel[name].fillna(False).astype(bool).to_numpy()

    if observed_only and "outcome_observed" in known:
        drop(~flag("outcome_observed"), "outcome_not_observed",
             "outcome period not (fully) observed, e.g. end of data or already churned")
    if spec.design == "quality_given_contact":
        drop(~flag("contacted"), "not_contacted",
             "no ticket in the period (quality metrics undefined)")
    drop(_isna(column(spec.outcome)), "missing_outcome", f"{spec.outcome} is missing")
    for c in driver_cols:
        drop(_isna(column(c)), f"missing_{c}", f"{c} is missing")
    for t in drivers:
        if t.kind == "transform":
            drop(t.invalid(column(t.column)), f"outside_{t.text}",
                 f"{t.text} is undefined: it needs {t.rule()}")
    rest = control_cols + ([spec.cluster] if spec.cluster is not None else [])
    if rest:
        bad = np.zeros(len(panel), dtype=bool)
        for c in rest:
            bad |= _isna(column(c))
        drop(bad, "missing_control",
             f"a control or cluster column is missing ({', '.join(rest)})")
    for t in spec.controls:
        if t.kind == "transform":
            drop(t.invalid(column(t.column)), f"outside_{t.text}",
                 f"{t.text} is undefined: it needs {t.rule()}")
    positions = np.flatnonzero(keep)
    names = list(dict.fromkeys([spec.outcome, *driver_cols, *control_cols, *rest]))
    for optional in ("customer_id", "period_index"):
        if optional in known and optional not in names:
            names.append(optional)
    frame = pd.DataFrame({n: column(n)[positions] for n in names})
    return frame, pd.DataFrame(rows)


def _levels(values: np.ndarray, term: Term) -> tuple[np.ndarray, list]:
    """Integer codes and sorted levels of a categorical column, reference level first."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = [c for c in series.cat.categories if (series == c).any()]
        codes = pd.Categorical(series, categories=present).codes
        levels = present
    else:
        codes, uniques = pd.factorize(series, sort=True)
        levels = list(uniques)
    if term.value is not None:
        if term.value not in levels:
            raise ParameterError(f"Control {term.text!r}: reference level {term.value!r} is "
                                 f"not among the levels {levels[:10]}.")
        ref = levels.index(term.value)
        order = [ref] + [i for i in range(len(levels)) if i != ref]
        remap = np.empty(len(levels), dtype=np.int64)
        remap[order] = np.arange(len(levels))
        codes = remap[codes]
        levels = [levels[i] for i in order]
    return np.asarray(codes), levels


def _is_categorical(term: Term, values: np.ndarray) -> bool:
    if term.kind == "categorical":
        return True
    return term.kind == "column" and not (pd.api.types.is_numeric_dtype(values.dtype)
                                          and values.dtype != bool)


@dataclass(frozen=True, eq=False)
class Design:
    """A design matrix with its column names and the raw values of its numeric terms.

    Attributes
    ----------
    matrix : ndarray
        Rows x columns, float; ``Intercept`` first, then categorical
        indicator columns, then numeric terms (drivers, then controls).
    names : tuple of str
        Column names as patsy writes them (``C(plan)[T.pro]``,
        ``np.log1p(tenure_months)``, ``log(resolution_hours_mean)``).
    raw : mapping
        Raw column values behind each numeric term, by column name.
    """

    matrix: np.ndarray
    names: tuple
    terms: tuple
    raw: Mapping = field(default_factory=dict)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def with_values(self, values: Mapping) -> np.ndarray:
        """A copy of the matrix with the numeric terms of the given columns recomputed.

        ``values`` maps a column name to new raw values (e.g. a what-if
        scenario); every numeric term reading that column is rebuilt through
        its transform or threshold.
        """
        out = self.matrix.copy()
        for term in self.terms:
            if term.kind != "categorical" and term.column in values and term.text in self.names:
                out[:, self.names.index(term.text)] = term.apply(values[term.column])
        return out


def build_design(frame: pd.DataFrame, spec: ModelSpec, *, intercept: bool = True) -> Design:
    """The design matrix of ``spec`` on prepared rows (see :func:`prepare_rows`).

    Categorical controls get treatment (dummy) coding against their first
    sorted level (or the ``Treatment(reference=...)`` level); only levels
    present in ``frame`` get a column, as with patsy.
    """
    n = len(frame)
    blocks, names, raw = [], [], {}
    if intercept:
        blocks.append(np.ones((n, 1)))
        names.append("Intercept")
    numeric = []
    for term in (*spec.drivers, *spec.controls):
        values = frame[term.column].to_numpy()
        if _is_categorical(term, values):
            codes, levels = _levels(values, term)
            if len(levels) > 1:
                block = np.zeros((n, len(levels) - 1))
                hit = codes > 0
                block[np.flatnonzero(hit), codes[hit] - 1] = 1.0
                blocks.append(block)
                names += [f"{term.text}[T.{lvl}]" for lvl in levels[1:]]
        else:
            numeric.append(term)
    for term in numeric:
        x = frame[term.column].to_numpy(dtype=float)
        raw[term.column] = x
        blocks.append(term.apply(x)[:, None])
        names.append(term.text)
    matrix = np.hstack(blocks) if blocks else np.empty((n, 0))
    return Design(matrix=np.ascontiguousarray(matrix), names=tuple(names),
                  terms=(*spec.drivers, *spec.controls), raw=MappingProxyType(raw))


def check_drivers(frame: pd.DataFrame, spec: ModelSpec, y=None) -> None:
    """Refuse non-numeric, constant and (for 0/1 ``y``) perfectly separating drivers."""
    for term in spec.drivers:
        d = term.column
        values = frame[d]
        if not pd.api.types.is_numeric_dtype(values):
            raise ModelError(f"Driver {d!r} is not numeric (dtype {values.dtype}); "
                             f"pass numeric drivers, or put a label in controls as C({d}).")
        x = term.apply(values.to_numpy(dtype=float))
        lo, hi = np.nanmin(x) if len(x) else np.nan, np.nanmax(x) if len(x) else np.nan
        if not len(x) or lo == hi:
            shown = lo if len(x) else "none"
            raise ModelError(f"Driver {term.text!r} is constant (value {shown}) in the "
                             f"{len(frame):,} rows used; its effect cannot be estimated. Drop "
                             f"it from drivers or use a design/segment where it varies.")
        if y is not None:
            y = np.asarray(y, dtype=float)
            x0, x1 = x[y == 0], x[y == 1]
            if len(x0) and len(x1) and (x0.max() < x1.min() or x1.max() < x0.min()):
                raise ModelError(f"Driver {term.text!r} perfectly separates the outcome (every "
                                 f"outcome-1 row has {d} on one side of every outcome-0 row); "
                                 f"the logit effect is infinite. Bin the driver, drop it, or "
                                 f"collect more data.")


def check_rank(design: Design, spec: ModelSpec) -> None:
    """Refuse a design whose columns are perfectly collinear, naming the drivers involved."""
    x = design.matrix
    # rank from the (small) cross-product; scaled columns keep it well conditioned
    scale = np.sqrt((x * x).sum(axis=0))
    scale[scale == 0] = 1.0
    xs = x / scale
    sv = np.linalg.svd(xs.T @ xs, compute_uv=False)
    tol = sv.max() * 1e-11 if len(sv) else 0.0
    rank = int((sv > tol).sum())
    if rank == x.shape[1]:
        return
    names = list(design.names)
    involved = []
    for j, n in enumerate(names):
        rest = np.delete(xs, j, axis=1)
        if np.linalg.matrix_rank(rest.T @ rest, tol=tol) == rank:
            involved.append(n)
    culprits = [d for d in spec.driver_names if d in involved] or involved
    raise ModelError(f"Drivers/controls are perfectly collinear: {', '.join(culprits)} can be "
                     f"written as a combination of the others (design rank {rank} < "
                     f"{x.shape[1]} columns). Drop one of {', '.join(culprits)}.")


def binary_outcome(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    """The 0/1 outcome as floats; :class:`ModelError` for anything else."""
    y = frame[outcome].to_numpy(dtype=float)
    values = set(np.unique(y).tolist())
    if not values <= {0.0, 1.0}:
        raise ModelError(f"Outcome {outcome!r} must be 0/1 (or bool) for a logit; found "
                         f"values {sorted(values)[:5]}. Use fit_revenue for amounts.")
    return y


def check_events(y, n_params: int, outcome: str) -> int:
    """Events (rows in the rarer class): at least 20, a warning below 10 per parameter."""
    y = np.asarray(y, dtype=float)
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


def cluster_codes(frame: pd.DataFrame, cluster: str | None):
    """Integer group codes of the cluster column (None without clustering)."""
    return None if cluster is None else pd.factorize(frame[cluster])[0]


def fit_model(model, spec: ModelSpec, *, groups=None, label: str, **kwargs):
    """Fit a statsmodels model with the spec's covariance; failures become ModelError.

    ``groups`` are the cluster codes (:func:`cluster_codes`) when
    ``spec.cov_type == "cluster"``.
    """
    if spec.cov_type == "cluster":
        if groups is None:
            raise ParameterError(f"{label}: cov_type='cluster' needs cluster groups.")
        cov = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    else:
        cov = {"cov_type": spec.cov_type}
    drivers = ", ".join(spec.driver_names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(**cov, **kwargs)
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"{label}: the model matrix is singular ({exc}); check drivers "
                             f"{drivers} for collinearity or near-constant values.") from None
        except Exception as exc:  # statsmodels PerfectSeparationError and friends
            if "separation" in type(exc).__name__.lower() or "separation" in str(exc).lower():
                raise ModelError(f"{label}: perfect separation — some combination of "
                                 f"{drivers} and the controls predicts the outcome exactly. "
                                 f"Bin or drop a driver, or remove rare categories.") from None
            raise
    for w in caught:
        if "Separation" in type(w.message).__name__:
            raise ModelError(f"{label}: (quasi-)perfect separation — fitted probabilities of "
                             f"0 or 1 occur; some combination of {drivers} and the controls "
                             f"predicts the outcome exactly. Bin or drop a driver, or merge "
                             f"rare plan/segment categories.")
    retvals = getattr(res, "mle_retvals", None) or {}
    if retvals.get("converged") is False or any(
            type(w.message).__name__ == "ConvergenceWarning" for w in caught):
        raise ModelError(f"{label}: the fit did not converge; rescale drivers (e.g. hours "
                         f"instead of minutes), drop rare categories or collinear drivers "
                         f"({drivers}).")
    for w in caught:  # anything else statsmodels said is passed on
        if "Separation" not in type(w.message).__name__ and \
                type(w.message).__name__ != "ConvergenceWarning":
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return res


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


def _evidence(table: pd.DataFrame, spec: ModelSpec | None) -> pd.DataFrame:
    """Order the columns; the evidence label is set by the result (cxkit.evidence)."""
    table["evidence"] = None
    return table[ESTIMATE_COLUMNS]


def coefficient_rows(res, *, alpha: float, unit: str, spec: ModelSpec | None,
                     prefix: str = "", quantity: str = "coefficient") -> pd.DataFrame:
    """Estimates rows of a statsmodels result's parameters (one per design column)."""
    ci = np.asarray(res.conf_int(alpha=alpha))
    names = list(res.model.exog_names)
    table = pd.DataFrame({
        "term": [prefix + n for n in names], "quantity": quantity,
        "estimate": np.asarray(res.params, float), "std_error": np.asarray(res.bse, float),
        "statistic": np.asarray(res.tvalues, float), "p_value": np.asarray(res.pvalues, float),
        "conf_low": ci[:, 0], "conf_high": ci[:, 1], "unit": unit})
    return _evidence(table, spec)


def ratio_rows(coefficients: pd.DataFrame, *, terms, quantity: str, unit: str,
               spec: ModelSpec | None) -> pd.DataFrame:
    """exp() of coefficient rows (odds or hazard ratios).

    The interval is the exponentiated coefficient interval; the test
    statistic and p-value are the coefficient's (ratio = 1 <=> coefficient = 0);
    ``std_error`` is left missing: the standard error belongs to the log
    scale, which the coefficient row reports.
    """
    rows = coefficients.set_index("term").loc[list(terms)].reset_index()
    out = rows.assign(quantity=quantity, estimate=np.exp(rows["estimate"]), std_error=np.nan,
                      conf_low=np.exp(rows["conf_low"]), conf_high=np.exp(rows["conf_high"]),
                      unit=unit)
    return _evidence(out, spec)


def estimate_rows(terms, estimate, std_error, *, alpha: float, quantity: str, unit: str,
                  spec: ModelSpec | None) -> pd.DataFrame:
    """Rows of effects with normal (Wald) intervals from their standard errors."""
    est = np.asarray(estimate, float)
    se = np.asarray(std_error, float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    table = pd.DataFrame({"term": list(terms), "quantity": quantity, "estimate": est,
                          "std_error": se, "statistic": stat,
                          "p_value": 2 * stats.norm.sf(np.abs(stat)),
                          "conf_low": est - z * se, "conf_high": est + z * se, "unit": unit})
    return _evidence(table, spec)


def delta_method(fn, theta: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fn(theta)`` and its delta-method standard errors (central differences)."""
    theta = np.asarray(theta, float)
    est = np.asarray(fn(theta), float)
    jac = np.empty((len(est), len(theta)))
    for k in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        jac[:, k] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * h)
    return est, np.sqrt(np.einsum("ik,kl,il->i", jac, cov, jac))


def outcome_label(spec: ModelSpec) -> str:
    """Plain words for an outcome, e.g. ``"monthly churn"``.

    An outcome of a table without periods that is not a ``*_next`` outcome
    (one row per customer, e.g. ``churned``) is named without a time word:
    ``"churn"``, never ``"next-period churn"``.
    """
    outcome = spec.outcome
    if spec.period is None and "_next" not in outcome:
        return "churn" if outcome.startswith("churn") else outcome.replace("_", " ")
    word = period_word(spec.period)
    if outcome.startswith("churn"):
        return f"{word} churn"
    if outcome.startswith("revenue"):
        return f"{word} revenue"
    return outcome.replace("_", " ")
