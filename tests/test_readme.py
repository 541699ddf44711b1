"""The README's walk-through, followed literally: its fenced ``bash`` blocks between the
``<!-- walkthrough -->`` markers run in a temporary home folder whose ``Downloads`` holds the
three exports it talks about (made here from the bundled sample, shaped like a Zendesk ticket
export and Stripe's subscription and invoice exports), then the command of its cron line."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxkit._package_data import sample_dir

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    part = text.split("<!-- walkthrough -->", 1)[1].split("<!-- /walkthrough -->", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", part, flags=re.S)


def _write_exports(downloads: Path) -> None:
    """The sample's customers, tickets and payments as the three exports of the walk-through."""
    s = sample_dir()
    customers = pd.read_csv(s / "customers.csv")
    tickets = pd.read_csv(s / "tickets.csv")
    revenue = pd.read_csv(s / "revenue.csv")
    downloads.mkdir(parents=True)
    stripe_id = "cus_" + customers["customer_id"]
    pd.DataFrame({
        "id": "sub_" + customers["customer_id"], "customer_id": stripe_id,
        "status": np.where(customers["churned_at"].isna(), "active", "canceled"),
        "plan_id": customers["plan"], "metadata_segment": customers["segment"],
        "created": customers["signup_at"],
        "start_date": customers["signup_at"], "canceled_at": customers["churned_at"],
        "ended_at": customers["churned_at"],
    }).to_csv(downloads / "stripe-subscriptions.csv", index=False)
    csat = np.select([tickets["csat"] >= 4, tickets["csat"] <= 3], ["Good", "Bad"], "Unoffered")
    pd.DataFrame({
        "Id": tickets["ticket_id"], "Requester external id": "cus_" + tickets["customer_id"],
        "Status": np.where(tickets["resolved_at"].isna(), "open", "solved"),
        "Via": tickets["channel"].map({"email": "Mail", "chat": "Chat", "phone": "Voice",
                                       "web": "Web form"}).fillna(tickets["channel"]),
        "Created at": tickets["created_at"], "Solved at": tickets["resolved_at"],
        "Group": tickets["team"], "Assignee": tickets["agent"], "Satisfaction Score": csat,
        "Reopens": tickets["reopened"].astype(int), "Replies": tickets["contacts"],
        "First reply time in minutes": tickets["first_response_minutes"],
    }).to_csv(downloads / "zendesk-tickets.csv", index=False)
    pd.DataFrame({
        "id": [f"in_{i}" for i in range(len(revenue))],
        "customer_id": "cus_" + revenue["customer_id"], "status": "paid", "currency": "usd",
        "amount_paid": (revenue["amount"] * 100).round().astype(int),  # cents
        "post_payment_credit_notes_amount": 0, "created": revenue["paid_at"],
    }).to_csv(downloads / "stripe-invoices.csv", index=False)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    _write_exports(home / "Downloads")
    env = {**os.environ, "HOME": str(home),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    blocks = _blocks()
    script = "\n".join(code for lang, code in blocks if lang == "bash")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=home, env=env,
                          capture_output=True, text=True, timeout=900)
    return home, env, blocks, done


def test_walkthrough_commands_run_as_written(walkthrough):
    home, _, blocks, done = walkthrough
    assert [lang for lang, _ in blocks] == ["bash", "bash", "bash", "cron"]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Rows quarantined: 0." in done.stdout  # the presets read all three exports
    assert (home / "acme" / "reports" / "latest" / "index.html").is_file()
    assert "3/3 runs ok" in done.stdout


def test_walkthrough_amounts_are_read_in_currency_units(walkthrough):
    home = walkthrough[0]
    from cxkit.io import read_support_data

    data = read_support_data(home / "acme" / "cxkit.yaml")
    sample = pd.read_csv(sample_dir() / "revenue.csv")
    assert data.revenue["amount"].sum() == pytest.approx(sample["amount"].sum(), rel=1e-9)


def test_walkthrough_cron_line_runs(walkthrough):
    home, env, blocks, _ = walkthrough
    line = [code for lang, code in blocks if lang == "cron"][0].strip()
    fields = line.split(None, 5)
    assert fields[:5] == ["0", "6", "*", "*", "1"]  # Mondays at 06:00
    done = subprocess.run(["bash", "-c", fields[5]], cwd="/", env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (home / "acme" / "cron.log").read_text()[-3000:]
    runs = [p for p in (home / "acme" / "reports").iterdir() if p.name[:2] == "20"]
    assert len(runs) == 2  # the scheduled run added a second report; latest points at it
    assert (home / "acme" / "reports" / "latest").resolve() == max(runs).resolve()
