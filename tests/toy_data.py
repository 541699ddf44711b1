"""Data shared by several test modules: a simulated customer x month panel with known effects
(the model tests), the sample typed as a warehouse holds it (the engine tests)."""

import numpy as np
import pandas as pd


def toy_panel(n_customers=800, periods=6, seed=1):
    """Simulated customer x month panel with known logit and revenue effects.

    Churn log-odds: -2 + 0.04 per resolution hour - 1.0 per unit fcr_rate
    + 0.3 for the basic plan. Served as the ``panel`` fixture (conftest.py).
    """
    rng = np.random.default_rng(seed)
    n = n_customers * periods
    cid = np.repeat(np.arange(n_customers), periods)
    pidx = np.tile(np.arange(periods), n_customers)
    plan = np.repeat(rng.choice(["basic", "pro"], n_customers), periods)
    segment = np.repeat(rng.choice(["smb", "mid", "ent"], n_customers), periods)
    tenure = np.repeat(rng.uniform(1, 40, n_customers), periods) + pidx
    contacted = rng.uniform(size=n) < 0.6
    tickets = np.where(contacted, rng.poisson(1.5, n) + 1, 0)
    res_h = np.where(contacted, rng.gamma(2.0, 6.0, n), np.nan)
    fcr = np.where(contacted, rng.beta(4, 2, n), np.nan)
    csat = np.where(contacted, np.clip(4.5 - 0.03 * np.nan_to_num(res_h) + rng.normal(0, 0.5, n), 1, 5), np.nan)
    eta = -2.0 + 0.04 * np.nan_to_num(res_h, nan=12) - 1.0 * np.nan_to_num(fcr, nan=0.66) + 0.3 * (plan == "basic")
    churn = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    rev_now = rng.gamma(2, 50, n) * (rng.uniform(size=n) < 0.7)
    buy = rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 + 0.3 * (np.nan_to_num(csat, nan=4) - 4))))
    amount = np.exp(4 + 0.1 * (np.nan_to_num(csat, nan=4) - 4) + rng.normal(0, 0.5, n))
    df = pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in cid], "period_index": pidx, "plan": plan,
        "segment": segment, "tenure_months": tenure, "contacted": contacted,
        "ticket_count": tickets, "ticket_count_prior": rng.poisson(1.0, n),
        "resolution_hours_mean": res_h, "fcr_rate": fcr, "csat_mean": csat,
        "revenue_amount": rev_now, "churned_next": churn,
        "revenue_next_amount": np.where(buy, amount, 0.0), "outcome_observed": pidx < periods - 1})
    df.loc[~df["outcome_observed"], "churned_next"] = np.nan
    df.attrs.update({"period": "M", "horizon": 1, "currency": "EUR"})
    return df


def load_rossi():
    """The Rossi recidivism data (432 rows; see ``fixtures/rossi/README.md``)."""
    from pathlib import Path

    return pd.read_csv(Path(__file__).parent / "fixtures" / "rossi" / "rossi.csv")


def sample_frames():
    """The bundled sample's CSV files read with pandas, typed as a warehouse would hold them."""
    import pandas as pd

    from cxkit.config import sample_config_path

    folder = sample_config_path().parent
    frames = {}
    for name in ("customers", "tickets", "revenue", "surveys"):
        frame = pd.read_csv(folder / f"{name}.csv")
        for col in frame.columns:
            if col.endswith("_at"):
                frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
        frames[name] = frame
    return frames
